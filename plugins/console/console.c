/*
 * The console plugin: a 16550A UART (uart16550.c) on eight I/O ports and one
 * IRQ line, connected to a host backend (backend.c) through the VM's main
 * loop.
 *
 * DOC: Data paths
 *
 * Guest to host: the UART hands each transmitted byte to con_transmit(),
 * which appends it to a bounded ring (the "buffer" option).  The ring is
 * written out when the output descriptor is writable, at once after a
 * newline, and completely in fini.  When the ring is full the byte stays in
 * the UART's transmit FIFO, THRE reads 0 and a well-behaved guest waits; a
 * guest that writes into a full transmitter anyway makes the console flush
 * synchronously, so output is not lost to a slow reader.  The socket backend
 * is the exception while no client is attached: the ring then keeps the
 * latest output for the next client and drops the oldest bytes, so a guest
 * never stalls because nobody is listening.
 *
 * Host to guest: the input descriptor is watched only while the receive
 * FIFO has room, and at most that many bytes are read, so input waits in
 * the host (tty, pipe or socket buffer) instead of being dropped.  On stdio
 * the escape character (Ctrl-A by default) introduces console commands, as
 * in QEMU: Ctrl-A x quits, Ctrl-A b sends a break, Ctrl-A h shows help and
 * Ctrl-A Ctrl-A sends Ctrl-A itself.
 */
#define _GNU_SOURCE
#include <lilyvm/lilyvm.h>

#include "plugins/console/backend.h"
#include "plugins/console/uart16550.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONSOLE_PORTS 8
/* How long a guest that ignores THRE may hold the VM waiting for a reader. */
#define CONSOLE_FLUSH_WAIT_MS 1000
/* Largest write() to a descriptor that may block (see con_out_ready()). */
#define CONSOLE_WRITE_CHUNK 4096
/* poll()'s "not an open descriptor" (G_IO_NVAL), not among the LILY_IO_ bits. */
#define CONSOLE_IO_NVAL 0x20u

/* Order of the option table. */
enum {
    OPT_IOBASE,
    OPT_IRQ,
    OPT_BACKEND,
    OPT_PATH,
    OPT_ESCAPE,
    OPT_BUFFER,
};

typedef struct Console Console;

/* One watched host descriptor; in_cb while its own callback runs. */
typedef struct ConsoleWatch {
    Console *con;
    int fd;
    LilyWatch *watch;
    unsigned events;
    bool in_cb;
} ConsoleWatch;

/* Bounded ring of output bytes on their way to the host. */
typedef struct ConsoleRing {
    uint8_t *data;
    size_t cap, head, len;
} ConsoleRing;

struct Console {
    LilyInstance *inst;
    const LilyHost *host;
    Uart16550 uart;
    LilyIrqLine *irq;
    LilyTimer *rx_timer;
    ConsoleBackend be;

    ConsoleWatch w_in, w_out, w_listen; /* w_out unused when in_fd == out_fd */
    bool input_open;    /* false after EOF on the input descriptor */
    bool output_broken; /* a write error: further output is discarded */
    bool exiting;       /* the user quit through the escape key */
    bool stalled;       /* a waiting flush timed out; no waiting until it drains */

    ConsoleRing ring;
    int escape;         /* the escape character, -1: none */
    bool escape_seen;

    uint64_t tx_dropped; /* guest output the console had to drop */
    bool warned_drop;
};

static const char *const console_escape_help =
    "\r\nConsole escape keys (%s then):\r\n"
    "  x   quit LilyVM\r\n"
    "  b   send a break to the guest\r\n"
    "  h   show this help\r\n"
    "  %s  send %s itself\r\n";

/* --- output ring --------------------------------------------------------- */

static bool ring_full(const ConsoleRing *r)
{
    return r->len == r->cap;
}

static void ring_push(ConsoleRing *r, uint8_t byte)
{
    r->data[(r->head + r->len) % r->cap] = byte;
    r->len++;
}

static void ring_consume(ConsoleRing *r, size_t n)
{
    r->head = (r->head + n) % r->cap;
    r->len -= n;
    if (r->len == 0)
        r->head = 0;
}

/* The oldest bytes as one contiguous chunk. */
static size_t ring_chunk(const ConsoleRing *r, const uint8_t **p)
{
    size_t until_wrap = r->cap - r->head;
    *p = r->data + r->head;
    return r->len < until_wrap ? r->len : until_wrap;
}

