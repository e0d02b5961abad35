/*
 * cpu-ia32 in-guest fast path, VM side: the exchange of the shared state
 * (CpuLocal) with the VM's CpuState around each resume.
 */
#ifndef LILYVM_CPU_IA32_LOCAL_VM_H
#define LILYVM_CPU_IA32_LOCAL_VM_H

#include "plugins/cpu-ia32/cpu.h"
#include "plugins/cpu-ia32/local.h"

/* Counter names for host->stat_add, by CPU_LOCAL_* kind. */
extern const char *const cpu_local_stat_names[CPU_LOCAL_N];

/**
 * cpu_local_publish() - Give the guest process the state it needs.
 * @sh: the shared page
 * @s: the VM's state (after the trap was handled)
 * @r: the registers the resume loads (their selectors)
 * @intr_pending: an external interrupt may be delivered as soon as IF is set
 *
 * Call right before every transport_run().
 */
void cpu_local_publish(CpuLocal *sh, const CpuState *s, const LilyRegs *r, bool intr_pending);

/**
 * cpu_local_collect() - Take back what the guest process changed (IF, IOPL).
 * Call right after every transport_run(), before the trap is handled.
 */
void cpu_local_collect(const CpuLocal *sh, CpuState *s);

/* The growth of counter @kind since *@reported (updated). */
uint64_t cpu_local_take_count(const CpuLocal *sh, unsigned kind, uint64_t *reported);

#endif
