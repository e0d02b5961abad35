/* Config files and --set: values reach the plugin, every error says where. */
#include <lilyvm/mmu.h>
#include "tests/core/testutil.h"

static const char good_conf[] =
    "# a test machine\n"
    "[machine]\n"
    "memory = 8M\n"
    "\n"
    "[device regs0]\n"
    "plugin = test-regs\n"
    "iobase = 0x510\n"
    "mode = gamma\n"
    "label = hello world\n"
    "fwd = tcp::8080-:80; udp:0.0.0.0:53-10.0.2.15:53\n"
    "ports = 1,2,3\n"
    "size = 64K\n"
    "mac = 02:00:00:00:00:01\n";

static void test_values(void)
{
    LilyVm *vm = test_vm_from(good_conf);
    LilyInstance *inst = vm_find_instance(vm, "regs0");
    g_assert_nonnull(inst);
    const LilyOptValue *v = inst->values;
    g_assert_cmpint(v[0].i, ==, 0x510);   /* iobase */
    g_assert_true(v[0].set);
    g_assert_cmpint(v[1].i, ==, 5);       /* irq: default */
    g_assert_false(v[1].set);
    g_assert_true(v[1].present);
    g_assert_cmpint(v[3].i, ==, 1);       /* rep default on */
    g_assert_cmpint(v[4].i, ==, 2);       /* mode gamma */
    g_assert_cmpint(v[5].i, ==, 64 << 10);
    g_assert_cmpstr(v[6].s, ==, "hello world");
    g_assert_cmpuint(v[7].mac[5], ==, 1);
    g_assert_cmpuint(v[8].n, ==, 2);
    g_assert_cmpuint(((const LilyHostFwd *)v[8].list)[1].guest_port, ==, 53);
    g_assert_cmpuint(v[9].n, ==, 3);
    g_assert_cmpuint(vm->ram.size, ==, 8 << 20);
    /* The device is on the bus where the config put it. */
    bus_pio_write(vm, 0x510, 1, 0x5a);
    g_assert_cmphex(bus_pio_read(vm, 0x510, 1), ==, 0x5a);
    vm_free(vm);
}

static void test_unset_string(void)
{
    LilyVm *vm = test_vm_from("[device r]\nplugin = test-regs\n");
    LilyInstance *inst = vm_find_instance(vm, "r");
    g_assert_false(inst->values[6].present);
    g_assert_null(inst->values[6].s);
    g_assert_cmpuint(vm->ram.size, ==, 32 << 20);  /* default memory */
    vm_free(vm);
}

static void test_bad_value(void)
{
    char *msg = test_config_error("[machine]\n\n[device regs0]\nplugin = test-regs\n"
                                  "irq = 99\n");
    test_assert_contains(msg, "test.conf:5", "[device regs0]", "irq", "'99'",
                         "0..63");
    g_free(msg);
    msg = test_config_error("[device r]\nplugin = test-regs\nmode = delta\n");
    test_assert_contains(msg, "test.conf:3", "mode", "'delta'", "alpha, beta, gamma");
    g_free(msg);
    msg = test_config_error("[device r]\nplugin = test-regs\nrep = sometimes\n");
    test_assert_contains(msg, "test.conf:3", "rep", "'sometimes'", "yes/no");
    g_free(msg);
}

static void test_syntax(void)
{
    char *msg = test_config_error("[machine]\nmemory 32M\n");
    test_assert_contains(msg, "test.conf:2", "memory 32M");
    g_free(msg);
    msg = test_config_error("memory = 32M\n[machine]\n");
    test_assert_contains(msg, "test.conf:1", "before any [group]");
    g_free(msg);
    msg = test_config_error("[machine\nmemory = 1M\n");
    test_assert_contains(msg, "test.conf:1", "malformed group");
    g_free(msg);
}

