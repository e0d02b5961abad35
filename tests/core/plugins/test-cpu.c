/*
 * test-cpu: a CPU plugin that runs no guest code, for the core tests.  It
 * registers for INTR, reads the boot state, says "ready" on stderr and can
 * end the VM from a timer with a status or a failure, so that lilyvm's run
 * loop, exit statuses and signal handling can be tested without cpu-ia32.
 */
#include <stdio.h>
#include <lilyvm/lilyvm.h>

enum { OPT_EXIT, OPT_FAIL, OPT_TRANSPORT };

static const char *const cpu_transports[] = { "signal", "ptrace", NULL };

static const LilyOption cpu_options[] = {
    [OPT_EXIT] = { "exit", LILY_OPT_INT, "-1", -1, 255, NULL,
                   "end the VM with this status right away (-1: keep running)", 0, 0 },
    [OPT_FAIL] = { "fail", LILY_OPT_BOOL, "off", 0, 0, NULL,
                   "end the VM with vm_fail right away", 0, 0 },
    [OPT_TRANSPORT] = { "transport", LILY_OPT_ENUM, "signal", 0, 0, cpu_transports,
                        "accepted and reported, to test [machine] keys of a CPU", 0, 0 },
    { NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0 },
};

typedef struct TestCpu {
    LilyInstance *inst;
    const LilyHost *host;
    LilyTimer *timer;
    int exit_status;
    bool fail;
} TestCpu;

static void cpu_intr(void *opaque, bool level)
{
}

static void cpu_tick(void *opaque)
{
    TestCpu *s = opaque;
    if (s->fail)
        s->host->vm_fail(s->inst, "test-cpu: failing as asked");
    else
        s->host->vm_exit(s->inst, s->exit_status);
}

static gboolean cpu_init(LilyInstance *inst, const LilyHost *host, const LilyOptValue *v,
                         void **state, GError **error)
{
    TestCpu *s = g_new0(TestCpu, 1);
    s->inst = inst;
    s->host = host;
    s->exit_status = (int)v[OPT_EXIT].i;
    s->fail = v[OPT_FAIL].i;
    if (!host->cpu_register(inst, cpu_intr, s, error)) {
        g_free(s);
        return FALSE;
    }
    uint32_t eip = 0, eax = 0, ebx = 0;
    bool booted = host->boot_state(inst, &eip, &eax, &ebx);
    fprintf(stderr, "test-cpu: ready transport=%s booted=%d eip=0x%x eax=0x%x\n",
            v[OPT_TRANSPORT].s, booted, eip, eax);
    fflush(stderr);
    s->timer = host->timer_new(inst, cpu_tick, s);
    if (s->fail || s->exit_status >= 0)
        host->timer_mod(s->timer, host->clock_ns(inst));
    *state = s;
    return TRUE;
}

static void cpu_fini(void *state)
{
    TestCpu *s = state;
    s->host->timer_free(s->timer);
    /* Counted while stopping: lilyvm --stats must still report it. */
    s->host->stat_add(s->inst, "fini_calls", 1);
    fprintf(stderr, "test-cpu: fini\n");
    fflush(stderr);
    g_free(s);
}

static const LilyPluginDesc cpu_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "test-cpu",
    .kind = LILY_PLUGIN_CPU,
    .description = "CPU that runs nothing, for the core tests",
    .options = cpu_options,
    .init = cpu_init,
    .fini = cpu_fini,
};

LILYVM_PLUGIN_DEFINE(cpu_desc)
