/*
 * nic-ne2000: an ISA NE2000 (DP8390 behind a 0x20-port window) wired to the
 * LilyVM bus, one interrupt line and a network backend.  The chip itself is
 * dp8390.c; this file only decodes ports and carries frames and the IRQ.
 */
#include <lilyvm/lilyvm.h>

#include "plugins/nic-ne2000/dp8390.h"

/* The NE2000's port window: DP8390 registers, data port, reset port. */
#define NE2K_IO_SIZE 0x20u
#define NE2K_DATA_PORT 0x10u  /* 0x10..0x17 decode as the data port */
#define NE2K_RESET_PORT 0x18u /* 0x18..0x1f decode as the reset port (0x1f used) */

typedef struct Ne2kState {
    LilyInstance *inst;
    const LilyHost *host;
    LilyIrqLine *irq;
    LilyNetPort *port;
    unsigned reported; /* Dp8390GuestError kinds already logged (bit mask) */
    bool debug;        /* -d NAME: log frames and the guest's BNRY moves */
    Dp8390 chip;
} Ne2kState;

enum { NE2K_OPT_IOBASE, NE2K_OPT_IRQ, NE2K_OPT_MAC, NE2K_OPT_NETDEV };

static const LilyOption ne2k_options[] = {
    [NE2K_OPT_IOBASE] = { .name = "iobase", .type = LILY_OPT_INT, .def = "0x300",
                          .min = 0, .max = 0x10000 - NE2K_IO_SIZE,
                          .help = "first of the 32 I/O ports" },
    [NE2K_OPT_IRQ] = { .name = "irq", .type = LILY_OPT_INT, .def = "9",
                       .min = 0, .max = 15, .help = "ISA interrupt line" },
    [NE2K_OPT_MAC] = { .name = "mac", .type = LILY_OPT_MAC,
                       .def = "52:54:00:12:34:56",
                       .help = "station address stored in the PROM" },
    [NE2K_OPT_NETDEV] = { .name = "netdev", .type = LILY_OPT_STRING,
                          .help = "name of the [netdev NAME] group to connect to",
                          .flags = LILY_OPT_F_REQUIRED },
    { .name = NULL },
};

static void ne2k_stat(Ne2kState *s, const char *name)
{
    if (s->host->stat_add)
        s->host->stat_add(s->inst, name, 1);
}

/* The VM clock in seconds for debug lines (0 for a host without a clock). */
static double ne2k_now_s(Ne2kState *s)
{
    return s->host->clock_ns ? s->host->clock_ns(s->inst) / 1e9 : 0.0;
}

static uint32_t ne2k_read_byte(Ne2kState *s, uint64_t offset)
{
    if (offset < NE2K_DATA_PORT)
        return dp8390_reg_read(&s->chip, (unsigned)offset);
    return 0xff; /* a split register access never touches the data port */
}

static uint32_t ne2k_io_read(void *opaque, uint64_t offset, unsigned size)
{
    Ne2kState *s = opaque;
    uint32_t value = 0;

    if (offset >= NE2K_RESET_PORT) {
        /* Reading the reset port pulls the chip's reset line. */
        dp8390_reset(&s->chip);
        return 0;
    }
    if (offset >= NE2K_DATA_PORT)
        return dp8390_data_read(&s->chip, size);
    /*
     * The registers are eight bits wide; a wider access is split into byte
     * cycles as the ISA bus does for an 8-bit I/O device.
     */
    for (unsigned i = 0; i < size; i++)
        value |= ne2k_read_byte(s, offset + i) << (8 * i);
    return value;
}

static void ne2k_io_write(void *opaque, uint64_t offset, unsigned size,
                          uint32_t value)
{
    Ne2kState *s = opaque;

    if (offset >= NE2K_RESET_PORT)
        return; /* the write ends the reset pulse: nothing to do */
    if (offset >= NE2K_DATA_PORT) {
        dp8390_data_write(&s->chip, size, value);
        return;
    }
    uint8_t bnry = s->chip.bnry;
    for (unsigned i = 0; i < size && offset + i < NE2K_DATA_PORT; i++)
        dp8390_reg_write(&s->chip, (unsigned)(offset + i), (uint8_t)(value >> (8 * i)));
    if (s->debug && s->chip.bnry != bnry)
        s->host->log(s->inst, LILY_LOG_DEBUG, "%.3f s: the guest moved BNRY to 0x%02x (CURR "
                     "0x%02x)", ne2k_now_s(s), s->chip.bnry, s->chip.curr);
}

