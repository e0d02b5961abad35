/*
 * Native execution transports, common part: creating the shared vcpu page and
 * the guest process, validation of what the guest process reports, reaping.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "src/guest/stub.h"
#include "src/transport/transport-internal.h"

#define TRANSPORT_ALTSTACK_SIZE (64 * 1024)
#define TRANSPORT_4G 0x100000000ull
#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

static const char *const transport_kind_names[] = {
    [LILY_TRANSPORT_SIGNAL] = "signal",
    [LILY_TRANSPORT_PTRACE] = "ptrace",
};

const char *transport_kind_name(LilyTransportKind kind)
{
    if ((unsigned)kind < G_N_ELEMENTS(transport_kind_names))
        return transport_kind_names[kind];
    return "unknown";
}

int transport_kind_from_name(const char *name)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(transport_kind_names); i++)
        if (name && strcmp(name, transport_kind_names[i]) == 0)
            return (int)i;
    return -1;
}

int64_t transport_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Map size bytes above 4 GiB (the low 4 GiB are the guest's). */
static void *transport_map_high(size_t size, int flags, GError **error, const char *what)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "cannot allocate the %s: %s", what, g_strerror(errno));
        return NULL;
    }
    if ((uintptr_t)p < TRANSPORT_4G) {
        munmap(p, size);
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                    "the %s landed below 4 GiB at %p; the guest owns that range", what, p);
        return NULL;
    }
    return p;
}

LilyTransport *transport_new(const LilyTransportConfig *cfg, GError **error)
{
    LilyTransport *t;

    if (cfg->kind != LILY_TRANSPORT_SIGNAL && cfg->kind != LILY_TRANSPORT_PTRACE) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "unknown transport kind %d (accepted: signal, ptrace)", (int)cfg->kind);
        return NULL;
    }
    if (cfg->memfd < 0 || cfg->memfd_size == 0 || (cfg->memfd_size & 0xfff)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "guest RAM must be an open memfd of a non-zero multiple of 4 KiB "
                    "(got fd %d, %" G_GUINT64_FORMAT " bytes)", cfg->memfd, cfg->memfd_size);
        return NULL;
    }
    t = g_new0(LilyTransport, 1);
    t->cfg = *cfg;
    t->page = transport_map_high(VCPU_PAGE_SIZE, MAP_SHARED, error, "vcpu page");
    if (!t->page)
        goto out_free_transport;
    t->altstack_size = TRANSPORT_ALTSTACK_SIZE;
    t->altstack = transport_map_high(t->altstack_size, MAP_PRIVATE, error, "guest signal stack");
    if (!t->altstack)
        goto out_unmap_page;
    t->page->spin_iterations = cfg->kind == LILY_TRANSPORT_SIGNAL ? cfg->spin_iterations : 0;
    return t;

out_unmap_page:
    munmap(t->page, VCPU_PAGE_SIZE);
out_free_transport:
    g_free(t);
    return NULL;
}

gboolean transport_start(LilyTransport *t, GError **error)
{
    StubParams params = {
        .page = t->page,
        .altstack = t->altstack,
        .altstack_size = t->altstack_size,
        .memfd = t->cfg.memfd,
        .memfd_size = t->cfg.memfd_size,
        .vm_pid = getpid(),
        .use_ptrace = t->cfg.kind == LILY_TRANSPORT_PTRACE,
        .have_fsgsbase = (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) != 0,
        .local_handler = t->cfg.kind == LILY_TRANSPORT_SIGNAL ? t->cfg.local_handler : NULL,
        .local_ctx = t->cfg.local_ctx,
    };
    pid_t pid;

    if (t->pid) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_EXIST, "the guest process is already running");
        return FALSE;
    }
    t->page->state = VCPU_RUNNING;
    t->page->seq = 0;
    t->error = NULL;
    pid = fork();
    if (pid < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "cannot fork the guest process: %s", g_strerror(errno));
        return FALSE;
    }
    if (pid == 0)
        stub_main(&params);
    t->pid = pid;
    if (t->cfg.kind == LILY_TRANSPORT_SIGNAL)
        return transport_signal_start(t, error);
    return transport_ptrace_start(t, error);
}

