/*
 * The console and debug-exit plugins as the core sees them: loaded from
 * build/plugins with dlopen, configured through their option tables, driven
 * through their I/O ports and host descriptors by a fake host (fakehost.c).
 */
#define _GNU_SOURCE
#include "tests/devices/fakehost.h"
#include "plugins/console/uart16550.h"
#include "tests/devices/scratch.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define COM1 0x3f8

static FakeHost *console_with(const char *const *settings)
{
    FakeHost *fh = fake_host_new("console");
    GError *err = NULL;
    if (!fake_host_realize(fh, settings, &err))
        g_error("realize console: %s", err->message);
    return fh;
}

static void guest_puts(FakeHost *fh, const char *s)
{
    for (; *s; s++)
        fake_pio_write(fh, COM1 + UART_THR, 1, (uint8_t)*s);
}

/* Read what arrives on fd within about a second, up to len bytes. */
static size_t read_some(int fd, char *buf, size_t len, size_t want)
{
    size_t got = 0;
    for (int tries = 0; tries < 100 && got < want; tries++) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (poll(&pfd, 1, 10) <= 0)
            continue;
        ssize_t n = read(fd, buf + got, len - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    g_strlcpy(addr.sun_path, path, sizeof addr.sun_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&addr, sizeof addr), ==, 0);
    return fd;
}

/* --- console: configuration ------------------------------------------------ */

static void test_console_descriptor(void)
{
    FakeHost *fh = fake_host_new("console");
    const LilyPluginDesc *d = fake_host_desc(fh);

    g_assert_cmpstr(d->name, ==, "console");
    g_assert_cmpint(d->kind, ==, LILY_PLUGIN_DEVICE);
    g_assert_cmpuint(d->abi_major, ==, LILYVM_ABI_MAJOR);
    g_assert_cmpuint(d->size, ==, sizeof(LilyPluginDesc));
    g_assert_cmpstr(d->options[0].name, ==, "iobase");
    g_assert_cmpstr(d->options[0].def, ==, "0x3f8");
    g_assert_cmpstr(d->options[1].name, ==, "irq");
    g_assert_cmpstr(d->options[1].def, ==, "4");
    g_assert_cmpstr(d->options[2].name, ==, "backend");
    const char *const *names = d->options[2].enum_values;
    g_assert_cmpstr(names[0], ==, "stdio");
    g_assert_cmpstr(names[4], ==, "null");
    g_assert_null(names[5]);
    fake_host_free(fh);
}

static void test_console_claims_eight_ports(void)
{
    const char *const set[] = { "backend=null", NULL };
    FakeHost *fh = console_with(set);

    g_assert_cmphex(fake_pio_read(fh, COM1 + UART_LSR, 1), ==,
                    UART_LSR_THRE | UART_LSR_TEMT);
    fake_pio_write(fh, COM1 + UART_SCR, 1, 0x5a);
    g_assert_cmphex(fake_pio_read(fh, COM1 + UART_SCR, 1), ==, 0x5a);
    g_assert_cmphex(fake_pio_read(fh, COM1 + 8, 1), ==, 0xff);
    g_assert_cmphex(fake_pio_read(fh, COM1 - 1, 1), ==, 0xff);
    fake_host_free(fh);
}

static void test_console_iobase_option(void)
{
    const char *const set[] = { "backend=null", "iobase=0x2f8", "irq=3", NULL };
    FakeHost *fh = console_with(set);

    g_assert_cmphex(fake_pio_read(fh, COM1 + UART_LSR, 1), ==, 0xff);
    g_assert_cmphex(fake_pio_read(fh, 0x2f8 + UART_LSR, 1), ==,
                    UART_LSR_THRE | UART_LSR_TEMT);
    fake_host_free(fh);
}

static void test_console_wide_access(void)
{
    const char *const set[] = { "backend=null", NULL };
    FakeHost *fh = console_with(set);

    /* A 16-bit write at LCR sets LCR and MCR, as two byte cycles would. */
    fake_pio_write(fh, COM1 + UART_LCR, 2, 0x0b03);
    g_assert_cmphex(fake_pio_read(fh, COM1 + UART_LCR, 1), ==, 0x03);
    g_assert_cmphex(fake_pio_read(fh, COM1 + UART_MCR, 1), ==, 0x0b);
    g_assert_cmphex(fake_pio_read(fh, COM1 + UART_LCR, 2), ==, 0x0b03);
    fake_host_free(fh);
}

