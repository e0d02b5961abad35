/*
 * test-regs: a register-file device used by the core tests.  Eight byte
 * registers, an IRQ control register, a data port with optional rep
 * handlers, and an option of every type so the tests can see parsed values.
 *
 *   off 0-7  registers (any size, little-endian)
 *   off 8    write: IRQ level (bit 0); read: current level
 *   off 9    read: number of read_rep/write_rep calls
 *   off 10   data port: read returns a running counter, write adds to a sum
 *   off 12   read (4 bytes): the sum of data-port writes
 */
#include <string.h>
#include <lilyvm/lilyvm.h>

#define REGS_LEN 16

typedef struct TestRegs {
    LilyInstance *inst;
    const LilyHost *host;
    LilyIrqLine *irq;
    uint8_t regs[8];
    bool level;
    uint8_t rep_calls;
    uint32_t counter;
    uint32_t sum;
} TestRegs;

static const char *const regs_modes[] = { "alpha", "beta", "gamma", NULL };

static const LilyOption regs_options[] = {
    { "iobase", LILY_OPT_INT, "0x500", 0, 0xfff0, NULL, "first port", 0, 0 },
    { "irq", LILY_OPT_INT, "5", 0, 63, NULL, "interrupt line", 0, 0 },
    { "mmio", LILY_OPT_INT, "0", 0, 0xffffffff, NULL, "MMIO base (0: none)", 0, 0 },
    { "rep", LILY_OPT_BOOL, "on", 0, 0, NULL, "provide rep handlers", 0, 0 },
    { "mode", LILY_OPT_ENUM, "alpha", 0, 0, regs_modes, "a mode", 0, 0 },
    { "size", LILY_OPT_SIZE, "4K", 0, 1 << 20, NULL, "a size", 0, 0 },
    { "label", LILY_OPT_STRING, NULL, 0, 0, NULL, "a label", 0, 0 },
    { "mac", LILY_OPT_MAC, "52:54:00:12:34:56", 0, 0, NULL, "a MAC", 0, 0 },
    { "fwd", LILY_OPT_HOSTFWD, NULL, 0, 0, NULL, "forwards", LILY_OPT_F_LIST, 0 },
    { "ports", LILY_OPT_INT, NULL, 1, 65535, NULL, "port list", LILY_OPT_F_LIST, 0 },
    { NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0 },
};

static uint32_t regs_read(void *opaque, uint64_t off, unsigned size)
{
    TestRegs *s = opaque;
    s->host->stat_add(s->inst, "reads", 1);
    if (off < 8) {
        uint32_t v = 0;
        for (unsigned i = 0; i < size && off + i < 8; i++)
            v |= (uint32_t)s->regs[off + i] << (8 * i);
        return v;
    }
    switch (off) {
    case 8: return s->level;
    case 9: return s->rep_calls;
    case 10: return s->counter++;
    case 12: return s->sum;
    default: return 0;
    }
}

static void regs_write(void *opaque, uint64_t off, unsigned size, uint32_t value)
{
    TestRegs *s = opaque;
    s->host->stat_add(s->inst, "writes", 1);
    if (off < 8) {
        for (unsigned i = 0; i < size && off + i < 8; i++)
            s->regs[off + i] = (uint8_t)(value >> (8 * i));
        return;
    }
    switch (off) {
    case 8:
        s->level = value & 1;
        s->host->irq_set(s->irq, s->level);
        break;
    case 10:
        s->sum += value;
        break;
    default:
        break;
    }
}

static void regs_read_rep(void *opaque, uint64_t off, unsigned size, void *buf, uint32_t count)
{
    TestRegs *s = opaque;
    s->rep_calls++;
    uint8_t *p = buf;
    for (uint32_t i = 0; i < count; i++, p += size) {
        uint32_t v = regs_read(s, off, size);
        memcpy(p, &v, size);
    }
}

static void regs_write_rep(void *opaque, uint64_t off, unsigned size, const void *buf,
                           uint32_t count)
{
    TestRegs *s = opaque;
    s->rep_calls++;
    const uint8_t *p = buf;
    for (uint32_t i = 0; i < count; i++, p += size) {
        uint32_t v = 0;
        memcpy(&v, p, size);
        regs_write(s, off, size, v);
    }
}

static const LilyIoOps regs_ops = { regs_read, regs_write, regs_read_rep, regs_write_rep };
static const LilyIoOps regs_ops_norep = { regs_read, regs_write, NULL, NULL };

static gboolean regs_init(LilyInstance *inst, const LilyHost *host, const LilyOptValue *v,
                          void **state, GError **error)
{
    TestRegs *s = g_new0(TestRegs, 1);
    s->inst = inst;
    s->host = host;
    const LilyIoOps *ops = v[3].i ? &regs_ops : &regs_ops_norep;
    s->irq = host->irq_get(inst, (unsigned)v[1].i, error);
    if (!s->irq)
        goto out_free_state;
    if (!host->pio_register(inst, (uint16_t)v[0].i, REGS_LEN, ops, s, error))
        goto out_free_state;
    if (v[2].i && !host->mmio_register(inst, (uint64_t)v[2].i, REGS_LEN, ops, s, error))
        goto out_free_state;
    *state = s;
    return TRUE;

out_free_state:
    g_free(s);
    return FALSE;
}

static void regs_fini(void *state)
{
    g_free(state);
}

static const LilyPluginDesc regs_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "test-regs",
    .kind = LILY_PLUGIN_DEVICE,
    .description = "Register file for the core tests",
    .options = regs_options,
    .init = regs_init,
    .fini = regs_fini,
};

LILYVM_PLUGIN_DEFINE(regs_desc)
