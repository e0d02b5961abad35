/*
 * Shadow paging core of the mmu plugin: walks the guest's 2-level IA-32 page
 * tables and keeps the guest process's mappings of guest RAM in step with
 * them, appending mapping operations to a batch.  Plain C: no glib, no
 * allocation, no locks, no stdio (see docs/mmu.md).
 */
#ifndef LILYVM_MMU_SHADOW_H
#define LILYVM_MMU_SHADOW_H

#include <stdbool.h>
#include <stdint.h>

#include <lilyvm/mmu.h>

#define MMU_PAGE_SIZE 4096u
#define MMU_SLOT_PAGES 1024u            /* pages per 4 MiB directory slot */
#define MMU_SLOTS 1024u                 /* directory slots in 4 GiB */
#define MMU_NO_TABLE 0xffffu
#define MMU_MAX_TABLES 1024u            /* one per slot at most */
#define MMU_FAULT_AROUND_MAX 1024u
/*
 * Bound on mapped pages that came from 4 KiB PTEs.  Each may be a VMA of
 * its own in the guest process, and Linux refuses mappings beyond
 * vm.max_map_count (65530 by default): flush before getting near it.
 */
#define MMU_MAX_SMALL_PAGES 32768u

/* Control-register bits the MMU looks at. */
#define MMU_CR0_WP 0x00010000u
#define MMU_CR0_PG 0x80000000u
#define MMU_CR4_PSE 0x00000010u
#define MMU_CR4_PAE 0x00000020u
#define MMU_CR4_PGE 0x00000080u
#define MMU_CR4_SMEP 0x00100000u

/* Page-directory / page-table entry bits. */
#define MMU_PTE_P 0x001u
#define MMU_PTE_W 0x002u
#define MMU_PTE_U 0x004u
#define MMU_PTE_A 0x020u
#define MMU_PTE_D 0x040u
#define MMU_PDE_PS 0x080u
#define MMU_PTE_G 0x100u

/* #PF error-code bits. */
#define MMU_PF_P 0x01u
#define MMU_PF_W 0x02u
#define MMU_PF_U 0x04u
#define MMU_PF_RSVD 0x08u
#define MMU_PF_I 0x10u

/* Is a guest-physical address claimed by a device (never mapped as RAM)? */
typedef bool (*MmuMmioFn)(void *ctx, uint64_t gpa);

/*
 * What is mapped in one 4 MiB slot of the guest process: one word per page
 * (see MMU_E_* in shadow.c), and counters that let flushes skip tables.
 */
typedef struct MmuTable {
    uint32_t entry[MMU_SLOT_PAGES];
    uint16_t n_mapped;
    uint16_t n_sensitive; /* host prot differs between kernel and user mode */
    uint16_t n_global;
    uint16_t n_large;     /* filled from a 4 MiB page (or with paging off) */
} MmuTable;

/* One step of a fault-path plan: the page and the entry it gets. */
typedef struct MmuPlanStep {
    uint16_t idx;
    uint16_t set_accessed; /* neighbour whose PTE gets A on commit */
    uint32_t entry;
} MmuPlanStep;

typedef struct Mmu {
    uint8_t *ram;
    uint64_t ram_size;
    MmuMmioFn mmio;
    void *mmio_ctx;

    uint32_t cr0, cr3, cr4;
    unsigned cpl;
    uint32_t fault_around; /* pages per fault-around window, power of 2 */
    bool populate;         /* 4 KiB fills use LILY_MMU_OP_MAP_POPULATE */
    bool flush_pending;    /* a flush found no room in its batch */
    uint32_t min_vaddr;    /* pages below are never mapped (vm.mmap_min_addr) */

    uint16_t dir[MMU_SLOTS];  /* table index per slot, or MMU_NO_TABLE */
    MmuTable *tables;         /* n_tables, owned by the caller */
    uint16_t *free_list;      /* n_tables, owned by the caller */
    uint32_t n_tables, n_free;
    uint32_t total_mapped, total_sensitive, total_global, total_large;

    MmuPlanStep plan[MMU_SLOT_PAGES]; /* fault-path scratch */
    LilyMmuStats stats;
    uint64_t remaps; /* faults on pages the table had mapped: the guest process lost them */
} Mmu;

/**
 * mmu_setup() - Initialise an Mmu over caller-provided storage.
 * @m: the state to fill
 * @ram: the VM process's mapping of guest RAM (for walks and A/D updates)
 * @ram_size: bytes of RAM (guest-physical [0, ram_size))
 * @tables: storage for n_tables shadow tables
 * @free_list: storage for n_tables indices
 * @n_tables: 1 .. MMU_MAX_TABLES; bounds what can be mapped (4 MiB each)
 * @mmio: asks whether a guest-physical address is MMIO
 * @mmio_ctx: its context
 *
 * Starts with paging off, CPL 0, nothing mapped.
 */
void mmu_setup(Mmu *m, uint8_t *ram, uint64_t ram_size, MmuTable *tables,
               uint16_t *free_list, uint32_t n_tables, MmuMmioFn mmio, void *mmio_ctx);

void mmu_reset(Mmu *m, LilyMmuBatch *batch);
void mmu_set_control(Mmu *m, uint32_t cr0, uint32_t cr3, uint32_t cr4, LilyMmuBatch *batch);
void mmu_invlpg(Mmu *m, uint32_t vaddr, LilyMmuBatch *batch);
void mmu_set_cpl(Mmu *m, unsigned cpl, LilyMmuBatch *batch);
LilyMmuResult mmu_fault(Mmu *m, uint32_t vaddr, uint32_t access, LilyMmuBatch *batch,
                        uint32_t *pf_error, uint64_t *gpa);
LilyMmuResult mmu_translate(Mmu *m, uint32_t vaddr, uint32_t access, uint64_t *gpa,
                            uint32_t *pf_error);

#endif