/* --- watches -------------------------------------------------------------- */

static gboolean con_watch_ready(int fd, unsigned revents, void *opaque);

static void watch_apply(ConsoleWatch *w, int fd, unsigned events)
{
    const LilyHost *host = w->con->host;

    if (w->in_cb) {
        /* con_watch_ready() applies it when the callback returns. */
        w->fd = fd;
        w->events = events;
        return;
    }
    if (w->watch && (fd != w->fd || events == 0)) {
        host->fd_watch_remove(w->watch);
        w->watch = NULL;
    }
    w->fd = fd;
    if (fd < 0 || events == 0) {
        w->events = 0;
        return;
    }
    if (!w->watch)
        w->watch = host->fd_watch(w->con->inst, fd, events, con_watch_ready, w);
    else if (events != w->events)
        host->fd_watch_update(w->watch, events);
    w->events = events;
}

/* Watch exactly what can make progress now. */
static void con_sync_watches(Console *con)
{
    ConsoleBackend *be = &con->be;
    bool want_in = be->in_fd >= 0 && con->input_open && !con->exiting &&
                   uart_rx_room(&con->uart) > 0;
    bool want_out = be->out_fd >= 0 && con->ring.len > 0 && !con->output_broken;
    unsigned in_events = want_in ? LILY_IO_IN : 0;
    unsigned out_events = want_out ? LILY_IO_OUT : 0;

    if (be->in_fd >= 0 && be->in_fd == be->out_fd) {
        watch_apply(&con->w_in, be->in_fd, in_events | out_events);
    } else {
        watch_apply(&con->w_in, be->in_fd, in_events);
        watch_apply(&con->w_out, be->out_fd, out_events);
    }
    if (be->listen_fd >= 0)
        watch_apply(&con->w_listen, be->listen_fd, LILY_IO_IN);
}

/* --- guest to host -------------------------------------------------------- */

static void con_note_drop(Console *con, uint64_t n)
{
    con->tx_dropped += n;
    con->host->stat_add(con->inst, "tx_dropped", n);
    if (!con->warned_drop) {
        con->warned_drop = true;
        con->host->log(con->inst, LILY_LOG_WARN,
                       "guest output is being dropped (%s)",
                       con->output_broken ? "the output failed"
                                          : "the guest overran the transmitter");
    }
}

static void con_client_gone(Console *con)
{
    console_backend_drop_client(&con->be);
    con->host->log(con->inst, LILY_LOG_INFO, "socket client disconnected");
}

/*
 * May a write() on fd go ahead without blocking?  stdout cannot be switched
 * to O_NONBLOCK without changing it for every process that shares it, so
 * poll first and write at most CONSOLE_WRITE_CHUNK bytes: a pipe or tty that
 * polls writable takes that much without blocking.
 */
static bool con_out_ready(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLOUT };

    if (poll(&pfd, 1, 0) < 0)
        return errno != EINTR && errno != EAGAIN;
    return pfd.revents != 0; /* errors surface through write() */
}

/*
 * Write out what the ring holds without blocking.  Return: false when the
 * descriptor would block.
 */
