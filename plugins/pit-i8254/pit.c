/*
 * The pit-i8254 plugin: the PC's 8254 interval timer on ports 0x40-0x43,
 * counter 0's OUT on an IRQ line (0) and, optionally, port 0x61 with
 * counter 2's GATE (bit 0) and OUT (bit 5).
 *
 * Counts come from the VM clock at the moment of each access (i8254.c).
 * Only IRQ delivery needs host timers: one timer is armed for the next
 * rising edge of counter 0's OUT.  So that a guest asking for an absurd rate
 * does not make the VM process spin, IRQ edges (and so timer callbacks) are
 * at least min_edge_gap_us apart (50 by default); OUT edges that fall due in
 * between are merged into one IRQ edge (the counts the guest reads stay
 * exact).  Where traps are slow (nested emulation) a larger gap keeps the
 * timer from taking every interrupt opportunity: the 8259 always grants
 * IRQ 0 first, so a timer that is always pending starves the other lines.
 */
#include <lilyvm/lilyvm.h>

#include "plugins/pit-i8254/i8254.h"

enum {
    OPT_IOBASE,
    OPT_IRQ,
    OPT_PORT61,
    OPT_MIN_EDGE_GAP,
};

#define PIT_PORT61 0x61
#define PIT_PORT61_GATE2 0x01
#define PIT_PORT61_SPEAKER 0x02
#define PIT_PORT61_REFRESH 0x10 /* toggles every 15.085 us, as DRAM refresh did */
#define PIT_PORT61_OUT2 0x20
#define PIT_REFRESH_NS 15085u

typedef struct Pit {
    LilyInstance *inst;
    const LilyHost *host;
    I8254 chip;
    LilyIrqLine *irq;
    LilyTimer *timer;
    bool irq_level;          /* what we drive on the IRQ line */
    uint32_t epoch_seen;     /* counter 0's epoch the edge count belongs to */
    uint64_t edges_seen;     /* counter 0's OUT edges already sent */
    uint64_t last_edge_ns;   /* VM time of the last edge sent */
    uint64_t armed_ns;       /* the timer's deadline, I8254_NEVER when not armed */
    uint8_t port61;          /* bits 0-3 as the guest wrote them */
    uint64_t min_edge_ns;    /* least time between two IRQ edges */
} Pit;

static void pit_irq_drive(Pit *t, bool level)
{
    if (t->irq_level == level)
        return;
    t->irq_level = level;
    t->host->irq_set(t->irq, level);
}

/*
 * pit_sync() - bring IRQ 0 and the timer up to date with counter 0 at now
 *
 * A rising OUT edge that signals an event (terminal count, end of a period)
 * becomes one rising edge of the line; between events the line rests at
 * OUT's level in modes 0 and 1 and high in modes 2-5 (their low phases are
 * not shown on the line, only the edges that end them).
 */
static void pit_sync(Pit *t, uint64_t now)
{
    const I8254Counter *c = &t->chip.counter[0];

    if (c->epoch != t->epoch_seen) {
        t->epoch_seen = c->epoch;
        t->edges_seen = 0;
    }
    uint64_t edges = i8254_out_edges(c, now);
    uint64_t earliest = t->last_edge_ns + t->min_edge_ns;
    if (edges > t->edges_seen && now >= earliest) {
        pit_irq_drive(t, false);
        pit_irq_drive(t, true);
        if (edges - t->edges_seen > 1)
            t->host->stat_add(t->inst, "merged_edges", edges - t->edges_seen - 1);
        t->host->stat_add(t->inst, "irq_edges", 1);
        t->edges_seen = edges;
        t->last_edge_ns = now;
        earliest = now + t->min_edge_ns;
    }
    /* Modes 0 and 1 rest high once terminal count has been signalled. */
    bool rest = true;
    if (c->mode <= 1)
        rest = c->counting ? t->edges_seen > 0 : i8254_out(c, now);
    pit_irq_drive(t, rest);

    uint64_t next = i8254_edge_time(c, t->edges_seen + 1);
    if (next != I8254_NEVER && next < earliest)
        next = earliest;
    /* Guests latch counter 0 often; leave the timer alone when nothing moved. */
    if (next == t->armed_ns)
        return;
    t->armed_ns = next;
    if (next == I8254_NEVER)
        t->host->timer_del(t->timer);
    else
        t->host->timer_mod(t->timer, next);
}

static void pit_timer_fired(void *opaque)
{
    Pit *t = opaque;
    uint64_t now = t->host->clock_ns(t->inst);

    t->armed_ns = I8254_NEVER; /* a timer that fired is no longer armed */
    pit_sync(t, now);
}

static uint32_t pit_io_read(void *opaque, uint64_t offset, unsigned size)
{
    Pit *t = opaque;
    uint64_t now = t->host->clock_ns(t->inst);
    uint32_t value = 0;

    for (unsigned i = 0; i < size && offset + i < 4; i++)
        value |= (uint32_t)i8254_read(&t->chip, (unsigned)(offset + i), now) << (8 * i);
    return value;
}

