/*
 * The signal transport, VM side: the guest process's own handlers publish
 * each trap in the shared vcpu page; hand-over by spinning, then futex.
 *
 * DOC: Adaptive spinning
 * A spin pays only while the other process runs at the same time on another
 * CPU.  When both share one CPU, or the host has no CPU to spare, the spinner
 * only delays the side it waits for, by its whole budget on every hand-over
 * (docs/native.md §6 and §12 measure both).  With cfg.spin_adaptive,
 * spin_iterations is a ceiling and each direction keeps its own budget: a
 * wait answered without sleeping (a hit) restores the ceiling, one that
 * ended on the futex (a miss) halves the budget.  At zero, every
 * SIGNAL_PROBE_EVERY-th wait spins the ceiling once, so that a pair that
 * gets two CPUs again goes back to spinning.  The VM judges both
 * directions: its own waits here, the stub's at each resume (stub_waiting
 * set: the stub gave up and sleeps), and hands the stub its budget in the
 * page's spin_iterations, so the stub keeps no state of its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "src/guest/stub.h"
#include "src/transport/transport-internal.h"

/* How long the VM sleeps on the futex before checking that the guest
 * process still exists (a dead process wakes nobody). */
#define SIGNAL_LIVENESS_NS (20 * 1000 * 1000)
/* After a timeout kick, how long to wait for the guest to stop. */
#define SIGNAL_KICK_GRACE_NS (2000ll * 1000 * 1000)

/* Adaptive spinning: at a zero budget, one wait in this many spins fully. */
#define SIGNAL_PROBE_EVERY 64

typedef enum { WAIT_TRAPPED, WAIT_EXITED, WAIT_TIMEOUT } SignalWait;

static long signal_futex(uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
    return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

/* Extra spin rounds per mapping op sent: the stub executes the ops before
 * the guest runs on, and a VM that falls asleep meanwhile may wait a whole
 * scheduler slice for its CPU (about 3.5 us per op, 18 ns per pause here). */
#define SIGNAL_SPIN_PER_OP 256

/* Adaptive spinning: the budget for one direction's next wait. */
static uint32_t signal_spin_budget(const LilyTransport *t, uint32_t budget, uint32_t *idle_waits)
{
    if (!t->cfg.spin_adaptive)
        return t->cfg.spin_iterations;
    if (budget == 0 && ++*idle_waits >= SIGNAL_PROBE_EVERY) {
        *idle_waits = 0;
        return t->cfg.spin_iterations;
    }
    return budget;
}

/* Adaptive spinning: a hit restores the ceiling, a miss halves the budget. */
static void signal_spin_learn(const LilyTransport *t, uint32_t *budget, bool hit)
{
    *budget = hit ? t->cfg.spin_iterations : *budget / 2;
}

/* Wait for state == TRAPPED until deadline (< 0: forever). */
static SignalWait signal_wait_trapped(LilyTransport *t, int64_t deadline, uint32_t n_ops)
{
    VcpuPage *p = t->page;
    uint32_t spins = signal_spin_budget(t, t->vm_spin, &t->vm_idle_waits);
    SignalWait result = WAIT_TRAPPED;
    bool slept = false;

    if (spins)
        spins += n_ops * SIGNAL_SPIN_PER_OP;
    for (uint32_t i = 0; i < spins; i++) {
        if (__atomic_load_n(&p->state, __ATOMIC_ACQUIRE) == VCPU_TRAPPED) {
            signal_spin_learn(t, &t->vm_spin, true);
            return WAIT_TRAPPED;
        }
        __builtin_ia32_pause();
    }
    __atomic_store_n(&p->vm_waiting, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        uint32_t state = __atomic_load_n(&p->state, __ATOMIC_SEQ_CST);
        int64_t slice = SIGNAL_LIVENESS_NS;
        struct timespec ts;
        int status;
        pid_t r;

        if (state == VCPU_TRAPPED)
            break;
        if (deadline >= 0) {
            int64_t left = deadline - transport_now_ns();
            if (left <= 0) {
                result = WAIT_TIMEOUT;
                break;
            }
            if (left < slice)
                slice = left;
        }
        ts.tv_sec = slice / 1000000000;
        ts.tv_nsec = slice % 1000000000;
        slept = true;
        if (signal_futex(&p->state, FUTEX_WAIT, state, &ts) == 0)
            continue;
        if (errno != ETIMEDOUT)
            continue;
        r = waitpid(t->pid, &status, WNOHANG);
        if (r == t->pid && (WIFEXITED(status) || WIFSIGNALED(status))) {
            t->exit_status = status;
            result = WAIT_EXITED;
            break;
        }
    }
    __atomic_store_n(&p->vm_waiting, 0, __ATOMIC_RELAXED);
    if (result == WAIT_TRAPPED)
        signal_spin_learn(t, &t->vm_spin, !slept);
    return result;
}

/* Hand the registers and ops to the stub and let it go. */
static void signal_resume(LilyTransport *t, const LilyRegs *regs, const LilyMapOp *ops, uint32_t n_ops)
{
    VcpuPage *p = t->page;

    p->regs = *regs;
    for (uint32_t i = 0; i < n_ops; i++)
        p->ops[i] = ops[i];
    p->n_ops = n_ops;
    if (t->cfg.spin_adaptive && t->cfg.spin_iterations) {
        /* The stub's last wait, and its budget for the next one. */
        signal_spin_learn(t, &t->stub_spin, !__atomic_load_n(&p->stub_waiting, __ATOMIC_SEQ_CST));
        p->spin_iterations = signal_spin_budget(t, t->stub_spin, &t->stub_idle_waits);
    }
    __atomic_store_n(&p->state, VCPU_RESUME, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&p->stub_waiting, __ATOMIC_SEQ_CST))
        signal_futex(&p->state, FUTEX_WAKE, 1, NULL);
}