static void test_whitespace(void)
{
    LilyVm *vm = test_vm_from("  # comment\n[device r]\n  plugin=test-regs  \n"
                              "irq   =   6 \t\nlabel =  two words  \n");
    LilyInstance *inst = vm_find_instance(vm, "r");
    g_assert_cmpint(inst->values[1].i, ==, 6);
    g_assert_cmpstr(inst->values[6].s, ==, "two words");
    vm_free(vm);
    char *msg = test_config_error("[device r]\nplugin = test-regs\nirq = 5 # five\n");
    test_assert_contains(msg, "test.conf:3", "'5 # five'");
    g_free(msg);
    msg = test_config_error("[ device r ]\nplugin = test-regs\n");
    test_assert_contains(msg, "test.conf:1", "unknown group [ device r ]");
    g_free(msg);
    msg = test_config_error("[device r]\nplugin = test-regs\n; not a comment\n");
    test_assert_contains(msg, "test.conf:3", "; not a comment");
    g_free(msg);
}

static void test_unknown_group_key(void)
{
    char *msg = test_config_error("[machine]\n[disk d0]\nplugin = x\n");
    test_assert_contains(msg, "test.conf:2", "unknown group [disk d0]", "[device NAME]");
    g_free(msg);
    msg = test_config_error("[device r]\nplugin = test-regs\ncolour = blue\n");
    test_assert_contains(msg, "test.conf:3", "[device r]", "unknown key 'colour'", "blue",
                         "known keys", "iobase");
    g_free(msg);
    msg = test_config_error("[machine]\nspeed = 9\n");
    test_assert_contains(msg, "test.conf:2", "[machine]", "unknown key 'speed'", "memory");
    g_free(msg);
}

static void test_plugin_errors(void)
{
    char *msg = test_config_error("[device r]\nplugin = no-such-thing\n");
    test_assert_contains(msg, "test.conf:2", "no-such-thing", "available device plugins",
                         "test-regs");
    g_free(msg);
    msg = test_config_error("[device r]\niobase = 0x10\n");
    test_assert_contains(msg, "test.conf:1", "no 'plugin = NAME'");
    g_free(msg);
    /* A netdev plugin in a [device] group. */
    msg = test_config_error("[device r]\nplugin = test-net\n");
    test_assert_contains(msg, "test.conf:2", "netdev plugin, not a device");
    g_free(msg);
    msg = test_config_error("[netdev n]\nplugin = test-regs\n");
    test_assert_contains(msg, "test.conf:2", "device plugin, not a netdev", "test-net");
    g_free(msg);
    msg = test_config_error("[machine]\ncpu = test-regs\n");
    test_assert_contains(msg, "test.conf:2", "cpu = 'test-regs'", "not a cpu plugin");
    g_free(msg);
    msg = test_config_error("[machine]\ncpu = cpu-missing\n");
    test_assert_contains(msg, "test.conf:2", "cpu-missing", "available cpu plugins");
    g_free(msg);
}

static void test_duplicates(void)
{
    char *msg = test_config_error("[device a]\nplugin = test-regs\n[netdev a]\n"
                                  "plugin = test-net\n");
    test_assert_contains(msg, "test.conf:3", "duplicate instance name 'a'", "test.conf:1");
    g_free(msg);
    msg = test_config_error("[device a]\nplugin = test-regs\n[device a]\n");
    test_assert_contains(msg, "test.conf:3", "appears twice", "line 1");
    g_free(msg);
    msg = test_config_error("[device a]\nplugin = test-regs\nirq = 3\nirq = 4\n");
    test_assert_contains(msg, "test.conf:4", "'irq' is given twice", "line 3");
    g_free(msg);
    msg = test_config_error("[device machine]\nplugin = test-regs\n");
    test_assert_contains(msg, "test.conf:1", "invalid instance name");
    g_free(msg);
    msg = test_config_error("[machine]\n\n[device cpu]\nplugin = test-regs\n");
    test_assert_contains(msg, "test.conf:3", "invalid instance name 'cpu'", "not machine, cpu");
    g_free(msg);
}

