/*
 * pcpit-cpu: a CPU plugin that runs no guest code, for the PIC/PIT tests.  It
 * records the INTR level the interrupt controller gives it and shows it, and
 * the acknowledge cycle, to the test through ports (PCPIT_CPU_* below).
 */
#include <lilyvm/lilyvm.h>

#include "tests/pcpit/pcpit.h"

typedef struct PcpitCpu {
    LilyInstance *inst;
    const LilyHost *host;
    LilyTimer *timer;
    bool intr;
    uint32_t intr_rises;
    bool deliver;          /* take every interrupt, with an EOI, like a guest */
    uint32_t delivered;
    uint32_t last_vector;
} PcpitCpu;

/*
 * Deliver mode: what a guest with interrupts enabled does for each one -
 * acknowledge, then a non-specific EOI to the chip(s) that gave the vector.
 * Run from a timer, not from inside intr(), as a real CPU takes the
 * interrupt later than the controller raises INTR.
 */
static void cpu_deliver(void *opaque)
{
    PcpitCpu *s = opaque;

    for (unsigned n = 0; n < 8 && s->deliver && s->intr; n++) {
        int v = s->host->irq_ack(s->inst);
        if (v < 0)
            break;
        s->delivered++;
        s->last_vector = (uint32_t)v;
        if (v >= PCPIT_SLAVE_BASE && v < PCPIT_SLAVE_BASE + 8)
            s->host->pio_write(s->inst, 0xa0, 1, 0x20);
        s->host->pio_write(s->inst, 0x20, 1, 0x20);
    }
}

static void cpu_intr(void *opaque, bool level)
{
    PcpitCpu *s = opaque;

    if (level && !s->intr)
        s->intr_rises++;
    s->intr = level;
    if (level && s->deliver)
        s->host->timer_mod(s->timer, s->host->clock_ns(s->inst));
}

static uint32_t cpu_io_read(void *opaque, uint64_t offset, unsigned size)
{
    PcpitCpu *s = opaque;

    switch (offset) {
    case PCPIT_CPU_INTR:
        return s->intr;
    case PCPIT_CPU_RISES:
        return s->intr_rises;
    case PCPIT_CPU_ACK:
        return (uint32_t)s->host->irq_ack(s->inst);
    case PCPIT_CPU_DELIVERED:
        return s->delivered;
    case PCPIT_CPU_LAST_VECTOR:
        return s->last_vector;
    default:
        return 0;
    }
}

static void cpu_io_write(void *opaque, uint64_t offset, unsigned size, uint32_t value)
{
    PcpitCpu *s = opaque;

    if (offset == PCPIT_CPU_DELIVERED) {
        s->deliver = value & 1;
        if (s->deliver && s->intr)
            s->host->timer_mod(s->timer, s->host->clock_ns(s->inst));
    }
}

static const LilyIoOps cpu_io = { .read = cpu_io_read, .write = cpu_io_write };

static gboolean cpu_init(LilyInstance *inst, const LilyHost *host, const LilyOptValue *v,
                         void **state, GError **error)
{
    PcpitCpu *s = g_new0(PcpitCpu, 1);

    s->inst = inst;
    s->host = host;
    if (!host->pio_register(inst, PCPIT_CPU_PORT, PCPIT_CPU_LEN, &cpu_io, s, error) ||
        !host->cpu_register(inst, cpu_intr, s, error)) {
        g_free(s);
        return FALSE;
    }
    s->timer = host->timer_new(inst, cpu_deliver, s);
    *state = s;
    return TRUE;
}

static void cpu_fini(void *state)
{
    PcpitCpu *s = state;

    s->host->timer_free(s->timer);
    g_free(s);
}

static const LilyOption cpu_options[] = {
    { .name = NULL },
};

static const LilyPluginDesc cpu_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "pcpit-cpu",
    .kind = LILY_PLUGIN_CPU,
    .description = "CPU that runs nothing and shows INTR and acknowledges on ports, for "
                   "the PIC/PIT tests",
    .options = cpu_options,
    .init = cpu_init,
    .fini = cpu_fini,
};

LILYVM_PLUGIN_DEFINE(cpu_desc)
