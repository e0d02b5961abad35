/* Bus dispatch (offsets, sizes, rep, MMIO, overlaps) and IRQ routing. */
#include "tests/core/testutil.h"

static void test_dispatch(void)
{
    LilyVm *vm = test_vm_from("[device r]\nplugin = test-regs\niobase = 0x500\n");
    bus_pio_write(vm, 0x500, 4, 0x44332211);
    g_assert_cmphex(bus_pio_read(vm, 0x500, 1), ==, 0x11);
    g_assert_cmphex(bus_pio_read(vm, 0x501, 1), ==, 0x22);  /* offset 1 */
    g_assert_cmphex(bus_pio_read(vm, 0x502, 2), ==, 0x4433);
    g_assert_cmphex(bus_pio_read(vm, 0x500, 4), ==, 0x44332211);
    bus_pio_write(vm, 0x504, 2, 0xbeef);
    g_assert_cmphex(bus_pio_read(vm, 0x504, 4), ==, 0xbeef);
    /* Values are masked to the access size on the way in and out. */
    bus_pio_write(vm, 0x507, 1, 0x1234);
    g_assert_cmphex(bus_pio_read(vm, 0x507, 1), ==, 0x34);
    vm_free(vm);
}

static void test_unclaimed(void)
{
    LilyVm *vm = test_vm_from("[device r]\nplugin = test-regs\n");
    g_assert_cmphex(bus_pio_read(vm, 0x80, 1), ==, 0xff);
    g_assert_cmphex(bus_pio_read(vm, 0x80, 2), ==, 0xffff);
    g_assert_cmphex(bus_pio_read(vm, 0x4ff, 4), ==, 0xffffffff);
    g_assert_cmphex(bus_pio_read(vm, 0x510, 1), ==, 0xff);  /* just past the region */
    bus_pio_write(vm, 0x80, 1, 0);                           /* ignored */
    g_assert_cmphex(bus_mmio_read(vm, 0xfee00000, 4), ==, 0xffffffff);
    g_assert_cmpuint(vm->stats.pio_unclaimed, ==, 5);
    vm_free(vm);
}

static uint32_t zero_read(void *opaque, uint64_t off, unsigned size)
{
    return 0;
}

static const LilyIoOps zero_ops = { .read = zero_read };

static void test_overlap(void)
{
    LilyVm *vm = test_vm_from("[device a]\nplugin = test-regs\niobase = 0x500\n"
                              "[device b]\nplugin = test-regs\niobase = 0x510\n");
    static const LilyIoOps ops = { .read = NULL, .write = NULL };
    const LilyIoOps *ops2 = &zero_ops;
    GError *err = NULL;
    LilyInstance *a = vm_find_instance(vm, "a");
    g_assert_false(bus_claim_pio(vm, a, 0x50f, 2, ops2, NULL, &err));
    test_assert_contains(err->message, "0x50f-0x510", "requested by a", "0x500-0x50f",
                         "claimed by a");
    g_clear_error(&err);
    g_assert_false(bus_claim_pio(vm, NULL, 0x51f, 4, ops2, NULL, &err));
    test_assert_contains(err->message, "claimed by b");
    g_clear_error(&err);
    g_assert_false(bus_claim_pio(vm, a, 0x600, 1, &ops, NULL, &err));  /* no handlers */
    g_clear_error(&err);
    g_assert_false(bus_claim_pio(vm, a, 0xfff0, 0x20, ops2, NULL, &err));  /* past 64K */
    g_clear_error(&err);
    g_assert_true(bus_claim_pio(vm, a, 0x4ff, 1, ops2, NULL, &err));   /* adjacent: fine */
    g_assert_true(bus_claim_pio(vm, a, 0x520, 1, ops2, NULL, &err));
    vm_free(vm);
}

static void check_rep(const char *rep)
{
    char *conf = g_strdup_printf("[device r]\nplugin = test-regs\nrep = %s\n", rep);
    LilyVm *vm = test_vm_from(conf);
    g_free(conf);
    uint8_t in[8];
    bus_pio_read_rep(vm, 0x50a, 2, in, 4);  /* data port: counter 0,1,2,3 */
    static const uint8_t want[8] = { 0, 0, 1, 0, 2, 0, 3, 0 };
    g_assert_cmpmem(in, sizeof in, want, sizeof want);
    static const uint8_t out[6] = { 1, 0, 2, 0, 0x10, 0 };
    bus_pio_write_rep(vm, 0x50a, 2, out, 3);
    g_assert_cmpuint(bus_pio_read(vm, 0x50c, 4), ==, 0x13);
    unsigned calls = bus_pio_read(vm, 0x509, 1);
    g_assert_cmpuint(calls, ==, strcmp(rep, "on") == 0 ? 2 : 0);
    /* rep from unclaimed ports fills with ones */
    uint8_t none[4] = { 0 };
    bus_pio_read_rep(vm, 0x90, 1, none, 4);
    g_assert_cmphex(none[0] & none[3], ==, 0xff);
    vm_free(vm);
}

