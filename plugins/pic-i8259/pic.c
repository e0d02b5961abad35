/*
 * The pic-i8259 plugin: the PC's pair of 8259A interrupt controllers, the
 * slave's INT output on the master's input 2, as the machine's interrupt
 * controller (device IRQ lines in, the CPU's INTR and vectors out).
 *
 * Lines 0-7 reach the master, 8-15 the slave.  Line 2 is the cascade on the
 * master, so as on a PC/AT a device on line 2 is routed to the slave's
 * input 1 (IRQ 9), together with line 9.  Lines above 15 do not exist here.
 */
#include <lilyvm/lilyvm.h>

#include "plugins/pic-i8259/i8259.h"

enum {
    OPT_IOBASE_MASTER,
    OPT_IOBASE_SLAVE,
    OPT_ELCR,
    OPT_ROTATE,
};

#define PIC_MASTER 0
#define PIC_SLAVE 1
#define PIC_LINES 16
#define PIC_ELCR_PORT 0x4d0
/* ELCR bits that may be set: IRQ 0, 1, 2, 8 and 13 are always edge-triggered. */
#define PIC_ELCR_MASK_MASTER 0xf8
#define PIC_ELCR_MASK_SLAVE 0xde

typedef struct Pic Pic;

/* The opaque of one chip's port region. */
typedef struct PicPort {
    Pic *pic;
    unsigned chip;
} PicPort;

struct Pic {
    LilyInstance *inst;
    const LilyHost *host;
    I8259 chip[2];
    PicPort port[2];
    uint16_t bus_levels;   /* lines as the devices drive them */
    bool warned_line;      /* a line above 15 was reported once */
};

/* Propagate the slave's INT to the master, then the master's INT to the CPU. */
static void pic_update(Pic *p)
{
    i8259_set_input(&p->chip[PIC_MASTER], 2, i8259_pending(&p->chip[PIC_SLAVE]) >= 0);
    p->host->cpu_set_intr(p->inst, i8259_pending(&p->chip[PIC_MASTER]) >= 0);
}

static void pic_set_input(void *opaque, unsigned line, bool level)
{
    Pic *p = opaque;

    if (line >= PIC_LINES) {
        if (!p->warned_line) {
            p->host->log(p->inst, LILY_LOG_WARN,
                         "interrupt line %u is not wired to the 8259 pair (lines 0..15); "
                         "its changes are ignored", line);
            p->warned_line = true;
        }
        return;
    }
    if (level)
        p->bus_levels |= (uint16_t)(1u << line);
    else
        p->bus_levels &= (uint16_t) ~(1u << line);
    if (line == 2 || line == 9)
        i8259_set_input(&p->chip[PIC_SLAVE], 1, p->bus_levels & (1u << 2 | 1u << 9));
    else if (line < 8)
        i8259_set_input(&p->chip[PIC_MASTER], line, level);
    else
        i8259_set_input(&p->chip[PIC_SLAVE], line - 8, level);
    pic_update(p);
}

/*
 * pic_ack() - the CPU's interrupt acknowledge
 *
 * Return: the vector, or -1 when the INTR output is low.  When the master
 * hands out its cascade input the slave gives the vector; a slave with
 * nothing left to give (its request went away) answers with its IRQ 15
 * vector and the master's IRQ 2 stays in service, as on the real pair.
 */
static int pic_ack(void *opaque)
{
    Pic *p = opaque;
    I8259 *m = &p->chip[PIC_MASTER];
    int vector;

    if (i8259_pending(m) < 0)
        return -1;
    int pin = i8259_ack(m);
    if (pin == 2 && i8259_is_cascade(m, 2)) {
        I8259 *s = &p->chip[PIC_SLAVE];
        if (i8259_pending(s) < 0)
            p->host->stat_add(p->inst, "spurious", 1);
        vector = i8259_vector(s, (unsigned)i8259_ack(s));
    } else {
        vector = i8259_vector(m, (unsigned)pin);
    }
    p->host->stat_add(p->inst, "acks", 1);
    pic_update(p);
    return vector;
}

static const LilyIrqChipOps pic_chip_ops = {
    .set_input = pic_set_input,
    .ack = pic_ack,
};

/* Say how the guest set a chip up (shown with -d pic). */
static void pic_log_programmed(Pic *p, unsigned chip)
{
    const I8259 *c = &p->chip[chip];

    if (!p->host->log_enabled(p->inst, LILY_LOG_INFO))
        return;
    p->host->log(p->inst, LILY_LOG_INFO,
                 "%s initialised: vectors 0x%02x-0x%02x, %s-triggered, %s%s%s",
                 chip == PIC_MASTER ? "master" : "slave", c->vector_base,
                 c->vector_base + 7, c->ltim ? "level" : "edge",
                 c->single ? "single" : "cascade", c->aeoi ? ", automatic EOI" : "",
                 c->sfnm ? ", special fully nested" : "");
}

/* Wider accesses are taken as byte accesses to consecutive ports. */
static uint32_t pic_io_read(void *opaque, uint64_t offset, unsigned size)
{
    PicPort *pp = opaque;
    uint32_t value = 0;

    for (unsigned i = 0; i < size && offset + i < 2; i++)
        value |= (uint32_t)i8259_read(&pp->pic->chip[pp->chip], (unsigned)(offset + i))
                 << (8 * i);
    pic_update(pp->pic); /* a poll read acknowledges */
    return value;
}