static bool con_flush(Console *con)
{
    ConsoleBackend *be = &con->be;
    uint64_t written = 0;
    bool more = true;

    while (con->ring.len > 0 && be->out_fd >= 0 && !con->output_broken) {
        const uint8_t *p;
        size_t len = ring_chunk(&con->ring, &p);
        ssize_t n;
        if (be->kind == CONSOLE_BACKEND_SOCKET) {
            n = send(be->out_fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        } else if (con_out_ready(be->out_fd)) {
            n = write(be->out_fd, p, MIN(len, (size_t)CONSOLE_WRITE_CHUNK));
        } else {
            n = -1;
            errno = EAGAIN;
        }
        if (n > 0) {
            ring_consume(&con->ring, (size_t)n);
            written += (uint64_t)n;
            con->stalled = false;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            more = false;
            break;
        }
        if (be->kind == CONSOLE_BACKEND_SOCKET) {
            con_client_gone(con);
            break;
        }
        con->host->log(con->inst, LILY_LOG_ERROR, "writing the console output failed: %s",
                       n < 0 ? g_strerror(errno) : "nothing written");
        con->output_broken = true;
        con_note_drop(con, con->ring.len);
        ring_consume(&con->ring, con->ring.len);
    }
    if (written)
        con->host->stat_add(con->inst, "tx_bytes", written);
    return more;
}

/*
 * Flush, waiting up to CONSOLE_FLUSH_WAIT_MS for a descriptor that blocks.
 * After one wait timed out, later calls do not wait again until the reader
 * has taken something: a reader that is gone must not cost a second a byte.
 */
static void con_flush_wait(Console *con)
{
    gint64 deadline = g_get_monotonic_time() + CONSOLE_FLUSH_WAIT_MS * 1000;

    while (!con_flush(con)) {
        gint64 left_ms = (deadline - g_get_monotonic_time()) / 1000;
        if (con->stalled)
            break;
        if (left_ms <= 0) {
            con->stalled = true;
            break;
        }
        struct pollfd pfd = { .fd = con->be.out_fd, .events = POLLOUT };
        if (poll(&pfd, 1, (int)left_ms) < 0 && errno != EINTR)
            break;
    }
}

static bool con_transmit(void *opaque, uint8_t byte, bool wait)
{
    Console *con = opaque;
    ConsoleBackend *be = &con->be;

    if (be->kind == CONSOLE_BACKEND_NULL) {
        con->host->stat_add(con->inst, "tx_bytes", 1);
        return true;
    }
    if (con->output_broken) {
        con_note_drop(con, 1);
        return true;
    }
    if (be->kind == CONSOLE_BACKEND_SOCKET && be->out_fd < 0) {
        /* Nobody attached: keep the latest output for the next client. */
        if (ring_full(&con->ring)) {
            ring_consume(&con->ring, 1);
            con->host->stat_add(con->inst, "tx_discarded", 1);
        }
        ring_push(&con->ring, byte);
        return true;
    }
    if (ring_full(&con->ring)) {
        con_flush(con);
        if (ring_full(&con->ring) && wait)
            con_flush_wait(con);
        if (ring_full(&con->ring)) {
            con_sync_watches(con);
            if (wait)
                con_note_drop(con, 1);
            return false;
        }
    }
    ring_push(&con->ring, byte);
    if (byte == '\n')
        con_flush(con); /* whole lines reach the user at once */
    con_sync_watches(con);
    return true;
}

/* --- host to guest ------------------------------------------------------- */

static void con_print_help(Console *con)
{
    char key[16];

    g_snprintf(key, sizeof key, "Ctrl-%c", con->escape + '@');
    con_flush(con);
    char *text = g_strdup_printf(console_escape_help, key, key, key);
    ssize_t unused = write(STDERR_FILENO, text, strlen(text));
    (void)unused;
    g_free(text);
}

/*
 * Apply the escape keys to n bytes of input in place.  Return: how many
 * bytes remain for the guest (never more than n).
 */
static size_t con_escape(Console *con, uint8_t *buf, size_t n)
{
    size_t out = 0;

    for (size_t i = 0; i < n && !con->exiting; i++) {
        uint8_t c = buf[i];
        if (!con->escape_seen) {
            if ((int)c == con->escape)
                con->escape_seen = true;
            else
                buf[out++] = c;
            continue;
        }
        con->escape_seen = false;
        if ((int)c == con->escape) {
            buf[out++] = c;
        } else if (c == 'x' || c == 'X') {
            static const char bye[] = "\r\nlilyvm: terminated from the console\r\n";
            con->exiting = true;
            con_flush(con);
            ssize_t unused = write(STDERR_FILENO, bye, sizeof bye - 1);
            (void)unused;
            con->host->vm_exit(con->inst, 0);
        } else if (c == 'b' || c == 'B') {
            /* Deliver what came before the break first. */
            size_t taken = uart_receive(&con->uart, buf, out);
            if (taken < out)
                memmove(buf, buf + taken, out - taken);
            out -= taken;
            if (out == 0)
                uart_receive_break(&con->uart);
        } else if (c == 'h' || c == 'H' || c == '?') {
            con_print_help(con);
        }
        /* Anything else after the escape key is ignored, as in QEMU. */
    }
    return out;
}

static void con_read_input(Console *con)
{
    ConsoleBackend *be = &con->be;
    uint8_t buf[UART_FIFO_SIZE];
    size_t room = uart_rx_room(&con->uart);
    ssize_t n;

    if (room == 0 || be->in_fd < 0 || !con->input_open || con->exiting)
        return;
    if (room > sizeof buf)
        room = sizeof buf;
    if (be->kind == CONSOLE_BACKEND_SOCKET)
        n = recv(be->in_fd, buf, room, MSG_DONTWAIT);
    else
        n = read(be->in_fd, buf, room);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (be->kind == CONSOLE_BACKEND_SOCKET) {
            con_client_gone(con);
            return;
        }
        con->host->log(con->inst, LILY_LOG_WARN, "reading console input failed: %s; "
                       "input closed", g_strerror(errno));
        con->input_open = false;
        return;
    }
    if (n == 0) {
        if (be->kind == CONSOLE_BACKEND_SOCKET) {
            con_client_gone(con);
        } else {
            con->host->log(con->inst, LILY_LOG_DEBUG, "end of console input");
            con->input_open = false;
        }
        return;
    }
    con->host->stat_add(con->inst, "rx_bytes", (uint64_t)n);
    size_t len = (size_t)n;
    if (con->escape >= 0)
        len = con_escape(con, buf, len);
    uart_receive(&con->uart, buf, len);
}

