/*
 * Paging tests on the kernel thread's own page directory (boot_pd), in a
 * window of low addresses the kernel does not otherwise use.
 */
#include <lily/cpu.h>
#include <lily/paging.h>
#include "kernel.h"
#include "tap.h"

#define TEST_VA  0x10000000u
#define TEST_BIG 0x30000000u

void kmain(uint32_t magic, uint32_t mbi_pa);
uint32_t paging_off_swap(uint32_t pa, uint32_t value);

static uint32_t peek(uint32_t va)
{
    return *(volatile uint32_t *)(uintptr_t)va;
}

static void poke(uint32_t va, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)va = v;
}

/* Two fresh pages whose first word tells them apart. */
static int two_pages(uint32_t *a, uint32_t *b)
{
    *a = page_alloc();
    *b = page_alloc();
    CHECK(*a && *b);
    if (!*a || !*b)
        return -1;
    *(uint32_t *)P2V(*a) = 0xaaaa0001;
    *(uint32_t *)P2V(*b) = 0xbbbb0002;
    return 0;
}

void t_paging_enabled(void)
{
    CHECK_EQ(read_cr0() & CR0_PG, CR0_PG);
    CHECK_EQ(read_cr4() & CR4_PSE, CR4_PSE);
    uint32_t pde = boot_pd[KERNEL_VMA >> 22];
    CHECK_EQ(pde & (PTE_P | PTE_PS), PTE_P | PTE_PS);
    CHECK_EQ(pde & PDE_BIG_ADDR, 0);
}

void t_paging_higher_half(void)
{
    uint32_t esp;
    uint32_t v = 0;

    __asm__ volatile("mov %%esp, %0" : "=r"(esp));
    CHECK((uint32_t)(uintptr_t)kmain >= KERNEL_VMA);
    CHECK(esp >= KERNEL_VMA);
    /* The boot identity map is gone: the kernel's physical address faults. */
    CHECK_EQ(boot_pd[0], 0);
    fault_reset();
    FAULT_TRY("movl (%1), %0", : "=r"(v) : "r"(V2P(kmain)));
    CHECK_EQ(fault_last.vector, VEC_PF);
    CHECK_EQ(fault_last.cr2, V2P(kmain));
    /* The same bytes through the high mapping. */
    CHECK_EQ(*(volatile uint8_t *)P2V(V2P(kmain)), *(volatile uint8_t *)(uintptr_t)kmain);
}

void t_paging_map_4k(void)
{
    uint32_t pa = page_alloc();
    uint32_t v = 0;

    CHECK(pa != 0);
    if (!pa)
        return;
    CHECK(page_map(boot_pd, TEST_VA, pa, PTE_W) == 0);
    poke(TEST_VA + 0x10, 0xcafe0001);
    CHECK_EQ(*(volatile uint32_t *)((uint8_t *)P2V(pa) + 0x10), 0xcafe0001);
    *(volatile uint32_t *)((uint8_t *)P2V(pa) + 0xffc) = 0xcafe0002;
    CHECK_EQ(peek(TEST_VA + 0xffc), 0xcafe0002);
    /* The next page is not mapped. */
    fault_reset();
    FAULT_TRY("movl (%1), %0", : "=r"(v) : "r"(TEST_VA + PAGE_SIZE));
    CHECK_EQ(fault_last.vector, VEC_PF);
    CHECK_EQ(fault_last.cr2, TEST_VA + PAGE_SIZE);

    page_unmap(boot_pd, TEST_VA);
    fault_reset();
    FAULT_TRY("movl (%1), %0", : "=r"(v) : "r"(TEST_VA + 0x10));
    CHECK_EQ(fault_last.vector, VEC_PF);
    CHECK_EQ(fault_last.error, 0);
    page_free(pa);
}

void t_paging_pse(void)
{
    static uint32_t big_pa;
    const uint32_t off = 0x123450;
    uint32_t *pde = &boot_pd[TEST_BIG >> 22];

    if (!big_pa)
        big_pa = page_reserve(BIGPAGE_SIZE, BIGPAGE_SIZE);
    if (!big_pa) {
        tap_skip("not enough memory for a 4 MiB page");
        return;
    }
    page_map_big(boot_pd, TEST_BIG, big_pa, PTE_W);
    CHECK_EQ(*pde & (PTE_A | PTE_D), 0);
    poke(TEST_BIG + off, 0x4d1b0001);
    CHECK_EQ(*(volatile uint32_t *)((uint8_t *)P2V(big_pa) + off), 0x4d1b0001);
    *(volatile uint32_t *)((uint8_t *)P2V(big_pa) + BIGPAGE_SIZE - 4) = 0x4d1b0002;
    CHECK_EQ(peek(TEST_BIG + BIGPAGE_SIZE - 4), 0x4d1b0002);
    /* One entry maps the whole 4 MiB, with its accessed and dirty bits. */
    CHECK_EQ(*pde & (PTE_A | PTE_D), PTE_A | PTE_D);
    *pde = 0;
    invlpg(TEST_BIG);
    invlpg(TEST_BIG + BIGPAGE_SIZE - 4);
}

/*
 * After a PTE changes, the old translation may or may not still be cached:
 * the architecture guarantees only that invlpg makes the new one visible, so
 * that is what is asserted; what was seen before is reported as a comment.
 */
