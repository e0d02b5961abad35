/*
 * 8259A programmable interrupt controller, one chip: initialisation words,
 * operation command words, request latching and priority resolution.
 *
 * Priorities are kept as "the level with the lowest priority" (lowest): the
 * level after it has the highest priority and the others follow in order,
 * so rotation is a change of lowest and nothing else.
 */
#include "plugins/pic-i8259/i8259.h"

#include <string.h>

void i8259_reset(I8259 *c, bool master)
{
    memset(c, 0, sizeof *c);
    c->master = master;
    c->vector_base = master ? 0x08 : 0x70;
    c->icw3 = master ? 0x04 : 0x02;
    c->imr = 0xff;
    c->lowest = 7;
}

static bool i8259_level_triggered(const I8259 *c, unsigned pin)
{
    return c->ltim || (c->elcr >> pin & 1);
}

/* Priority rank of pin: 0 is the highest. */
static unsigned i8259_rank(const I8259 *c, unsigned pin)
{
    return (pin - c->lowest - 1) & 7;
}

/* The level of highest priority among the bits of mask, or -1. */
static int i8259_highest(const I8259 *c, uint8_t mask)
{
    for (unsigned r = 0; r < 8; r++) {
        unsigned pin = (c->lowest + 1 + r) & 7;
        if (mask >> pin & 1)
            return (int)pin;
    }
    return -1;
}

void i8259_set_input(I8259 *c, unsigned pin, bool level)
{
    uint8_t bit = (uint8_t)(1u << (pin & 7));
    bool was = c->lines & bit;

    if (level)
        c->lines |= bit;
    else
        c->lines &= (uint8_t)~bit;
    if (i8259_level_triggered(c, pin & 7)) {
        if (level)
            c->irr |= bit;
        else
            c->irr &= (uint8_t)~bit;
    } else if (level && !was) {
        /* Edge-triggered: the request stays latched until acknowledged. */
        c->irr |= bit;
    }
}

bool i8259_is_cascade(const I8259 *c, unsigned pin)
{
    return c->master && !c->single && (c->icw3 >> (pin & 7) & 1);
}

int i8259_pending(const I8259 *c)
{
    if (c->init_step)
        return -1; /* a half-programmed chip has no vector base to give */
    uint8_t requests = (uint8_t)(c->irr & ~c->imr);
    if (c->special_mask) {
        /* Every unmasked level is enabled, except one already in service. */
        return i8259_highest(c, (uint8_t)(requests & ~c->isr));
    }
    int req = i8259_highest(c, requests);
    if (req < 0)
        return -1;
    uint8_t blocking = c->isr;
    /*
     * Special fully nested mode: a slave's input in service does not hold
     * back a further request from the same slave (of higher priority there).
     */
    if (c->sfnm && c->master && !c->single)
        blocking &= (uint8_t)~c->icw3;
    int cur = i8259_highest(c, blocking);
    if (cur >= 0 && i8259_rank(c, (unsigned)req) >= i8259_rank(c, (unsigned)cur))
        return -1;
    return req;
}

int i8259_ack(I8259 *c)
{
    int pin = i8259_pending(c);
    if (pin < 0)
        return I8259_SPURIOUS;
    uint8_t bit = (uint8_t)(1u << pin);
    if (!i8259_level_triggered(c, (unsigned)pin))
        c->irr &= (uint8_t)~bit;
    if (c->aeoi) {
        if (c->rotate_on_aeoi || c->rotate_always)
            c->lowest = (uint8_t)pin;
    } else {
        c->isr |= bit;
    }
    return pin;
}

uint8_t i8259_vector(const I8259 *c, unsigned pin)
{
    return (uint8_t)(c->vector_base | (pin & 7));
}