static void con_accept(Console *con)
{
    if (console_backend_accept(&con->be) < 0)
        return;
    con->host->log(con->inst, LILY_LOG_INFO, "socket client connected on %s",
                   con->be.path);
    con->input_open = true;
    con_flush(con); /* the backlog */
}

static gboolean con_watch_ready(int fd, unsigned revents, void *opaque)
{
    ConsoleWatch *w = opaque;
    Console *con = w->con;
    ConsoleBackend *be = &con->be;

    w->in_cb = true;
    if (w == &con->w_listen) {
        con_accept(con);
    } else {
        /* Errors and hang-ups show up as a failing read() or write(). */
        unsigned trouble = LILY_IO_HUP | LILY_IO_ERR | CONSOLE_IO_NVAL;
        if (fd == be->in_fd && (revents & (LILY_IO_IN | trouble)))
            con_read_input(con);
        if (fd == be->out_fd && (revents & (LILY_IO_OUT | trouble)))
            con_flush(con);
        if (fd == be->out_fd && uart_tx_pending(&con->uart) > 0 && !ring_full(&con->ring))
            uart_tx_drain(&con->uart);
    }
    con_sync_watches(con);
    w->in_cb = false;

    /* Apply what con_sync_watches() decided for this very watch. */
    if (w->fd != fd || w->events == 0) {
        w->watch = NULL;
        w->events = 0;
        /* Another descriptor took this slot (a new socket client). */
        if (w->fd >= 0 && w->fd != fd)
            con_sync_watches(con);
        return FALSE;
    }
    con->host->fd_watch_update(w->watch, w->events);
    return TRUE;
}

/* --- UART glue ------------------------------------------------------------ */

static void con_set_irq(void *opaque, bool level)
{
    Console *con = opaque;
    con->host->irq_set(con->irq, level);
}

static void con_rx_ready(void *opaque)
{
    con_sync_watches(opaque);
}

static void con_rx_timer(void *opaque, uint64_t ns)
{
    Console *con = opaque;

    if (!con->rx_timer)
        return; /* uart_init() during con_init(), before the timer exists */
    if (ns == 0)
        con->host->timer_del(con->rx_timer);
    else
        con->host->timer_mod(con->rx_timer, con->host->clock_ns(con->inst) + ns);
}

static void con_rx_timeout(void *opaque)
{
    Console *con = opaque;
    uart_rx_timeout(&con->uart);
}

static const UartOps con_uart_ops = {
    .set_irq = con_set_irq,
    .transmit = con_transmit,
    .rx_ready = con_rx_ready,
    .rx_timer = con_rx_timer,
};

/* The UART is an 8-bit device: wider accesses reach consecutive registers. */
static uint32_t con_pio_read(void *opaque, uint64_t offset, unsigned size)
{
    Console *con = opaque;
    uint32_t value = 0;

    for (unsigned i = 0; i < size && offset + i < CONSOLE_PORTS; i++)
        value |= (uint32_t)uart_read(&con->uart, (unsigned)(offset + i)) << (8 * i);
    return value;
}

static void con_pio_write(void *opaque, uint64_t offset, unsigned size, uint32_t value)
{
    Console *con = opaque;

    for (unsigned i = 0; i < size && offset + i < CONSOLE_PORTS; i++)
        uart_write(&con->uart, (unsigned)(offset + i), (uint8_t)(value >> (8 * i)));
}

