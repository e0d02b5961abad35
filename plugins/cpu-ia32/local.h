/*
 * cpu-ia32 in-guest fast path: the state the VM shares with the guest
 * process, and the trap handler that runs there (signal transport only).
 */
#ifndef LILYVM_CPU_IA32_LOCAL_H
#define LILYVM_CPU_IA32_LOCAL_H

#include <stdbool.h>
#include <stdint.h>

#include "src/transport/transport.h"

/* What the guest process handled by itself, by kind (CpuLocal.count). */
enum {
    CPU_LOCAL_CLI, CPU_LOCAL_STI, CPU_LOCAL_PUSHF, CPU_LOCAL_POPF, CPU_LOCAL_CR_READ,
    CPU_LOCAL_IRET, CPU_LOCAL_N
};

/* Device (MMIO) runs inside RAM the handler keeps out of; more end RAM early. */
#define CPU_LOCAL_HOLES_MAX 8

/* The EFLAGS bits the fast path may change in CpuLocal.eflags. */
#define CPU_LOCAL_FL_MUTABLE 0x3200u /* IF | IOPL */

/*
 * The shared part: one MAP_SHARED page above 4 GiB, mapped before the fork
 * at the same address in both processes.
 *
 * Ownership follows the vcpu: while the guest runs, the guest process owns
 * eflags (IF and IOPL only, CPU_LOCAL_FL_MUTABLE) and the counters; while
 * it is stopped (after any crossing), the VM owns everything and rewrites
 * the VM-to-guest fields before it resumes.  The VM treats what it reads
 * back as untrusted (the guest can write the page from 64-bit mode): it
 * takes only the CPU_LOCAL_FL_MUTABLE bits of eflags, and the counters are
 * statistics only.
 */
typedef struct CpuLocal {
    /* VM -> guest process, set before every resume. */
    uint32_t enabled;      /* 0: every trap crosses */
    uint32_t eflags;       /* the virtual EFLAGS (the native bits are stale);
                              the handler writes IF and IOPL back */
    uint32_t cpl;          /* 0 or 3 */
    uint32_t intr_pending; /* an external interrupt waits for IF (the VM
                              sets it before it resumes or kicks) */
    uint32_t cr0, cr2, cr3, cr4;
    uint32_t ram_limit;    /* guest-physical bytes the handler may touch */
    uint32_t n_holes;      /* pages of RAM that devices claim: [lo, hi) */
    struct { uint32_t lo, hi; } holes[CPU_LOCAL_HOLES_MAX];
    uint16_t host_sel[6];  /* selectors the VM loaded (ES CS SS DS FS GS):
                              anything else was loaded natively -> cross */
    uint32_t gdt_base, gdt_limit;
    uint16_t cs_sel;       /* the guest's CS and its cached descriptor */
    uint8_t cs_access, cs_flags;
    uint32_t pad;
    /* guest process -> VM: traps handled without crossing. */
    uint64_t count[CPU_LOCAL_N];
} CpuLocal;

/*
 * The handler's context: private to each process (the guest process has its
 * copy-on-write copy from the fork), so an escaped guest cannot redirect it.
 */
typedef struct CpuLocalCtx {
    CpuLocal *shared;
    uint8_t *ram;      /* the VM's mapping of guest RAM (shared with the guest process) */
    uint64_t ram_size;
} CpuLocalCtx;

/**
 * cpu_local_handle() - The LilyLocalHandler of cpu-ia32.
 * @ctx: a CpuLocalCtx
 * @regs: the guest's registers at the trap; changed when handled
 * @trap: the trap record
 *
 * Emulates cli, sti, the rewritten pushf/popf sites, mov from
 * CR0/CR2/CR3/CR4 and iret within CPL 0 to the same code segment against
 * the shared state, when that needs nothing but
 * the state and guest RAM: no pending interrupt becomes deliverable, no
 * Accessed/Dirty bit must be set, no exception is raised, no selector was
 * loaded natively.  Anything else returns false untouched and crosses.
 * Runs in the guest process's signal handler (see local.c for the rules).
 * Return: true when handled (resume at once).
 */
bool cpu_local_handle(void *ctx, LilyRegs *regs, const LilyTrap *trap);

#endif