static void test_console_irq_line(void)
{
    const char *const set[] = { "backend=null", "irq=3", NULL };
    FakeHost *fh = console_with(set);

    g_assert_cmpint(fake_irq_level(fh, 3), ==, 0);
    fake_pio_write(fh, COM1 + UART_IER, 1, UART_IER_THRI);
    g_assert_cmpint(fake_irq_level(fh, 3), ==, 1);
    g_assert_cmpint(fake_irq_level(fh, 4), ==, 0);
    g_assert_cmphex(fake_pio_read(fh, COM1 + UART_IIR, 1), ==, UART_IIR_THRI);
    g_assert_cmpint(fake_irq_level(fh, 3), ==, 0);
    guest_puts(fh, "x");
    g_assert_cmpint(fake_irq_level(fh, 3), ==, 1);
    g_assert_cmpuint(fake_irq_rises(fh, 3), ==, 2);
    fake_host_free(fh);
}

static void expect_realize_error(const char *const *set, const char *needle)
{
    FakeHost *fh = fake_host_new("console");
    GError *err = NULL;

    g_assert_false(fake_host_realize(fh, set, &err));
    g_assert_nonnull(err);
    if (!strstr(err->message, needle))
        g_error("error '%s' does not mention '%s'", err->message, needle);
    g_error_free(err);
    fake_host_free(fh);
}

static void test_console_file_needs_path(void)
{
    const char *const set[] = { "backend=file", NULL };
    expect_realize_error(set, "needs path");
}

static void test_console_socket_needs_path(void)
{
    const char *const set[] = { "backend=socket", NULL };
    expect_realize_error(set, "needs path");
}

static void test_console_path_not_for_null(void)
{
    const char *const set[] = { "backend=null", "path=/tmp/x", NULL };
    expect_realize_error(set, "no meaning with backend = null");
}

static void test_console_bad_escape(void)
{
    const char *const set[] = { "backend=null", "escape=alt-x", NULL };
    expect_realize_error(set, "ctrl-a ... ctrl-z");
}

static void test_console_unwritable_log(void)
{
    const char *const set[] = { "backend=file", "path=/nonexistent-dir/log", NULL };
    expect_realize_error(set, "/nonexistent-dir/log");
}

static void test_console_socket_path_is_file(void)
{
    char *dir = scratch_dir("lilyvm-devtest");
    char *path = g_build_filename(dir, "plain-file", NULL);
    g_assert_true(g_file_set_contents(path, "x", 1, NULL));
    char *opt = g_strdup_printf("path=%s", path);
    const char *const set[] = { "backend=socket", opt, NULL };

    expect_realize_error(set, "is not a socket");
    g_free(opt);
    g_free(path);
    scratch_remove(dir);
}

/* --- console: file backend ------------------------------------------------- */

static void test_console_file_backend(void)
{
    char *dir = scratch_dir("lilyvm-devtest");
    char *log = g_build_filename(dir, "serial.log", NULL);
    char *opt = g_strdup_printf("path=%s", log);
    const char *const set[] = { "backend=file", opt, NULL };
    char *text = NULL;
    gsize len = 0;

    g_assert_true(g_file_set_contents(log, "earlier run\n", -1, NULL));
    FakeHost *fh = console_with(set);
    guest_puts(fh, "hello\r\n");
    static const char rep[] = "rep outsb";
    fake_pio_write_rep(fh, COM1 + UART_THR, 1, rep, sizeof rep - 1);
    fake_host_free(fh); /* fini flushes */

    g_assert_true(g_file_get_contents(log, &text, &len, NULL));
    g_assert_cmpstr(text, ==, "earlier run\nhello\r\nrep outsb");
    g_free(text);
    g_free(opt);
    g_free(log);
    scratch_remove(dir);
}

static void test_console_file_flush_in_loop(void)
{
    char *dir = scratch_dir("lilyvm-devtest");
    char *log = g_build_filename(dir, "serial.log", NULL);
    char *opt = g_strdup_printf("path=%s", log);
    const char *const set[] = { "backend=file", opt, NULL };
    char *text = NULL;

    FakeHost *fh = console_with(set);
    guest_puts(fh, "no newline yet");
    g_assert_cmpuint(fake_host_watch_count(fh), ==, 1);
    fake_host_poll(fh, 0);
    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "no newline yet");
    /* Nothing left to write: no watch keeps the loop busy. */
    g_assert_cmpuint(fake_host_watch_count(fh), ==, 0);
    g_assert_cmpuint(fake_host_stat(fh, "tx_bytes"), ==, strlen(text));
    g_free(text);
    fake_host_free(fh);
    g_free(opt);
    g_free(log);
    scratch_remove(dir);
}

/* --- console: socket backend ------------------------------------------------ */

typedef struct SocketConsole {
    char *dir, *path, *opt;
    FakeHost *fh;
} SocketConsole;

