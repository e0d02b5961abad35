/* Segment descriptors: the SDK's flat GDT, the IDT and the TSS. */
#ifndef LILY_DESC_H
#define LILY_DESC_H

#include <stdint.h>

/* The GDT that desc_init() installs (selector values, RPL included). */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1b
#define SEL_UDATA 0x23
#define SEL_TSS   0x28
#define SEL_SPARE 0x30 /* free slot for tests and kernels: gdt_set_entry() */
#define GDT_ENTRIES 8

/* Access bytes. */
#define DESC_CODE_R   0x9a /* present, DPL 0, code, readable */
#define DESC_DATA_W   0x92 /* present, DPL 0, data, writable */
#define DESC_DPL(n)   ((n) << 5)
#define DESC_TSS_AVL  0x89
#define DESC_TSS_BUSY 0x8b

/* IDT gate types (with the present bit). */
#define GATE_INTR 0x8e /* clears IF on entry */
#define GATE_TRAP 0x8f /* leaves IF alone */

struct tss {
    uint16_t link, rsvd0;
    uint32_t esp0;
    uint16_t ss0, rsvd1;
    uint32_t esp1;
    uint16_t ss1, rsvd2;
    uint32_t esp2;
    uint16_t ss2, rsvd3;
    uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint16_t es, rsvd4, cs, rsvd5, ss, rsvd6, ds, rsvd7, fs, rsvd8, gs, rsvd9;
    uint16_t ldt, rsvd10;
    uint16_t trap, iomap_base; /* iomap_base past the limit: no I/O bitmap */
} __attribute__((packed));

struct desc_ptr {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

extern uint64_t gdt[GDT_ENTRIES];
extern struct tss tss;

/*
 * Install the flat GDT (kernel and user code/data, the TSS), reload every
 * segment register and load the task register.  DS, ES, FS and GS get the
 * user data selector: it is flat and usable at CPL 0, so interrupt entry and
 * exit never need to touch data segment registers.
 */
void desc_init(void);
/*
 * Install the IDT with every vector pointing at the SDK's entry stubs, except
 * the LilyVM rewrite vectors (include/lilyvm/rewrite.h): those return straight
 * to the original instruction that follows each rewrite site, so a kernel
 * built with lily-cc also runs where it really has CPL 0 (QEMU, hardware).
 */
void idt_init(void);
void gdt_set_entry(unsigned index, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags);
void idt_set_gate(unsigned vector, uint32_t handler, uint8_t type, unsigned dpl);
/* The address of the SDK's entry stub for vector (see trap.h). */
uint32_t idt_stub(unsigned vector);
/* Kernel stack used on the next user-to-kernel transition. */
static inline void tss_set_esp0(uint32_t esp0) { tss.esp0 = esp0; }

static inline void lgdt(const struct desc_ptr *p) { __asm__ volatile("lgdt %0" : : "m"(*p)); }
static inline void lidt(const struct desc_ptr *p) { __asm__ volatile("lidt %0" : : "m"(*p)); }
static inline void sgdt(struct desc_ptr *p) { __asm__ volatile("sgdt %0" : "=m"(*p)); }
static inline void sidt(struct desc_ptr *p) { __asm__ volatile("sidt %0" : "=m"(*p)); }
static inline void ltr(uint16_t sel) { __asm__ volatile("ltr %0" : : "r"(sel)); }
static inline uint16_t read_tr(void)
{
    uint16_t sel;
    __asm__ volatile("str %0" : "=r"(sel));
    return sel;
}

#define LILY_READ_SEG(name)                                       \
    static inline uint16_t read_##name(void)                      \
    {                                                             \
        uint16_t v;                                               \
        __asm__ volatile("mov %%" #name ", %0" : "=r"(v));        \
        return v;                                                 \
    }
LILY_READ_SEG(cs)
LILY_READ_SEG(ds)
LILY_READ_SEG(es)
LILY_READ_SEG(fs)
LILY_READ_SEG(gs)
LILY_READ_SEG(ss)
#undef LILY_READ_SEG

#endif