LilyRunResult transport_run(LilyTransport *t, LilyVcpu *vcpu, int64_t timeout_ns)
{
    if (!t->pid) {
        t->error = "the guest process is not running";
        return LILY_RUN_ERROR;
    }
    if (!transport_regs_valid(&vcpu->regs)) {
        vcpu->n_ops = 0;
        return transport_kill(t, "the VM asked for invalid segment selectors");
    }
    if (vcpu->n_ops > LILY_MAP_OPS_MAX)
        vcpu->n_ops = LILY_MAP_OPS_MAX;
    if (t->cfg.kind == LILY_TRANSPORT_SIGNAL)
        return transport_signal_run(t, vcpu, timeout_ns);
    return transport_ptrace_run(t, vcpu, timeout_ns);
}

/*
 * Run a probe body in a throw-away child once per process; *answer keeps its
 * exit status (100 + signal number when a signal ended it).
 */
static gboolean probe_child(void (*body)(void), const char *what, int *answer, GError **error)
{
    int status = 0;
    pid_t pid;

    if (*answer >= 0)
        return TRUE;
    pid = fork();
    if (pid < 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "cannot fork the %s probe: %s", what, g_strerror(errno));
        return FALSE;
    }
    if (pid == 0) {
        body(); /* does not return */
        _exit(2);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    *answer = WIFEXITED(status) ? WEXITSTATUS(status)
                                : 100 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return TRUE;
}

gboolean transport_probe_compat_mode(GError **error)
{
    static int answer = -1; /* -1 unknown, else the child's exit status */

    if (!probe_child(stub_probe_compat_main, "compatibility-mode", &answer, error))
        return FALSE;
    if (answer == 0)
        return TRUE;
    if (answer == 1)
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOSYS,
                    "this host gives processes no 32-bit code segment: a far jump to selector "
                    "%#x faults (seen under the PVM hypervisor); guest code can only run in "
                    "64-bit mode here", LILY_SEL_CODE32);
    else
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                    "the compatibility-mode probe failed (status %d)", answer);
    return FALSE;
}

gboolean transport_probe_host_ldt(GError **error)
{
    static int answer = -1; /* -1 unknown, else the child's exit status */

    if (!probe_child(stub_probe_ldt_main, "host LDT", &answer, error))
        return FALSE;
    switch (answer) {
    case STUB_LDT_PROBE_HONOURED:
        return TRUE;
    case STUB_LDT_PROBE_WRITE_FAILS:
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOSYS,
                    "the host does not honour the LDT: modify_ldt(0x11) fails (a kernel "
                    "built without CONFIG_MODIFY_LDT_SYSCALL?)");
        break;
    case STUB_LDT_PROBE_LOAD_FAULTS:
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOSYS,
                    "the host does not honour the LDT: modify_ldt(0x11) succeeds, but loading "
                    "selector %#x (TI = 1) faults (seen under the PVM hypervisor)",
                    LILY_LDT_SEL(3));
        break;
    case STUB_LDT_PROBE_JUMP_FAULTS:
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOSYS,
                    "the host does not honour the LDT: a far jump to the 32-bit code segment "
                    "%#x in the LDT faults", LILY_LDT_SEL(1));
        break;
    case STUB_LDT_PROBE_BASE_IGNORED:
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOSYS,
                    "the host does not honour the LDT: selectors load, but the bases of the "
                    "descriptors are ignored");
        break;
    default:
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                    "the host LDT probe failed (status %d)", answer);
        break;
    }
    return FALSE;
}

void transport_kick(LilyTransport *t)
{
    if (t->pid) {
        __atomic_store_n(&t->kick_requested, 1, __ATOMIC_SEQ_CST);
        kill(t->pid, TRANSPORT_KICK_SIGNAL);
    }
}