static void pit_io_write(void *opaque, uint64_t offset, unsigned size, uint32_t value)
{
    Pit *t = opaque;
    uint64_t now = t->host->clock_ns(t->inst);

    uint32_t epoch = t->chip.counter[0].epoch;
    for (unsigned i = 0; i < size && offset + i < 4; i++)
        i8254_write(&t->chip, (unsigned)(offset + i), (uint8_t)(value >> (8 * i)), now);
    if (epoch != t->chip.counter[0].epoch && t->chip.counter[0].counting &&
        t->host->log_enabled(t->inst, LILY_LOG_INFO)) {
        const I8254Counter *c = &t->chip.counter[0];
        t->host->log(t->inst, LILY_LOG_INFO, "counter 0: mode %u, count %u (%.3f Hz)",
                     c->mode, c->reload, (double)I8254_HZ / c->reload);
    }
    pit_sync(t, now);
}

static const LilyIoOps pit_io_ops = {
    .read = pit_io_read,
    .write = pit_io_write,
};

static uint32_t pit_port61_read(void *opaque, uint64_t offset, unsigned size)
{
    Pit *t = opaque;
    uint64_t now = t->host->clock_ns(t->inst);
    uint8_t v = t->port61;

    if (now / PIT_REFRESH_NS & 1)
        v |= PIT_PORT61_REFRESH;
    if (i8254_out(&t->chip.counter[2], now))
        v |= PIT_PORT61_OUT2;
    return v;
}

static void pit_port61_write(void *opaque, uint64_t offset, unsigned size, uint32_t value)
{
    Pit *t = opaque;

    t->port61 = (uint8_t)(value & 0x0f);
    i8254_set_gate(&t->chip, 2, value & PIT_PORT61_GATE2, t->host->clock_ns(t->inst));
}

static const LilyIoOps pit_port61_ops = {
    .read = pit_port61_read,
    .write = pit_port61_write,
};

static gboolean pit_init(LilyInstance *inst, const LilyHost *host, const LilyOptValue *values,
                         void **state, GError **error)
{
    Pit *t = g_new0(Pit, 1);

    t->inst = inst;
    t->host = host;
    t->min_edge_ns = (uint64_t)values[OPT_MIN_EDGE_GAP].i * 1000u;
    t->irq = host->irq_get(inst, (unsigned)values[OPT_IRQ].i, error);
    if (!t->irq)
        goto out_free_pit;
    if (!host->pio_register(inst, (uint16_t)values[OPT_IOBASE].i, 4, &pit_io_ops, t, error))
        goto out_free_pit;
    if (values[OPT_PORT61].i &&
        !host->pio_register(inst, PIT_PORT61, 1, &pit_port61_ops, t, error))
        goto out_free_pit;
    t->timer = host->timer_new(inst, pit_timer_fired, t);
    t->armed_ns = I8254_NEVER;
    uint64_t now = host->clock_ns(inst);
    i8254_reset(&t->chip, now);
    t->epoch_seen = t->chip.counter[0].epoch;
    pit_sync(t, now);
    *state = t;
    return TRUE;

out_free_pit:
    g_free(t);
    return FALSE;
}

static void pit_fini(void *state)
{
    Pit *t = state;

    t->host->timer_free(t->timer);
    g_free(t);
}

static const LilyOption pit_options[] = {
    [OPT_IOBASE] = { .name = "iobase", .type = LILY_OPT_INT, .def = "0x40",
                     .min = 0, .max = 0xfffc,
                     .help = "first of the four ports: counters 0-2, then the control "
                             "word" },
    [OPT_IRQ] = { .name = "irq", .type = LILY_OPT_INT, .def = "0", .min = 0, .max = 15,
                  .help = "interrupt line driven by counter 0's OUT" },
    [OPT_PORT61] = { .name = "port61", .type = LILY_OPT_BOOL, .def = "on",
                     .help = "also claim port 0x61: bit 0 counter 2's GATE, bit 1 "
                             "speaker data (kept), bit 4 refresh toggle, bit 5 "
                             "counter 2's OUT" },
    [OPT_MIN_EDGE_GAP] = { .name = "min_edge_gap_us", .type = LILY_OPT_INT, .def = "50",
                           .min = 1, .max = 1000000,
                           .help = "least host time between two IRQ edges, in microseconds; "
                                   "edges due in between merge into one (raise it where "
                                   "traps are slow, e.g. under nested emulation, so that "
                                   "IRQ 0 leaves the other lines a turn)" },
    { .name = NULL },
};

static const LilyPluginDesc pit_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "pit-i8254",
    .kind = LILY_PLUGIN_DEVICE,
    .description = "8254 interval timer (1.193182 MHz, counters 0-2); counter 0 "
                   "drives IRQ 0",
    .options = pit_options,
    .init = pit_init,
    .fini = pit_fini,
};

LILYVM_PLUGIN_DEFINE(pit_desc)