static void socket_console_open(SocketConsole *sc, const char *extra)
{
    sc->dir = scratch_dir("lilyvm-devtest");
    sc->path = g_build_filename(sc->dir, "console.sock", NULL);
    sc->opt = g_strdup_printf("path=%s", sc->path);
    const char *const set[] = { "backend=socket", sc->opt, extra, NULL };
    sc->fh = console_with(set);
}

static void socket_console_close(SocketConsole *sc)
{
    fake_host_free(sc->fh);
    g_assert_false(g_file_test(sc->path, G_FILE_TEST_EXISTS)); /* fini unlinked it */
    g_free(sc->opt);
    g_free(sc->path);
    scratch_remove(sc->dir);
}

static void test_console_socket_backlog(void)
{
    SocketConsole sc;
    char buf[64];

    socket_console_open(&sc, NULL);
    guest_puts(sc.fh, "boot messages\n"); /* nobody attached yet */
    int c = connect_unix(sc.path);
    fake_host_poll(sc.fh, 100);
    size_t n = read_some(c, buf, sizeof buf, 14);
    g_assert_cmpmem(buf, n, "boot messages\n", 14);

    guest_puts(sc.fh, "later");
    fake_host_poll(sc.fh, 0);
    n = read_some(c, buf, sizeof buf, 5);
    g_assert_cmpmem(buf, n, "later", 5);
    close(c);
    socket_console_close(&sc);
}

static void test_console_socket_input(void)
{
    SocketConsole sc;

    socket_console_open(&sc, NULL);
    int c = connect_unix(sc.path);
    fake_host_poll(sc.fh, 100);
    g_assert_cmpint(write(c, "hi", 2), ==, 2);
    fake_pio_write(sc.fh, COM1 + UART_FCR, 1, UART_FCR_ENABLE);
    fake_host_poll(sc.fh, 100);
    fake_host_poll(sc.fh, 10);
    g_assert_cmphex(fake_pio_read(sc.fh, COM1 + UART_LSR, 1) & UART_LSR_DR, ==, UART_LSR_DR);
    g_assert_cmphex(fake_pio_read(sc.fh, COM1 + UART_RBR, 1), ==, 'h');
    g_assert_cmphex(fake_pio_read(sc.fh, COM1 + UART_RBR, 1), ==, 'i');
    g_assert_cmphex(fake_pio_read(sc.fh, COM1 + UART_LSR, 1) & UART_LSR_DR, ==, 0);
    close(c);
    socket_console_close(&sc);
}

static void test_console_socket_one_client(void)
{
    SocketConsole sc;
    char buf[128];

    socket_console_open(&sc, NULL);
    int c1 = connect_unix(sc.path);
    fake_host_poll(sc.fh, 100);
    int c2 = connect_unix(sc.path);
    fake_host_poll(sc.fh, 100);
    size_t n = read_some(c2, buf, sizeof buf - 1, sizeof buf - 1);
    buf[n] = '\0';
    g_assert_nonnull(strstr(buf, "already has a client"));

    guest_puts(sc.fh, "first");
    fake_host_poll(sc.fh, 0);
    n = read_some(c1, buf, sizeof buf, 5);
    g_assert_cmpmem(buf, n, "first", 5);
    close(c1);
    close(c2);
    socket_console_close(&sc);
}

static void test_console_socket_reconnect(void)
{
    SocketConsole sc;
    char buf[64];

    socket_console_open(&sc, NULL);
    int c1 = connect_unix(sc.path);
    fake_host_poll(sc.fh, 100);
    close(c1);
    fake_host_poll(sc.fh, 100); /* notices the hang-up */
    guest_puts(sc.fh, "for the next one");
    int c2 = connect_unix(sc.path);
    fake_host_poll(sc.fh, 100);
    size_t n = read_some(c2, buf, sizeof buf, 16);
    g_assert_cmpmem(buf, n, "for the next one", 16);
    close(c2);
    socket_console_close(&sc);
}

static void test_console_socket_backlog_bounded(void)
{
    SocketConsole sc;
    char buf[300];

    socket_console_open(&sc, "buffer=256");
    for (int i = 0; i < 100; i++)
        guest_puts(sc.fh, "0123456789");
    guest_puts(sc.fh, "END");
    int c = connect_unix(sc.path);
    fake_host_poll(sc.fh, 100);
    size_t n = read_some(c, buf, sizeof buf, 256);
    /* The newest 256 bytes survived. */
    g_assert_cmpuint(n, ==, 256);
    g_assert_cmpmem(buf + 253, 3, "END", 3);
    g_assert_cmpuint(fake_host_stat(sc.fh, "tx_discarded"), ==, 1003 - 256);
    close(c);
    socket_console_close(&sc);
}

