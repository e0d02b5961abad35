/* The lilyvm program: informational options, exit statuses and messages. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tests/core/testutil.h"

typedef struct Run {
    int status;
    char *out, *err;
} Run;

static char *tmpdir;

/* Run build/lilyvm with args (NULL-terminated) and the test plugins on the path. */
static Run run_lilyvm(const char *first, ...)
{
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, (char *)TEST_LILYVM);
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        g_ptr_array_add(argv, (char *)a);
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    char **env = g_get_environ();
    env = g_environ_setenv(env, "LILYVM_PLUGIN_PATH", TEST_PLUGIN_DIR, TRUE);
    Run r = { 0 };
    GError *err = NULL;
    int wait_status = 0;
    if (!g_spawn_sync(NULL, (char **)argv->pdata, env, G_SPAWN_DEFAULT, NULL, NULL, &r.out,
                      &r.err, &wait_status, &err))
        g_error("cannot run %s: %s", TEST_LILYVM, err->message);
    g_assert_true(WIFEXITED(wait_status));
    r.status = WEXITSTATUS(wait_status);
    g_strfreev(env);
    g_ptr_array_free(argv, TRUE);
    return r;
}

static void run_free(Run *r)
{
    g_free(r->out);
    g_free(r->err);
}

static char *write_conf(const char *name, const char *text)
{
    char *path = g_build_filename(tmpdir, name, NULL);
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    return path;
}

static void test_version(void)
{
    Run r = run_lilyvm("--version", NULL);
    g_assert_cmpint(r.status, ==, 0);
    test_assert_contains(r.out, "lilyvm ", "plugin ABI 1.");
    run_free(&r);
}

static void test_help(void)
{
    Run r = run_lilyvm("--help", NULL);
    g_assert_cmpint(r.status, ==, 0);
    test_assert_contains(r.out, "--list-plugins", "--describe", "--set", "125", "124");
    run_free(&r);
}

static void test_list(void)
{
    Run r = run_lilyvm("--list-plugins", NULL);
    g_assert_cmpint(r.status, ==, 0);
    test_assert_contains(r.out, "test-regs", "device", "Register file for the core tests",
                         "test-chip", "irqchip", "test-net", "netdev");
    run_free(&r);
}

/* The table of --list-plugins stays one line per plugin on a terminal:
 * every description fits in 80 columns.  The core's test plugins and
 * debug-exit must; another plugin over it marks the test TODO by name. */
static void test_list_width(void)
{
    Run r = run_lilyvm("--list-plugins", NULL);
    g_assert_cmpint(r.status, ==, 0);
    char **lines = g_strsplit(r.out, "\n", -1);
    GString *long_ones = g_string_new(NULL);
    int n = 0;
    for (char **l = lines; *l; l++) {
        if (!**l)
            continue;
        size_t len = strlen(*l);
        g_assert_cmpuint(len, >, 26);  /* "%-16s %-8s " then the description */
        size_t width = len - 26;
        if (g_str_has_prefix(*l, "test-") || g_str_has_prefix(*l, "debug-exit "))
            g_assert_cmpuint(width, <=, 80);
        else if (width > 80)
            g_string_append_printf(long_ones, "%s%.*s (%zu characters)",
                                   long_ones->len ? ", " : "", (int)strcspn(*l, " "), *l,
                                   width);
        n++;
    }
    g_assert_cmpint(n, >, 0);
    if (long_ones->len) {
        char *msg = g_strdup_printf("descriptions over 80 columns: %s", long_ones->str);
        g_test_incomplete(msg);
        g_free(msg);
    }
    g_string_free(long_ones, TRUE);
    g_strfreev(lines);
    run_free(&r);
}

static void test_describe(void)
{
    Run r = run_lilyvm("--describe", "test-regs", NULL);
    g_assert_cmpint(r.status, ==, 0);
    test_assert_contains(r.out, "test-regs", "iobase", "int", "default 0x500", "0..65520",
                         "first port", "mode", "alpha, beta, gamma", "fwd", "hostfwd list",
                         "label", "no default");
    run_free(&r);
    r = run_lilyvm("--describe", "test-strict", NULL);
    test_assert_contains(r.out, "tag", "required");
    run_free(&r);
    r = run_lilyvm("--describe", "machine", NULL);
    g_assert_cmpint(r.status, ==, 0);
    test_assert_contains(r.out, "memory", "default 32M", "from 1M to 3G", "kernel", "cpu",
                         "pcap");
    run_free(&r);
    r = run_lilyvm("--describe", "nope", NULL);
    g_assert_cmpint(r.status, ==, LILYVM_EXIT_CONFIG);
    test_assert_contains(r.err, "nope", "no such plugin", "test-regs");
    run_free(&r);
}

