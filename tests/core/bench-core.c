/*
 * Core dispatch costs: what a port access, a rep transfer and an IRQ edge
 * cost inside the VM process, through the same host table the CPU plugin
 * uses.  A benchmark, not a test: it prints numbers and asserts nothing.
 */
#include <time.h>
#include "tests/core/testutil.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

#define REPORT(what, n, t0) \
    printf("  %-44s %8.1f ns\n", what, (now_ns() - (t0)) / (double)(n))

int main(void)
{
    LilyVm *vm = test_vm_new();
    GError *err = NULL;
    if (!vm_configure_data(vm, "[device pic]\nplugin = test-chip\n"
                               "[device r]\nplugin = test-regs\nirq = 5\n"
                               "[device norep]\nplugin = test-regs\niobase = 0x520\nrep = off\n",
                           "bench.conf", &err) ||
        !vm_realize(vm, &err)) {
        fprintf(stderr, "bench-core: %s\n", err->message);
        return 1;
    }
    const LilyHost *h = hostapi_table();
    LilyInstance *r = vm_find_instance(vm, "r");
    const int n = 2000000;
    volatile uint32_t sink = 0;
    printf("LilyVM core dispatch (per operation, %d iterations):\n", n);

    double t0 = now_ns();
    for (int i = 0; i < n; i++)
        sink += h->pio_read(r, 0x500, 1);
    REPORT("inb from a device (host->pio_read)", n, t0);

    t0 = now_ns();
    for (int i = 0; i < n; i++)
        h->pio_write(r, 0x501, 1, (uint32_t)i);
    REPORT("outb to a device (host->pio_write)", n, t0);

    t0 = now_ns();
    for (int i = 0; i < n; i++)
        sink += h->pio_read(r, 0x90, 1);
    REPORT("inb from an unclaimed port", n, t0);

    static uint16_t buf[256];
    const int reps = n / 100;
    t0 = now_ns();
    for (int i = 0; i < reps; i++)
        h->pio_read_rep(r, 0x50a, 2, buf, 256);
    REPORT("rep insw x256, device read_rep (per item)", (double)reps * 256, t0);

    LilyInstance *norep = vm_find_instance(vm, "norep");
    t0 = now_ns();
    for (int i = 0; i < reps; i++)
        h->pio_read_rep(norep, 0x52a, 2, buf, 256);
    REPORT("rep insw x256, core loop (per item)", (double)reps * 256, t0);

    t0 = now_ns();
    for (int i = 0; i < n; i++)
        h->pio_write(r, 0x508, 1, i & 1);  /* IRQ 5 edge -> controller -> INTR */
    REPORT("IRQ edge: device -> controller -> INTR", n, t0);

    t0 = now_ns();
    for (int i = 0; i < n; i++)
        sink += (uint32_t)h->irq_ack(r);
    REPORT("irq_ack (controller's vector)", n, t0);

    (void)sink;
    vm_free(vm);
    return 0;
}
