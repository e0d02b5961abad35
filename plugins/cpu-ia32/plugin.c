/*
 * cpu-ia32 plugin glue: options, start-up (compatibility-mode probe, guest
 * process, entry state), the run loop driven from the VM's main loop, and
 * the link from the interrupt controller's INTR line to the vcpu.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <lilyvm/host.h>
#include <lilyvm/mmu.h>
#include "plugins/cpu-ia32/cpu.h"
#include "plugins/cpu-ia32/local-vm.h"

#define CPU_ERROR g_quark_from_string("cpu-ia32-error")
#define CPU_SLICE_NS 4000000      /* back to the main loop at least this often */
#define CPU_MAX_WAIT_NS 10000000  /* longest uninterrupted guest run */
/* spin when cpus puts the two processes on different CPUs and spin is not
 * given: spinning pays there (docs/native.md §6, §12). */
#define CPU_SPIN_PINNED_APART 2000

typedef struct Cpu {
    LilyInstance *inst;
    const LilyHost *host;
    CpuEnv env;
    CpuState st;
    LilyVcpu vcpu;
    LilyTransport *t;
    LilyTimer *run_timer;
    bool waiting;              /* halted: the INTR callback restarts the loop */
    bool ended;
    bool trace;                /* log every trap (debug level) */
    uint32_t last_n_ops;
    uint64_t irq_gap_ns;       /* irq_min_gap_us */
    uint64_t irq_not_before;   /* VM clock: no external interrupt before this */
    uint64_t reported[CPU_STAT_N];
    uint64_t crossings, crossings_reported;
    /* In-guest fast path (signal transport): NULL when off. */
    CpuLocal *local;           /* the page shared with the guest process */
    CpuLocalCtx local_ctx;     /* the handler's context (copied at the fork) */
    bool local_limit_known;    /* local->ram_limit computed (devices are up) */
    uint64_t local_reported[CPU_LOCAL_N];
} Cpu;

static const char *const cpu_transport_names[] = { "signal", "ptrace", NULL };
static const char *const cpu_host_ldt_names[] = { "auto", "on", "off", NULL };
enum { CPU_OPT_HOST_LDT_AUTO = 0, CPU_OPT_HOST_LDT_ON = 1, CPU_OPT_HOST_LDT_OFF = 2 };

static const LilyOption cpu_options[] = {
    { .name = "transport", .type = LILY_OPT_ENUM, .def = "signal",
      .enum_values = cpu_transport_names,
      .help = "how guest traps reach the VM: signal (handlers in the guest process and "
              "a shared page) or ptrace" },
    { .name = "spin", .type = LILY_OPT_INT, .def = "0", .min = 0, .max = 1000000,
      .help = "signal transport: busy-wait rounds before sleeping on the futex "
              "(0: futex only; a few thousand pay off with a CPU for each side; "
              "default 0, or 2000 when cpus puts the two processes on different CPUs)" },
    { .name = "irq_min_gap_us", .type = LILY_OPT_INT, .def = "0", .min = 0, .max = 1000000,
      .help = "least guest run time between two external interrupts, in microseconds (0: "
              "as hardware; raise it where traps are so slow that a fast timer would leave "
              "the guest no time between ticks, e.g. under nested emulation)" },
    { .name = "fast_path", .type = LILY_OPT_BOOL, .def = "true",
      .help = "signal transport: handle cli, sti, pushf/popf sites, control-register reads "
              "and same-level iret inside the guest process when no crossing is needed "
              "(see docs/cpu.md)" },
    { .name = "host_ldt", .type = LILY_OPT_ENUM, .def = "auto",
      .enum_values = cpu_host_ldt_names,
      .help = "run guest segments that are not flat on mirrors of their descriptors in the "
              "host LDT (modify_ldt): auto (when the host honours the LDT), on (fail when it "
              "does not), off (emulate every access through such data segments; a CS or SS "
              "that is not flat ends the VM)" },
    { .name = "cpus", .type = LILY_OPT_INT, .def = NULL, .min = 0, .max = CPU_SETSIZE - 1,
      .flags = LILY_OPT_F_LIST,
      .help = "pin the VM process and the guest process to these host CPUs, VM first "
              "(e.g. 0,1; the same CPU twice shares it); unset: the scheduler decides" },
    { .name = "spin_adaptive", .type = LILY_OPT_BOOL, .def = "true",
      .help = "signal transport: treat spin as a ceiling and spin in each direction only "
              "while spinning has been answered (halve the budget after each wait that "
              "ended asleep); false: always spin the full count" },
    { .name = NULL },
};

