/*
 * The console and debug-exit plugins in a real VM: machines built from
 * config text by the core (registry, config, bus, IRQ lines, main loop),
 * driven through bus_pio_* and watched through vm_irq_level/vm_exited.
 */
#include "src/core/vm.h"
#include "plugins/console/uart16550.h"
#include "tests/devices/scratch.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <pty.h>
#include <string.h>
#include <termios.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define COM1 0x3f8

static LilyVm *vm_try(const char *conf, GError **error)
{
    LilyVm *vm = vm_new();
    if (vm_load_plugins(vm, error) && vm_configure_data(vm, conf, "devices.conf", error) &&
        vm_realize(vm, error))
        return vm;
    vm_free(vm);
    return NULL;
}

static LilyVm *vm_from(const char *conf)
{
    GError *err = NULL;
    LilyVm *vm = vm_try(conf, &err);
    if (!vm)
        g_error("machine from config failed: %s", err->message);
    return vm;
}

/* The error a config gives; every needle must appear in it. */
static void expect_config_error(const char *conf, const char *const *needles)
{
    GError *err = NULL;
    LilyVm *vm = vm_try(conf, &err);
    g_assert_null(vm);
    g_assert_nonnull(err);
    for (; *needles; needles++) {
        if (!strstr(err->message, *needles))
            g_error("error \"%s\" lacks \"%s\"", err->message, *needles);
    }
    g_error_free(err);
}

static void guest_puts(LilyVm *vm, uint16_t base, const char *s)
{
    for (; *s; s++)
        bus_pio_write(vm, base + UART_THR, 1, (uint8_t)*s);
}

static const char two_uarts[] =
    "[device serial0]\nplugin = console\nbackend = null\n"
    "[device serial1]\nplugin = console\niobase = 0x2f8\nirq = 3\nbackend = null\n";

static void test_vm_console_registers(void)
{
    LilyVm *vm = vm_from(two_uarts);

    g_assert_cmphex(bus_pio_read(vm, COM1 + UART_LSR, 1), ==, UART_LSR_THRE | UART_LSR_TEMT);
    g_assert_cmphex(bus_pio_read(vm, COM1 + UART_IIR, 1), ==, UART_IIR_NO_INT);
    bus_pio_write(vm, COM1 + UART_LCR, 1, UART_LCR_DLAB);
    bus_pio_write(vm, COM1 + UART_DLL, 1, 0x01);
    g_assert_cmphex(bus_pio_read(vm, COM1 + UART_DLL, 1), ==, 0x01);
    bus_pio_write(vm, COM1 + UART_LCR, 1, 0x03);
    g_assert_cmphex(bus_pio_read(vm, COM1 + UART_LCR, 1), ==, 0x03);
    /* The second UART is independent. */
    g_assert_cmphex(bus_pio_read(vm, 0x2f8 + UART_LCR, 1), ==, 0x00);
    vm_free(vm);
}

static void test_vm_console_irq_lines(void)
{
    LilyVm *vm = vm_from(two_uarts);

    g_assert_cmpint(vm_irq_level(vm, 4), ==, 0);
    g_assert_cmpint(vm_irq_level(vm, 3), ==, 0);
    bus_pio_write(vm, COM1 + UART_IER, 1, UART_IER_THRI);
    g_assert_cmpint(vm_irq_level(vm, 4), ==, 1);
    g_assert_cmpint(vm_irq_level(vm, 3), ==, 0);
    bus_pio_write(vm, 0x2f8 + UART_IER, 1, UART_IER_THRI);
    g_assert_cmpint(vm_irq_level(vm, 3), ==, 1);
    g_assert_cmphex(bus_pio_read(vm, COM1 + UART_IIR, 1), ==, UART_IIR_THRI);
    g_assert_cmpint(vm_irq_level(vm, 4), ==, 0);
    g_assert_cmpint(vm_irq_level(vm, 3), ==, 1);
    vm_free(vm);
}

static void test_vm_console_loopback(void)
{
    LilyVm *vm = vm_from(two_uarts);

    bus_pio_write(vm, COM1 + UART_IER, 1, UART_IER_RDI);
    bus_pio_write(vm, COM1 + UART_MCR, 1, UART_MCR_LOOP);
    bus_pio_write(vm, COM1 + UART_THR, 1, 0xae);
    g_assert_cmpint(vm_irq_level(vm, 4), ==, 1);
    g_assert_cmphex(bus_pio_read(vm, COM1 + UART_RBR, 1), ==, 0xae);
    g_assert_cmpint(vm_irq_level(vm, 4), ==, 0);
    vm_free(vm);
}