/* rep outsb to THR: the usual way a guest prints a string in one trap. */
static void con_pio_write_rep(void *opaque, uint64_t offset, unsigned size,
                              const void *buf, uint32_t count)
{
    const uint8_t *p = buf;

    for (uint32_t i = 0; i < count; i++, p += size) {
        uint32_t v = 0;
        memcpy(&v, p, size);
        con_pio_write(opaque, offset, size, v);
    }
}

static void con_pio_read_rep(void *opaque, uint64_t offset, unsigned size,
                             void *buf, uint32_t count)
{
    uint8_t *p = buf;

    for (uint32_t i = 0; i < count; i++, p += size) {
        uint32_t v = con_pio_read(opaque, offset, size);
        memcpy(p, &v, size);
    }
}

static const LilyIoOps con_io_ops = {
    .read = con_pio_read,
    .write = con_pio_write,
    .read_rep = con_pio_read_rep,
    .write_rep = con_pio_write_rep,
};

/* --- plugin ---------------------------------------------------------------- */

static GQuark con_error_quark(void)
{
    return g_quark_from_string("lilyvm-console-error");
}

/* "ctrl-a" .. "ctrl-z" (also "^a"), or "none"/"off": -1. */
static gboolean con_parse_escape(const char *text, int *escape, GError **error)
{
    const char *key = NULL;

    if (!g_ascii_strcasecmp(text, "none") || !g_ascii_strcasecmp(text, "off")) {
        *escape = -1;
        return TRUE;
    }
    if (!g_ascii_strncasecmp(text, "ctrl-", 5))
        key = text + 5;
    else if (text[0] == '^')
        key = text + 1;
    if (key && g_ascii_isalpha(key[0]) && key[1] == '\0') {
        *escape = g_ascii_toupper(key[0]) - '@';
        return TRUE;
    }
    g_set_error(error, con_error_quark(), 0,
                "escape = '%s' is not valid; use ctrl-a ... ctrl-z, "
                "or none to pass every key to the guest", text);
    return FALSE;
}

static gboolean con_check_path(ConsoleBackendKind kind, const LilyOptValue *path,
                               GError **error)
{
    const char *backend = console_backend_names[kind];
    bool needs = kind == CONSOLE_BACKEND_FILE || kind == CONSOLE_BACKEND_SOCKET;
    bool takes = needs || kind == CONSOLE_BACKEND_PTY;

    if (needs && (!path->present || !path->s[0])) {
        g_set_error(error, con_error_quark(), 0,
                    "backend = %s needs path = FILE: %s", backend,
                    kind == CONSOLE_BACKEND_FILE ? "the log file the guest's output is appended to"
                                                 : "the unix socket to listen on");
        return FALSE;
    }
    if (!takes && path->present) {
        g_set_error(error, con_error_quark(), 0,
                    "path = %s has no meaning with backend = %s (it is "
                    "used by backend = file, socket and pty)", path->s, backend);
        return FALSE;
    }
    return TRUE;
}

static void con_free(Console *con)
{
    g_free(con->ring.data);
    g_free(con);
}

static void con_fini(void *state)
{
    Console *con = state;
    const LilyHost *host = con->host;

    /* Whatever the guest sent reaches the host before we go. */
    while (uart_tx_pending(&con->uart) > 0 && con->be.out_fd >= 0 && !con->output_broken) {
        size_t before = con->ring.len;
        con_flush_wait(con);
        uart_tx_drain(&con->uart);
        if (con->ring.len == before && ring_full(&con->ring))
            break;
    }
    con_flush_wait(con);

    ConsoleWatch *watches[] = { &con->w_in, &con->w_out, &con->w_listen };
    for (size_t i = 0; i < G_N_ELEMENTS(watches); i++) {
        if (watches[i]->watch)
            host->fd_watch_remove(watches[i]->watch);
        watches[i]->watch = NULL;
    }
    host->timer_del(con->rx_timer);
    host->timer_free(con->rx_timer);
    if (con->uart.tx_dropped)
        host->log(con->inst, LILY_LOG_WARN, "%" G_GUINT64_FORMAT " bytes written into "
                  "a full transmitter were lost", con->uart.tx_dropped);
    console_backend_close(&con->be);
    con_free(con);
}

