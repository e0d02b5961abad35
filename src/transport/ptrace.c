/*
 * The ptrace transport, VM side: the VM traces the guest process; every trap
 * is a signal-delivery-stop read with GETREGS/GETSIGINFO and resumed with
 * SETREGS/CONT.  Mapping ops and exact error codes come from the stub: the
 * VM injects a signal whose handler executes the ops or copies the frame.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "src/guest/stub.h"
#include "src/transport/transport-internal.h"

#define PTRACE_SPIN_POLLS 64
#define PTRACE_GRACE_NS (2000ll * 1000 * 1000)

typedef enum { STOP_OK, STOP_EXITED, STOP_TIMEOUT, STOP_ERROR } PtraceWait;

/* Wait for the tracee to stop or end, until deadline (< 0: forever). */
static PtraceWait ptrace_wait(LilyTransport *t, int64_t deadline, int *status)
{
    int64_t nap = 20 * 1000;

    for (int i = 0; i < PTRACE_SPIN_POLLS; i++) {
        pid_t r = waitpid(t->pid, status, WNOHANG | __WALL);
        if (r == t->pid)
            goto got;
        if (r < 0 && errno != EINTR)
            return STOP_ERROR;
    }
    for (;;) {
        pid_t r;

        if (deadline < 0) {
            r = waitpid(t->pid, status, __WALL);
        } else {
            int64_t left = deadline - transport_now_ns();
            struct timespec ts;

            if (left <= 0)
                return STOP_TIMEOUT;
            if (nap > left)
                nap = left;
            ts.tv_sec = nap / 1000000000;
            ts.tv_nsec = nap % 1000000000;
            nanosleep(&ts, NULL);
            if (nap < 2 * 1000 * 1000)
                nap *= 2;
            r = waitpid(t->pid, status, WNOHANG | __WALL);
        }
        if (r == t->pid)
            break;
        if (r < 0 && errno != EINTR)
            return STOP_ERROR;
    }
got:
    if (WIFEXITED(*status) || WIFSIGNALED(*status))
        return STOP_EXITED;
    return STOP_OK;
}

static bool ptrace_cont(LilyTransport *t, int sig)
{
    t->pt_stopped = 0;
    return ptrace(PTRACE_CONT, t->pid, NULL, (void *)(long)sig) == 0;
}

/* Trap number and error code as far as siginfo tells them. */
static void ptrace_derive(LilyTrap *trap, int sig, const siginfo_t *si, uint64_t rip)
{
    uint32_t trapno = LILY_TRAPNO_NONE;
    uint32_t err = 0;
    uint32_t addr = 0;

    if (si->si_code > 0 && sig != SIGSYS && sig != TRANSPORT_KICK_SIGNAL) {
        switch (sig) {
        case SIGTRAP:
            trapno = si->si_code == TRAP_TRACE || si->si_code == TRAP_HWBKPT ? 1 : 3;
            break;
        case SIGSEGV:
            if (si->si_code == SI_KERNEL) {
                trapno = 13;
            } else {
                trapno = 14;
                err = 4 | (si->si_code == SEGV_ACCERR ? 1 : 0);
                addr = (uint32_t)(uintptr_t)si->si_addr;
            }
            break;
        case SIGBUS:
            if (si->si_code == BUS_ADRALN) {
                trapno = 17;
            } else if (si->si_code == SI_KERNEL) {
                trapno = 12;
            } else {
                trapno = 14;
                err = 4 | 1;
                addr = (uint32_t)(uintptr_t)si->si_addr;
            }
            break;
        case SIGFPE:
            trapno = si->si_code == FPE_INTDIV ? 0 : si->si_code == FPE_INTOVF ? 4 : 16;
            break;
        case SIGILL:
            trapno = 6;
            break;
        }
    }
    trap->signo = (uint32_t)sig;
    trap->si_code = si->si_code;
    trap->trapno = trapno;
    trap->error_code = err;
    trap->fault_addr = addr;
    trap->syscall_nr = 0;
    trap->syscall_arch = 0;
    if (sig == SIGSYS && si->si_code == 1 /* SYS_SECCOMP */) {
        trap->syscall_nr = (uint32_t)si->si_syscall;
        trap->syscall_arch = si->si_arch;
    }
    trap->flags = 0;
    trap->host_ip = rip;
}

