/*
 * Paging for SDK kernels: the kernel is linked at KERNEL_VMA + physical and
 * crt0 maps the first KERNEL_MAP_SIZE of physical memory there with 4 MiB
 * pages (plus, until paging_drop_identity(), an identity map of the first
 * 4 MiB).  A bump allocator with a free list hands out physical pages.
 */
#ifndef LILY_PAGING_H
#define LILY_PAGING_H

#include <stdint.h>
#include <stddef.h>

#define KERNEL_VMA      0xC0000000u
#define KERNEL_MAP_SIZE 0x04000000u /* 64 MiB mapped at KERNEL_VMA */
#define PAGE_SIZE       4096u
#define BIGPAGE_SIZE    0x00400000u

#define PTE_P   0x001u
#define PTE_W   0x002u
#define PTE_U   0x004u
#define PTE_PWT 0x008u
#define PTE_PCD 0x010u
#define PTE_A   0x020u
#define PTE_D   0x040u
#define PTE_PS  0x080u /* in a PDE: 4 MiB page */
#define PTE_G   0x100u
#define PTE_OWNED 0x200u /* software bit: the page belongs to this mapping's owner */
#define PTE_ADDR 0xfffff000u
#define PDE_BIG_ADDR 0xffc00000u

#define P2V(pa) ((void *)((uintptr_t)(pa) + KERNEL_VMA))
#define V2P(va) ((uint32_t)(uintptr_t)(va) - KERNEL_VMA)

/* The page directory crt0 built and the kernel runs on. */
extern uint32_t boot_pd[1024];

/* Remove the boot identity mapping of the first 4 MiB and flush the TLB. */
void paging_drop_identity(void);
/* Start handing out physical pages after the image, below mem_top (bytes). */
void page_alloc_init(uint32_t mem_top);
/* A zeroed physical page, or 0 when memory is exhausted. */
uint32_t page_alloc(void);
void page_free(uint32_t pa);
/* Physical pages still available (free list plus untouched memory). */
uint32_t page_free_count(void);
/*
 * Take n contiguous physical bytes aligned to align (a power of two, at
 * most 4 MiB) out of the allocator for good; returns 0 if they do not fit.
 */
uint32_t page_reserve(uint32_t n, uint32_t align);

/* The page-table entry for va in pd, or NULL if no page table covers it. */
uint32_t *page_pte(uint32_t *pd, uint32_t va);
/* Map one 4 KiB page; page tables are allocated as needed. 0 or -1 (no memory). */
int page_map(uint32_t *pd, uint32_t va, uint32_t pa, uint32_t flags);
/* Clear va's entry (and invlpg it if pd is the current directory). */
void page_unmap(uint32_t *pd, uint32_t va);
/* Map a 4 MiB page (va and pa 4 MiB aligned). */
void page_map_big(uint32_t *pd, uint32_t va, uint32_t pa, uint32_t flags);
/* The page directory in use (CR3), as a kernel pointer. */
uint32_t *page_current_pd(void);

#endif