static void test_bad_config(void)
{
    char *conf = write_conf("bad.conf", "[machine]\nmemory = 32M\n\n[device r]\n"
                                        "plugin = test-regs\nirq = 64\n");
    Run r = run_lilyvm("-c", conf, NULL);
    g_assert_cmpint(r.status, ==, LILYVM_EXIT_CONFIG);
    char *where = g_strdup_printf("%s:6", conf);
    test_assert_contains(r.err, where, "[device r]", "irq", "'64'", "0..63");
    g_free(where);
    run_free(&r);
    g_free(conf);
}

static void test_bad_command_line(void)
{
    Run r = run_lilyvm("--no-such-option", NULL);
    g_assert_cmpint(r.status, ==, LILYVM_EXIT_CONFIG);
    test_assert_contains(r.err, "no-such-option");
    run_free(&r);
    r = run_lilyvm("--set", "nonsense", NULL);
    g_assert_cmpint(r.status, ==, LILYVM_EXIT_CONFIG);
    test_assert_contains(r.err, "--set", "GROUP.KEY=VALUE");
    run_free(&r);
    r = run_lilyvm("-c", "/nonexistent.conf", NULL);
    g_assert_cmpint(r.status, ==, LILYVM_EXIT_CONFIG);
    test_assert_contains(r.err, "/nonexistent.conf");
    run_free(&r);
}

static void test_no_kernel(void)
{
    char *conf = write_conf("nokernel.conf", "[device r]\nplugin = test-regs\n");
    Run r = run_lilyvm("-c", conf, NULL);
    g_assert_cmpint(r.status, ==, LILYVM_EXIT_CONFIG);
    test_assert_contains(r.err, "no kernel", "--kernel");
    run_free(&r);
    r = run_lilyvm("-c", conf, "--kernel", "/nonexistent.elf", NULL);
    g_assert_cmpint(r.status, ==, LILYVM_EXIT_CONFIG);
    test_assert_contains(r.err, "/nonexistent.elf");
    run_free(&r);
    r = run_lilyvm("-c", conf, "--kernel", TEST_LILYVM, NULL);  /* a 64-bit ELF */
    g_assert_cmpint(r.status, ==, LILYVM_EXIT_CONFIG);
    test_assert_contains(r.err, "kernel");
    run_free(&r);
    g_free(conf);
}

static int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The loader's message already names the file: "kernel F: F: ..." would
 * repeat it.  Each refused image is named once, with status 125. */
static void test_kernel_message(void)
{
    char *conf = write_conf("kmsg.conf", "[device r]\nplugin = test-regs\n");
    char *junk = write_conf("junk.elf", "this is not an ELF file\n");
    const char *images[] = { junk, TEST_LILYVM, "/nonexistent.elf" };
    for (size_t i = 0; i < G_N_ELEMENTS(images); i++) {
        Run r = run_lilyvm("-c", conf, "--kernel", images[i], NULL);
        g_assert_cmpint(r.status, ==, LILYVM_EXIT_CONFIG);
        char *want = g_strdup_printf("kernel %s: ", images[i]);
        test_assert_contains(r.err, want);
        g_assert_cmpint(count_of(r.err, images[i]), ==, 1);
        g_free(want);
        run_free(&r);
    }
    g_free(junk);
    g_free(conf);
}

