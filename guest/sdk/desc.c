/* The SDK's GDT, TSS and IDT. */
#include <string.h>
#include <lilyvm/rewrite.h>
#include <lily/desc.h>
#include <lily/trap.h>

uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(8)));
struct tss tss __attribute__((aligned(16)));
static uint64_t idt[TRAP_VECTORS] __attribute__((aligned(8)));
extern char isr_stubs[], rewrite_resume[];

#define STUB_SIZE 16
#define FLAGS_4K_32 0xc /* granularity 4 KiB, 32-bit */

void gdt_set_entry(unsigned index, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    uint64_t d = 0;

    d |= limit & 0xffffu;
    d |= (uint64_t)(base & 0xffffffu) << 16;
    d |= (uint64_t)access << 40;
    d |= (uint64_t)((limit >> 16) & 0xf) << 48;
    d |= (uint64_t)(flags & 0xf) << 52;
    d |= (uint64_t)(base >> 24) << 56;
    gdt[index] = d;
}

void desc_init(void)
{
    struct desc_ptr p = { sizeof gdt - 1, (uint32_t)(uintptr_t)gdt };

    memset(gdt, 0, sizeof gdt);
    gdt_set_entry(SEL_KCODE >> 3, 0, 0xfffff, DESC_CODE_R, FLAGS_4K_32);
    gdt_set_entry(SEL_KDATA >> 3, 0, 0xfffff, DESC_DATA_W, FLAGS_4K_32);
    gdt_set_entry(SEL_UCODE >> 3, 0, 0xfffff, DESC_CODE_R | DESC_DPL(3), FLAGS_4K_32);
    gdt_set_entry(SEL_UDATA >> 3, 0, 0xfffff, DESC_DATA_W | DESC_DPL(3), FLAGS_4K_32);

    memset(&tss, 0, sizeof tss);
    tss.ss0 = SEL_KDATA;
    tss.iomap_base = sizeof tss;
    gdt_set_entry(SEL_TSS >> 3, (uint32_t)(uintptr_t)&tss, sizeof tss - 1, DESC_TSS_AVL, 0);

    lgdt(&p);
    __asm__ volatile("ljmp %0, $1f\n1:" : : "i"(SEL_KCODE));
    __asm__ volatile("mov %0, %%ss" : : "r"((uint32_t)SEL_KDATA));
    __asm__ volatile("mov %0, %%ds\n\tmov %0, %%es\n\tmov %0, %%fs\n\tmov %0, %%gs"
                     : : "r"((uint32_t)SEL_UDATA));
    ltr(SEL_TSS);
}

uint32_t idt_stub(unsigned vector)
{
    return (uint32_t)(uintptr_t)isr_stubs + (vector & 0xff) * STUB_SIZE;
}

void idt_set_gate(unsigned vector, uint32_t handler, uint8_t type, unsigned dpl)
{
    uint64_t g = 0;

    g |= handler & 0xffffu;
    g |= (uint64_t)SEL_KCODE << 16;
    g |= (uint64_t)(type | ((dpl & 3) << 5)) << 40;
    g |= (uint64_t)(handler >> 16) << 48;
    idt[vector & 0xff] = g;
}

void idt_init(void)
{
    struct desc_ptr p = { sizeof idt - 1, (uint32_t)(uintptr_t)idt };

    for (unsigned v = 0; v < TRAP_VECTORS; v++)
        idt_set_gate(v, idt_stub(v), GATE_INTR, 0);
    for (unsigned v = LILY_REWRITE_VEC_FIRST; v <= LILY_REWRITE_VEC_LAST; v++)
        idt_set_gate(v, (uint32_t)(uintptr_t)rewrite_resume, GATE_INTR, 0);
    lidt(&p);
}