static void test_console_rx_backpressure(void)
{
    SocketConsole sc;
    char in[40];

    socket_console_open(&sc, NULL);
    fake_pio_write(sc.fh, COM1 + UART_FCR, 1, UART_FCR_ENABLE);
    int c = connect_unix(sc.path);
    fake_host_poll(sc.fh, 100);
    for (unsigned i = 0; i < sizeof in; i++)
        in[i] = (char)('a' + i % 26);
    g_assert_cmpint(write(c, in, sizeof in), ==, sizeof in);
    fake_host_poll(sc.fh, 100);
    fake_host_poll(sc.fh, 10);
    /* Only what fits was taken from the host; the rest waits in the socket. */
    g_assert_cmpuint(fake_host_stat(sc.fh, "rx_bytes"), ==, UART_FIFO_SIZE);

    for (unsigned i = 0; i < sizeof in; i++) {
        if (i % UART_FIFO_SIZE == 0 && i > 0) {
            fake_host_poll(sc.fh, 100);
        }
        g_assert_cmphex(fake_pio_read(sc.fh, COM1 + UART_LSR, 1) & UART_LSR_DR, ==, UART_LSR_DR);
        g_assert_cmphex(fake_pio_read(sc.fh, COM1 + UART_RBR, 1), ==, (uint8_t)in[i]);
    }
    g_assert_cmphex(fake_pio_read(sc.fh, COM1 + UART_LSR, 1) & (UART_LSR_DR | UART_LSR_OE), ==, 0);
    close(c);
    socket_console_close(&sc);
}

static void test_console_rx_timeout(void)
{
    SocketConsole sc;

    socket_console_open(&sc, NULL);
    fake_pio_write(sc.fh, COM1 + UART_FCR, 1, UART_FCR_ENABLE | 0x80); /* trigger 8 */
    fake_pio_write(sc.fh, COM1 + UART_IER, 1, UART_IER_RDI);
    int c = connect_unix(sc.path);
    fake_host_poll(sc.fh, 100);
    g_assert_cmpint(write(c, "abc", 3), ==, 3);
    fake_host_poll(sc.fh, 100);
    g_assert_cmpint(fake_irq_level(sc.fh, 4), ==, 0);
    /* Four character times at 9600 baud are about 4.2 ms of VM time. */
    fake_clock_advance(sc.fh, 10 * 1000 * 1000);
    g_assert_cmpint(fake_irq_level(sc.fh, 4), ==, 1);
    g_assert_cmphex(fake_pio_read(sc.fh, COM1 + UART_IIR, 1), ==, UART_IIR_FIFO | UART_IIR_CTI);
    close(c);
    socket_console_close(&sc);
}

/* --- console: pty backend ----------------------------------------------------- */

static void test_console_pty(void)
{
    char *dir = scratch_dir("lilyvm-devtest");
    char *link = g_build_filename(dir, "tty", NULL);
    char *opt = g_strdup_printf("path=%s", link);
    const char *const set[] = { "backend=pty", opt, NULL };
    char buf[32];

    FakeHost *fh = console_with(set);
    char *target = g_file_read_link(link, NULL);
    g_assert_nonnull(target);
    g_assert_true(g_str_has_prefix(target, "/dev/pts/"));
    int t = open(link, O_RDWR | O_NOCTTY);
    g_assert_cmpint(t, >=, 0);

    g_assert_cmpint(write(t, "k", 1), ==, 1);
    fake_host_poll(fh, 200);
    g_assert_cmphex(fake_pio_read(fh, COM1 + UART_RBR, 1), ==, 'k');

    guest_puts(fh, "pty\n");
    fake_host_poll(fh, 0);
    size_t n = read_some(t, buf, sizeof buf, 4);
    /* Raw mode: the newline arrives untranslated. */
    g_assert_cmpmem(buf, n, "pty\n", 4);

    close(t);
    fake_host_free(fh);
    g_assert_false(g_file_test(link, G_FILE_TEST_IS_SYMLINK));
    g_free(target);
    g_free(opt);
    g_free(link);
    scratch_remove(dir);
}

/* --- console: stdio backend --------------------------------------------------- */

/* Swap fds 0, 1 and 2 for others and back, keeping the test's own. */
typedef struct StdioSwap {
    int saved[3];
} StdioSwap;

static void stdio_swap_in(StdioSwap *s, int in, int out, int err)
{
    int fds[3] = { in, out, err };
    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < 3; i++) {
        s->saved[i] = dup(i);
        g_assert_cmpint(dup2(fds[i], i), ==, i);
    }
}

static void stdio_swap_out(StdioSwap *s)
{
    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < 3; i++) {
        dup2(s->saved[i], i);
        close(s->saved[i]);
    }
}