static void test_required(void)
{
    char *msg = test_config_error("[machine]\n[device s]\nplugin = test-strict\n");
    test_assert_contains(msg, "test.conf:2", "[device s]", "needs key 'tag'", "test-strict");
    g_free(msg);
    LilyVm *vm = test_vm_from("[device s]\nplugin = test-strict\ntag = x\n");
    g_assert_cmpstr(vm_find_instance(vm, "s")->values[0].s, ==, "x");
    vm_free(vm);
}

static void test_memory_range(void)
{
    char *msg = test_config_error("[machine]\nmemory = 4G\n");
    test_assert_contains(msg, "test.conf:2", "memory", "'4G'", "1M", "3G");
    g_free(msg);
}

static LilyVm *configured(const char *text)
{
    LilyVm *vm = test_vm_new();
    GError *err = NULL;
    if (!vm_configure_data(vm, text, "test.conf", &err))
        g_error("%s", err->message);
    return vm;
}

static void test_set(void)
{
    LilyVm *vm = configured("[device regs0]\nplugin = test-regs\nirq = 3\n");
    GError *err = NULL;
    g_assert_true(vm_set_option(vm, "regs0.irq=7", &err));
    g_assert_true(vm_set_option(vm, "regs0.label=a=b", &err));   /* new key in a group */
    g_assert_true(vm_set_option(vm, "machine.memory=2M", &err)); /* [machine] is implicit */
    g_assert_false(vm_set_option(vm, "regs0.irq=x", &err));
    test_assert_contains(err->message, "--set", "irq", "'x'", "0..63");
    g_assert_false(strstr(err->message, "test.conf"));
    g_clear_error(&err);
    g_assert_false(vm_set_option(vm, "nothere.irq=1", &err));
    test_assert_contains(err->message, "--set", "no group 'nothere'", "regs0");
    g_clear_error(&err);
    g_assert_false(vm_set_option(vm, "regs0.bogus=1", &err));
    test_assert_contains(err->message, "--set", "unknown key 'bogus'");
    g_clear_error(&err);
    g_assert_false(vm_set_option(vm, "irq=3", &err));
    test_assert_contains(err->message, "GROUP.KEY=VALUE");
    g_clear_error(&err);
    g_assert_true(vm_realize(vm, &err));
    LilyInstance *inst = vm_find_instance(vm, "regs0");
    g_assert_cmpint(inst->values[1].i, ==, 7);  /* the refused x did not stick */
    g_assert_cmpstr(inst->values[6].s, ==, "a=b");
    g_assert_cmpuint(vm->ram.size, ==, 2 << 20);
    vm_free(vm);
}

static void test_set_machine_unknown(void)
{
    LilyVm *vm = configured("[machine]\n");
    GError *err = NULL;
    /* Machine keys of a CPU plugin can only be judged once the CPU is known. */
    g_assert_true(vm_set_option(vm, "machine.transport=ptrace", &err));
    g_assert_false(vm_realize(vm, &err));
    test_assert_contains(err->message, "--set", "unknown key 'transport'", "ptrace");
    g_clear_error(&err);
    vm_free(vm);
}

static void test_cpu_keys(void)
{
    /* [machine] takes the option keys of the CPU plugin it selects. */
    LilyVm *vm = configured("[machine]\ncpu = test-cpu\nexit = 5\n");
    GError *err = NULL;
    g_assert_true(vm_set_option(vm, "machine.transport=ptrace", &err));
    g_assert_true(vm_realize(vm, &err));
    g_assert_nonnull(vm->cpu);
    g_assert_cmpstr(vm->cpu->name, ==, "cpu");
    g_assert_cmpint(vm->cpu->values[0].i, ==, 5);
    g_assert_cmpint(vm->cpu->values[2].i, ==, 1);
    /* The CPU is created last. */
    g_assert_true(g_ptr_array_index(vm->instances, vm->instances->len - 1) == vm->cpu);
    vm_free(vm);
    char *msg = test_config_error("[machine]\ncpu = test-cpu\ntransport = carrier-pigeon\n");
    test_assert_contains(msg, "test.conf:3", "transport", "'carrier-pigeon'", "signal, ptrace");
    g_free(msg);
    /* Without a cpu key no CPU is picked unless cpu-ia32 exists. */
    vm = test_vm_from("[machine]\n");
    g_assert_null(vm->cpu);
    vm_free(vm);
}