/* The value of the option called name (not its place in the table). */
static const LilyOptValue *cpu_opt(const LilyOptValue *values, const char *name)
{
    for (unsigned i = 0; cpu_options[i].name; i++)
        if (strcmp(cpu_options[i].name, name) == 0)
            return &values[i];
    g_assert_not_reached();
}

/* --- environment adapters ------------------------------------------------ */

static uint32_t cpu_env_pio_read(void *o, uint16_t port, unsigned size)
{
    Cpu *c = o;
    return c->host->pio_read(c->inst, port, size);
}

static void cpu_env_pio_write(void *o, uint16_t port, unsigned size, uint32_t v)
{
    Cpu *c = o;
    c->host->pio_write(c->inst, port, size, v);
}

static void cpu_env_pio_read_rep(void *o, uint16_t port, unsigned size, void *buf, uint32_t n)
{
    Cpu *c = o;
    c->host->pio_read_rep(c->inst, port, size, buf, n);
}

static void cpu_env_pio_write_rep(void *o, uint16_t port, unsigned size, const void *buf,
                                  uint32_t n)
{
    Cpu *c = o;
    c->host->pio_write_rep(c->inst, port, size, buf, n);
}

static uint32_t cpu_env_mmio_read(void *o, uint64_t gpa, unsigned size)
{
    Cpu *c = o;
    return c->host->mmio_read(c->inst, gpa, size);
}

static void cpu_env_mmio_write(void *o, uint64_t gpa, unsigned size, uint32_t v)
{
    Cpu *c = o;
    c->host->mmio_write(c->inst, gpa, size, v);
}

static int cpu_env_irq_ack(void *o)
{
    Cpu *c = o;
    return c->host->irq_ack(c->inst);
}

/* --- the run loop ---------------------------------------------------------- */

static void cpu_flush_stats(Cpu *c)
{
    for (unsigned i = 0; i < CPU_STAT_N; i++) {
        if (c->st.stats[i] != c->reported[i]) {
            c->host->stat_add(c->inst, cpu_stat_names[i], c->st.stats[i] - c->reported[i]);
            c->reported[i] = c->st.stats[i];
        }
    }
    if (c->local) {
        uint64_t total = 0;
        for (unsigned i = 0; i < CPU_LOCAL_N; i++) {
            uint64_t d = cpu_local_take_count(c->local, i, &c->local_reported[i]);
            if (d)
                c->host->stat_add(c->inst, cpu_local_stat_names[i], d);
            total += d;
        }
        if (total)
            c->host->stat_add(c->inst, "local_traps", total);
    }
    if (c->crossings != c->crossings_reported) {
        c->host->stat_add(c->inst, "crossings", c->crossings - c->crossings_reported);
        c->crossings_reported = c->crossings;
    }
}

static void cpu_end(Cpu *c, const char *why)
{
    c->ended = true;
    c->host->vm_fail(c->inst, "the guest crashed: %s (EIP 0x%x, CPL %u)", why, c->st.eip,
                     c->st.cpl);
}

/* MMU ops become the transport's mapping ops for the next resume. */
static void cpu_queue_ops(Cpu *c)
{
    for (uint32_t i = 0; i < c->st.batch.n && c->vcpu.n_ops < LILY_MAP_OPS_MAX; i++) {
        const LilyMmuOp *o = &c->st.ops[i];
        if (o->kind < LILY_MAP_OP_MAP || o->kind > LILY_MAP_OP_MAP_POPULATE)
            continue; /* the transport would refuse it; the MMU never emits one */
        LilyMapOp *m = &c->vcpu.ops[c->vcpu.n_ops++];
        /* The MMU's kinds have the transport's values (MAP, UNMAP, PROTECT, MAP_POPULATE). */
        m->kind = o->kind;
        m->prot = o->prot;
        m->guest_addr = o->vaddr;
        m->len = o->len;
        m->file_offset = o->gpa;
    }
    c->st.batch.n = 0;
}

static void cpu_rearm(Cpu *c)
{
    c->host->timer_mod(c->run_timer, c->host->clock_ns(c->inst));
}

