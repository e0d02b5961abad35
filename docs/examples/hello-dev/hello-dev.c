/*
 * hello-dev: an example LilyVM device plugin built out of tree.  It counts
 * the writes to its first port, reads the count back, and raises its IRQ
 * line every N writes.
 *
 * Registers (offsets from iobase, any access size):
 *   0  COUNT   read: the number of writes to COUNT so far (low bytes for
 *              1- and 2-byte reads); write: any value counts one more
 *   1  STATUS  read: bit 0 = the IRQ line is raised; write: any value resets
 *              the count and lowers the line
 */
#include <lilyvm/lilyvm.h>

/* Per-instance state. */
typedef struct HelloDev {
    LilyInstance *inst;
    const LilyHost *host;
    LilyIrqLine *irq;
    uint32_t count;
    uint32_t irq_every; /* 0: never raise the line */
    bool irq_raised;
} HelloDev;

/* The option table; init() gets the parsed values in the same order. */
enum { OPT_IOBASE, OPT_IRQ, OPT_IRQ_EVERY, OPT_GREETING };

static const LilyOption hello_options[] = {
    [OPT_IOBASE] = { .name = "iobase", .type = LILY_OPT_INT, .def = "0x520",
                     .min = 0, .max = 0xfffe, .help = "first of the two I/O ports" },
    [OPT_IRQ] = { .name = "irq", .type = LILY_OPT_INT, .def = "5", .min = 0, .max = 15,
                  .help = "interrupt line raised every irq-every writes" },
    [OPT_IRQ_EVERY] = { .name = "irq-every", .type = LILY_OPT_INT, .def = "0",
                        .min = 0, .max = 1000000,
                        .help = "raise the IRQ after this many writes (0: never)" },
    [OPT_GREETING] = { .name = "greeting", .type = LILY_OPT_STRING, .def = "hello",
                       .help = "logged when the device is created" },
    { .name = NULL },
};

static void hello_set_irq(HelloDev *s, bool level)
{
    if (s->irq_raised == level)
        return;
    s->irq_raised = level;
    s->host->irq_set(s->irq, level);
}

static uint32_t hello_read(void *opaque, uint64_t offset, unsigned size)
{
    HelloDev *s = opaque;
    uint32_t value = offset == 0 ? s->count : (s->irq_raised ? 1u : 0u);
    /* Unused bits of a read result must be zero. */
    if (size < 4)
        value &= (1u << (size * 8)) - 1;
    return value;
}

static void hello_write(void *opaque, uint64_t offset, unsigned size, uint32_t value)
{
    HelloDev *s = opaque;
    if (offset == 0) {
        s->count++;
        s->host->stat_add(s->inst, "writes", 1);
        if (s->irq_every && s->count % s->irq_every == 0)
            hello_set_irq(s, true);
    } else {
        s->count = 0;
        hello_set_irq(s, false);
    }
}

static const LilyIoOps hello_io = {
    .read = hello_read,
    .write = hello_write,
};

static gboolean hello_init(LilyInstance *inst, const LilyHost *host,
                           const LilyOptValue *values, void **state, GError **error)
{
    HelloDev *s = g_new0(HelloDev, 1);
    s->inst = inst;
    s->host = host;
    s->irq_every = (uint32_t)values[OPT_IRQ_EVERY].i;

    s->irq = host->irq_get(inst, (unsigned)values[OPT_IRQ].i, error);
    if (!s->irq)
        goto out_free_state;
    if (!host->pio_register(inst, (uint16_t)values[OPT_IOBASE].i, 2, &hello_io, s, error))
        goto out_free_state;

    host->log(inst, LILY_LOG_INFO, "%s from ports 0x%x-0x%x, irq %d",
              values[OPT_GREETING].s, (unsigned)values[OPT_IOBASE].i,
              (unsigned)values[OPT_IOBASE].i + 1, (int)values[OPT_IRQ].i);
    *state = s;
    return TRUE;

out_free_state:
    g_free(s);
    return FALSE;
}

static void hello_fini(void *state)
{
    g_free(state);
}

static const LilyPluginDesc hello_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "hello-dev",
    .kind = LILY_PLUGIN_DEVICE,
    .description = "example device: counts writes to a port and reads the count back",
    .options = hello_options,
    .init = hello_init,
    .fini = hello_fini,
};

LILYVM_PLUGIN_DEFINE(hello_desc)