static void ne2k_io_read_rep(void *opaque, uint64_t offset, unsigned size,
                             void *buf, uint32_t count)
{
    Ne2kState *s = opaque;
    uint8_t *p = buf;

    if (offset >= NE2K_DATA_PORT && offset < NE2K_RESET_PORT) {
        dp8390_data_read_rep(&s->chip, size, buf, count);
        return;
    }
    for (uint32_t i = 0; i < count; i++, p += size) {
        uint32_t v = ne2k_io_read(s, offset, size);
        for (unsigned b = 0; b < size; b++)
            p[b] = (uint8_t)(v >> (8 * b));
    }
}

static void ne2k_io_write_rep(void *opaque, uint64_t offset, unsigned size,
                              const void *buf, uint32_t count)
{
    Ne2kState *s = opaque;
    const uint8_t *p = buf;

    if (offset >= NE2K_DATA_PORT && offset < NE2K_RESET_PORT) {
        dp8390_data_write_rep(&s->chip, size, buf, count);
        return;
    }
    for (uint32_t i = 0; i < count; i++, p += size) {
        uint32_t v = 0;
        for (unsigned b = 0; b < size; b++)
            v |= (uint32_t)p[b] << (8 * b);
        ne2k_io_write(s, offset, size, v);
    }
}

static const LilyIoOps ne2k_io_ops = {
    .read = ne2k_io_read,
    .write = ne2k_io_write,
    .read_rep = ne2k_io_read_rep,
    .write_rep = ne2k_io_write_rep,
};

/* --- chip hooks ---------------------------------------------------------- */

static void ne2k_chip_irq(void *opaque, bool level)
{
    Ne2kState *s = opaque;

    s->host->irq_set(s->irq, level);
}

static void ne2k_chip_transmit(void *opaque, const uint8_t *frame, size_t len)
{
    Ne2kState *s = opaque;

    ne2k_stat(s, "tx_frames");
    if (s->debug)
        s->host->log(s->inst, LILY_LOG_DEBUG, "%.3f s: tx %zu bytes type 0x%02x%02x",
                     ne2k_now_s(s), len, len >= 14 ? frame[12] : 0,
                     len >= 14 ? frame[13] : 0);
    /* Like a wire, the chip learns nothing when the peer drops the frame. */
    if (!s->port || !s->host->net_send(s->port, frame, len))
        ne2k_stat(s, "tx_dropped");
}

static void ne2k_chip_rx_ready(void *opaque)
{
    Ne2kState *s = opaque;

    if (s->port)
        s->host->net_ready(s->port);
}

/* A guest driver mistake is logged once per kind, not once per frame. */
static void ne2k_chip_guest_error(void *opaque, Dp8390GuestError kind, const char *msg)
{
    Ne2kState *s = opaque;

    if (s->reported & (1u << kind))
        return;
    s->reported |= 1u << kind;
    s->host->log(s->inst, LILY_LOG_WARN, "guest driver: %s", msg);
}

static const Dp8390Hooks ne2k_chip_hooks = {
    .irq = ne2k_chip_irq,
    .transmit = ne2k_chip_transmit,
    .rx_ready = ne2k_chip_rx_ready,
    .guest_error = ne2k_chip_guest_error,
};

/* --- network port -------------------------------------------------------- */

static bool ne2k_net_can_receive(void *opaque)
{
    Ne2kState *s = opaque;

    return dp8390_can_receive(&s->chip);
}

static const char *const ne2k_rx_result_names[] = {
    [DP8390_RX_STORED] = "stored", [DP8390_RX_FILTERED] = "filtered",
    [DP8390_RX_OVERFLOW] = "ring full", [DP8390_RX_TOO_LONG] = "too long",
    [DP8390_RX_STOPPED] = "chip stopped", [DP8390_RX_MONITOR] = "monitor mode",
};