static void test_console_stdio_escape(void)
{
    int in[2], out[2], err[2];
    StdioSwap swap;
    char guest[16], outbuf[64], errbuf[1024];
    int nguest = 0, status = -1;
    gboolean exited = FALSE;

    g_assert_cmpint(pipe(in), ==, 0);
    g_assert_cmpint(pipe(out), ==, 0);
    g_assert_cmpint(pipe(err), ==, 0);
    /* a, Ctrl-A Ctrl-A, b, Ctrl-A h, c, Ctrl-A x, d (never delivered) */
    static const char keys[] = "a\x01\x01" "b\x01hc\x01xd";
    g_assert_cmpint(write(in[1], keys, sizeof keys - 1), ==, sizeof keys - 1);
    close(in[1]);

    stdio_swap_in(&swap, in[0], out[1], err[1]);
    const char *const set[] = { "backend=stdio", NULL };
    FakeHost *fh = fake_host_new("console");
    GError *error = NULL;
    gboolean ok = fake_host_realize(fh, set, &error);
    if (ok) {
        fake_pio_write(fh, COM1 + UART_FCR, 1, UART_FCR_ENABLE);
        fake_host_poll(fh, 100);
        fake_host_poll(fh, 10);
        while (nguest < (int)sizeof guest &&
               (fake_pio_read(fh, COM1 + UART_LSR, 1) & UART_LSR_DR))
            guest[nguest++] = (char)fake_pio_read(fh, COM1 + UART_RBR, 1);
        guest_puts(fh, "ok\n");
        exited = fake_host_exited(fh, &status);
    }
    fake_host_free(fh);
    stdio_swap_out(&swap);
    close(in[0]);
    close(out[1]);
    close(err[1]);

    g_assert_no_error(error);
    g_assert_true(exited);
    g_assert_cmpint(status, ==, 0);
    g_assert_cmpmem(guest, nguest, "a\x01" "bc", 4);
    size_t n = read_some(out[0], outbuf, sizeof outbuf, 3);
    g_assert_cmpmem(outbuf, n, "ok\n", 3);
    n = read_some(err[0], errbuf, sizeof errbuf - 1, sizeof errbuf - 1);
    errbuf[n] = '\0';
    g_assert_nonnull(strstr(errbuf, "Ctrl-A"));
    g_assert_nonnull(strstr(errbuf, "terminated"));
    close(out[0]);
    close(err[0]);
}

static void test_console_stdio_no_escape(void)
{
    int in[2], out[2];
    StdioSwap swap;
    char guest[8];
    int nguest = 0;

    g_assert_cmpint(pipe(in), ==, 0);
    g_assert_cmpint(pipe(out), ==, 0);
    g_assert_cmpint(write(in[1], "\x01x", 2), ==, 2);
    close(in[1]);

    stdio_swap_in(&swap, in[0], out[1], STDERR_FILENO);
    const char *const set[] = { "backend=stdio", "escape=none", NULL };
    FakeHost *fh = console_with(set);
    fake_pio_write(fh, COM1 + UART_FCR, 1, UART_FCR_ENABLE);
    fake_host_poll(fh, 100);
    while (nguest < (int)sizeof guest && (fake_pio_read(fh, COM1 + UART_LSR, 1) & UART_LSR_DR))
        guest[nguest++] = (char)fake_pio_read(fh, COM1 + UART_RBR, 1);
    gboolean exited = fake_host_exited(fh, NULL);
    fake_host_free(fh);
    stdio_swap_out(&swap);
    close(in[0]);
    close(out[0]);
    close(out[1]);

    g_assert_false(exited);
    g_assert_cmpmem(guest, nguest, "\x01x", 2);
}

/*
 * A slow reader on stdout: the guest sees THRE go to 0 instead of output
 * being lost, the VM does not block, and every byte arrives in order.
 */