void t_paging_invlpg(void)
{
    uint32_t a, b;

    if (two_pages(&a, &b) < 0)
        return;
    CHECK(page_map(boot_pd, TEST_VA, a, PTE_W) == 0);
    CHECK_EQ(peek(TEST_VA), 0xaaaa0001); /* the translation is now cached */
    *page_pte(boot_pd, TEST_VA) = b | PTE_P | PTE_W;
    uint32_t before = peek(TEST_VA);
    invlpg(TEST_VA);
    CHECK_EQ(peek(TEST_VA), 0xbbbb0002);
    tap_diag("before invlpg the %s page was visible", before == 0xaaaa0001 ? "old (cached)" : "new");
    page_unmap(boot_pd, TEST_VA);
    page_free(a);
    page_free(b);
}

void t_paging_cr3_flush(void)
{
    uint32_t a, b;

    if (two_pages(&a, &b) < 0)
        return;
    CHECK(page_map(boot_pd, TEST_VA, a, PTE_W) == 0);
    CHECK_EQ(peek(TEST_VA), 0xaaaa0001);
    *page_pte(boot_pd, TEST_VA) = b | PTE_P | PTE_W;
    write_cr3(read_cr3()); /* flushes every non-global translation */
    CHECK_EQ(peek(TEST_VA), 0xbbbb0002);
    page_unmap(boot_pd, TEST_VA);
    page_free(a);
    page_free(b);
}

void t_paging_accessed_dirty(void)
{
    uint32_t pa = page_alloc();

    CHECK(pa != 0);
    if (!pa)
        return;
    CHECK(page_map(boot_pd, TEST_VA, pa, PTE_W) == 0);
    uint32_t *pte = page_pte(boot_pd, TEST_VA);
    CHECK_EQ(*pte & (PTE_A | PTE_D), 0);
    (void)peek(TEST_VA);
    CHECK_EQ(*pte & (PTE_A | PTE_D), PTE_A);
    poke(TEST_VA, 1);
    CHECK_EQ(*pte & (PTE_A | PTE_D), PTE_A | PTE_D);
    CHECK_EQ(boot_pd[TEST_VA >> 22] & PTE_A, PTE_A); /* the page table was used too */

    /* Cleared by software (and flushed), D is set again by the next write. */
    *pte &= ~(PTE_A | PTE_D);
    invlpg(TEST_VA);
    poke(TEST_VA, 2);
    CHECK_EQ(*pte & (PTE_A | PTE_D), PTE_A | PTE_D);
    page_unmap(boot_pd, TEST_VA);
    page_free(pa);
}

/*
 * Turn paging off and on again: with it off, addresses are physical (a page
 * above the identity-mapped 4 MiB is reached at its physical address, which
 * is unmapped with paging on), and everything works again afterwards.
 */
void t_paging_off_on(void)
{
    static uint32_t pa;
    uint32_t v = 0;

    if (!pa)
        pa = page_reserve(PAGE_SIZE, BIGPAGE_SIZE); /* 4 MiB aligned: not identity mapped */
    if (!pa) {
        tap_skip("no page above 4 MiB");
        return;
    }
    *(volatile uint32_t *)P2V(pa) = 0x0ff0ff01;
    fault_reset();
    FAULT_TRY("movl (%1), %0", : "=r"(v) : "r"(pa));
    CHECK_EQ(fault_last.vector, VEC_PF); /* with paging on, pa is not mapped at pa */

    uint32_t flags = irq_save();
    boot_pd[0] = PTE_P | PTE_W | PTE_PS; /* identity map the code that runs with paging off */
    invlpg((uint32_t)(uintptr_t)paging_off_swap);
    uint32_t seen = paging_off_swap(pa, 0x0ff0ff02);
    boot_pd[0] = 0;
    invlpg((uint32_t)(uintptr_t)paging_off_swap);
    irq_restore(flags);

    CHECK_EQ(seen, 0x0ff0ff01);
    CHECK_EQ(*(volatile uint32_t *)P2V(pa), 0x0ff0ff02);
    CHECK_EQ(read_cr0() & CR0_PG, CR0_PG);
    /* The TLB was flushed: the identity map is gone again. */
    fault_reset();
    FAULT_TRY("movl (%1), %0", : "=r"(v) : "r"((uint32_t)(uintptr_t)paging_off_swap));
    CHECK_EQ(fault_last.vector, VEC_PF);
}

void t_paging_wp(void)
{
    uint32_t pa = page_alloc();
    uint32_t cr0 = read_cr0();

    CHECK(pa != 0);
    if (!pa)
        return;
    CHECK(page_map(boot_pd, TEST_VA, pa, 0) == 0); /* read-only, supervisor */

    write_cr0(cr0 | CR0_WP);
    invlpg(TEST_VA);
    fault_reset();
    FAULT_TRY("movl $0x11, (%0)", : : "r"(TEST_VA));
    CHECK_EQ(fault_last.vector, VEC_PF);
    CHECK_EQ(fault_last.cr2, TEST_VA);
    CHECK_EQ(fault_last.error, PF_P | PF_W);
    CHECK_EQ(*(volatile uint32_t *)P2V(pa), 0);

    /* Without WP the kernel may write to read-only pages. */
    write_cr0(cr0 & ~CR0_WP);
    invlpg(TEST_VA);
    fault_reset();
    FAULT_TRY("movl $0x22, (%0)", : : "r"(TEST_VA));
    CHECK_EQ(fault_last.count, 0);
    CHECK_EQ(*(volatile uint32_t *)P2V(pa), 0x22);

    write_cr0(cr0);
    page_unmap(boot_pd, TEST_VA);
    page_free(pa);
}