static void test_mmu(void)
{
    LilyVm *vm = test_vm_from("[machine]\ncpu = test-cpu\nmmu = test-mmu\npse = off\n"
                              "[device pic]\nplugin = test-chip\n"
                              "[device r]\nplugin = test-regs\n");
    /* Start order: MMU, interrupt controller, devices, CPU. */
    const char *order[] = { "mmu", "pic", "r", "cpu" };
    g_assert_cmpuint(vm->instances->len, ==, G_N_ELEMENTS(order));
    for (guint i = 0; i < G_N_ELEMENTS(order); i++)
        g_assert_cmpstr(((LilyInstance *)g_ptr_array_index(vm->instances, i))->name, ==,
                        order[i]);
    /* What the CPU would do to find the MMU and its kind-specific table. */
    void *state = NULL;
    const LilyPluginDesc *desc = NULL;
    const LilyHost *h = hostapi_table();
    LilyInstance *mmu = h->find_instance(vm->cpu, LILY_PLUGIN_MMU, &state, &desc);
    g_assert_true(mmu == vm->mmu);
    g_assert_cmpstr(desc->name, ==, "test-mmu");
    const LilyMmuOps *ops = desc->kind_ops;
    g_assert_cmpuint(ops->size, ==, sizeof(LilyMmuOps));
    uint64_t gpa = 0;
    uint32_t pf = 0;
    g_assert_cmpint(ops->translate(state, 0x1000, LILY_MMU_ACC_WRITE, &gpa, &pf), ==,
                    LILY_MMU_GUEST_FAULT);
    g_assert_cmpint(*(int *)state, ==, 0);  /* pse = off reached the MMU */
    g_assert_cmpstr(h->instance_name(mmu), ==, "mmu");
    vm_free(vm);
    char *msg = test_config_error("[machine]\nmmu = test-cpu\n");
    test_assert_contains(msg, "test.conf:2", "mmu = 'test-cpu'", "not a mmu plugin");
    g_free(msg);
}

static void test_init_failure(void)
{
    /* Two devices on the same ports: the second init fails and says why. */
    char *msg = test_config_error("[device a]\nplugin = test-regs\n[device b]\n"
                                  "plugin = test-regs\niobase = 0x508\n");
    test_assert_contains(msg, "b (plugin test-regs)", "0x508-0x517", "0x500-0x50f",
                         "claimed by a");
    g_free(msg);
}

/* Random texts made of config-like pieces: every one is accepted or refused, none crashes. */
static void test_garbage(void)
{
    static const char *const pieces[] = {
        "[", "]", "[machine]", "[device r]", "[netdev n]", "[device ", "plugin", "=",
        " = ", "test-regs", "test-net", "test-chip", "irq", "iobase", "fwd", "mode",
        "0x", "99", "-1", "tcp::1-:2", ";", ",", "#", "\n", "\n", "\\", "\\s", "\t",
        "\xc3\xa9", "\xff", "memory", "4G", "1M", "cpu", "none", "pcap", "mac", "::",
    };
    for (int round = 0; round < 300; round++) {
        GString *text = g_string_new(NULL);
        int n = g_test_rand_int_range(1, 40);
        for (int i = 0; i < n; i++)
            g_string_append(text, pieces[g_test_rand_int_range(0, G_N_ELEMENTS(pieces))]);
        LilyVm *vm = test_vm_new();
        GError *err = NULL;
        gboolean ok = vm_configure_data(vm, text->str, "fuzz.conf", &err) &&
                      vm_set_option(vm, "machine.memory=1M", &err) && vm_realize(vm, &err);
        if (!ok) {
            g_assert_nonnull(err);
            g_assert_true(g_str_has_prefix(err->message, "fuzz.conf") ||
                          g_str_has_prefix(err->message, "--set") || strstr(err->message, "("));
            g_clear_error(&err);
        }
        vm_free(vm);
        g_string_free(text, TRUE);
    }
}

