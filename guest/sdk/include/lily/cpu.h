/* CPU control: flags, control registers, TLB, cpuid and the time-stamp counter. */
#ifndef LILY_CPU_H
#define LILY_CPU_H

#include <stdint.h>

#define EFLAGS_CF    0x00000001u
#define EFLAGS_RSVD1 0x00000002u /* always reads as 1 */
#define EFLAGS_IF    0x00000200u
#define EFLAGS_IOPL  0x00003000u
#define EFLAGS_AC    0x00040000u
#define EFLAGS_ID    0x00200000u

#define CR0_PE 0x00000001u
#define CR0_MP 0x00000002u
#define CR0_EM 0x00000004u
#define CR0_TS 0x00000008u
#define CR0_NE 0x00000020u
#define CR0_WP 0x00010000u
#define CR0_PG 0x80000000u

#define CR4_TSD        0x00000004u
#define CR4_PSE        0x00000010u
#define CR4_PGE        0x00000080u
#define CR4_OSFXSR     0x00000200u
#define CR4_OSXMMEXCPT 0x00000400u

/* cpuid leaf 1 EDX feature bits used by the SDK. */
#define CPUID_1_EDX_FPU  (1u << 0)
#define CPUID_1_EDX_PSE  (1u << 3)
#define CPUID_1_EDX_TSC  (1u << 4)
#define CPUID_1_EDX_FXSR (1u << 24)
#define CPUID_1_EDX_SSE  (1u << 25)
#define CPUID_1_EDX_SSE2 (1u << 26)

static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }
/* sti's one-instruction interrupt shadow makes this free of lost wake-ups. */
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }

static inline uint32_t read_eflags(void)
{
    uint32_t f;
    __asm__ volatile("pushfl; popl %0" : "=r"(f) : : "memory");
    return f;
}

static inline void write_eflags(uint32_t f)
{
    __asm__ volatile("pushl %0; popfl" : : "r"(f) : "memory", "cc");
}

/* Disable interrupts and return the previous EFLAGS for irq_restore(). */
static inline uint32_t irq_save(void)
{
    uint32_t f = read_eflags();
    cli();
    return f;
}

static inline void irq_restore(uint32_t f)
{
    if (f & EFLAGS_IF)
        sti();
}

#define LILY_DEFINE_CR(n)                                                  \
    static inline uint32_t read_cr##n(void)                                \
    {                                                                      \
        uint32_t v;                                                        \
        __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v) : : "memory");     \
        return v;                                                          \
    }                                                                      \
    static inline void write_cr##n(uint32_t v)                             \
    {                                                                      \
        __asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory");         \
    }
LILY_DEFINE_CR(0)
LILY_DEFINE_CR(2)
LILY_DEFINE_CR(3)
LILY_DEFINE_CR(4)
#undef LILY_DEFINE_CR

static inline void invlpg(uintptr_t va)
{
    __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

struct cpuid_regs {
    uint32_t eax, ebx, ecx, edx;
};

static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
    struct cpuid_regs r;
    __asm__ volatile("cpuid"
                     : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                     : "a"(leaf), "c"(subleaf));
    return r;
}

#endif