static void ptrace_regs_to_lily(const struct user_regs_struct *r, LilyRegs *l)
{
    l->eax = (uint32_t)r->rax;
    l->ecx = (uint32_t)r->rcx;
    l->edx = (uint32_t)r->rdx;
    l->ebx = (uint32_t)r->rbx;
    l->esp = (uint32_t)r->rsp;
    l->ebp = (uint32_t)r->rbp;
    l->esi = (uint32_t)r->rsi;
    l->edi = (uint32_t)r->rdi;
    l->eip = (uint32_t)r->rip;
    l->eflags = (uint32_t)r->eflags;
    l->cs = (uint16_t)r->cs;
    l->ss = (uint16_t)r->ss;
    l->ds = (uint16_t)r->ds;
    l->es = (uint16_t)r->es;
    l->fs = (uint16_t)r->fs;
    l->gs = (uint16_t)r->gs;
}

static void ptrace_lily_to_regs(const LilyRegs *l, struct user_regs_struct *r)
{
    r->rax = l->eax;
    r->rcx = l->ecx;
    r->rdx = l->edx;
    r->rbx = l->ebx;
    r->rsp = l->esp;
    r->rbp = l->ebp;
    r->rsi = l->esi;
    r->rdi = l->edi;
    r->rip = l->eip;
    r->eflags = l->eflags;
    r->cs = l->cs;
    r->ss = l->ss;
    r->ds = l->ds;
    r->es = l->es;
    r->fs = l->fs;
    r->gs = l->gs;
    r->r8 = r->r9 = r->r10 = r->r11 = r->r12 = r->r13 = r->r14 = r->r15 = 0;
    /* No syscall restart on the way out (sigreturn does the same). */
    r->orig_rax = (unsigned long long)-1;
}

gboolean transport_ptrace_start(LilyTransport *t, GError **error)
{
    int status;
    PtraceWait w = ptrace_wait(t, transport_now_ns() + 5000ll * 1000 * 1000, &status);

    if (w == STOP_EXITED) {
        transport_reap(t, status);
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s", t->error);
        return FALSE;
    }
    if (w != STOP_OK || WSTOPSIG(status) != SIGTRAP ||
        ptrace(PTRACE_SETOPTIONS, t->pid, NULL, (void *)(long)PTRACE_O_EXITKILL) != 0 ||
        ptrace(PTRACE_GETREGS, t->pid, NULL, &t->pt_regs) != 0 ||
        t->pt_regs.rip != stub_start_ip()) {
        transport_kill(t, "the guest process did not reach its start trap");
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s", t->error);
        return FALSE;
    }
    t->pt_stopped = 1;
    return TRUE;
}

/*
 * The frame's trap number and error code are not visible through ptrace:
 * let the stub's handler copy them (it changes nothing, so the instruction
 * faults again and stops again).
 */
static PtraceWait ptrace_precise(LilyTransport *t, int sig, LilyTrap *trap, int *status)
{
    VcpuPage *p = t->page;
    uint32_t seq = __atomic_load_n(&p->seq, __ATOMIC_ACQUIRE);
    siginfo_t si;
    PtraceWait w;

    __atomic_store_n(&p->ptrace_cmd, VCPU_PTRACE_RECORD, __ATOMIC_RELEASE);
    if (!ptrace_cont(t, sig))
        return STOP_ERROR;
    w = ptrace_wait(t, transport_now_ns() + PTRACE_GRACE_NS, status);
    /* A kick sent just before the fault stop is delivered first: drop it. */
    while (w == STOP_OK && (*status >> 16) == 0 && WSTOPSIG(*status) == TRANSPORT_KICK_SIGNAL) {
        if (!ptrace_cont(t, 0))
            return STOP_ERROR;
        w = ptrace_wait(t, transport_now_ns() + PTRACE_GRACE_NS, status);
    }
    if (w != STOP_OK)
        return w;
    if (WSTOPSIG(*status) != sig || ptrace(PTRACE_GETSIGINFO, t->pid, NULL, &si) != 0 ||
        ptrace(PTRACE_GETREGS, t->pid, NULL, &t->pt_regs) != 0)
        return STOP_ERROR;
    ptrace_derive(trap, sig, &si, t->pt_regs.rip);
    if (__atomic_load_n(&p->seq, __ATOMIC_ACQUIRE) != seq) {
        LilyTrap rec = p->trap; /* one snapshot of guest-writable memory */

        if (rec.signo == (uint32_t)sig) {
            trap->trapno = rec.trapno;
            trap->error_code = rec.error_code;
            trap->fault_addr = rec.trapno == 14 ? rec.fault_addr : 0;
        }
    }
    return STOP_OK;
}

/*
 * Must the stub load the data selectors?  A selector that changes to one in
 * the LDT: the kernel loads what PTRACE_SETREGS set when the tracee is
 * switched in, and with FSGSBASE puts the FS/GS bases of the last stop back
 * over the descriptor's; the stub's own load takes the descriptor's base.
 */