static void test_vm_console_file(void)
{
    char *dir = scratch_dir("lilyvm-vmtest");
    char *log = g_build_filename(dir, "com1.log", NULL);
    char *conf = g_strdup_printf("[device serial0]\nplugin = console\nbackend = file\n"
                                 "path = %s\n", log);
    char *text = NULL;

    LilyVm *vm = vm_from(conf);
    guest_puts(vm, COM1, "1..1\r\n");
    vm_run_for(vm, 0);
    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "1..1\r\n");
    g_free(text);

    guest_puts(vm, COM1, "ok 1 - unflushed until fini");
    vm_free(vm);
    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "1..1\r\nok 1 - unflushed until fini");
    g_free(text);
    g_free(conf);
    g_free(log);
    scratch_remove(dir);
}

static void test_vm_console_rx_timeout(void)
{
    char *dir = scratch_dir("lilyvm-vmtest");
    char *sock = g_build_filename(dir, "com1.sock", NULL);
    char *conf = g_strdup_printf("[device serial0]\nplugin = console\nbackend = socket\n"
                                 "path = %s\n", sock);

    LilyVm *vm = vm_from(conf);
    bus_pio_write(vm, COM1 + UART_FCR, 1, UART_FCR_ENABLE | 0xc0); /* trigger 14 */
    bus_pio_write(vm, COM1 + UART_IER, 1, UART_IER_RDI);

    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    g_strlcpy(addr.sun_path, sock, sizeof addr.sun_path);
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    g_assert_cmpint(connect(c, (struct sockaddr *)&addr, sizeof addr), ==, 0);
    g_assert_cmpint(write(c, "hey", 3), ==, 3);

    /* Below the trigger level: only the character timeout reports it. */
    for (int i = 0; i < 200 && !vm_irq_level(vm, 4); i++)
        vm_run_for(vm, 10 * 1000 * 1000);
    g_assert_cmpint(vm_irq_level(vm, 4), ==, 1);
    g_assert_cmphex(bus_pio_read(vm, COM1 + UART_IIR, 1), ==, UART_IIR_FIFO | UART_IIR_CTI);
    g_assert_cmphex(bus_pio_read(vm, COM1 + UART_RBR, 1), ==, 'h');
    g_assert_cmphex(bus_pio_read(vm, COM1 + UART_RBR, 1), ==, 'e');
    g_assert_cmphex(bus_pio_read(vm, COM1 + UART_RBR, 1), ==, 'y');
    g_assert_cmpint(vm_irq_level(vm, 4), ==, 0);

    close(c);
    vm_free(vm);
    g_free(conf);
    g_free(sock);
    scratch_remove(dir);
}

/*
 * The stdio console on a terminal in the real main loop: raw while the VM
 * runs, keys reach the guest, Ctrl-A x ends the VM, the terminal is back
 * to normal afterwards.
 */
static void test_vm_console_stdio_tty(void)
{
    int master, slave;
    struct termios t;
    char guest[4] = { 0 };
    int status = -1;

    g_assert_cmpint(openpty(&master, &slave, NULL, NULL, NULL), ==, 0);
    int devnull = open("/dev/null", O_WRONLY);
    int saved_in = dup(STDIN_FILENO), saved_out = dup(STDOUT_FILENO);
    int saved_err = dup(STDERR_FILENO);
    fflush(stdout);
    dup2(slave, STDIN_FILENO);
    dup2(devnull, STDOUT_FILENO);
    dup2(devnull, STDERR_FILENO); /* "terminated from the console" */

    LilyVm *vm = vm_from("[device serial0]\nplugin = console\n");
    tcgetattr(slave, &t);
    bool raw = !(t.c_lflag & (ICANON | ECHO | ISIG));
    bus_pio_write(vm, COM1 + UART_FCR, 1, UART_FCR_ENABLE);
    g_assert_cmpint(write(master, "hi", 2), ==, 2);
    for (int i = 0; i < 200 && !(bus_pio_read(vm, COM1 + UART_LSR, 1) & UART_LSR_DR); i++)
        vm_run_for(vm, 10 * 1000 * 1000);
    guest[0] = (char)bus_pio_read(vm, COM1 + UART_RBR, 1);
    guest[1] = (char)bus_pio_read(vm, COM1 + UART_RBR, 1);
    g_assert_cmpint(write(master, "\001x", 2), ==, 2);
    for (int i = 0; i < 200 && !vm_exited(vm, NULL); i++)
        vm_run_for(vm, 10 * 1000 * 1000);
    gboolean exited = vm_exited(vm, &status);
    vm_free(vm);
    tcgetattr(slave, &t);
    bool cooked = (t.c_lflag & ICANON) && (t.c_lflag & ECHO) && (t.c_lflag & ISIG);

    dup2(saved_in, STDIN_FILENO);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_in);
    close(saved_out);
    close(saved_err);
    close(devnull);
    close(slave);
    close(master);

    g_assert_true(raw);
    g_assert_cmpstr(guest, ==, "hi");
    g_assert_true(exited);
    g_assert_cmpint(status, ==, 0);
    g_assert_true(cooked);
}

