/* Physical page allocator and page-table helpers for SDK kernels. */
#include <string.h>
#include <lily/cpu.h>
#include <lily/paging.h>

extern char __image_phys_end[];

static uint32_t next_free;   /* first never-allocated physical page */
static uint32_t phys_top;    /* end of allocatable physical memory */
static uint32_t free_list;   /* physical address of a freed page, 0 = none */
static uint32_t free_listed; /* pages on free_list */

void paging_drop_identity(void)
{
    boot_pd[0] = 0;
    write_cr3(read_cr3());
}

void page_alloc_init(uint32_t mem_top)
{
    next_free = ((uint32_t)(uintptr_t)__image_phys_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    phys_top = mem_top < KERNEL_MAP_SIZE ? mem_top & ~(PAGE_SIZE - 1) : KERNEL_MAP_SIZE;
    free_list = 0;
    free_listed = 0;
}

uint32_t page_alloc(void)
{
    uint32_t pa;

    if (free_list) {
        pa = free_list;
        free_list = *(uint32_t *)P2V(pa);
        free_listed--;
    } else if (next_free < phys_top) {
        pa = next_free;
        next_free += PAGE_SIZE;
    } else {
        return 0;
    }
    memset(P2V(pa), 0, PAGE_SIZE);
    return pa;
}

void page_free(uint32_t pa)
{
    if (!pa)
        return;
    *(uint32_t *)P2V(pa) = free_list;
    free_list = pa;
    free_listed++;
}

uint32_t page_free_count(void)
{
    return free_listed + (phys_top - next_free) / PAGE_SIZE;
}

uint32_t page_reserve(uint32_t n, uint32_t align)
{
    uint32_t start = (next_free + align - 1) & ~(align - 1);

    if (start < next_free || start + n < start || start + n > phys_top)
        return 0;
    /* The skipped gap goes to the free list rather than being lost. */
    for (uint32_t pa = next_free; pa < start; pa += PAGE_SIZE)
        page_free(pa);
    next_free = (start + n + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    return start;
}

uint32_t *page_current_pd(void)
{
    return P2V(read_cr3() & PTE_ADDR);
}

uint32_t *page_pte(uint32_t *pd, uint32_t va)
{
    uint32_t pde = pd[va >> 22];

    if (!(pde & PTE_P) || (pde & PTE_PS))
        return NULL;
    return (uint32_t *)P2V(pde & PTE_ADDR) + ((va >> 12) & 0x3ff);
}

int page_map(uint32_t *pd, uint32_t va, uint32_t pa, uint32_t flags)
{
    uint32_t *pde = &pd[va >> 22];

    if (!(*pde & PTE_P)) {
        uint32_t pt = page_alloc();
        if (!pt)
            return -1;
        /* The page table grants everything; each PTE decides. */
        *pde = pt | PTE_P | PTE_W | PTE_U;
    }
    uint32_t *pte = (uint32_t *)P2V(*pde & PTE_ADDR) + ((va >> 12) & 0x3ff);
    *pte = (pa & PTE_ADDR) | (flags & 0xfff) | PTE_P;
    if (pd == page_current_pd())
        invlpg(va);
    return 0;
}

void page_unmap(uint32_t *pd, uint32_t va)
{
    uint32_t *pte = page_pte(pd, va);

    if (pte) {
        *pte = 0;
        if (pd == page_current_pd())
            invlpg(va);
    }
}

void page_map_big(uint32_t *pd, uint32_t va, uint32_t pa, uint32_t flags)
{
    pd[va >> 22] = (pa & PDE_BIG_ADDR) | (flags & 0xfff) | PTE_PS | PTE_P;
    if (pd == page_current_pd())
        invlpg(va);
}
