/*
 * host-ops: what the test kernel's bench operations cost natively on this
 * host, in TSC cycles, printed in the test kernel's "# bench" format so that
 * bench/bench.sh reads every column with one parser.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

/*
 * DOC: Method
 *
 * Every metric follows the test kernel's BENCH_LOOP (guest/testkernel/bench.c):
 * a sample times a batch of operations with rdtsc and divides by the batch
 * size; the median and the minimum over the samples are reported.  Loop and
 * rdtsc overhead are included, amortised over the batch, exactly as in the
 * guest.  Output lines:
 *
 *   # tsc-hz <TSC ticks per second, measured against CLOCK_MONOTONIC>
 *   # bench <name> <median cycles> min <min> samples <n> batch <k>
 *   # n/a <name> <reason>
 *
 * Operations that have no user-mode equivalent (cli, mov to cr0, ...) are not
 * measured here: bench/bench.sh writes their reasons.
 */

#define HOSTOPS_MAX_SAMPLES 256
#define HOSTOPS_PAGE 4096
#define HOSTOPS_PF_PAGES 64   /* fresh pages touched per page-fault sample */
#define HOSTOPS_MAP_PAGES 64  /* pages remapped per mmap sample */

static unsigned hostops_samples = 64;

static inline uint64_t hostops_rdtsc(void)
{
    uint32_t lo, hi;

    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static uint64_t hostops_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int hostops_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Print one metric from its per-operation samples (sorted in place). */
static void hostops_report(const char *name, uint64_t *samples, unsigned n, unsigned batch)
{
    qsort(samples, n, sizeof *samples, hostops_cmp_u64);
    printf("# bench %s %llu min %llu samples %u batch %u\n", name, (unsigned long long)samples[n / 2],
           (unsigned long long)samples[0], n, batch);
    fflush(stdout);
}

static void hostops_na(const char *name, const char *why, int err)
{
    printf("# n/a %s %s%s%s\n", name, why, err ? ": " : "", err ? strerror(err) : "");
    fflush(stdout);
}

/* The same shape as the guest's BENCH_LOOP. */
#define HOSTOPS_LOOP(samples, batch, body)                               \
    for (unsigned s_ = 0; s_ < hostops_samples; s_++) {                  \
        uint64_t t0_ = hostops_rdtsc();                                  \
        for (unsigned k_ = 0; k_ < (batch); k_++) {                      \
            body;                                                        \
        }                                                                \
        uint64_t t1_ = hostops_rdtsc();                                  \
        (samples)[s_] = (t1_ - t0_) / (batch);                           \
    }

/*
 * TSC ticks per second: rdtsc against CLOCK_MONOTONIC over @window_ns,
 * median of three windows (a preemption inside one window shifts it little,
 * both clocks run on).
 */
static double hostops_tsc_hz(uint64_t window_ns)
{
    double hz[3];

    for (int i = 0; i < 3; i++) {
        uint64_t n0 = hostops_now_ns(), c0 = hostops_rdtsc(), n1, c1;

        do {
            n1 = hostops_now_ns();
        } while (n1 - n0 < window_ns);
        c1 = hostops_rdtsc();
        hz[i] = (double)(c1 - c0) * 1e9 / (double)(n1 - n0);
    }
    /* Median of three. */
    if (hz[0] > hz[1]) { double t = hz[0]; hz[0] = hz[1]; hz[1] = t; }
    if (hz[1] > hz[2]) { double t = hz[1]; hz[1] = hz[2]; hz[2] = t; }
    if (hz[0] > hz[1]) { double t = hz[0]; hz[0] = hz[1]; hz[1] = t; }
    return hz[1];
}

/* null-syscall: the cheapest real system call, through syscall(2). */
static void hostops_syscall(void)
{
    uint64_t samples[HOSTOPS_MAX_SAMPLES];

    HOSTOPS_LOOP(samples, 16, syscall(SYS_getppid));
    hostops_report("null-syscall", samples, hostops_samples, 16);
}

static int hostops_pin(pid_t pid, int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(pid, sizeof set, &set);
}

/*
 * ctx-switch: two processes bounce one byte through two pipes, both pinned
 * to the CPU this one runs on, so every hand-over is a real context switch
 * (the reader blocks, the writer wakes it, the scheduler switches).  A round
 * trip is two switches, each with a write and a read system call -- as the
 * guest's yield is a system call plus a switch.
 */
static void hostops_ctx_switch(void)
{
    enum { BATCH = 32 };
    uint64_t samples[HOSTOPS_MAX_SAMPLES];
    int ping[2] = { -1, -1 }, pong[2] = { -1, -1 };
    int cpu = sched_getcpu();
    cpu_set_t saved;
    pid_t child;
    char byte = 0;
    int ok = 1;

    if (cpu < 0)
        cpu = 0;
    if (sched_getaffinity(0, sizeof saved, &saved) != 0) {
        hostops_na("ctx-switch", "sched_getaffinity", errno);
        return;
    }
    if (pipe(ping) != 0) {
        hostops_na("ctx-switch", "pipe", errno);
        return;
    }
    if (pipe(pong) != 0) {
        hostops_na("ctx-switch", "pipe", errno);
        goto out_close_ping;
    }
    if (hostops_pin(0, cpu) != 0) {
        hostops_na("ctx-switch", "cannot pin to one CPU", errno);
        goto out_close_pong;
    }
    fflush(stdout);
    child = fork();
    if (child < 0) {
        hostops_na("ctx-switch", "fork", errno);
        goto out_unpin;
    }
    if (child == 0) {
        /* Inherits the pinning.  Echo until the parent closes its end. */
        close(ping[1]);
        close(pong[0]);
        while (read(ping[0], &byte, 1) == 1)
            if (write(pong[1], &byte, 1) != 1)
                break;
        _exit(0);
    }
    close(ping[0]);
    close(pong[1]);
    ping[0] = pong[1] = -1;
    /* Warm up, then measure. */
    for (int i = 0; i < 100 && ok; i++)
        ok = write(ping[1], &byte, 1) == 1 && read(pong[0], &byte, 1) == 1;
    for (unsigned s = 0; s < hostops_samples && ok; s++) {
        uint64_t t0 = hostops_rdtsc();
        for (unsigned k = 0; k < BATCH && ok; k++)
            ok = write(ping[1], &byte, 1) == 1 && read(pong[0], &byte, 1) == 1;
        uint64_t t1 = hostops_rdtsc();
        samples[s] = (t1 - t0) / (2 * BATCH);
    }
    close(ping[1]);
    ping[1] = -1;
    waitpid(child, NULL, 0);
    if (ok)
        hostops_report("ctx-switch", samples, hostops_samples, 2 * BATCH);
    else
        hostops_na("ctx-switch", "the pipe ping-pong broke off", errno);
out_unpin:
    sched_setaffinity(0, sizeof saved, &saved);
out_close_pong:
    if (pong[0] >= 0)
        close(pong[0]);
    if (pong[1] >= 0)
        close(pong[1]);
out_close_ping:
    if (ping[0] >= 0)
        close(ping[0]);
    if (ping[1] >= 0)
        close(ping[1]);
}

/*
 * page-fault: write to fresh anonymous pages (each write faults, the kernel
 * allocates and zeroes a page and maps it), minus the cost of the same
 * writes once the pages are mapped.  Transparent huge pages are refused for
 * the region so that every page faults on its own.
 */
static void hostops_page_fault(void)
{
    uint64_t samples[HOSTOPS_MAX_SAMPLES];
    size_t len = HOSTOPS_PF_PAGES * HOSTOPS_PAGE;

    for (unsigned s = 0; s < hostops_samples; s++) {
        volatile uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (p == MAP_FAILED) {
            hostops_na("page-fault", "mmap", errno);
            return;
        }
        madvise((void *)p, len, MADV_NOHUGEPAGE);
        uint64_t t0 = hostops_rdtsc();
        for (size_t i = 0; i < len; i += HOSTOPS_PAGE)
            p[i] = (uint8_t)s;
        uint64_t t1 = hostops_rdtsc();
        for (size_t i = 0; i < len; i += HOSTOPS_PAGE)
            p[i] = (uint8_t)(s + 1);
        uint64_t t2 = hostops_rdtsc();
        uint64_t fresh = t1 - t0, mapped = t2 - t1;
        samples[s] = (fresh > mapped ? fresh - mapped : 0) / HOSTOPS_PF_PAGES;
        munmap((void *)p, len);
    }
    hostops_report("page-fault", samples, hostops_samples, HOSTOPS_PF_PAGES);
}

/* pushf-popf: allowed in 64-bit user mode, no trap (IF is not changed). */
static void hostops_pushf_popf(void)
{
    uint64_t samples[HOSTOPS_MAX_SAMPLES];

    HOSTOPS_LOOP(samples, 64, __asm__ volatile("pushfq; popfq" ::: "memory", "cc"));
    hostops_report("pushf-popf", samples, hostops_samples, 64);
}

static void hostops_on_sigtrap(int sig)
{
    (void)sig;
}

/* #GP on cli: skip the one-byte instruction and go on. */
static void hostops_on_sigsegv(int sig, siginfo_t *info, void *uc_void)
{
    ucontext_t *uc = uc_void;

    (void)sig;
    (void)info;
    uc->uc_mcontext.gregs[REG_RIP] += 1;
}

/*
 * trap-int3: int3 -> SIGTRAP -> empty handler -> sigreturn, in this process:
 * what a trapped instruction costs on this host before anybody emulates it.
 * trap-gp: the same for a privileged instruction (cli -> #GP -> SIGSEGV,
 * the handler steps over it).
 */
static void hostops_traps(void)
{
    uint64_t samples[HOSTOPS_MAX_SAMPLES];
    struct sigaction sa, old_trap, old_segv;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = hostops_on_sigtrap;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTRAP, &sa, &old_trap) != 0) {
        hostops_na("trap-int3", "sigaction", errno);
        return;
    }
    HOSTOPS_LOOP(samples, 16, __asm__ volatile("int3" ::: "memory"));
    sigaction(SIGTRAP, &old_trap, NULL);
    hostops_report("trap-int3", samples, hostops_samples, 16);

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = hostops_on_sigsegv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old_segv) != 0) {
        hostops_na("trap-gp", "sigaction", errno);
        return;
    }
    HOSTOPS_LOOP(samples, 16, __asm__ volatile("cli" ::: "memory"));
    sigaction(SIGSEGV, &old_segv, NULL);
    hostops_report("trap-gp", samples, hostops_samples, 16);
}