pid_t transport_pid(const LilyTransport *t)
{
    return t->pid;
}

int transport_exit_status(const LilyTransport *t)
{
    return t->exit_status;
}

const char *transport_last_error(const LilyTransport *t)
{
    return t->error ? t->error : "no error";
}

void transport_free(LilyTransport *t)
{
    if (!t)
        return;
    if (t->pid)
        transport_kill(t, "transport freed");
    munmap(t->altstack, t->altstack_size);
    munmap(t->page, VCPU_PAGE_SIZE);
    g_free(t);
}

/*
 * Selectors the VM may hand to the guest: CS and SS with RPL 3, data
 * selectors null or RPL 3.  The kernel forces RPL 3 on CS/SS anyway; this
 * catches VM bugs before the stub faults on a bad load.
 */
bool transport_regs_valid(const LilyRegs *r)
{
    if ((r->cs & 3) != 3 || (r->ss & 3) != 3)
        return false;
    if ((r->ds && (r->ds & 3) != 3) || (r->es && (r->es & 3) != 3) ||
        (r->fs && (r->fs & 3) != 3) || (r->gs && (r->gs & 3) != 3))
        return false;
    return true;
}

bool transport_signo_valid(uint32_t signo)
{
    switch (signo) {
    case SIGSEGV: case SIGTRAP: case SIGFPE: case SIGBUS: case SIGILL: case SIGSYS:
    case TRANSPORT_KICK_SIGNAL:
        return true;
    default:
        return false;
    }
}

void transport_fail(LilyTransport *t, const char *what)
{
    t->error = what;
}

/* Flags both transports derive the same way from the record. */
void transport_finish_record(LilyTrap *trap)
{
    trap->flags = vcpu_trap_flags(trap);
}

/* The ops results come from the guest process: keep them in range. */
void transport_sanitize_ops(LilyVcpu *vcpu, uint32_t sent, int32_t error, uint32_t failed)
{
    if (sent == 0 || error == 0) {
        vcpu->op_error = 0;
        vcpu->op_failed = 0;
        return;
    }
    vcpu->op_error = error < 0 && error > -4096 ? error : -EIO;
    vcpu->op_failed = failed < sent ? failed : sent - 1;
}

static const char *transport_signal_name(int sig)
{
    switch (sig) {
    case SIGSYS: return "SIGSYS: the seccomp filter killed it";
    case SIGKILL: return "SIGKILL";
    case SIGSEGV: return "SIGSEGV: a fault inside the stub";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGTRAP: return "SIGTRAP";
    default: return "a signal";
    }
}

/* Record how the guest process ended (status from waitpid). */
LilyRunResult transport_reap(LilyTransport *t, int status)
{
    t->exit_status = status;
    t->pid = 0;
    t->pt_stopped = 0;
    if (WIFSIGNALED(status))
        snprintf(t->errbuf, sizeof t->errbuf, "guest process killed by signal %d (%s)",
                 WTERMSIG(status), transport_signal_name(WTERMSIG(status)));
    else
        snprintf(t->errbuf, sizeof t->errbuf, "guest process exited with status %d%s",
                 WEXITSTATUS(status),
                 WEXITSTATUS(status) >= 120 ? " (its set-up failed, see docs/native.md)" : "");
    t->error = t->errbuf;
    return LILY_RUN_EXITED;
}

/* Kill the guest process and reap it; every error path ends here. */
LilyRunResult transport_kill(LilyTransport *t, const char *why)
{
    int status = 0;

    if (t->pid) {
        kill(t->pid, SIGKILL);
        while (waitpid(t->pid, &status, __WALL) < 0 && errno == EINTR)
            ;
        t->exit_status = status;
        t->pid = 0;
        t->pt_stopped = 0;
    }
    t->error = why;
    return LILY_RUN_ERROR;
}