static void test_vm_console_bad_backend(void)
{
    const char *const needles[] = { "devices.conf:3", "backend", "'tcp'",
                                    "stdio, file, socket, pty, null", NULL };
    expect_config_error("[device serial0]\nplugin = console\nbackend = tcp\n", needles);
}

static void test_vm_console_bad_iobase(void)
{
    const char *const needles[] = { "devices.conf:3", "iobase", "0x10000", NULL };
    expect_config_error("[device serial0]\nplugin = console\niobase = 0x10000\n"
                        "backend = null\n", needles);
}

static void test_vm_console_needs_path(void)
{
    const char *const needles[] = { "serial0", "backend = file needs path = FILE", NULL };
    expect_config_error("[device serial0]\nplugin = console\nbackend = file\n", needles);
}

static void test_vm_console_port_conflict(void)
{
    const char *const needles[] = { "0x3f8", "serial0", NULL };
    expect_config_error("[device serial0]\nplugin = console\nbackend = null\n"
                        "[device serial1]\nplugin = console\nbackend = null\n", needles);
}

static void test_vm_console_one_stdio(void)
{
    const char *const needles[] = { "serial1", "already uses backend = stdio", NULL };
    expect_config_error("[device serial0]\nplugin = console\nescape = none\n"
                        "[device serial1]\nplugin = console\niobase = 0x2f8\n", needles);
}

static const char debug_exit_conf[] = "[device debug-exit]\nplugin = debug-exit\n";

static void test_vm_debug_exit_plain(void)
{
    LilyVm *vm = vm_from(debug_exit_conf);
    int status = -1;

    g_assert_false(vm_exited(vm, &status));
    bus_pio_write(vm, 0xf4, 1, 5);
    g_assert_true(vm_exited(vm, &status));
    g_assert_cmpint(status, ==, 5);
    vm_free(vm);
}

static void test_vm_debug_exit_outl(void)
{
    /* The guest SDK writes its code with outl to a one-port device. */
    LilyVm *vm = vm_from(debug_exit_conf);
    int status = -1;

    bus_pio_write(vm, 0xf4, 4, 0);
    g_assert_true(vm_exited(vm, &status));
    g_assert_cmpint(status, ==, 0);
    vm_free(vm);
}

static void test_vm_debug_exit_qemu(void)
{
    LilyVm *vm = vm_from("[device debug-exit]\nplugin = debug-exit\nstatus = qemu\n");
    int status = -1;

    bus_pio_write(vm, 0xf4, 4, 1);
    g_assert_true(vm_exited(vm, &status));
    g_assert_cmpint(status, ==, 3);
    vm_free(vm);
}

static void test_vm_debug_exit_ends_run(void)
{
    LilyVm *vm = vm_from(debug_exit_conf);
    int status = -1;

    bus_pio_write(vm, 0xf4, 1, 9);
    /* The loop returns at once: a minute-long run would time the test out. */
    vm_run_for(vm, UINT64_C(60) * 1000 * 1000 * 1000);
    g_assert_true(vm_exited(vm, &status));
    g_assert_cmpint(status, ==, 9);
    vm_free(vm);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/devices/vm/console/registers", test_vm_console_registers);
    g_test_add_func("/devices/vm/console/irq-lines", test_vm_console_irq_lines);
    g_test_add_func("/devices/vm/console/loopback", test_vm_console_loopback);
    g_test_add_func("/devices/vm/console/file-backend", test_vm_console_file);
    g_test_add_func("/devices/vm/console/rx-timeout", test_vm_console_rx_timeout);
    g_test_add_func("/devices/vm/console/stdio-tty", test_vm_console_stdio_tty);
    g_test_add_func("/devices/vm/console/bad-backend", test_vm_console_bad_backend);
    g_test_add_func("/devices/vm/console/bad-iobase", test_vm_console_bad_iobase);
    g_test_add_func("/devices/vm/console/needs-path", test_vm_console_needs_path);
    g_test_add_func("/devices/vm/console/port-conflict", test_vm_console_port_conflict);
    g_test_add_func("/devices/vm/console/one-stdio", test_vm_console_one_stdio);
    g_test_add_func("/devices/vm/debug-exit/plain", test_vm_debug_exit_plain);
    g_test_add_func("/devices/vm/debug-exit/outl", test_vm_debug_exit_outl);
    g_test_add_func("/devices/vm/debug-exit/qemu-status", test_vm_debug_exit_qemu);
    g_test_add_func("/devices/vm/debug-exit/ends-run", test_vm_debug_exit_ends_run);
    return g_test_run();
}
