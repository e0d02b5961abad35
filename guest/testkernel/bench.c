/*
 * Benchmark mode: cycles (rdtsc) per guest operation.  Each metric is taken
 * as BENCH_SAMPLES samples of a batch of operations; the batch cost divided
 * by the batch size is one sample, and the median and minimum are reported:
 *
 *   # bench <name> <median cycles per op> min <min> samples <n> batch <k>
 *
 * followed by a TAP line per metric, so the output is also a TAP stream.
 * Numbers include the loop and rdtsc overhead amortised over the batch.
 */
#include <stdio.h>
#include <string.h>
#include <lily/cpu.h>
#include <lily/desc.h>
#include <lily/io.h>
#include <lily/paging.h>
#include <lily/serial.h>
#include "kernel.h"

#define BENCH_SAMPLES USER_SAMPLES
#define BENCH_PF_VA 0x60000000u

enum { BENCH_METRICS = 10 };
#define BENCH_IRET_VECTOR 0x41
static unsigned bench_index;

static void sort_u32(uint32_t *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++) {
        uint32_t x = v[i];
        unsigned j = i;
        while (j && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* Print one metric from its samples (sorted in place). */
static void bench_report(const char *name, uint32_t *samples, unsigned n, unsigned batch, int ok)
{
    bench_index++;
    if (!ok || n == 0) {
        printf("not ok %u - /bench/%s\n", bench_index, name);
        return;
    }
    sort_u32(samples, n);
    printf("# bench %s %u min %u samples %u batch %u\n", name, samples[n / 2], samples[0], n,
           batch);
    printf("ok %u - /bench/%s\n", bench_index, name);
}

/* Time body() run batch times, BENCH_SAMPLES times over. */
#define BENCH_LOOP(samples, batch, body)                                   \
    for (unsigned s_ = 0; s_ < BENCH_SAMPLES; s_++) {                      \
        uint64_t t0_ = rdtsc();                                            \
        for (unsigned k_ = 0; k_ < (batch); k_++) {                        \
            body;                                                          \
        }                                                                  \
        uint64_t t1_ = rdtsc();                                            \
        (samples)[s_] = (uint32_t)(t1_ - t0_) / (batch);                   \
    }

static void bench_user(const char *name, user_entry_fn fn, unsigned copies, uint32_t batch)
{
    struct proc *p[2] = { NULL, NULL };
    uint32_t samples[BENCH_SAMPLES];
    int ok = 1;

    for (unsigned i = 0; i < copies; i++) {
        p[i] = proc_spawn(fn, batch);
        ok &= p[i] != NULL;
    }
    proc_wait_all();
    for (unsigned i = 0; i < copies; i++)
        ok &= p[i] && !p[i]->killed && p[i]->exit_code == 0;
    if (ok)
        memcpy(samples, (const void *)proc_data(p[0])->samples, sizeof samples);
    for (unsigned i = 0; i < copies; i++)
        proc_reap(p[i]);
    bench_report(name, samples, BENCH_SAMPLES, batch, ok);
}

static void bench_page_fault(void)
{
    uint32_t samples[BENCH_SAMPLES];
    uint32_t pa = page_alloc();

    if (!pa) {
        bench_report("page-fault", samples, 0, 1, 0);
        return;
    }
    exc_set_demand_page(BENCH_PF_VA, pa);
    /* Create the page table first so every sample is the same kind of fault. */
    page_map(boot_pd, BENCH_PF_VA, pa, PTE_W);
    for (unsigned s = 0; s < BENCH_SAMPLES; s++) {
        page_unmap(boot_pd, BENCH_PF_VA);
        uint64_t t0 = rdtsc();
        *(volatile uint32_t *)BENCH_PF_VA = s; /* #PF: the handler maps the page */
        uint64_t t1 = rdtsc();
        samples[s] = (uint32_t)(t1 - t0);
    }
    int ok = *(volatile uint32_t *)P2V(pa) == BENCH_SAMPLES - 1;
    exc_set_demand_page(0, 0);
    page_unmap(boot_pd, BENCH_PF_VA);
    page_free(pa);
    bench_report("page-fault", samples, BENCH_SAMPLES, 1, ok);
}

static uint32_t compute_kernel(uint32_t x)
{
    /* xorshift32: a fixed amount of integer work with a data dependence. */
    for (unsigned i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
    }
    return x;
}

void bench_run(void)
{
    uint32_t samples[BENCH_SAMPLES];
    volatile uint32_t sink = 0;

    printf("# bench: cycles per operation (median), see docs/guest-sdk.md\n");
    printf("1..%u\n", BENCH_METRICS);

    bench_user("null-syscall", user_bench_syscall, 1, 16);
    bench_user("ctx-switch", user_bench_yield, 2, 16);
    bench_page_fault();

    uint32_t flags = irq_save();
    BENCH_LOOP(samples, 64, __asm__ volatile("cli; sti" ::: "memory"));
    irq_restore(flags);
    bench_report("cli-sti", samples, BENCH_SAMPLES, 64, 1);

    BENCH_LOOP(samples, 64, __asm__ volatile("pushfl; popfl" ::: "memory", "cc"));
    bench_report("pushf-popf", samples, BENCH_SAMPLES, 64, 1);

    BENCH_LOOP(samples, 64, sink += inb(SERIAL_COM1 + SERIAL_SCR));
    bench_report("inb", samples, BENCH_SAMPLES, 64, 1);

    idt_set_gate(BENCH_IRET_VECTOR, (uint32_t)(uintptr_t)trap_iret_only, GATE_INTR, 0);
    BENCH_LOOP(samples, 64, __asm__ volatile("int $0x41" ::: "memory"));
    idt_set_gate(BENCH_IRET_VECTOR, idt_stub(BENCH_IRET_VECTOR), GATE_INTR, 0);
    bench_report("int-iret", samples, BENCH_SAMPLES, 64, 1);

    BENCH_LOOP(samples, 64, write_cr0(read_cr0()));
    bench_report("cr0-rw", samples, BENCH_SAMPLES, 64, 1);

    BENCH_LOOP(samples, 16, write_cr3(read_cr3()));
    bench_report("cr3-reload", samples, BENCH_SAMPLES, 16, 1);

    /* Fewer samples: one run is already long. */
    for (unsigned s = 0; s < 9; s++) {
        uint64_t t0 = rdtsc();
        sink += compute_kernel(s + 1);
        uint64_t t1 = rdtsc();
        samples[s] = (uint32_t)(t1 - t0);
    }
    bench_report("compute", samples, 9, 1, 1);
    printf("# bench done\n");
}