static bool ptrace_ldt_reload(const struct user_regs_struct *old, const LilyRegs *r)
{
    return (r->ds != old->ds && (r->ds & 4)) || (r->es != old->es && (r->es & 4)) ||
           (r->fs != old->fs && (r->fs & 4)) || (r->gs != old->gs && (r->gs & 4));
}

LilyRunResult transport_ptrace_run(LilyTransport *t, LilyVcpu *vcpu, int64_t timeout_ns)
{
    VcpuPage *p = t->page;
    int64_t deadline = timeout_ns < 0 ? -1 : transport_now_ns() + timeout_ns;
    uint32_t sent = vcpu->n_ops;
    struct user_regs_struct r;
    bool kicked = false;
    int sig = 0;

    if (!t->pt_stopped)
        return transport_kill(t, "the traced guest process is not stopped");
    r = t->pt_regs;
    ptrace_lily_to_regs(&vcpu->regs, &r);
    if (ptrace(PTRACE_SETREGS, t->pid, NULL, &r) != 0)
        return transport_kill(t, "PTRACE_SETREGS failed");
    if (sent || ptrace_ldt_reload(&t->pt_regs, &vcpu->regs)) {
        for (uint32_t i = 0; i < sent; i++)
            p->ops[i] = vcpu->ops[i];
        p->op_error = 0;
        /* The stub loads the data selectors itself once the ops ran. */
        p->regs = vcpu->regs;
        __atomic_store_n(&p->n_ops, sent, __ATOMIC_RELEASE);
        __atomic_store_n(&p->ptrace_cmd, VCPU_PTRACE_OPS, __ATOMIC_RELEASE);
        sig = VCPU_OPS_SIGNAL;
    }
    vcpu->n_ops = 0;
    if (!ptrace_cont(t, sig))
        return transport_kill(t, "PTRACE_CONT failed");

    for (;;) {
        int status;
        siginfo_t si;
        LilyTrap trap;
        PtraceWait w = ptrace_wait(t, kicked ? transport_now_ns() + PTRACE_GRACE_NS : deadline, &status);

        if (w == STOP_EXITED)
            return transport_reap(t, status);
        if (w == STOP_ERROR)
            return transport_kill(t, "waiting for the traced guest process failed");
        if (w == STOP_TIMEOUT) {
            if (kicked)
                return transport_kill(t, "the guest process did not stop when kicked");
            kicked = true;
            kill(t->pid, TRANSPORT_KICK_SIGNAL);
            continue;
        }
        sig = WSTOPSIG(status);
        if ((status >> 16) != 0 || ptrace(PTRACE_GETSIGINFO, t->pid, NULL, &si) != 0) {
            /* An event or group stop: nothing for the VM. */
            if (!ptrace_cont(t, 0))
                return transport_kill(t, "PTRACE_CONT failed");
            continue;
        }
        if (!transport_signo_valid((uint32_t)sig)) {
            /* Not a trap: SIGSTOP is dropped, anything else (SIGTERM...)
             * takes its normal course. */
            if (!ptrace_cont(t, sig == SIGSTOP ? 0 : sig))
                return transport_kill(t, "PTRACE_CONT failed");
            continue;
        }
        if (sig == TRANSPORT_KICK_SIGNAL && !kicked &&
            !__atomic_exchange_n(&t->kick_requested, 0, __ATOMIC_SEQ_CST)) {
            if (!ptrace_cont(t, 0))
                return transport_kill(t, "PTRACE_CONT failed");
            continue;
        }
        if (ptrace(PTRACE_GETREGS, t->pid, NULL, &t->pt_regs) != 0)
            return transport_kill(t, "PTRACE_GETREGS failed");
        ptrace_derive(&trap, sig, &si, t->pt_regs.rip);
        if (!t->cfg.imprecise_faults && si.si_code > 0 &&
            (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL)) {
            w = ptrace_precise(t, sig, &trap, &status);
            if (w == STOP_EXITED)
                return transport_reap(t, status);
            if (w != STOP_OK)
                return transport_kill(t, "the guest process did not fault again for its record");
        }
        t->pt_stopped = 1;
        transport_finish_record(&trap);
        ptrace_regs_to_lily(&t->pt_regs, &vcpu->regs);
        vcpu->trap = trap;
        transport_sanitize_ops(vcpu, sent, p->op_error, p->op_failed);
        if (sig == TRANSPORT_KICK_SIGNAL && kicked)
            return LILY_RUN_TIMEOUT;
        return LILY_RUN_TRAP;
    }
}
