/*
 * lily-native-bench: cost of a trap round trip (guest -> VM -> guest) per
 * transport and hand-over variant, and of mapping ops.  Prints a table;
 * nothing here is a test.  Usage: lily-native-bench [iterations]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <glib.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "src/transport/transport.h"
#include "tests/native/guest-layout.h"

extern const uint8_t blob32_int3_loop[], blob32_int3_loop_end[], blob64_int3_loop[], blob64_int3_loop_end[];
extern const uint8_t blob32_gp_loop[], blob32_gp_loop_end[], blob64_gp_loop[], blob64_gp_loop_end[];
extern const uint8_t blob32_pf_loop[], blob32_pf_loop_end[], blob64_pf_loop[], blob64_pf_loop_end[];

#define PF_PAGES ((PF_REGION_END - PF_REGION) / 0x1000)

typedef enum { PIN_NONE, PIN_SAME, PIN_SPLIT } BenchPin;

typedef struct BenchCase {
    const char *what;
    LilyTransportKind kind;
    uint32_t spin;      /* spin_iterations */
    bool imprecise;     /* ptrace: one stop per fault */
    BenchPin pin;
    bool gp;            /* #GP loop (cli) instead of int3 */
    unsigned ops;       /* mapping ops per round trip */
    uint32_t op_kind;   /* LILY_MAP_OP_MAP or LILY_MAP_OP_PROTECT */
    int base;           /* the case without ops to compare with, or -1 */
    bool local;         /* signal: in-guest handler takes all but 1 in BENCH_BATCH traps */
    bool pf;            /* page-fault loop: the VM (or with local, the guest
                           process) maps each faulting page, one VM trip per
                           PF_PAGES faults unmaps them all */
    bool populate;      /* pf: map with MAP_POPULATE */
} BenchCase;

static int bench_bits = 32;

static void bench_pin(pid_t pid, int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(pid, sizeof set, &set);
}

static void bench_unpin(pid_t pid)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    for (int i = 0; i < CPU_SETSIZE; i++)
        CPU_SET(i, &set);
    sched_setaffinity(pid, sizeof set, &set);
}

#define BENCH_BATCH 50

typedef struct BenchResult {
    double min, median; /* microseconds per round trip over batches of BENCH_BATCH */
} BenchResult;

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The host is shared: report the best and the median batch, not the mean. */
static BenchResult bench_summarize(double *batch, unsigned n)
{
    BenchResult r = { -1, -1 };

    if (n == 0)
        return r;
    qsort(batch, n, sizeof *batch, bench_cmp_double);
    r.min = batch[0];
    r.median = batch[n / 2];
    return r;
}

/* In-guest handler for the "local" cases: every BENCH_BATCH-th trap goes to
 * the VM, the others are resumed on the spot (the counter lives in the
 * guest process's own copy of this variable). */
static unsigned bench_local_count;

__attribute__((no_sanitize("address", "undefined"), no_stack_protector))
static bool bench_local_handler(void *ctx, LilyRegs *regs, const LilyTrap *trap)
{
    (void)ctx;
    (void)regs;
    (void)trap;
    return ++bench_local_count % BENCH_BATCH != 0;
}

/* In-guest shadow fill for the "local" page-fault case: map the faulting
 * page of PF_REGION right here (the seccomp filter allows exactly this). */
__attribute__((no_sanitize("address", "undefined"), no_stack_protector))
static bool bench_local_pf(void *ctx, LilyRegs *regs, const LilyTrap *trap)
{
    long memfd = (long)(intptr_t)ctx;
    long page = trap->fault_addr & ~0xfffu;
    register long r10 __asm__("r10") = MAP_SHARED | MAP_FIXED | MAP_POPULATE;
    register long r8 __asm__("r8") = memfd;
    register long r9 __asm__("r9") = PF_REGION_OFFSET + page - PF_REGION;
    long ret;

    (void)regs;
    if (trap->signo != SIGSEGV || trap->trapno != 14 || page < PF_REGION || page >= PF_REGION_END)
        return false;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(9L /* mmap */), "D"(page), "S"(0x1000L), "d"((long)PROT_READ), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret == page;
}