/* Before a resume: the state the guest process's handler works on. */
static void cpu_local_begin(Cpu *c)
{
    if (!c->local_limit_known) {
        /*
         * The handler touches guest RAM directly: never pages a device
         * claims (all devices have registered by the first run).  Up to
         * CPU_LOCAL_HOLES_MAX runs are holes; RAM ends at a further one.
         */
        uint64_t limit = c->env.ram_size > 0xfffff000u ? 0xfffff000u : c->env.ram_size;
        uint32_t n = 0;
        for (uint64_t a = 0; a < limit; a += 4096) {
            if (!c->host->mmio_claimed(c->inst, a))
                continue;
            if (n > 0 && c->local->holes[n - 1].hi == a) {
                c->local->holes[n - 1].hi = (uint32_t)a + 4096;
            } else if (n < CPU_LOCAL_HOLES_MAX) {
                c->local->holes[n].lo = (uint32_t)a;
                c->local->holes[n++].hi = (uint32_t)a + 4096;
            } else {
                limit = a;
                break;
            }
        }
        c->local->n_holes = n;
        c->local->ram_limit = (uint32_t)limit;
        c->local->enabled = 1;
        c->local_limit_known = true;
    }
    /*
     * INTR high is "pending" for the handler even while pacing holds the
     * interrupt back: whenever IF rises with INTR high the VM decides, as
     * it did when every sti crossed.  (Publishing "pending" only once pacing
     * allows, and kicking the guest when it does, delivered interrupts
     * closer together than crossing does and starved the test kernel's
     * user processes under nested emulation: /user/preemption.)
     */
    cpu_local_publish(c->local, &c->st, &c->vcpu.regs, c->st.intr_line);
}

static void cpu_run(void *opaque)
{
    Cpu *c = opaque;
    const LilyHost *h = c->host;
    uint64_t start = h->clock_ns(c->inst);
    while (!c->ended && h->vm_running(c->inst)) {
        if (c->st.halted && !cpu_can_take_interrupt(&c->st)) {
            if (!(c->st.eflags & CPU_FL_IF)) {
                cpu_end(c, "hlt with interrupts disabled: the CPU can never wake up");
                break;
            }
            c->waiting = true; /* the INTR callback rearms the timer */
            break;
        }
        uint64_t now = h->clock_ns(c->inst), next = h->timer_next_deadline(c->inst);
        /* Interrupt pacing (irq_min_gap_us): a halted CPU takes one at once. */
        if (c->st.halted || now >= c->irq_not_before) {
            uint64_t delivered = c->st.stats[CPU_STAT_INTERRUPTS];
            if (cpu_poll_interrupt(&c->st, &c->env) == CPU_FATAL) {
                cpu_end(c, c->st.fatal ? c->st.fatal : "interrupt delivery failed");
                break;
            }
            if (c->st.stats[CPU_STAT_INTERRUPTS] != delivered)
                c->irq_not_before = now + c->irq_gap_ns;
        }
        if (next <= now || now - start >= CPU_SLICE_NS) {
            cpu_rearm(c); /* let the main loop run due timers and host I/O */
            break;
        }
        uint64_t wait = next - now;
        if (cpu_can_take_interrupt(&c->st) && c->irq_not_before > now &&
            c->irq_not_before - now < wait)
            wait = c->irq_not_before - now;
        if (wait > CPU_MAX_WAIT_NS)
            wait = CPU_MAX_WAIT_NS;
        cpu_queue_ops(c);
        c->vcpu.n_ops += cpu_ldt_ops(&c->st, c->vcpu.ops + c->vcpu.n_ops,
                                     LILY_MAP_OPS_MAX - c->vcpu.n_ops);
        cpu_regs_out(&c->st, &c->vcpu.regs);
        c->last_n_ops = c->vcpu.n_ops;
        if (c->local)
            cpu_local_begin(c);
        LilyRunResult rr = transport_run(c->t, &c->vcpu, (int64_t)wait);
        c->crossings++;
        if (c->local)
            cpu_local_collect(c->local, &c->st);
        c->st.irq_holdoff = false; /* the guest ran: interrupts may come again */
        if (rr == LILY_RUN_EXITED || rr == LILY_RUN_ERROR) {
            /* What the guest process was last asked to do, for the report. */
            for (uint32_t i = 0; i < c->last_n_ops; i++) {
                const LilyMapOp *o = &c->vcpu.ops[i];
                h->log(c->inst, LILY_LOG_ERROR, "last mapping op %u: kind %u prot %u at 0x%x "
                       "len 0x%x offset 0x%llx", i, o->kind, o->prot, o->guest_addr, o->len,
                       (unsigned long long)o->file_offset);
            }
            cpu_end(c, transport_last_error(c->t));
            break;
        }
        if (c->vcpu.op_error) {
            char why[128];
            snprintf(why, sizeof why, "mapping operation %u failed: %s", c->vcpu.op_failed,
                     strerror(-c->vcpu.op_error));
            cpu_end(c, why);
            break;
        }
        cpu_regs_in(&c->st, &c->vcpu.regs);
        if (rr == LILY_RUN_TIMEOUT) {
            cpu_sync_native_segs(&c->st, &c->env);
            continue;
        }
        if (c->trace)
            h->log(c->inst, LILY_LOG_DEBUG, "trap signo %u trapno %u error 0x%x cr2 0x%x at "
                   "EIP 0x%x CPL %u IF %u", c->vcpu.trap.signo, c->vcpu.trap.trapno,
                   c->vcpu.trap.error_code, c->vcpu.trap.fault_addr, c->st.eip, c->st.cpl,
                   !!(c->st.eflags & CPU_FL_IF));
        CpuAction a = cpu_trap(&c->st, &c->env, &c->vcpu.trap);
        if (a == CPU_FATAL) {
            cpu_end(c, c->st.fatal ? c->st.fatal : "unknown failure");
            break;
        }
    }
    cpu_flush_stats(c);
}