static void test_console_stdio_slow_reader(void)
{
    enum { TOTAL = 20000 };
    int in[2], out[2];
    StdioSwap swap;
    static uint8_t got[TOTAL];
    size_t sent = 0, received = 0;
    bool saw_backpressure = false;

    g_assert_cmpint(pipe(in), ==, 0);
    close(in[1]);
    g_assert_cmpint(pipe(out), ==, 0);
    g_assert_cmpint(fcntl(out[1], F_SETPIPE_SZ, 4096), >=, 4096);
    g_assert_cmpint(fcntl(out[0], F_SETFL, O_NONBLOCK), ==, 0);

    stdio_swap_in(&swap, in[0], out[1], STDERR_FILENO);
    const char *const set[] = { "backend=stdio", "buffer=256", NULL };
    FakeHost *fh = console_with(set);
    fake_pio_write(fh, COM1 + UART_FCR, 1, UART_FCR_ENABLE);
    for (int round = 0; round < 100000 && received < TOTAL; round++) {
        /* A polling guest: write while THRE says there is room. */
        while (sent < TOTAL && (fake_pio_read(fh, COM1 + UART_LSR, 1) & UART_LSR_THRE))
            fake_pio_write(fh, COM1 + UART_THR, 1, (uint8_t)(sent++ * 7 % 251));
        if (sent < TOTAL)
            saw_backpressure = true;
        fake_host_poll(fh, 0);
        /* The reader takes a little at a time. */
        ssize_t n = read(out[0], got + received, MIN(1000, TOTAL - received));
        if (n > 0)
            received += (size_t)n;
    }
    uint64_t dropped = fake_host_stat(fh, "tx_dropped");
    fake_host_free(fh);
    stdio_swap_out(&swap);
    close(in[0]);
    close(out[0]);
    close(out[1]);

    g_assert_true(saw_backpressure);
    g_assert_cmpuint(dropped, ==, 0);
    g_assert_cmpuint(received, ==, TOTAL);
    for (size_t i = 0; i < TOTAL; i++)
        g_assert_cmpuint(got[i], ==, i * 7 % 251);
}

/* Start a console on a pty as stdin; returns the pty's slave for inspection. */
static FakeHost *console_on_tty(int *master, int *slave, StdioSwap *swap, int devnull)
{
    g_assert_cmpint(openpty(master, slave, NULL, NULL, NULL), ==, 0);
    stdio_swap_in(swap, *slave, devnull, STDERR_FILENO);
    const char *const set[] = { "backend=stdio", NULL };
    return console_with(set);
}

static bool tty_is_cooked(int fd)
{
    struct termios t;
    g_assert_cmpint(tcgetattr(fd, &t), ==, 0);
    return (t.c_lflag & ICANON) && (t.c_lflag & ECHO) && (t.c_lflag & ISIG);
}

static void test_console_stdio_raw_tty(void)
{
    int master, slave, devnull = open("/dev/null", O_WRONLY);
    StdioSwap swap;

    FakeHost *fh = console_on_tty(&master, &slave, &swap, devnull);
    bool raw_while_running = !tty_is_cooked(slave);
    fake_host_free(fh);
    bool cooked_after = tty_is_cooked(slave);
    stdio_swap_out(&swap);

    g_assert_true(raw_while_running);
    g_assert_true(cooked_after);
    close(master);
    close(slave);
    close(devnull);
}

/* LeakSanitizer's switch, when the test is built with it. */
extern void __lsan_disable(void) __attribute__((weak));

/* The terminal comes back when the process ends without fini. */
static void check_restore_in_child(int how)
{
    int master, slave, devnull = open("/dev/null", O_WRONLY);
    g_assert_cmpint(openpty(&master, &slave, NULL, NULL, NULL), ==, 0);
    g_assert_true(tty_is_cooked(slave));

    pid_t pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        /* Ending without fini leaks the console on purpose. */
        if (__lsan_disable)
            __lsan_disable();
        dup2(slave, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO);
        dup2(devnull, STDERR_FILENO); /* a sanitizer's crash report */
        FakeHost *fh = fake_host_new("console");
        const char *const set[] = { "backend=stdio", NULL };
        if (!fake_host_realize(fh, set, NULL) || tty_is_cooked(slave))
            _exit(99);
        if (how == 0)
            exit(7);
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        raise(how);
        _exit(98);
    }
    int status;
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    if (how == 0) {
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 7);
    } else if (WIFSIGNALED(status)) {
        g_assert_cmpint(WTERMSIG(status), ==, how);
    } else {
        /* A crash handler installed before ours (a sanitizer's) ended it. */
        g_assert_true(how == SIGSEGV && WIFEXITED(status) && WEXITSTATUS(status) != 0 &&
                      WEXITSTATUS(status) < 98);
    }
    g_assert_true(tty_is_cooked(slave));
    close(master);
    close(slave);
    close(devnull);
}

/* A signal the process ignores does not take the terminal out of raw mode. */
static void test_console_stdio_ignored_signal(void)
{
    int master, slave, devnull = open("/dev/null", O_WRONLY);
    g_assert_cmpint(openpty(&master, &slave, NULL, NULL, NULL), ==, 0);

    pid_t pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        if (__lsan_disable)
            __lsan_disable();
        signal(SIGPIPE, SIG_IGN);
        dup2(slave, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO);
        FakeHost *fh = fake_host_new("console");
        const char *const set[] = { "backend=stdio", NULL };
        if (!fake_host_realize(fh, set, NULL))
            _exit(99);
        raise(SIGPIPE);
        _exit(tty_is_cooked(slave) ? 1 : 0);
    }
    int status;
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    close(master);
    close(slave);
    close(devnull);
}