static void ne2k_net_receive(void *opaque, const uint8_t *frame, size_t len)
{
    Ne2kState *s = opaque;
    uint8_t curr = s->chip.curr;
    Dp8390RxResult r = dp8390_receive(&s->chip, frame, len);

    /* -d NAME: one line per frame, enough to follow the ring by hand. */
    if (s->debug)
        s->host->log(s->inst, LILY_LOG_DEBUG, "%.3f s: rx %zu bytes type 0x%02x%02x: %s at "
                     "page 0x%02x, CURR now 0x%02x, BNRY 0x%02x, ISR 0x%02x IMR 0x%02x",
                     ne2k_now_s(s), len, len >= 14 ? frame[12] : 0, len >= 14 ? frame[13] : 0,
                     ne2k_rx_result_names[r], curr, s->chip.curr, s->chip.bnry,
                     s->chip.isr, s->chip.imr);
    switch (r) {
    case DP8390_RX_STORED: ne2k_stat(s, "rx_frames"); break;
    case DP8390_RX_FILTERED: ne2k_stat(s, "rx_filtered"); break;
    case DP8390_RX_OVERFLOW: ne2k_stat(s, "rx_overflow"); break;
    case DP8390_RX_TOO_LONG: ne2k_stat(s, "rx_too_long"); break;
    case DP8390_RX_STOPPED:
    case DP8390_RX_MONITOR: ne2k_stat(s, "rx_dropped"); break;
    }
}

static void ne2k_net_ready(void *opaque)
{
    /* Transmission is synchronous: nothing waits for the peer. */
}

static const LilyNetOps ne2k_net_ops = {
    .can_receive = ne2k_net_can_receive,
    .receive = ne2k_net_receive,
    .ready = ne2k_net_ready,
};

/* --- instance ------------------------------------------------------------ */

static gboolean ne2k_init(LilyInstance *inst, const LilyHost *host,
                          const LilyOptValue *values, void **state, GError **error)
{
    const uint8_t *mac = values[NE2K_OPT_MAC].mac;
    uint16_t iobase = (uint16_t)values[NE2K_OPT_IOBASE].i;
    Ne2kState *s;

    if (mac[0] & 1) {
        g_set_error(error, g_quark_from_string("nic-ne2000"), 1,
                    "mac = %s is a multicast address; a NIC needs a unicast "
                    "one (first byte even), e.g. 52:54:00:12:34:56",
                    values[NE2K_OPT_MAC].s);
        return FALSE;
    }

    s = g_new0(Ne2kState, 1);
    s->inst = inst;
    s->host = host;
    s->debug = host->log_enabled && host->log_enabled(inst, LILY_LOG_DEBUG);
    dp8390_init(&s->chip, mac, &ne2k_chip_hooks, s);

    s->irq = host->irq_get(inst, (unsigned)values[NE2K_OPT_IRQ].i, error);
    if (!s->irq)
        goto out_free_state;
    s->port = host->net_attach(inst, values[NE2K_OPT_NETDEV].s, &ne2k_net_ops,
                               s, error);
    if (!s->port)
        goto out_free_state;
    if (!host->pio_register(inst, iobase, NE2K_IO_SIZE, &ne2k_io_ops, s, error))
        goto out_detach_port;

    *state = s;
    return TRUE;

out_detach_port:
    host->net_detach(s->port);
out_free_state:
    g_free(s);
    return FALSE;
}

static void ne2k_fini(void *state)
{
    Ne2kState *s = state;

    if (s->port)
        s->host->net_detach(s->port);
    g_free(s);
}

static const LilyPluginDesc ne2k_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "nic-ne2000",
    .kind = LILY_PLUGIN_DEVICE,
    .description = "NE2000 ISA network card (DP8390)",
    .options = ne2k_options,
    .init = ne2k_init,
    .fini = ne2k_fini,
};

LILYVM_PLUGIN_DEFINE(ne2k_desc)
