/*
 * Test input for lily-cc and lily-check: one function per sensitive form,
 * written as inline asm the way kernels write it.  Built plainly, lily-check
 * must find exactly one instruction in each f_* function; built with
 * lily-cc, none.
 */
#include <stdint.h>

struct __attribute__((packed)) dtr {
    uint16_t limit;
    uint32_t base;
};

#define NOINLINE __attribute__((noinline, used))

NOINLINE uint32_t f_pushf(void)
{
    uint32_t flags;

    asm volatile("pushfl\n\tpopl %0" : "=r"(flags));
    return flags;
}

NOINLINE void f_popf(uint32_t flags)
{
    asm volatile("pushl %0; popfl" : : "g"(flags) : "memory", "cc");
}

NOINLINE uint32_t f_builtin_flags(void)
{
    return __builtin_ia32_readeflags_u32(); /* gcc's own pushf */
}

NOINLINE uint16_t f_mov_cs(void)
{
    uint16_t v;

    asm volatile("mov %%cs, %0" : "=r"(v));
    return v;
}

NOINLINE void f_mov_ss_mem(uint16_t *out)
{
    asm volatile("movw %%ss, %0" : "=m"(*out));
}

NOINLINE uint32_t f_push_ds(void)
{
    uint32_t v;

    asm volatile("push %%ds\n\tpop %0" : "=r"(v));
    return v;
}

NOINLINE void f_sgdt(struct dtr *d)
{
    asm volatile("sgdt %0" : "=m"(*d));
}

NOINLINE void f_sidt(struct dtr *d, int i)
{
    asm volatile("sidt %0" : "=m"(d[i]));
}

NOINLINE uint16_t f_sldt(void)
{
    uint16_t v;

    asm volatile("sldt %0" : "=rm"(v));
    return v;
}

NOINLINE uint32_t f_str(void)
{
    uint32_t v;

    asm volatile("1: str %0 # task register" : "=r"(v));
    return v;
}

NOINLINE uint32_t f_smsw(void)
{
    uint32_t v;

    asm volatile("smsw %0" : "=r"(v));
    return v;
}

NOINLINE uint32_t f_lar(uint32_t sel)
{
    uint32_t v;

    asm volatile("lar %1, %0" : "=r"(v) : "r"(sel) : "cc");
    return v;
}

NOINLINE uint32_t f_lsl(const uint32_t *sel)
{
    uint32_t v;

    asm volatile("lsl %1, %0" : "=r"(v) : "m"(*sel) : "cc");
    return v;
}

NOINLINE void f_verr(uint16_t sel)
{
    asm volatile("verr %0" : : "r"(sel) : "cc");
}

NOINLINE void f_verw(const uint16_t *sel)
{
    asm volatile("verw %0" : : "m"(*sel) : "cc");
}

NOINLINE void f_intel(void)
{
    asm volatile(".intel_syntax noprefix\n\tpush gs\n\tpop eax\n\t.att_syntax prefix" : : : "eax");
}

void _start(void)
{
    for (;;)
        ;
}