static void test_rep_handlers(void)
{
    check_rep("on");
}

static void test_rep_loop(void)
{
    check_rep("off");
}

static void test_mmio(void)
{
    LilyVm *vm = test_vm_from("[device r]\nplugin = test-regs\nmmio = 0xfec00000\n");
    bus_mmio_write(vm, 0xfec00002, 2, 0xcafe);
    g_assert_cmphex(bus_mmio_read(vm, 0xfec00002, 2), ==, 0xcafe);
    g_assert_cmphex(bus_pio_read(vm, 0x502, 2), ==, 0xcafe);  /* same registers */
    g_assert_true(bus_mmio_claimed(vm, 0xfec0000f));
    g_assert_false(bus_mmio_claimed(vm, 0xfec00010));
    GError *err = NULL;
    g_assert_false(bus_claim_mmio(vm, NULL, 0xfebffff0, 0x20, &zero_ops, NULL, &err));
    test_assert_contains(err->message, "MMIO", "claimed by r");
    g_clear_error(&err);
    vm_free(vm);
}

static void test_irq_no_chip(void)
{
    LilyVm *vm = test_vm_from("[device r]\nplugin = test-regs\nirq = 7\n");
    g_assert_cmpint(vm_irq_level(vm, 7), ==, 0);
    bus_pio_write(vm, 0x508, 1, 1);
    g_assert_cmpint(vm_irq_level(vm, 7), ==, 1);
    g_assert_cmpint(irq_ack(vm), ==, -1);
    bus_pio_write(vm, 0x508, 1, 0);
    g_assert_cmpint(vm_irq_level(vm, 7), ==, 0);
    g_assert_cmpuint(vm->stats.irq_raises, ==, 1);
    vm_free(vm);
}

static int intr_calls;
static bool intr_seen;

static void test_intr(void *opaque, bool level)
{
    intr_calls++;
    intr_seen = level;
}

static void test_irq_chip(void)
{
    LilyVm *vm = test_vm_from("[device pic]\nplugin = test-chip\n"
                              "[device a]\nplugin = test-regs\nirq = 5\n"
                              "[device b]\nplugin = test-regs\niobase = 0x520\nirq = 5\n"
                              "[device c]\nplugin = test-regs\niobase = 0x530\nirq = 3\n");
    const LilyHost *host = hostapi_table();
    GError *err = NULL;
    intr_calls = 0;
    g_assert_true(host->cpu_register(vm_find_instance(vm, "a"), test_intr, NULL, &err));
    g_assert_false(host->cpu_register(vm_find_instance(vm, "b"), test_intr, NULL, &err));
    g_clear_error(&err);

    bus_pio_write(vm, 0x508, 1, 1);                   /* a raises line 5 */
    g_assert_cmphex(bus_pio_read(vm, 0x600, 4), ==, 1u << 5);
    g_assert_true(vm_intr_level(vm));
    g_assert_cmpint(intr_calls, ==, 1);
    g_assert_true(intr_seen);
    g_assert_cmpint(host->irq_ack(vm_find_instance(vm, "a")), ==, 0x25);

    bus_pio_write(vm, 0x528, 1, 1);                   /* b shares line 5 */
    bus_pio_write(vm, 0x508, 1, 0);                   /* a lowers: b still drives it */
    g_assert_cmpint(vm_irq_level(vm, 5), ==, 1);
    g_assert_cmpuint(bus_pio_read(vm, 0x604, 4), ==, 1);  /* chip saw one change */

    bus_pio_write(vm, 0x538, 1, 1);                   /* c raises line 3 */
    g_assert_cmpint(irq_ack(vm), ==, 0x23);
    bus_pio_write(vm, 0x528, 1, 0);
    bus_pio_write(vm, 0x538, 1, 0);
    g_assert_cmphex(bus_pio_read(vm, 0x600, 4), ==, 0);
    g_assert_false(vm_intr_level(vm));
    g_assert_false(intr_seen);
    g_assert_cmpint(irq_ack(vm), ==, -1);
    vm_free(vm);
}