/* Copy the record out of the shared page once, then judge the copy. */
static bool signal_read_record(LilyTransport *t, LilyRegs *regs, LilyTrap *trap,
                               int32_t *op_error, uint32_t *op_failed)
{
    VcpuPage *p = t->page;

    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    *regs = p->regs;
    *trap = p->trap;
    *op_error = p->op_error;
    *op_failed = p->op_failed;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return transport_signo_valid(trap->signo);
}

gboolean transport_signal_start(LilyTransport *t, GError **error)
{
    LilyRegs regs;
    LilyTrap trap;
    int32_t op_error;
    uint32_t op_failed;
    SignalWait w;

    t->vm_spin = t->stub_spin = t->cfg.spin_iterations;
    t->vm_idle_waits = t->stub_idle_waits = 0;
    w = signal_wait_trapped(t, transport_now_ns() + 5000ll * 1000 * 1000, 0);

    if (w == WAIT_EXITED) {
        transport_reap(t, t->exit_status);
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s", t->error);
        return FALSE;
    }
    if (w == WAIT_TIMEOUT || !signal_read_record(t, &regs, &trap, &op_error, &op_failed) ||
        trap.signo != SIGTRAP || trap.host_ip != stub_start_ip()) {
        transport_kill(t, "the guest process did not reach its start trap");
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s", t->error);
        return FALSE;
    }
    return TRUE;
}

LilyRunResult transport_signal_run(LilyTransport *t, LilyVcpu *vcpu, int64_t timeout_ns)
{
    int64_t deadline = timeout_ns < 0 ? -1 : transport_now_ns() + timeout_ns;
    uint32_t sent = vcpu->n_ops;
    bool kicked = false;
    bool have_ops_result = false;
    int32_t op_error;
    uint32_t op_failed;

    signal_resume(t, &vcpu->regs, vcpu->ops, sent);
    vcpu->n_ops = 0;
    for (;;) {
        SignalWait w = signal_wait_trapped(t, kicked ? transport_now_ns() + SIGNAL_KICK_GRACE_NS : deadline,
                                           have_ops_result ? 0 : sent);
        LilyRegs regs;
        LilyTrap trap;
        int32_t err;
        uint32_t failed;

        if (w == WAIT_EXITED)
            return transport_reap(t, t->exit_status);
        if (w == WAIT_TIMEOUT) {
            if (kicked)
                return transport_kill(t, "the guest process did not stop when kicked");
            kicked = true;
            kill(t->pid, TRANSPORT_KICK_SIGNAL);
            continue;
        }
        if (!signal_read_record(t, &regs, &trap, &err, &failed))
            return transport_kill(t, "the guest process wrote an invalid trap record");
        if (!have_ops_result) {
            op_error = err;
            op_failed = failed;
            have_ops_result = true;
        }
        /* A kick nobody is waiting for (it raced with a trap): resume. */
        if (trap.signo == TRANSPORT_KICK_SIGNAL && !kicked &&
            !__atomic_exchange_n(&t->kick_requested, 0, __ATOMIC_SEQ_CST)) {
            signal_resume(t, &regs, NULL, 0);
            continue;
        }
        transport_finish_record(&trap);
        vcpu->regs = regs;
        vcpu->trap = trap;
        transport_sanitize_ops(vcpu, sent, op_error, op_failed);
        if (trap.signo == TRANSPORT_KICK_SIGNAL && kicked)
            return LILY_RUN_TIMEOUT;
        return LILY_RUN_TRAP;
    }
}