static void cpu_intr(void *opaque, bool level)
{
    Cpu *c = opaque;
    c->st.intr_line = level;
    if (level && c->waiting && (c->st.eflags & CPU_FL_IF)) {
        c->waiting = false;
        cpu_rearm(c);
    }
}

/* --- CPU affinity (option cpus) ----------------------------------------------- */

/* The CPUs this process may run on, as "0-3,6" (g_free). */
static char *cpu_allowed_text(const cpu_set_t *set)
{
    GString *s = g_string_new(NULL);
    for (int i = 0; i < CPU_SETSIZE; i++) {
        if (!CPU_ISSET(i, set))
            continue;
        int j = i;
        while (j + 1 < CPU_SETSIZE && CPU_ISSET(j + 1, set))
            j++;
        g_string_append_printf(s, "%s%d", s->len ? "," : "", i);
        if (j > i)
            g_string_append_printf(s, "-%d", j);
        i = j;
    }
    return g_string_free(s, FALSE);
}

/**
 * cpu_pin_check() - Validate machine.cpus before anything starts.
 * @v: the option's value
 * @cpu: out: [0] the VM's CPU, [1] the guest process's; -1 when unset
 * @error: set when the list is not two CPUs this process may use
 *
 * Return: TRUE when @cpu holds a usable choice (or no pinning).
 */
static gboolean cpu_pin_check(const LilyOptValue *v, int cpu[2], GError **error)
{
    cpu_set_t allowed;

    cpu[0] = cpu[1] = -1;
    if (!v->present || v->n == 0)
        return TRUE;
    if (v->n != 2) {
        g_set_error(error, CPU_ERROR, 1, "machine.cpus = %s: give two CPUs, the VM process's "
                    "and the guest process's (e.g. 0,1; the same one twice to share it)", v->s);
        return FALSE;
    }
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
        g_set_error(error, CPU_ERROR, 1, "machine.cpus: cannot read this process's CPU "
                    "affinity: %s", g_strerror(errno));
        return FALSE;
    }
    const LilyOptValue *list = v->list;
    for (int i = 0; i < 2; i++) {
        cpu[i] = (int)list[i].i;
        if (!CPU_ISSET(cpu[i], &allowed)) {
            char *ok = cpu_allowed_text(&allowed);
            g_set_error(error, CPU_ERROR, 1, "machine.cpus = %s: CPU %d is not one this "
                        "process may run on (accepted: %s)", v->s, cpu[i], ok);
            g_free(ok);
            return FALSE;
        }
    }
    return TRUE;
}