static void test_init_failure_released(void)
{
    /* b claims its ports, then fails on MMIO: the core takes the ports back. */
    LilyVm *vm = configured("[device a]\nplugin = test-regs\nmmio = 0x100000\n"
                            "[device b]\nplugin = test-regs\niobase = 0x520\n"
                            "mmio = 0x100008\n");
    GError *err = NULL;
    g_assert_false(vm_realize(vm, &err));
    test_assert_contains(err->message, "b (plugin test-regs)", "MMIO", "claimed by a");
    g_clear_error(&err);
    g_assert_cmphex(bus_pio_read(vm, 0x520, 1), ==, 0xff);
    bus_pio_write(vm, 0x500, 1, 0x12);
    g_assert_cmphex(bus_pio_read(vm, 0x500, 1), ==, 0x12);
    g_assert_cmpuint(vm->irq_lines->len, ==, 1);
    vm_free(vm);
}

static void test_default_machine(void)
{
    LilyVm *vm = test_vm_new();
    char *text = cfg_default_machine_text(vm_registry(vm));
    test_assert_contains(text, "[machine]", "memory = 32M");
    GError *err = NULL;
    g_assert_true(vm_configure_data(vm, text, "<default>", &err));
    g_assert_true(vm_realize(vm, &err));
    g_free(text);
    vm_free(vm);
}

static void test_file(void)
{
    char *path = g_build_filename(g_get_tmp_dir(), "lilyvm-test-config.conf", NULL);
    g_assert_true(g_file_set_contents(path, "[device r]\nplugin = test-regs\nirq = -1\n", -1,
                                      NULL));
    LilyVm *vm = test_vm_new();
    GError *err = NULL;
    g_assert_false(vm_configure_file(vm, path, &err));
    char *where = g_strdup_printf("%s:3", path);
    test_assert_contains(err->message, where, "irq", "'-1'");
    g_free(where);
    g_clear_error(&err);
    g_assert_false(vm_configure_file(vm, "/nonexistent/x.conf", &err));
    test_assert_contains(err->message, "/nonexistent/x.conf", "No such file");
    g_clear_error(&err);
    g_assert_false(vm_configure_file(vm, "/dev/zero", &err));
    test_assert_contains(err->message, "/dev/zero", "larger than");
    g_clear_error(&err);
    g_assert_false(vm_configure_file(vm, "/", &err));
    test_assert_contains(err->message, "/: ");
    g_clear_error(&err);
    vm_free(vm);
    g_unlink(path);
    g_free(path);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/core/config/values", test_values);
    g_test_add_func("/core/config/unset-string", test_unset_string);
    g_test_add_func("/core/config/bad-value", test_bad_value);
    g_test_add_func("/core/config/syntax", test_syntax);
    g_test_add_func("/core/config/whitespace", test_whitespace);
    g_test_add_func("/core/config/unknown-group-key", test_unknown_group_key);
    g_test_add_func("/core/config/plugin-errors", test_plugin_errors);
    g_test_add_func("/core/config/duplicates", test_duplicates);
    g_test_add_func("/core/config/required", test_required);
    g_test_add_func("/core/config/memory-range", test_memory_range);
    g_test_add_func("/core/config/set", test_set);
    g_test_add_func("/core/config/set-machine-unknown", test_set_machine_unknown);
    g_test_add_func("/core/config/cpu-keys", test_cpu_keys);
    g_test_add_func("/core/config/mmu", test_mmu);
    g_test_add_func("/core/config/init-failure", test_init_failure);
    g_test_add_func("/core/config/init-failure-released", test_init_failure_released);
    g_test_add_func("/core/config/default-machine", test_default_machine);
    g_test_add_func("/core/config/file", test_file);
    g_test_add_func("/core/config/garbage", test_garbage);
    return g_test_run();
}