/*
 * mmap-page: mmap(MAP_SHARED | MAP_FIXED) of one memfd page over a mapped
 * but untouched page, alternating between two file ranges so that each call
 * replaces a mapping -- the host call behind one LilyVM map op.
 */
static void hostops_mmap_page(void)
{
    uint64_t samples[HOSTOPS_MAX_SAMPLES];
    size_t len = HOSTOPS_MAP_PAGES * HOSTOPS_PAGE;
    int fd = memfd_create("host-ops", MFD_CLOEXEC);
    uint8_t *base;
    int ok = 1;

    if (fd < 0 || ftruncate(fd, 2 * (off_t)len) != 0) {
        hostops_na("mmap-page", "memfd", errno);
        goto out_close;
    }
    base = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        hostops_na("mmap-page", "mmap", errno);
        goto out_close;
    }
    for (unsigned s = 0; s < hostops_samples && ok; s++) {
        off_t range = (s & 1) ? (off_t)len : 0;
        uint64_t t0 = hostops_rdtsc();
        for (unsigned k = 0; k < HOSTOPS_MAP_PAGES; k++)
            ok &= mmap(base + k * HOSTOPS_PAGE, HOSTOPS_PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fd,
                       range + k * HOSTOPS_PAGE) != MAP_FAILED;
        uint64_t t1 = hostops_rdtsc();
        samples[s] = (t1 - t0) / HOSTOPS_MAP_PAGES;
    }
    if (ok)
        hostops_report("mmap-page", samples, hostops_samples, HOSTOPS_MAP_PAGES);
    else
        hostops_na("mmap-page", "mmap MAP_FIXED", errno);
    munmap(base, len);