/* Move one process (0: this one) to one CPU. */
static gboolean cpu_pin_one(pid_t pid, int cpu, const char *who, GError **error)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(pid, sizeof set, &set) != 0) {
        g_set_error(error, CPU_ERROR, 1, "machine.cpus: cannot pin the %s to CPU %d: %s",
                    who, cpu, g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

/* --- life cycle -------------------------------------------------------------- */

static void cpu_fini(void *state)
{
    Cpu *c = state;
    if (!c)
        return;
    cpu_flush_stats(c);
    if (c->run_timer)
        c->host->timer_free(c->run_timer);
    if (c->t)
        transport_free(c->t);
    if (c->local)
        munmap(c->local, sizeof *c->local);
    g_free(c);
}

static gboolean cpu_init(LilyInstance *inst, const LilyHost *host, const LilyOptValue *values,
                         void **state, GError **error)
{
    GError *err = NULL;
    if (host->size < offsetof(LilyHost, timer_next_deadline) + sizeof(void *)) {
        g_set_error(error, CPU_ERROR, 1,
                    "the core is too old for cpu-ia32 (host API without loop helpers)");
        return FALSE;
    }
    int pin[2];
    if (!cpu_pin_check(cpu_opt(values, "cpus"), pin, error))
        return FALSE;
    uint32_t eip = 0, eax = 0, ebx = 0;
    if (!host->boot_state(inst, &eip, &eax, &ebx)) {
        /*
         * No kernel (a machine built by a device test): nothing will ever
         * run, so there is no guest process either; the CPU stays idle.
         */
        Cpu *c = g_new0(Cpu, 1);
        c->inst = inst;
        c->host = host;
        c->ended = true;
        host->log(inst, LILY_LOG_INFO, "no kernel is loaded: the CPU stays idle");
        *state = c;
        return TRUE;
    }
    if (!transport_probe_compat_mode(&err)) {
        g_set_error(error, CPU_ERROR, 1,
                    "this host cannot run 32-bit guest code natively (no compatibility mode): %s "
                    "(see docs/native.md; "
                    "tests/cpu/testkernel-lilyvm.sh --qemu runs the test kernel inside QEMU instead)",
                    err->message);
        g_error_free(err);
        return FALSE;
    }
    uint8_t host_ldt = CPU_HOST_LDT_OFF;
    const char *host_ldt_why = "host_ldt = off";
    if (cpu_opt(values, "host_ldt")->i != CPU_OPT_HOST_LDT_OFF) {
        if (transport_probe_host_ldt(&err)) {
            host_ldt = CPU_HOST_LDT_ON;
            host_ldt_why = "the host honours the LDT";
        } else if (cpu_opt(values, "host_ldt")->i == CPU_OPT_HOST_LDT_ON) {
            g_set_error(error, CPU_ERROR, 1, "host_ldt = on, but %s (host_ldt = auto or off "
                        "runs without it: see docs/cpu.md)", err->message);
            g_error_free(err);
            return FALSE;
        } else {
            host_ldt = CPU_HOST_LDT_ABSENT;
            host->log(inst, LILY_LOG_INFO, "segments that are not flat are emulated: %s",
                      err->message);
            g_clear_error(&err);
            host_ldt_why = "the host does not honour the LDT";
        }
    }
    Cpu *c = g_new0(Cpu, 1);
    c->inst = inst;
    c->host = host;
    c->env = (CpuEnv){
        .opaque = c,
        .pio_read = cpu_env_pio_read,
        .pio_write = cpu_env_pio_write,
        .pio_read_rep = cpu_env_pio_read_rep,
        .pio_write_rep = cpu_env_pio_write_rep,
        .mmio_read = cpu_env_mmio_read,
        .mmio_write = cpu_env_mmio_write,
        .irq_ack = cpu_env_irq_ack,
    };
    c->env.ram = host->ram(inst, &c->env.ram_size);
    const LilyPluginDesc *mdesc = NULL;
    void *mstate = NULL;
    if (host->find_instance(inst, LILY_PLUGIN_MMU, &mstate, &mdesc) && mdesc &&
        mdesc->kind_ops) {
        c->env.mmu = mdesc->kind_ops;
        c->env.mmu_state = mstate;
    }
    cpu_reset(&c->st, eip, eax, ebx);
    c->st.host_ldt = host_ldt;
    if (c->env.mmu) {
        c->env.mmu->reset(c->env.mmu_state, &c->st.batch);
        cpu_mmu_control(&c->st, &c->env);
        c->env.mmu->set_cpl(c->env.mmu_state, 0, &c->st.batch);
    } else if (c->env.ram_size > 4096) {
        /* No MMU: paging stays off; all of RAM but page 0 is mapped 1:1. */
        c->vcpu.ops[c->vcpu.n_ops++] = (LilyMapOp){
            LILY_MAP_OP_MAP, PROT_READ | PROT_WRITE | PROT_EXEC, 4096,
            (uint32_t)(c->env.ram_size - 4096), 4096 };
    }
    LilyTransportConfig cfg = {
        .kind = cpu_opt(values, "transport")->i == 1 ? LILY_TRANSPORT_PTRACE : LILY_TRANSPORT_SIGNAL,
        .memfd = host->ram_fd(inst),
        .memfd_size = c->env.ram_size,
        .spin_iterations = !cpu_opt(values, "spin")->set && pin[0] >= 0 && pin[0] != pin[1]
                               ? CPU_SPIN_PINNED_APART : (uint32_t)cpu_opt(values, "spin")->i,
        .spin_adaptive = cpu_opt(values, "spin_adaptive")->i != 0,
    };
    if (cfg.kind == LILY_TRANSPORT_SIGNAL && cpu_opt(values, "fast_path")->i) {
        /*
         * The fast path's shared page: mapped before the fork, above 4 GiB
         * (the guest process empties everything below).
         */
        void *p = mmap(NULL, sizeof(CpuLocal), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        /* The handler also reads its context and guest RAM through the VM's
         * addresses: all must survive the guest process's unmapping. */
        if (p != MAP_FAILED && (uintptr_t)p >= 0x100000000ull &&
            (uintptr_t)c->env.ram >= 0x100000000ull && (uintptr_t)c >= 0x100000000ull) {
            c->local = p;
            c->local_ctx = (CpuLocalCtx){ .shared = p, .ram = c->env.ram,
                                          .ram_size = c->env.ram_size };
            cfg.local_handler = cpu_local_handle;
            cfg.local_ctx = &c->local_ctx;
        } else {
            if (p != MAP_FAILED)
                munmap(p, sizeof(CpuLocal));
            host->log(inst, LILY_LOG_WARN, "no shared page above 4 GiB for the fast path: "
                      "every trap crosses to the VM");
        }
    }
    c->t = transport_new(&cfg, error);
    if (!c->t)
        goto fail_free;
    if (!transport_start(c->t, error))
        goto fail_free;
    /* The guest process first: it was forked on the VM's CPU. */
    if (pin[0] >= 0) {
        if (!cpu_pin_one(transport_pid(c->t), pin[1], "guest process", error) ||
            !cpu_pin_one(0, pin[0], "VM process", error))
            goto fail_free;
        host->log(inst, LILY_LOG_INFO, "VM process on CPU %d, guest process on CPU %d",
                  pin[0], pin[1]);
    }
    if (!host->cpu_register(inst, cpu_intr, c, error))
        goto fail_free;
    c->trace = host->log_enabled(inst, LILY_LOG_DEBUG);
    c->irq_gap_ns = (uint64_t)cpu_opt(values, "irq_min_gap_us")->i * 1000;
    c->run_timer = host->timer_new(inst, cpu_run, c);
    cpu_rearm(c);
    host->log(inst, LILY_LOG_INFO, "guest process %d (%s transport%s, spin %u%s, host LDT %s: %s) "
              "enters at 0x%x%s", (int)transport_pid(c->t), transport_kind_name(cfg.kind),
              c->local ? ", fast path" : "", cfg.spin_iterations,
              cfg.spin_adaptive ? " adaptive" : "", host_ldt == CPU_HOST_LDT_ON ? "on" : "off",
              host_ldt_why, eip, c->env.mmu ? "" : "; no MMU plugin: paging is unavailable");
    *state = c;
    return TRUE;

fail_free:
    if (c->t)
        transport_free(c->t);
    if (c->local)
        munmap(c->local, sizeof *c->local);
    g_free(c);
    return FALSE;
}

static const LilyPluginDesc cpu_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "cpu-ia32",
    .kind = LILY_PLUGIN_CPU,
    .description = "IA-32 CPU: runs the guest natively in a confined process and emulates "
                   "what traps",
    .options = cpu_options,
    .init = cpu_init,
    .fini = cpu_fini,
};

LILYVM_PLUGIN_DEFINE(cpu_desc)