/* OCW2: end of interrupt, rotation, priority. */
static void i8259_ocw2(I8259 *c, uint8_t value)
{
    unsigned level = value & 7;
    int pin;

    switch (value & 0xe0) {
    case I8259_OCW2_EOI:
    case I8259_OCW2_ROTATE_EOI:
        pin = i8259_highest(c, c->isr);
        if (pin < 0)
            break;
        c->isr &= (uint8_t)~(1u << pin);
        if ((value & 0xe0) == I8259_OCW2_ROTATE_EOI || c->rotate_always)
            c->lowest = (uint8_t)pin;
        break;
    case I8259_OCW2_SPECIFIC_EOI:
        c->isr &= (uint8_t)~(1u << level);
        if (c->rotate_always)
            c->lowest = (uint8_t)level;
        break;
    case I8259_OCW2_ROTATE_SPECIFIC_EOI:
        c->isr &= (uint8_t)~(1u << level);
        c->lowest = (uint8_t)level;
        break;
    case I8259_OCW2_SET_PRIORITY:
        c->lowest = (uint8_t)level;
        break;
    case I8259_OCW2_ROTATE_AEOI_SET:
        c->rotate_on_aeoi = true;
        break;
    case I8259_OCW2_ROTATE_AEOI_CLEAR:
        c->rotate_on_aeoi = false;
        break;
    default: /* I8259_OCW2_NOP */
        break;
    }
}

static void i8259_ocw3(I8259 *c, uint8_t value)
{
    if (value & I8259_OCW3_POLL)
        c->poll = true;
    if (value & I8259_OCW3_RR)
        c->read_isr = value & I8259_OCW3_RIS;
    if (value & I8259_OCW3_ESMM)
        c->special_mask = value & I8259_OCW3_SMM;
}

static void i8259_icw1(I8259 *c, uint8_t value)
{
    c->icw4_expected = value & I8259_ICW1_IC4;
    c->single = value & I8259_ICW1_SNGL;
    c->ltim = value & I8259_ICW1_LTIM;
    c->init_step = 2;
    /*
     * The data sheet: the mask is cleared, IR7 gets the lowest priority,
     * special mask mode is reset, the IRR is selected for reading, and the
     * edge sense is reset (an edge-triggered line already high must go low
     * and high again to request).
     */
    c->imr = 0;
    c->isr = 0;
    c->lowest = 7;
    c->special_mask = false;
    c->read_isr = false;
    c->poll = false;
    c->rotate_on_aeoi = false;
    c->irr = 0;
    for (unsigned pin = 0; pin < 8; pin++) {
        if (i8259_level_triggered(c, pin))
            c->irr |= c->lines & (uint8_t)(1u << pin);
    }
    if (!c->icw4_expected) {
        c->aeoi = false;
        c->sfnm = false;
    }
}

void i8259_write(I8259 *c, unsigned a0, uint8_t value)
{
    if (!(a0 & 1)) {
        if (value & I8259_ICW1)
            i8259_icw1(c, value);
        else if (value & I8259_OCW3)
            i8259_ocw3(c, value);
        else
            i8259_ocw2(c, value);
        return;
    }
    switch (c->init_step) {
    case 2: /* ICW2: vector base */
        c->vector_base = value & 0xf8;
        c->init_step = !c->single ? 3 : c->icw4_expected ? 4 : 0;
        break;
    case 3: /* ICW3: slave inputs (master) or identity (slave) */
        c->icw3 = value;
        c->init_step = c->icw4_expected ? 4 : 0;
        break;
    case 4: /* ICW4 */
        c->aeoi = value & I8259_ICW4_AEOI;
        c->sfnm = value & I8259_ICW4_SFNM;
        c->init_step = 0;
        break;
    default: /* OCW1 */
        c->imr = value;
        break;
    }
}

uint8_t i8259_read(I8259 *c, unsigned a0)
{
    if (a0 & 1)
        return c->imr;
    if (c->poll) {
        /* A poll read is the acknowledge: it changes the ISR like one. */
        c->poll = false;
        if (i8259_pending(c) < 0)
            return 0;
        return (uint8_t)(0x80 | i8259_ack(c));
    }
    return c->read_isr ? c->isr : c->irr;
}