/*
 * In the background of a terminal's session the console leaves the terminal
 * alone (tcsetattr would stop the process with SIGTTOU) and reads nothing.
 */
static void test_console_stdio_background(void)
{
    int master, slave, devnull = open("/dev/null", O_WRONLY);
    g_assert_cmpint(openpty(&master, &slave, NULL, NULL, NULL), ==, 0);

    pid_t pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        /* A session with the pty as its terminal, this process in front... */
        if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
            _exit(97);
        pid_t bg = fork();
        if (bg == 0) {
            /* ...and this one in a background process group. */
            if (__lsan_disable)
                __lsan_disable();
            setpgid(0, 0);
            signal(SIGTTOU, SIG_DFL);
            dup2(slave, STDIN_FILENO);
            dup2(devnull, STDOUT_FILENO);
            dup2(devnull, STDERR_FILENO);
            FakeHost *fh = fake_host_new("console");
            const char *const set[] = { "backend=stdio", NULL };
            if (!fake_host_realize(fh, set, NULL))
                _exit(99);
            bool untouched = tty_is_cooked(slave);
            bool no_input = fake_host_watch_count(fh) == 0;
            _exit(untouched && no_input ? 0 : 1);
        }
        int st;
        if (bg < 0 || waitpid(bg, &st, WUNTRACED) != bg)
            _exit(96);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 95);
    }
    int status;
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    close(master);
    close(slave);
    close(devnull);
}

static void test_console_stdio_restore_on_exit(void)
{
    check_restore_in_child(0);
}

static void test_console_stdio_restore_on_sigterm(void)
{
    check_restore_in_child(SIGTERM);
}

static void test_console_stdio_restore_on_sigsegv(void)
{
    check_restore_in_child(SIGSEGV);
}

/* --- debug-exit ------------------------------------------------------------------ */

static FakeHost *debug_exit_with(const char *const *settings)
{
    FakeHost *fh = fake_host_new("debug-exit");
    GError *err = NULL;
    if (!fake_host_realize(fh, settings, &err))
        g_error("realize debug-exit: %s", err->message);
    return fh;
}

static void test_debug_exit_descriptor(void)
{
    FakeHost *fh = fake_host_new("debug-exit");
    const LilyPluginDesc *d = fake_host_desc(fh);

    g_assert_cmpstr(d->name, ==, "debug-exit");
    g_assert_cmpint(d->kind, ==, LILY_PLUGIN_DEVICE);
    g_assert_cmpstr(d->options[0].name, ==, "iobase");
    g_assert_cmpstr(d->options[0].def, ==, "0xf4");
    g_assert_cmpstr(d->options[1].name, ==, "iosize");
    g_assert_cmpstr(d->options[1].def, ==, "1");
    g_assert_cmpstr(d->options[2].name, ==, "status");
    g_assert_cmpstr(d->options[2].def, ==, "plain");
    fake_host_free(fh);
}

static void test_debug_exit_plain(void)
{
    FakeHost *fh = debug_exit_with(NULL);
    int status = -1;

    g_assert_false(fake_host_exited(fh, &status));
    g_assert_cmphex(fake_pio_read(fh, 0xf4, 1), ==, 0);
    fake_pio_write(fh, 0xf4, 1, 42);
    g_assert_true(fake_host_exited(fh, &status));
    g_assert_cmpint(status, ==, 42);
    fake_host_free(fh);
}

static void test_debug_exit_plain_zero(void)
{
    FakeHost *fh = debug_exit_with(NULL);
    int status = -1;

    fake_pio_write(fh, 0xf4, 1, 0);
    g_assert_true(fake_host_exited(fh, &status));
    g_assert_cmpint(status, ==, 0);
    fake_host_free(fh);
}

static void test_debug_exit_qemu(void)
{
    const char *const set[] = { "status=qemu", NULL };
    FakeHost *fh = debug_exit_with(set);
    int status = -1;

    fake_pio_write(fh, 0xf4, 1, 0x10);
    g_assert_true(fake_host_exited(fh, &status));
    g_assert_cmpint(status, ==, 0x21);
    fake_host_free(fh);
}

static void test_debug_exit_iosize(void)
{
    const char *const set[] = { "iosize=4", NULL };
    FakeHost *fh = debug_exit_with(set);
    int status = -1;

    g_assert_cmphex(fake_pio_read(fh, 0xf8, 1), ==, 0xff); /* not claimed */
    fake_pio_write(fh, 0xf7, 1, 3);
    g_assert_true(fake_host_exited(fh, &status));
    g_assert_cmpint(status, ==, 3);
    fake_host_free(fh);
}