static void pic_io_write(void *opaque, uint64_t offset, unsigned size, uint32_t value)
{
    PicPort *pp = opaque;
    I8259 *c = &pp->pic->chip[pp->chip];

    for (unsigned i = 0; i < size && offset + i < 2; i++) {
        uint8_t byte = (uint8_t)(value >> (8 * i));
        unsigned a0 = (unsigned)(offset + i);
        if (a0 == 1 && c->init_step == 4 && !(byte & I8259_ICW4_8086))
            pp->pic->host->log(pp->pic->inst, LILY_LOG_WARN,
                               "%s: ICW4 0x%02x selects MCS-80/85 mode, which is not "
                               "emulated; 8086 vectors are used",
                               pp->chip == PIC_MASTER ? "master" : "slave", byte);
        bool initialising = c->init_step != 0;
        i8259_write(c, a0, byte);
        if (initialising && !c->init_step)
            pic_log_programmed(pp->pic, pp->chip);
    }
    pic_update(pp->pic);
}

static const LilyIoOps pic_io_ops = {
    .read = pic_io_read,
    .write = pic_io_write,
};

/* ELCR (edge/level control, 0x4d0 master, 0x4d1 slave), as on PCI chipsets. */
static uint32_t pic_elcr_read(void *opaque, uint64_t offset, unsigned size)
{
    Pic *p = opaque;
    uint32_t value = 0;

    for (unsigned i = 0; i < size && offset + i < 2; i++)
        value |= (uint32_t)p->chip[offset + i].elcr << (8 * i);
    return value;
}

static void pic_elcr_write(void *opaque, uint64_t offset, unsigned size, uint32_t value)
{
    Pic *p = opaque;

    for (unsigned i = 0; i < size && offset + i < 2; i++) {
        unsigned n = (unsigned)(offset + i);
        uint8_t mask = n == PIC_MASTER ? PIC_ELCR_MASK_MASTER : PIC_ELCR_MASK_SLAVE;
        I8259 *c = &p->chip[n];
        c->elcr = (uint8_t)(value >> (8 * i)) & mask;
        /* A line that became level-triggered requests now if it is high. */
        c->irr = (uint8_t)((c->irr & ~c->elcr) | (c->lines & c->elcr));
    }
    pic_update(p);
}

static const LilyIoOps pic_elcr_ops = {
    .read = pic_elcr_read,
    .write = pic_elcr_write,
};

static gboolean pic_init(LilyInstance *inst, const LilyHost *host, const LilyOptValue *values,
                         void **state, GError **error)
{
    Pic *p = g_new0(Pic, 1);
    uint16_t master = (uint16_t)values[OPT_IOBASE_MASTER].i;
    uint16_t slave = (uint16_t)values[OPT_IOBASE_SLAVE].i;

    p->inst = inst;
    p->host = host;
    i8259_reset(&p->chip[PIC_MASTER], true);
    i8259_reset(&p->chip[PIC_SLAVE], false);
    p->chip[PIC_MASTER].rotate_always = p->chip[PIC_SLAVE].rotate_always =
        values[OPT_ROTATE].i != 0;
    for (unsigned i = 0; i < 2; i++)
        p->port[i] = (PicPort){ .pic = p, .chip = i };
    if (!host->pio_register(inst, master, 2, &pic_io_ops, &p->port[PIC_MASTER], error) ||
        !host->pio_register(inst, slave, 2, &pic_io_ops, &p->port[PIC_SLAVE], error))
        goto out_free_pic;
    if (values[OPT_ELCR].i &&
        !host->pio_register(inst, PIC_ELCR_PORT, 2, &pic_elcr_ops, p, error))
        goto out_free_pic;
    if (!host->irqchip_register(inst, &pic_chip_ops, p, error))
        goto out_free_pic;
    *state = p;
    return TRUE;

out_free_pic:
    /* Port regions are the core's to release with the instance. */
    g_free(p);
    return FALSE;
}

static void pic_fini(void *state)
{
    g_free(state);
}

static const LilyOption pic_options[] = {
    [OPT_IOBASE_MASTER] = { .name = "iobase-master", .type = LILY_OPT_INT, .def = "0x20",
                            .min = 0, .max = 0xfffe,
                            .help = "command port of the master 8259A (its data port "
                                    "follows)" },
    [OPT_IOBASE_SLAVE] = { .name = "iobase-slave", .type = LILY_OPT_INT, .def = "0xa0",
                           .min = 0, .max = 0xfffe,
                           .help = "command port of the slave 8259A, cascaded on the "
                                   "master's input 2 (its data port follows)" },
    [OPT_ELCR] = { .name = "elcr", .type = LILY_OPT_BOOL, .def = "off",
                   .help = "also claim ports 0x4d0-0x4d1, the edge/level control "
                           "registers of PCI chipsets (a set bit makes that line "
                           "level-triggered)" },
    [OPT_ROTATE] = { .name = "rotate", .type = LILY_OPT_BOOL, .def = "off",
                     .help = "every end of interrupt rotates priorities, as if the guest "
                             "had asked for rotation: the level just served becomes the "
                             "lowest (for nested emulation, where interrupts are paced "
                             "and an always-pending timer would starve the other lines)" },
    { .name = NULL },
};

static const LilyPluginDesc pic_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "pic-i8259",
    .kind = LILY_PLUGIN_IRQCHIP,
    .description = "8259A interrupt controller pair (master and cascaded slave), "
                   "lines 0-15",
    .options = pic_options,
    .init = pic_init,
    .fini = pic_fini,
};

LILYVM_PLUGIN_DEFINE(pic_desc)