static void test_no_cpu(void)
{
    const char *kernel = TEST_SRC_DIR "/build/guest/testkernel-lily.elf";
    if (!g_file_test(kernel, G_FILE_TEST_EXISTS)) {
        g_test_skip("build/guest/testkernel-lily.elf is not built");
        return;
    }
    char *conf = write_conf("nocpu.conf", "[device r]\nplugin = test-regs\n");
    char *log = g_build_filename(tmpdir, "nocpu.log", NULL);
    Run r = run_lilyvm("-c", conf, "--kernel", kernel, "--set", "machine.cpu=none",
                       "--stats", "-d", "r,registry", "--log-file", log, NULL);
    g_assert_cmpint(r.status, ==, LILYVM_EXIT_NO_CPU);
    test_assert_contains(r.err, "cpu = none", "cannot run", "entry 0x", "r (test-regs)",
                         "0x500-0x50f", "core.pio_reads");
    char *text = NULL;
    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    test_assert_contains(text, "r: debug: initialised", "registry: debug: loaded");
    g_free(text);
    run_free(&r);
    r = run_lilyvm("-c", conf, "--kernel", kernel, "--set", "machine.cpu=none", "-d",
                    "nosuchcat", NULL);
    g_assert_cmpint(r.status, ==, LILYVM_EXIT_CONFIG);
    test_assert_contains(r.err, "unknown log category 'nosuchcat'", "registry", "r");
    run_free(&r);
    g_unlink(log);
    g_free(log);
    g_free(conf);
}

static const char *test_kernel(void)
{
    static const char kernel[] = TEST_SRC_DIR "/build/guest/testkernel-lily.elf";
    return g_file_test(kernel, G_FILE_TEST_EXISTS) ? kernel : NULL;
}

static void test_guest_exit(void)
{
    const char *kernel = test_kernel();
    if (!kernel) {
        g_test_skip("build/guest/testkernel-lily.elf is not built");
        return;
    }
    char *conf = write_conf("run.conf", "[machine]\ncpu = test-cpu\n"
                                        "[device r]\nplugin = test-regs\n");
    Run r = run_lilyvm("-c", conf, "--kernel", kernel, "--set", "machine.exit=3",
                       "--set", "machine.transport=ptrace", NULL);
    g_assert_cmpint(r.status, ==, 3);  /* the status the "guest" asked for */
    test_assert_contains(r.err, "test-cpu: ready transport=ptrace booted=1",
                         "eax=0x2badb002", "test-cpu: fini");
    run_free(&r);
    r = run_lilyvm("-c", conf, "--kernel", kernel, "--set", "machine.fail=on", NULL);
    g_assert_cmpint(r.status, ==, LILYVM_EXIT_CRASH);
    test_assert_contains(r.err, "failing as asked", "test-cpu: fini");
    run_free(&r);
    g_free(conf);
}

static bool build_plugin(const char *name)
{
    char *path = g_strdup_printf("%s/build/plugins/%s.so", TEST_SRC_DIR, name);
    bool ok = g_file_test(path, G_FILE_TEST_EXISTS);
    g_free(path);
    return ok;
}

static void test_default_machine(void)
{
    const char *kernel = test_kernel();
    if (!kernel) {
        g_test_skip("build/guest/testkernel-lily.elf is not built");
        return;
    }
    /* Without -c: the default PC from whatever plugins exist, checked, not run. */
    bool console = build_plugin("console");
    Run r = console ? run_lilyvm("--kernel", kernel, "--set", "machine.cpu=none", "--set",
                                 "serial0.backend=null", NULL)
                    : run_lilyvm("--kernel", kernel, "--set", "machine.cpu=none", NULL);
    g_assert_cmpint(r.status, ==, LILYVM_EXIT_NO_CPU);
    test_assert_contains(r.err, "32 MiB");
    if (console)
        test_assert_contains(r.err, "serial0 (console)", "0x3f8-0x3ff (serial0)");
    if (build_plugin("pic-i8259"))
        test_assert_contains(r.err, "pic (pic-i8259)", "0x20-0x21 (pic)", "0xa0-0xa1 (pic)");
    if (build_plugin("pit-i8254"))
        test_assert_contains(r.err, "pit (pit-i8254)", "0x40-0x43 (pit)");
    if (build_plugin("debug-exit"))
        test_assert_contains(r.err, "debug-exit (debug-exit)", "0xf4-0xf4");
    if (build_plugin("nic-ne2000") && build_plugin("net-socket"))
        test_assert_contains(r.err, "nic0 (nic-ne2000)", "net0 (net-socket)", "0x300-0x31f");
    run_free(&r);
}

static void on_alarm(int sig)
{
    static const char msg[] = "Bail out! lilyvm did not end after SIGTERM\n";
    if (write(1, msg, sizeof msg - 1) < 0)
        _exit(1);
    _exit(1);
}