static gboolean con_init(LilyInstance *inst, const LilyHost *host,
                         const LilyOptValue *values, void **state, GError **error)
{
    ConsoleBackendKind kind = (ConsoleBackendKind)values[OPT_BACKEND].i;
    int escape = -1;

    if (!con_check_path(kind, &values[OPT_PATH], error))
        return FALSE;
    if (!con_parse_escape(values[OPT_ESCAPE].s, &escape, error))
        return FALSE;

    Console *con = g_new0(Console, 1);
    con->inst = inst;
    con->host = host;
    con->escape = kind == CONSOLE_BACKEND_STDIO ? escape : -1;
    con->input_open = true;
    con->ring.cap = (size_t)values[OPT_BUFFER].i;
    con->ring.data = g_malloc(con->ring.cap);
    con->w_in = (ConsoleWatch){ .con = con, .fd = -1 };
    con->w_out = (ConsoleWatch){ .con = con, .fd = -1 };
    con->w_listen = (ConsoleWatch){ .con = con, .fd = -1 };
    uart_init(&con->uart, &con_uart_ops, con);

    con->irq = host->irq_get(inst, (unsigned)values[OPT_IRQ].i, error);
    if (!con->irq)
        goto out_free;
    if (!host->pio_register(inst, (uint16_t)values[OPT_IOBASE].i, CONSOLE_PORTS,
                            &con_io_ops, con, error))
        goto out_free;
    con->rx_timer = host->timer_new(inst, con_rx_timeout, con);
    if (!console_backend_open(&con->be, kind, values[OPT_PATH].s, error))
        goto out_free_timer;

    if (con->be.background)
        host->log(inst, LILY_LOG_WARN, "standard input is a terminal owned by another "
                  "process group (running in the background?): console input is off");
    if (kind == CONSOLE_BACKEND_PTY) {
        /* The user needs the name to attach, whatever the log settings. */
        g_printerr("lilyvm: %s: console on %s%s%s\n", host->instance_name(inst),
                   con->be.pty_name, con->be.path ? ", linked from " : "",
                   con->be.path ? con->be.path : "");
    } else if (kind == CONSOLE_BACKEND_SOCKET) {
        host->log(inst, LILY_LOG_INFO, "console waits for a client on %s "
                  "(socat -,rawer,escape=0x1d UNIX-CONNECT:%s)", con->be.path,
                  con->be.path);
    }
    con_sync_watches(con);
    *state = con;
    return TRUE;

out_free_timer:
    host->timer_free(con->rx_timer);
out_free:
    /* The I/O region and the IRQ line belong to the instance; the core drops them. */
    con_free(con);
    return FALSE;
}

static const LilyOption con_options[] = {
    [OPT_IOBASE] = { .name = "iobase", .type = LILY_OPT_INT, .def = "0x3f8",
                     .min = 0, .max = 0xfff8,
                     .help = "first of the eight I/O ports (COM1 0x3f8, COM2 0x2f8, "
                             "COM3 0x3e8, COM4 0x2e8)" },
    [OPT_IRQ] = { .name = "irq", .type = LILY_OPT_INT, .def = "4", .min = 0, .max = 15,
                  .help = "interrupt line (COM1 and COM3 use 4, COM2 and COM4 use 3)" },
    [OPT_BACKEND] = { .name = "backend", .type = LILY_OPT_ENUM, .def = "stdio",
                      .enum_values = console_backend_names,
                      .help = "where the bytes go: stdio (this terminal, raw mode, "
                              "escape keys), file (append output to path), socket "
                              "(unix socket at path, one client at a time), pty "
                              "(a pseudo-terminal, optionally linked from path), "
                              "null (discard output, no input)" },
    [OPT_PATH] = { .name = "path", .type = LILY_OPT_STRING, .def = NULL,
                   .help = "file: the log file; socket: the socket to listen on; "
                           "pty: a symlink to create to the pty (optional)" },
    [OPT_ESCAPE] = { .name = "escape", .type = LILY_OPT_STRING, .def = "ctrl-a",
                     .help = "stdio only: the key that starts a console command "
                             "(ctrl-a ... ctrl-z), or none" },
    [OPT_BUFFER] = { .name = "buffer", .type = LILY_OPT_SIZE, .def = "64K",
                     .min = 256, .max = 16 * 1024 * 1024,
                     .help = "output bytes held for a slow reader; for the socket "
                             "backend also the backlog kept while no client is "
                             "attached" },
    { .name = NULL },
};

static const LilyPluginDesc con_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "console",
    .kind = LILY_PLUGIN_DEVICE,
    .description = "16550A UART serial console on stdio, a log file, a unix "
                   "socket or a pty",
    .options = con_options,
    .init = con_init,
    .fini = con_fini,
};

LILYVM_PLUGIN_DEFINE(con_desc)
