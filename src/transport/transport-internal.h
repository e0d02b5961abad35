/*
 * Internal state shared by the transport implementations (signal.c,
 * ptrace.c) and their common part (transport.c).
 */
#ifndef LILYVM_TRANSPORT_INTERNAL_H
#define LILYVM_TRANSPORT_INTERNAL_H

#include <sys/user.h>

#include "src/transport/transport.h"
#include "src/transport/vcpu_page.h"

struct LilyTransport {
    LilyTransportConfig cfg;
    VcpuPage *page;           /* MAP_SHARED with the guest process */
    void *altstack;           /* the guest process's sigaltstack (its copy) */
    size_t altstack_size;
    pid_t pid;                /* 0: not running */
    int exit_status;          /* wait status once the process is gone */
    int kick_requested;       /* transport_kick() was called (atomic) */
    const char *error;        /* last failure, static text or errbuf */
    char errbuf[160];
    /* ptrace only */
    struct user_regs_struct pt_regs; /* registers at the current stop */
    int pt_stopped;           /* the tracee is in a signal-delivery-stop */
    /* signal only, cfg.spin_adaptive: the current spin budgets (signal.c) */
    uint32_t vm_spin, stub_spin;
    uint32_t vm_idle_waits, stub_idle_waits; /* waits since the last probe */
};

/* Implementation entry points (one pair per kind). */
gboolean transport_signal_start(LilyTransport *t, GError **error);
LilyRunResult transport_signal_run(LilyTransport *t, LilyVcpu *vcpu, int64_t timeout_ns);
gboolean transport_ptrace_start(LilyTransport *t, GError **error);
LilyRunResult transport_ptrace_run(LilyTransport *t, LilyVcpu *vcpu, int64_t timeout_ns);

/* Helpers in transport.c, all async-signal-safe. */
bool transport_regs_valid(const LilyRegs *r);
bool transport_signo_valid(uint32_t signo);
void transport_fail(LilyTransport *t, const char *what);
LilyRunResult transport_reap(LilyTransport *t, int status);
LilyRunResult transport_kill(LilyTransport *t, const char *why);
void transport_finish_record(LilyTrap *trap);
void transport_sanitize_ops(LilyVcpu *vcpu, uint32_t sent, int32_t error, uint32_t failed);

#endif