out_close:
    if (fd >= 0)
        close(fd);
}

/* The test kernel's compute_kernel(), line for line (guest/testkernel/bench.c). */
__attribute__((noinline)) static uint32_t hostops_compute_kernel(uint32_t x)
{
    /* xorshift32: a fixed amount of integer work with a data dependence. */
    for (unsigned i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
    }
    return x;
}

/* compute: 9 runs of the whole loop, as in the guest. */
static void hostops_compute(void)
{
    uint64_t samples[9];
    volatile uint32_t sink = 0;

    for (unsigned s = 0; s < 9; s++) {
        uint64_t t0 = hostops_rdtsc();
        sink += hostops_compute_kernel(s + 1);
        uint64_t t1 = hostops_rdtsc();
        samples[s] = t1 - t0;
    }
    (void)sink;
    hostops_report("compute", samples, 9, 1);
}

static void hostops_usage(FILE *to)
{
    fprintf(to, "usage: host-ops [--quick] [--samples N]\n"
                "  --quick      fewer samples and a shorter TSC calibration (format checks)\n"
                "  --samples N  samples per metric, 1..%d (default 64)\n",
                HOSTOPS_MAX_SAMPLES);
}

int main(int argc, char **argv)
{
    uint64_t window_ns = 100000000; /* 100 ms per TSC calibration window */

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            hostops_samples = 9;
            window_ns = 20000000;
        } else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc) {
            char *end;
            unsigned long n = strtoul(argv[++i], &end, 10);
            if (*end || n < 1 || n > HOSTOPS_MAX_SAMPLES) {
                fprintf(stderr, "host-ops: --samples '%s': expected a number from 1 to %d\n", argv[i],
                        HOSTOPS_MAX_SAMPLES);
                return 2;
            }
            hostops_samples = (unsigned)n;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            hostops_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "host-ops: unknown argument '%s'\n", argv[i]);
            hostops_usage(stderr);
            return 2;
        }
    }

    printf("# host-ops: native cycles per operation (median), 64-bit user mode\n");
    printf("# tsc-hz %.0f\n", hostops_tsc_hz(window_ns));
    fflush(stdout);
    hostops_syscall();
    hostops_ctx_switch();
    hostops_page_fault();
    hostops_pushf_popf();
    hostops_traps();
    hostops_mmap_page();
    hostops_compute();
    printf("# host-ops done\n");
    return 0;
}
