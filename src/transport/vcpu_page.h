/*
 * Layout of the vcpu page: the memory the VM process and the guest process
 * share (MAP_SHARED, above 4 GiB).  The guest process can write all of it at
 * any time, so the VM reads it only through snapshot-and-validate.
 */
#ifndef LILYVM_VCPU_PAGE_H
#define LILYVM_VCPU_PAGE_H

#include "src/transport/transport.h"

/* state: the futex word that passes the CPU between the two processes. */
enum {
    VCPU_RUNNING = 0, /* the guest runs; the VM waits for TRAPPED */
    VCPU_TRAPPED = 1, /* stub -> VM: trap record and registers are valid */
    VCPU_RESUME = 2,  /* VM -> stub: registers and ops are valid, go on */
};

/* ptrace_cmd: what a signal the VM injects under ptrace asks of the stub. */
enum {
    VCPU_PTRACE_RECORD = 1, /* copy the trap record from the frame, change nothing */
    VCPU_PTRACE_OPS = 2,    /* execute the queued mapping ops */
};

/* The signal a ptrace VM injects to have the stub execute mapping ops. */
#define VCPU_OPS_SIGNAL SIGUSR1

typedef struct VcpuPage {
    uint32_t state;           /* futex word, see above */
    uint32_t stub_waiting;    /* the stub sleeps (or is about to) on state */
    uint32_t vm_waiting;      /* the VM sleeps (or is about to) on state */
    uint32_t seq;             /* bumped by the stub for every record */
    uint32_t spin_iterations; /* VM -> stub */
    uint32_t ptrace_cmd;      /* VM -> stub, ptrace transport only */
    LilyRegs regs;            /* at a trap: stub -> VM; at resume: VM -> stub */
    LilyTrap trap;            /* stub -> VM */
    uint32_t n_ops;           /* VM -> stub */
    int32_t op_error;         /* stub -> VM: 0 or -errno of the failing op */
    uint32_t op_failed;       /* stub -> VM: its index */
    uint32_t pad;
    LilyMapOp ops[LILY_MAP_OPS_MAX];
} VcpuPage;

/* Flags derived from a record, the same way in the stub and in the VM. */
static inline uint32_t vcpu_trap_flags(const LilyTrap *trap)
{
    if (trap->signo == SIGSYS && trap->syscall_arch == 0x40000003u /* AUDIT_ARCH_I386 */ &&
        trap->host_ip >= 0x100000000ull)
        return LILY_TRAP_F_FAST_SYSCALL;
    return 0;
}

#define VCPU_PAGE_SIZE 4096
_Static_assert(sizeof(VcpuPage) <= VCPU_PAGE_SIZE, "VcpuPage must fit its page");

#endif
