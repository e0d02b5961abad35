/*
 * pcpit-lines: a device that drives interrupt lines 0-15 as the test asks,
 * for the PIC tests (a write of v to port PCPIT_LINES_PORT + n sets line n
 * to v & 1).
 */
#include <lilyvm/lilyvm.h>

#include "tests/pcpit/pcpit.h"

typedef struct PcpitLines {
    const LilyHost *host;
    LilyIrqLine *line[16];
} PcpitLines;

static uint32_t lines_read(void *opaque, uint64_t offset, unsigned size)
{
    return 0;
}

static void lines_write(void *opaque, uint64_t offset, unsigned size, uint32_t value)
{
    PcpitLines *s = opaque;

    s->host->irq_set(s->line[offset], value & 1);
}

static const LilyIoOps lines_io = { .read = lines_read, .write = lines_write };

static gboolean lines_init(LilyInstance *inst, const LilyHost *host, const LilyOptValue *v,
                           void **state, GError **error)
{
    PcpitLines *s = g_new0(PcpitLines, 1);

    s->host = host;
    for (unsigned n = 0; n < 16; n++) {
        s->line[n] = host->irq_get(inst, n, error);
        if (!s->line[n])
            goto out_free_lines;
    }
    if (!host->pio_register(inst, PCPIT_LINES_PORT, 16, &lines_io, s, error))
        goto out_free_lines;
    *state = s;
    return TRUE;

out_free_lines:
    g_free(s);
    return FALSE;
}

static void lines_fini(void *state)
{
    g_free(state);
}

static const LilyOption lines_options[] = {
    { .name = NULL },
};

static const LilyPluginDesc lines_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "pcpit-lines",
    .kind = LILY_PLUGIN_DEVICE,
    .description = "drives interrupt lines 0-15 from port writes, for the PIC tests",
    .options = lines_options,
    .init = lines_init,
    .fini = lines_fini,
};

LILYVM_PLUGIN_DEFINE(lines_desc)