/* One case: n round trips (rounded up to whole batches). */
static BenchResult bench_run(const BenchCase *c, int memfd, unsigned n)
{
    LilyTransportConfig cfg = {
        .kind = c->kind, .memfd = memfd, .memfd_size = GUEST_RAM_SIZE,
        .spin_iterations = c->spin, .imprecise_faults = c->imprecise,
        .local_handler = c->local ? (c->pf ? bench_local_pf : bench_local_handler) : NULL,
        .local_ctx = (void *)(intptr_t)memfd,
    };
    GError *error = NULL;
    LilyTransport *t;
    LilyVcpu vcpu;
    int64_t start = 0;
    unsigned batches = (n + BENCH_BATCH - 1) / BENCH_BATCH, done = 0;
    double *batch = g_new(double, batches);
    BenchResult res = { -1, -1 };
    uint32_t loop_eip;

    if (c->pin == PIN_SAME || c->pin == PIN_SPLIT)
        bench_pin(0, 0);
    t = transport_new(&cfg, &error);
    if (!t || !transport_start(t, &error)) {
        fprintf(stderr, "lily-native-bench: %s\n", error->message);
        g_error_free(error);
        transport_free(t);
        bench_unpin(0);
        g_free(batch);
        return res;
    }
    if (c->pin == PIN_SPLIT)
        bench_pin(transport_pid(t), 1);
    memset(&vcpu, 0, sizeof vcpu);
    vcpu.regs = (LilyRegs){
        .eip = BLOB_BASE, .esp = GUEST_STACK_TOP - 16, .eflags = 0x202,
        .cs = bench_bits == 32 ? LILY_SEL_CODE32 : LILY_SEL_CODE64,
        .ss = LILY_SEL_DATA, .ds = LILY_SEL_DATA, .es = LILY_SEL_DATA,
    };
    vcpu.ops[0] = (LilyMapOp){ LILY_MAP_OP_MAP, PROT_READ | PROT_EXEC, BLOB_BASE, 0x10000, 0 };
    vcpu.ops[1] = (LilyMapOp){ LILY_MAP_OP_MAP, PROT_READ | PROT_WRITE, GUEST_DATA, 0x10000, GUEST_DATA_OFFSET };
    vcpu.n_ops = 2;
    /* Warm up (and enter). */
    for (int i = 0; i < 100; i++) {
        LilyRunResult r = transport_run(t, &vcpu, -1);
        if (r != LILY_RUN_TRAP || vcpu.op_error != 0) {
            fprintf(stderr, "lily-native-bench: %s: warm-up: result %d, %s (op_error %d, signal %u)\n",
                    c->what, r, transport_last_error(t), vcpu.op_error, vcpu.trap.signo);
            goto out_free;
        }
        if (i == 0) {
            /* The pages the op cases remap or protect. */
            vcpu.ops[0] = (LilyMapOp){ LILY_MAP_OP_MAP, PROT_READ, 0x80000, 16 * 0x1000, 0x40000 };
            vcpu.n_ops = 1;
        }
    }
    loop_eip = BLOB_BASE;
    /* Local: each VM-visible trap stands for BENCH_BATCH guest traps. */
    for (unsigned i = 0; i < (c->local ? batches : batches * BENCH_BATCH); i++) {
        if (c->local || i % BENCH_BATCH == 0)
            start = transport_now_ns();
        for (unsigned k = 0; k < c->ops; k++) {
            /* Pages 0x80000.. of the guest, alternating between two file
             * ranges so that every MAP really replaces a mapping. */
            vcpu.ops[k] = (LilyMapOp){
                .kind = c->op_kind,
                .prot = c->op_kind == LILY_MAP_OP_PROTECT ? ((i & 1) ? PROT_READ : PROT_READ | PROT_WRITE) : PROT_READ,
                .guest_addr = 0x80000 + k * 0x1000,
                .len = 0x1000,
                .file_offset = 0x40000 + ((i & 1) ? 0x40000 : 0) + k * 0x1000,
            };
        }
        vcpu.n_ops = c->ops;
        if (c->pf) {
            bool fault = vcpu.trap.signo == SIGSEGV && vcpu.trap.trapno == 14;
            uint32_t page = vcpu.trap.fault_addr & ~0xfffu;

            if (fault && page >= PF_REGION && page < PF_REGION_END)
                vcpu.ops[0] = (LilyMapOp){ c->populate ? LILY_MAP_OP_MAP_POPULATE : LILY_MAP_OP_MAP, PROT_READ, page, 0x1000,
                                           PF_REGION_OFFSET + page - PF_REGION };
            else
                vcpu.ops[0] = (LilyMapOp){ LILY_MAP_OP_UNMAP, 0, PF_REGION, PF_REGION_END - PF_REGION, 0 };
            vcpu.n_ops = 1;
        }
        if (c->gp)
            vcpu.regs.eip = loop_eip + 1; /* skip cli; the jmp goes back */
        if (transport_run(t, &vcpu, -1) != LILY_RUN_TRAP || vcpu.op_error != 0) {
            fprintf(stderr, "lily-native-bench: %s: round trip %u: %s (op_error %d, signal %u)\n", c->what,
                    i, transport_last_error(t), vcpu.op_error, vcpu.trap.signo);
            goto out_free;
        }
        if (c->local || i % BENCH_BATCH == BENCH_BATCH - 1)
            batch[done++] = (double)(transport_now_ns() - start) / (c->local && c->pf ? PF_PAGES : BENCH_BATCH) / 1000.0;
    }
    res = bench_summarize(batch, done);
out_free:
    transport_free(t);
    bench_unpin(0);
    g_free(batch);
    return res;
}