static void test_signal(void)
{
    const char *kernel = test_kernel();
    if (!kernel) {
        g_test_skip("build/guest/testkernel-lily.elf is not built");
        return;
    }
    char *conf = write_conf("sig.conf", "[machine]\ncpu = test-cpu\n");
    const char *argv[] = { TEST_LILYVM, "-c", conf, "--kernel", kernel, "--stats", NULL };
    char **env = g_environ_setenv(g_get_environ(), "LILYVM_PLUGIN_PATH", TEST_PLUGIN_DIR,
                                  TRUE);
    GPid pid;
    int err_fd;
    GError *err = NULL;
    g_assert_true(g_spawn_async_with_pipes(NULL, (char **)argv, env, G_SPAWN_DO_NOT_REAP_CHILD,
                                           NULL, NULL, &pid, NULL, NULL, &err_fd, &err));
    signal(SIGALRM, on_alarm);
    alarm(60);
    /* Wait until the VM runs (the CPU said ready), then ask it to stop. */
    GString *text = g_string_new(NULL);
    char buf[256];
    ssize_t n;
    while (!strstr(text->str, "ready") && text->len < 65536 &&
           (n = read(err_fd, buf, sizeof buf)) > 0)
        g_string_append_len(text, buf, n);
    test_assert_contains(text->str, "test-cpu: ready");
    /* SIGUSR1 prints the counters and the VM goes on. */
    g_assert_cmpint(kill(pid, SIGUSR1), ==, 0);
    while (!strstr(text->str, "core.timers_fired") && text->len < 65536 &&
           (n = read(err_fd, buf, sizeof buf)) > 0)
        g_string_append_len(text, buf, n);
    test_assert_contains(text->str, "lilyvm statistics:", "core.pio_reads");
    g_assert_null(strstr(text->str, "fini_calls"));  /* nothing has stopped yet */
    int status = 0;
    g_assert_cmpint(waitpid(pid, &status, WNOHANG), ==, 0);
    g_assert_cmpint(kill(pid, SIGTERM), ==, 0);
    while (text->len < 65536 && (n = read(err_fd, buf, sizeof buf)) > 0)
        g_string_append_len(text, buf, n);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    alarm(0);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 128 + SIGTERM);
    test_assert_contains(text->str, "test-cpu: fini");  /* every fini ran */
    /* The exit report comes after the plugins stopped: it has what the
     * CPU counted in its fini. */
    const char *fini = strstr(text->str, "test-cpu: fini");
    g_assert_nonnull(strstr(fini, "fini_calls"));
    g_assert_true(g_regex_match_simple("fini_calls +1\\n", fini, 0, 0));
    close(err_fd);
    g_string_free(text, TRUE);
    g_strfreev(env);
    g_free(conf);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("lilyvm-cli-XXXXXX", NULL);
    g_assert_nonnull(tmpdir);
    g_test_add_func("/core/cli/version", test_version);
    g_test_add_func("/core/cli/help", test_help);
    g_test_add_func("/core/cli/list-plugins", test_list);
    g_test_add_func("/core/cli/list-width", test_list_width);
    g_test_add_func("/core/cli/describe", test_describe);
    g_test_add_func("/core/cli/bad-config", test_bad_config);
    g_test_add_func("/core/cli/bad-command-line", test_bad_command_line);
    g_test_add_func("/core/cli/no-kernel", test_no_kernel);
    g_test_add_func("/core/cli/kernel-message", test_kernel_message);
    g_test_add_func("/core/cli/no-cpu", test_no_cpu);
    g_test_add_func("/core/cli/default-machine", test_default_machine);
    g_test_add_func("/core/cli/guest-exit", test_guest_exit);
    g_test_add_func("/core/cli/signal", test_signal);
    int rc = g_test_run();
    const char *names[] = { "bad.conf", "nokernel.conf", "nocpu.conf", "run.conf", "sig.conf",
                            NULL };
    for (const char **n = names; *n; n++) {
        char *p = g_build_filename(tmpdir, *n, NULL);
        g_unlink(p);
        g_free(p);
    }
    g_rmdir(tmpdir);
    g_free(tmpdir);
    return rc;
}
