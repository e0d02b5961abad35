/*
 * cpu-ia32 in-guest fast path, VM side: hand the shared state to the guest
 * process before a resume and take it back after a crossing.
 */
#include "plugins/cpu-ia32/local-vm.h"

const char *const cpu_local_stat_names[CPU_LOCAL_N] = {
    [CPU_LOCAL_CLI] = "local_cli",     [CPU_LOCAL_STI] = "local_sti",
    [CPU_LOCAL_PUSHF] = "local_pushf", [CPU_LOCAL_POPF] = "local_popf",
    [CPU_LOCAL_CR_READ] = "local_cr_read", [CPU_LOCAL_IRET] = "local_iret",
};

void cpu_local_publish(CpuLocal *sh, const CpuState *s, const LilyRegs *r, bool intr_pending)
{
    __atomic_store_n(&sh->eflags, s->eflags, __ATOMIC_RELAXED);
    __atomic_store_n(&sh->cpl, s->cpl, __ATOMIC_RELAXED);
    __atomic_store_n(&sh->intr_pending, intr_pending ? 1u : 0u, __ATOMIC_RELAXED);
    __atomic_store_n(&sh->cr0, s->cr0, __ATOMIC_RELAXED);
    __atomic_store_n(&sh->cr2, s->cr2, __ATOMIC_RELAXED);
    __atomic_store_n(&sh->cr3, s->cr3, __ATOMIC_RELAXED);
    __atomic_store_n(&sh->cr4, s->cr4, __ATOMIC_RELAXED);
    sh->host_sel[CPU_ES] = r->es;
    sh->host_sel[CPU_CS] = r->cs;
    sh->host_sel[CPU_SS] = r->ss;
    sh->host_sel[CPU_DS] = r->ds;
    sh->host_sel[CPU_FS] = r->fs;
    sh->host_sel[CPU_GS] = r->gs;
    __atomic_store_n(&sh->gdt_base, s->gdt_base, __ATOMIC_RELAXED);
    __atomic_store_n(&sh->gdt_limit, s->gdt_limit, __ATOMIC_RELAXED);
    sh->cs_sel = s->seg[CPU_CS].sel;
    sh->cs_access = s->seg[CPU_CS].access;
    sh->cs_flags = s->seg[CPU_CS].flags;
    /* The transport's hand-over orders these stores before the resume. */
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

void cpu_local_collect(const CpuLocal *sh, CpuState *s)
{
    uint32_t fl;

    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    fl = __atomic_load_n(&sh->eflags, __ATOMIC_RELAXED);
    /* Untrusted: only what the fast path may change is taken. */
    s->eflags = (s->eflags & ~CPU_LOCAL_FL_MUTABLE) | (fl & CPU_LOCAL_FL_MUTABLE);
}

uint64_t cpu_local_take_count(const CpuLocal *sh, unsigned kind, uint64_t *reported)
{
    uint64_t now = __atomic_load_n(&sh->count[kind], __ATOMIC_RELAXED), d;

    /* A counter that went backwards was forged: count from its new value. */
    d = now >= *reported ? now - *reported : 0;
    *reported = now;
    return d;
}