/* Reference: int3 in the bench process itself, handled by an empty
 * handler (the raw cost of a trap and sigreturn on this host). */
static void bench_on_sigtrap(int sig)
{
    (void)sig;
}

static BenchResult bench_local_int3(unsigned n)
{
    unsigned batches = (n + BENCH_BATCH - 1) / BENCH_BATCH;
    double *batch = g_new(double, batches);
    BenchResult r;

    signal(SIGTRAP, bench_on_sigtrap);
    for (unsigned b = 0; b < batches; b++) {
        int64_t start = transport_now_ns();
        for (unsigned i = 0; i < BENCH_BATCH; i++)
            __asm__ volatile("int3" ::: "memory");
        batch[b] = (double)(transport_now_ns() - start) / BENCH_BATCH / 1000.0;
    }
    signal(SIGTRAP, SIG_DFL);
    r = bench_summarize(batch, batches);
    g_free(batch);
    return r;
}

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 2000;
    int memfd = memfd_create("lilyvm-bench-ram", MFD_CLOEXEC);
    uint8_t *ram;
    GError *error = NULL;
    /* base: index of the case without ops that an ops case is compared to. */
    const BenchCase cases[] = {
        { .what = "int3, futex only", .kind = LILY_TRANSPORT_SIGNAL, .base = -1 },
        { .what = "int3, futex only, same CPU", .kind = LILY_TRANSPORT_SIGNAL, .pin = PIN_SAME, .base = -1 },
        { .what = "int3, spin 200 then futex", .kind = LILY_TRANSPORT_SIGNAL, .spin = 200, .base = -1 },
        { .what = "int3, spin 2000 then futex", .kind = LILY_TRANSPORT_SIGNAL, .spin = 2000, .base = -1 },
        { .what = "int3, spin 2000, same CPU", .kind = LILY_TRANSPORT_SIGNAL, .spin = 2000, .pin = PIN_SAME, .base = -1 },
        { .what = "int3, spin 2000, split CPUs", .kind = LILY_TRANSPORT_SIGNAL, .spin = 2000, .pin = PIN_SPLIT, .base = -1 },
        { .what = "int3, spin 20000 then futex", .kind = LILY_TRANSPORT_SIGNAL, .spin = 20000, .base = -1 },
        { .what = "#GP (cli), spin 2000, split CPUs", .kind = LILY_TRANSPORT_SIGNAL, .spin = 2000, .pin = PIN_SPLIT, .gp = true, .base = -1 },
        { .what = "int3 handled in the guest process", .kind = LILY_TRANSPORT_SIGNAL, .spin = 2000, .pin = PIN_SPLIT, .local = true, .base = -1 },
        { .what = "#PF, VM maps the page, split CPUs", .kind = LILY_TRANSPORT_SIGNAL, .spin = 2000, .pin = PIN_SPLIT, .pf = true, .base = -1 },
        { .what = "#PF, VM maps+populates, split CPUs", .kind = LILY_TRANSPORT_SIGNAL, .spin = 2000, .pin = PIN_SPLIT, .pf = true, .populate = true, .base = -1 },
        { .what = "#PF, guest maps+populates itself", .kind = LILY_TRANSPORT_SIGNAL, .spin = 2000, .pin = PIN_SPLIT, .local = true, .pf = true, .populate = true, .base = -1 },
        { .what = "int3 + 1 map op, split CPUs", .kind = LILY_TRANSPORT_SIGNAL, .spin = 2000, .pin = PIN_SPLIT, .ops = 1, .op_kind = LILY_MAP_OP_MAP, .base = 5 },
        { .what = "int3 + 16 map ops, split CPUs", .kind = LILY_TRANSPORT_SIGNAL, .spin = 2000, .pin = PIN_SPLIT, .ops = 16, .op_kind = LILY_MAP_OP_MAP, .base = 5 },
        { .what = "int3 + 16 protect ops, split CPUs", .kind = LILY_TRANSPORT_SIGNAL, .spin = 2000, .pin = PIN_SPLIT, .ops = 16, .op_kind = LILY_MAP_OP_PROTECT, .base = 5 },
        { .what = "int3", .kind = LILY_TRANSPORT_PTRACE, .base = -1 },
        { .what = "int3, same CPU", .kind = LILY_TRANSPORT_PTRACE, .pin = PIN_SAME, .base = -1 },
        { .what = "int3, split CPUs", .kind = LILY_TRANSPORT_PTRACE, .pin = PIN_SPLIT, .base = -1 },
        { .what = "#GP (cli), precise (2 stops)", .kind = LILY_TRANSPORT_PTRACE, .gp = true, .base = -1 },
        { .what = "#GP (cli), imprecise (1 stop)", .kind = LILY_TRANSPORT_PTRACE, .imprecise = true, .gp = true, .base = -1 },
        { .what = "#PF, VM maps the page (2 stops + op)", .kind = LILY_TRANSPORT_PTRACE, .pf = true, .base = -1 },
        { .what = "int3 + 1 map op", .kind = LILY_TRANSPORT_PTRACE, .ops = 1, .op_kind = LILY_MAP_OP_MAP, .base = 15 },
        { .what = "int3 + 16 map ops", .kind = LILY_TRANSPORT_PTRACE, .ops = 16, .op_kind = LILY_MAP_OP_MAP, .base = 15 },
        { .what = "int3 + 16 protect ops", .kind = LILY_TRANSPORT_PTRACE, .ops = 16, .op_kind = LILY_MAP_OP_PROTECT, .base = 15 },
    };
    BenchResult results[G_N_ELEMENTS(cases)];

    if (memfd < 0 || ftruncate(memfd, GUEST_RAM_SIZE) != 0) {
        fprintf(stderr, "lily-native-bench: cannot create guest RAM: %s\n", strerror(errno));
        return 1;
    }
    ram = mmap(NULL, GUEST_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (ram == MAP_FAILED) {
        fprintf(stderr, "lily-native-bench: cannot map guest RAM: %s\n", strerror(errno));
        return 1;
    }
    if (!transport_probe_compat_mode(&error)) {
        printf("# %s\n# measuring with 64-bit guest code at low addresses instead\n", error->message);
        g_clear_error(&error);
        bench_bits = 64;
    }
    printf("# %u round trips per case, guest code in %s mode, %ld CPUs\n", n,
           bench_bits == 32 ? "compatibility" : "64-bit", sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-10s %-34s %10s %10s %14s\n", "transport", "case", "min us", "median us", "us/op (extra)");
    {
        BenchResult r = bench_local_int3(n);
        printf("%-10s %-34s %10.2f %10.2f\n", "(none)", "int3 handled in-process", r.min, r.median);
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        const BenchCase *c = &cases[i];
        bool b32 = bench_bits == 32;
        const uint8_t *blob = c->pf ? (b32 ? blob32_pf_loop : blob64_pf_loop)
                              : c->gp ? (b32 ? blob32_gp_loop : blob64_gp_loop)
                                      : (b32 ? blob32_int3_loop : blob64_int3_loop);
        const uint8_t *end = c->pf ? (b32 ? blob32_pf_loop_end : blob64_pf_loop_end)
                             : c->gp ? (b32 ? blob32_gp_loop_end : blob64_gp_loop_end)
                                     : (b32 ? blob32_int3_loop_end : blob64_int3_loop_end);
        unsigned iters = c->kind == LILY_TRANSPORT_PTRACE ? n / 4 + 1 : n;
        BenchResult r;

        memcpy(ram, blob, (size_t)(end - blob));
        r = bench_run(c, memfd, iters);
        results[i] = r;
        if (r.min < 0) {
            printf("%-10s %-34s %10s\n", transport_kind_name(c->kind), c->what, "failed");
            continue;
        }
        if (c->ops && c->base >= 0 && results[c->base].min > 0)
            printf("%-10s %-34s %10.2f %10.2f %14.2f\n", transport_kind_name(c->kind), c->what, r.min, r.median,
                   (r.min - results[c->base].min) / c->ops);
        else
            printf("%-10s %-34s %10.2f %10.2f\n", transport_kind_name(c->kind), c->what, r.min, r.median);
        fflush(stdout);
    }
    munmap(ram, GUEST_RAM_SIZE);
    close(memfd);
    return 0;
}
