/*
 * test-chip: an interrupt controller for the core tests.  It records the
 * level of every input line, drives INTR while any line is high and hands
 * out vector 0x20 + the lowest high line on ack.
 *
 *   off 0 (4 bytes)  read: levels of lines 0..31
 *   off 4 (4 bytes)  read: number of set_input calls
 */
#include <lilyvm/lilyvm.h>

typedef struct TestChip {
    LilyInstance *inst;
    const LilyHost *host;
    uint64_t levels;
    uint32_t calls;
} TestChip;

static const LilyOption chip_options[] = {
    { "iobase", LILY_OPT_INT, "0x600", 0, 0xfff8, NULL, "first port", 0, 0 },
    { NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0 },
};

static void chip_set_input(void *opaque, unsigned line, bool level)
{
    TestChip *s = opaque;
    s->calls++;
    if (line >= 64)
        return;
    if (level)
        s->levels |= (uint64_t)1 << line;
    else
        s->levels &= ~((uint64_t)1 << line);
    s->host->cpu_set_intr(s->inst, s->levels != 0);
}

static int chip_ack(void *opaque)
{
    TestChip *s = opaque;
    if (!s->levels)
        return -1;
    return 0x20 + __builtin_ctzll(s->levels);
}

static uint32_t chip_read(void *opaque, uint64_t off, unsigned size)
{
    TestChip *s = opaque;
    return off == 0 ? (uint32_t)s->levels : off == 4 ? s->calls : 0;
}

static void chip_write(void *opaque, uint64_t off, unsigned size, uint32_t value)
{
}

static const LilyIoOps chip_io = { chip_read, chip_write, NULL, NULL };
static const LilyIrqChipOps chip_ops = { chip_set_input, chip_ack };

static gboolean chip_init(LilyInstance *inst, const LilyHost *host, const LilyOptValue *v,
                          void **state, GError **error)
{
    TestChip *s = g_new0(TestChip, 1);
    s->inst = inst;
    s->host = host;
    if (!host->pio_register(inst, (uint16_t)v[0].i, 8, &chip_io, s, error) ||
        !host->irqchip_register(inst, &chip_ops, s, error)) {
        g_free(s);
        return FALSE;
    }
    *state = s;
    return TRUE;
}

static void chip_fini(void *state)
{
    g_free(state);
}

static const LilyPluginDesc chip_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "test-chip",
    .kind = LILY_PLUGIN_IRQCHIP,
    .description = "Interrupt controller for the core tests",
    .options = chip_options,
    .init = chip_init,
    .fini = chip_fini,
};

LILYVM_PLUGIN_DEFINE(chip_desc)