static void test_irq_errors(void)
{
    char *msg = test_config_error("[device a]\nplugin = test-chip\n"
                                  "[device b]\nplugin = test-chip\niobase = 0x610\n");
    test_assert_contains(msg, "b (plugin test-chip)", "already registered by a");
    g_free(msg);
    LilyVm *vm = test_vm_from("[device r]\nplugin = test-regs\n");
    GError *err = NULL;
    g_assert_null(hostapi_table()->irq_get(vm_find_instance(vm, "r"), IRQ_LINES, &err));
    test_assert_contains(err->message, "does not exist");
    g_clear_error(&err);
    vm_free(vm);
}

static void test_host_pio(void)
{
    /* The CPU-side host functions reach the same bus. */
    LilyVm *vm = test_vm_from("[device r]\nplugin = test-regs\n");
    const LilyHost *h = hostapi_table();
    LilyInstance *r = vm_find_instance(vm, "r");
    h->pio_write(r, 0x503, 1, 0x77);
    g_assert_cmphex(h->pio_read(r, 0x503, 1), ==, 0x77);
    uint8_t buf[2] = { 3, 4 };
    h->pio_write_rep(r, 0x50a, 1, buf, 2);
    g_assert_cmpuint(h->pio_read(r, 0x50c, 4), ==, 7);
    g_assert_cmpint(h->ram_fd(r), >=, 0);
    uint64_t size;
    uint8_t *ram = h->ram(r, &size);
    g_assert_nonnull(ram);
    g_assert_cmpuint(size, ==, 32 << 20);
    g_assert_true(h->mem_write(r, 0x1000, "lily", 4));
    g_assert_cmpmem(ram + 0x1000, 4, "lily", 4);
    g_assert_false(h->mem_read(r, size - 2, buf, 4));
    g_assert_false(h->boot_state(r, NULL, NULL, NULL));
    void *state = NULL;
    const LilyPluginDesc *desc = NULL;
    g_assert_true(h->find_instance(r, LILY_PLUGIN_DEVICE, &state, &desc) == r);
    g_assert_cmpstr(desc->name, ==, "test-regs");
    g_assert_null(h->find_instance(r, LILY_PLUGIN_MMU, &state, &desc));
    h->stat_add(r, "custom", 3);
    /* The same pointer later holding another name counts under that name. */
    char name[16] = "first";
    h->stat_add(r, name, 1);
    g_strlcpy(name, "second", sizeof name);
    h->stat_add(r, name, 2);
    h->stat_add(r, "first", 10);
    GError *err = NULL;
    char *path = NULL;
    int fd = g_file_open_tmp("lilyvm-stats-XXXXXX", &path, &err);
    g_assert_cmpint(fd, >=, 0);
    FILE *f = fdopen(fd, "w+");
    vm_print_stats(vm, f);
    fflush(f);
    char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    test_assert_contains(text, "r.custom", "r.writes", "core.pio_writes", "r.bus_writes");
    g_assert_true(g_regex_match_simple("r\\.first +11\\n", text, 0, 0));
    g_assert_true(g_regex_match_simple("r\\.second +2\\n", text, 0, 0));
    g_free(text);
    fclose(f);
    g_unlink(path);
    g_free(path);
    vm_free(vm);
}

static void test_trace(void)
{
    char *path = g_build_filename(g_get_tmp_dir(), "lilyvm-test-bus-trace.log", NULL);
    g_unlink(path);
    GError *err = NULL;
    g_assert_true(log_set_file(path, &err));
    log_set_categories("bus");
    LilyVm *vm = test_vm_from("[device r]\nplugin = test-regs\n");
    bus_pio_write(vm, 0x502, 1, 0x5a);
    g_assert_cmphex(bus_pio_read(vm, 0x502, 1), ==, 0x5a);
    bus_pio_read(vm, 0x80, 2);
    log_shutdown();
    char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    test_assert_contains(text, "out8 0x502: r+0x2 = 0x5a", "in8 0x502: r+0x2 = 0x5a",
                         "in16 0x80: unclaimed, 0xffff", "r claims ports 0x500-0x50f");
    g_free(text);
    vm_free(vm);
    g_unlink(path);
    g_free(path);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/core/bus/dispatch", test_dispatch);
    g_test_add_func("/core/bus/unclaimed", test_unclaimed);
    g_test_add_func("/core/bus/overlap", test_overlap);
    g_test_add_func("/core/bus/rep-handlers", test_rep_handlers);
    g_test_add_func("/core/bus/rep-loop", test_rep_loop);
    g_test_add_func("/core/bus/mmio", test_mmio);
    g_test_add_func("/core/irq/no-chip", test_irq_no_chip);
    g_test_add_func("/core/irq/chip", test_irq_chip);
    g_test_add_func("/core/irq/errors", test_irq_errors);
    g_test_add_func("/core/host/cpu-side", test_host_pio);
    g_test_add_func("/core/bus/trace", test_trace);
    return g_test_run();
}