static void test_debug_exit_access_size(void)
{
    const char *const set[] = { "iosize=2", NULL };
    FakeHost *fh = debug_exit_with(set);
    int status = -1;

    /* A byte write only carries the low byte of the register value. */
    fake_pio_write(fh, 0xf4, 1, 0x1234);
    g_assert_true(fake_host_exited(fh, &status));
    g_assert_cmpint(status, ==, 0x34);
    fake_host_free(fh);
}

static void test_debug_exit_iobase(void)
{
    const char *const set[] = { "iobase=0x501", NULL };
    FakeHost *fh = debug_exit_with(set);
    int status = -1;

    fake_pio_write(fh, 0xf4, 1, 1);
    g_assert_false(fake_host_exited(fh, &status));
    fake_pio_write(fh, 0x501, 1, 1);
    g_assert_true(fake_host_exited(fh, &status));
    g_assert_cmpint(status, ==, 1);
    fake_host_free(fh);
}

static void test_debug_exit_bad_iosize(void)
{
    const char *const set[] = { "iosize=5", NULL };
    FakeHost *fh = fake_host_new("debug-exit");
    GError *err = NULL;

    g_assert_false(fake_host_realize(fh, set, &err));
    g_assert_nonnull(err);
    g_error_free(err);
    fake_host_free(fh);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* A socket client that went away must not kill the test with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);

    g_test_add_func("/console/plugin/descriptor", test_console_descriptor);
    g_test_add_func("/console/plugin/claims-eight-ports", test_console_claims_eight_ports);
    g_test_add_func("/console/plugin/iobase-option", test_console_iobase_option);
    g_test_add_func("/console/plugin/wide-access", test_console_wide_access);
    g_test_add_func("/console/plugin/irq-line", test_console_irq_line);
    g_test_add_func("/console/config/file-needs-path", test_console_file_needs_path);
    g_test_add_func("/console/config/socket-needs-path", test_console_socket_needs_path);
    g_test_add_func("/console/config/path-not-for-null", test_console_path_not_for_null);
    g_test_add_func("/console/config/bad-escape", test_console_bad_escape);
    g_test_add_func("/console/config/unwritable-log", test_console_unwritable_log);
    g_test_add_func("/console/config/socket-path-is-file", test_console_socket_path_is_file);
    g_test_add_func("/console/file/appends", test_console_file_backend);
    g_test_add_func("/console/file/flush-in-loop", test_console_file_flush_in_loop);
    g_test_add_func("/console/socket/backlog", test_console_socket_backlog);
    g_test_add_func("/console/socket/backlog-bounded", test_console_socket_backlog_bounded);
    g_test_add_func("/console/socket/input", test_console_socket_input);
    g_test_add_func("/console/socket/one-client", test_console_socket_one_client);
    g_test_add_func("/console/socket/reconnect", test_console_socket_reconnect);
    g_test_add_func("/console/rx/backpressure", test_console_rx_backpressure);
    g_test_add_func("/console/rx/timeout", test_console_rx_timeout);
    g_test_add_func("/console/pty/link-and-data", test_console_pty);
    g_test_add_func("/console/stdio/escape-keys", test_console_stdio_escape);
    g_test_add_func("/console/stdio/escape-none", test_console_stdio_no_escape);
    g_test_add_func("/console/stdio/slow-reader", test_console_stdio_slow_reader);
    g_test_add_func("/console/stdio/raw-tty", test_console_stdio_raw_tty);
    g_test_add_func("/console/stdio/ignored-signal", test_console_stdio_ignored_signal);
    g_test_add_func("/console/stdio/background", test_console_stdio_background);
    g_test_add_func("/console/stdio/restore-on-exit", test_console_stdio_restore_on_exit);
    g_test_add_func("/console/stdio/restore-on-sigterm", test_console_stdio_restore_on_sigterm);
    g_test_add_func("/console/stdio/restore-on-sigsegv", test_console_stdio_restore_on_sigsegv);
    g_test_add_func("/debug-exit/plugin/descriptor", test_debug_exit_descriptor);
    g_test_add_func("/debug-exit/plugin/plain", test_debug_exit_plain);
    g_test_add_func("/debug-exit/plugin/plain-zero", test_debug_exit_plain_zero);
    g_test_add_func("/debug-exit/plugin/qemu-status", test_debug_exit_qemu);
    g_test_add_func("/debug-exit/plugin/iosize", test_debug_exit_iosize);
    g_test_add_func("/debug-exit/plugin/access-size", test_debug_exit_access_size);
    g_test_add_func("/debug-exit/plugin/iobase", test_debug_exit_iobase);
    g_test_add_func("/debug-exit/config/bad-iosize", test_debug_exit_bad_iosize);
    return g_test_run();
}
