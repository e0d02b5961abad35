/*
 * LilyVM MMU plugin interface (kind LILY_PLUGIN_MMU): the contract between
 * the CPU plugin, which owns the guest process, and the MMU plugin, which
 * turns the guest's page tables into mappings of guest RAM in that process.
 *
 * The MMU never makes a host call itself: it appends mapping operations to a
 * batch that the CPU plugin hands to the guest process on the next resume
 * (one crossing for many operations).  Every function here is plain C with
 * no glib, no allocation, no locks and no stdio, so that the same code can
 * later run inside the guest process's signal handler.
 *
 * A plugin of kind LILY_PLUGIN_MMU points LilyPluginDesc.kind_ops at a const
 * LilyMmuOps; the CPU plugin finds the MMU instance with host->find_instance.
 */
#ifndef LILYVM_MMU_H
#define LILYVM_MMU_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Kinds of mapping operation (same meaning as the transport's). */
#define LILY_MMU_OP_MAP 1u     /* map RAM [gpa, gpa+len) at vaddr with prot */
#define LILY_MMU_OP_UNMAP 2u   /* unmap [vaddr, vaddr+len) */
#define LILY_MMU_OP_PROTECT 3u /* set prot on [vaddr, vaddr+len) */
/* MAP, and fill the host page tables now (transport's MAP_POPULATE): no
 * host minor fault on first touch.  Emitted for 4 KiB fills (fault-around). */
#define LILY_MMU_OP_MAP_POPULATE 4u

/* prot bits (same values as PROT_READ/WRITE/EXEC). */
#define LILY_MMU_PROT_READ 0x1u
#define LILY_MMU_PROT_WRITE 0x2u
#define LILY_MMU_PROT_EXEC 0x4u

typedef struct LilyMmuOp {
    uint32_t kind;
    uint32_t prot;
    uint32_t vaddr; /* page aligned */
    uint32_t len;   /* page aligned, > 0 */
    uint64_t gpa;   /* MAP: page-aligned guest-physical address (memfd offset) */
} LilyMmuOp;

/* Where the MMU appends operations; the CPU plugin owns the storage. */
typedef struct LilyMmuBatch {
    LilyMmuOp *ops;
    uint32_t n;   /* operations queued */
    uint32_t max; /* capacity; the MMU never writes past it */
} LilyMmuBatch;

/*
 * Free slots the functions that return void (reset, set_control, invlpg,
 * set_cpl) need at most: when their exact operations do not fit they fall
 * back to one coarse unmap (two when it spans all 4 GiB).
 */
#define LILY_MMU_BATCH_RESERVE 2u

/* Access bits for fault() and translate(). */
#define LILY_MMU_ACC_WRITE 0x2u /* x86 #PF error-code bit 1 */
#define LILY_MMU_ACC_USER 0x4u  /* bit 2: the access is made at CPL 3 */
#define LILY_MMU_ACC_EXEC 0x10u /* bit 4: instruction fetch */

typedef enum LilyMmuResult {
    LILY_MMU_OK = 0,          /* mapped (fault) / translated (translate) */
    LILY_MMU_GUEST_FAULT = 1, /* the guest's tables forbid it: deliver #PF with
                                 *pf_error (CR2 = the address) */
    LILY_MMU_MMIO = 2,        /* *gpa belongs to a device: emulate the access */
    LILY_MMU_BAD_GPA = 3,     /* *gpa is outside RAM and no device claims it */
    LILY_MMU_BATCH_FULL = 4,  /* resume with what is queued and retry */
    LILY_MMU_EMULATE = 5,     /* *gpa is RAM, but the page cannot be mapped
                                 in the guest process (below the host's
                                 vm.mmap_min_addr): emulate the access on
                                 RAM at *gpa (A/D are already set) */
} LilyMmuResult;

typedef struct LilyMmuStats {
    uint64_t faults;       /* fault() calls */
    uint64_t guest_faults; /* of which LILY_MMU_GUEST_FAULT */
    uint64_t ops_map, ops_unmap, ops_protect; /* operations emitted */
    uint64_t flushes;      /* full or non-global flushes */
} LilyMmuStats;

typedef struct LilyMmuOps {
    uint32_t size; /* sizeof(LilyMmuOps) */
    /* Forget every mapping (emits the unmaps). */
    void (*reset)(void *mmu, LilyMmuBatch *batch);
    /*
     * The guest wrote CR0, CR3 or CR4 (all three are passed).  Applies x86
     * TLB rules: a CR3 load drops non-global mappings, a change of CR0.PG,
     * CR0.WP, CR4.PSE or CR4.PGE drops everything.  A call that changes
     * none of the three is a CR3 reload with the same value (it flushes the
     * non-global mappings): call it only when the guest writes one of them.
     */
    void (*set_control)(void *mmu, uint32_t cr0, uint32_t cr3, uint32_t cr4,
                        LilyMmuBatch *batch);
    /* invlpg vaddr. */
    void (*invlpg)(void *mmu, uint32_t vaddr, LilyMmuBatch *batch);
    /* The guest's privilege level changed (0 or 3): user mode must not reach
     * supervisor pages. */
    void (*set_cpl)(void *mmu, unsigned cpl, LilyMmuBatch *batch);
    /*
     * The guest process faulted at vaddr with access (LILY_MMU_ACC_*).
     * Walks the guest tables, sets Accessed/Dirty as the CPU would, and
     * queues the mapping; or says why it cannot.
     */
    LilyMmuResult (*fault)(void *mmu, uint32_t vaddr, uint32_t access,
                           LilyMmuBatch *batch, uint32_t *pf_error, uint64_t *gpa);
    /*
     * Translate for the CPU plugin's own accesses (instruction bytes,
     * descriptor tables, stacks during interrupt delivery).  Sets A/D like
     * the hardware would; queues nothing.
     */
    LilyMmuResult (*translate)(void *mmu, uint32_t vaddr, uint32_t access,
                               uint64_t *gpa, uint32_t *pf_error);
    void (*get_stats)(void *mmu, LilyMmuStats *stats);
} LilyMmuOps;

#ifdef __cplusplus
}
#endif
#endif /* LILYVM_MMU_H */
