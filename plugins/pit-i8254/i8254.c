/*
 * 8254 programmable interval timer: three counters computed from the time
 * they started.  Simplifications (documented in docs/devices.md): a count
 * written while a counter runs takes effect at once in every mode (the chip
 * waits for the end of the period in modes 2 and 3); modes 1 and 5 are
 * triggered by the count load as well as by a rising GATE; the load cycle
 * of one input clock after a count write is not modelled.
 */
#include "plugins/pit-i8254/i8254.h"

#include <string.h>

#define NS_PER_S 1000000000u

uint64_t i8254_ns_to_ticks(uint64_t ns)
{
    return (uint64_t)((unsigned __int128)ns * I8254_HZ / NS_PER_S);
}

uint64_t i8254_ticks_to_ns(uint64_t ticks)
{
    unsigned __int128 ns = ((unsigned __int128)ticks * NS_PER_S + I8254_HZ - 1) / I8254_HZ;
    return ns > (unsigned __int128)(I8254_NEVER - 1) ? I8254_NEVER - 1 : (uint64_t)ns;
}

static uint32_t i8254_from_bcd(uint16_t v)
{
    return (v >> 12 & 0xf) * 1000u + (v >> 8 & 0xf) * 100u + (v >> 4 & 0xf) * 10u + (v & 0xf);
}

static uint16_t i8254_to_bcd(uint32_t v)
{
    return (uint16_t)((v / 1000 % 10) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 |
                      (v % 10));
}

/* Input clocks counted since the counter started. */
static uint64_t i8254_elapsed(const I8254Counter *c, uint64_t now)
{
    if (c->held)
        return c->held_ticks;
    if (now < c->start_ns)
        return 0;
    return i8254_ns_to_ticks(now - c->start_ns);
}

/* The count in binary, 0..modulus-1 (65536 and 10000 read as 0). */
static uint32_t i8254_count_binary(const I8254Counter *c, uint64_t now)
{
    uint32_t modulus = c->bcd ? 10000u : 65536u;
    uint64_t d = i8254_elapsed(c, now);
    uint64_t v;

    switch (c->mode) {
    case 2:
        v = c->reload - d % c->reload;
        break;
    case 3:
        v = c->reload - (2 * d) % c->reload;
        break;
    default: /* 0, 1, 4, 5: count down and wrap past zero */
        v = (c->reload + modulus - d % modulus) % modulus;
        break;
    }
    return (uint32_t)(v % modulus);
}

uint16_t i8254_count(const I8254Counter *c, uint64_t now)
{
    uint32_t v = c->counting ? i8254_count_binary(c, now) : c->idle_count;
    return c->bcd ? i8254_to_bcd(v) : (uint16_t)v;
}

bool i8254_out(const I8254Counter *c, uint64_t now)
{
    if (!c->counting)
        return c->mode != 0; /* after a control word: low in mode 0, high otherwise */
    uint64_t d = i8254_elapsed(c, now);
    switch (c->mode) {
    case 0:
    case 1:
        return d >= c->reload;
    case 2:
        if (c->held)
            return true;
        return c->reload < 2 || d % c->reload != c->reload - 1;
    case 3:
        if (c->held)
            return true;
        return d % c->reload < (c->reload + 1) / 2;
    default: /* 4, 5: low for the one clock at terminal count */
        return d != c->reload;
    }
}

uint64_t i8254_out_edges(const I8254Counter *c, uint64_t now)
{
    if (!c->counting)
        return 0;
    uint64_t d = i8254_elapsed(c, now);
    switch (c->mode) {
    case 0:
    case 1:
        return d >= c->reload;
    case 2:
    case 3:
        return d / c->reload;
    default:
        return d > c->reload;
    }
}

uint64_t i8254_edge_time(const I8254Counter *c, uint64_t n)
{
    if (!c->counting || c->held || n == 0)
        return I8254_NEVER;
    uint64_t ticks;
    switch (c->mode) {
    case 0:
    case 1:
        if (n > 1)
            return I8254_NEVER;
        ticks = c->reload;
        break;
    case 2:
    case 3:
        if (n > UINT64_MAX / c->reload)
            return I8254_NEVER;
        ticks = n * c->reload;
        break;
    default:
        if (n > 1)
            return I8254_NEVER;
        ticks = (uint64_t)c->reload + 1;
        break;
    }
    uint64_t ns = i8254_ticks_to_ns(ticks);
    return ns > I8254_NEVER - 1 - c->start_ns ? I8254_NEVER : c->start_ns + ns;
}

/* Start counting from the beginning at time now. */
static void i8254_restart(I8254Counter *c, uint64_t now)
{
    c->start_ns = now;
    c->counting = true;
    c->held_ticks = 0;
    /* GATE low stops modes 0, 2, 3 and 4; modes 1 and 5 are triggered by the load too. */
    c->held = !c->gate && c->mode != 1 && c->mode != 5;
    c->epoch++;
}

static void i8254_load(I8254Counter *c, uint16_t raw, uint64_t now)
{
    uint32_t v = c->bcd ? i8254_from_bcd(raw) : raw;
    if (v == 0)
        v = c->bcd ? 10000u : 65536u;
    c->reload = v;
    c->null_count = false;
    i8254_restart(c, now);
}

static void i8254_latch_count(I8254Counter *c, uint64_t now)
{
    if (c->latch_left)
        return; /* the first latch holds until it is read */
    c->latch = i8254_count(c, now);
    c->latch_left = c->access == I8254_ACCESS_WORD ? 2 : 1;
    c->latch_msb = c->access == I8254_ACCESS_MSB;
}

static void i8254_latch_status(I8254Counter *c, uint64_t now)
{
    if (c->status_latched)
        return;
    c->status = (uint8_t)((i8254_out(c, now) ? I8254_STATUS_OUT : 0) |
                          (c->null_count ? I8254_STATUS_NULL_COUNT : 0) |
                          c->access << I8254_CW_RW_SHIFT | c->mode << I8254_CW_MODE_SHIFT |
                          (c->bcd ? I8254_CW_BCD : 0));
    c->status_latched = true;
}

static void i8254_control(I8254 *p, uint8_t value, uint64_t now)
{
    unsigned sc = value >> I8254_CW_SC_SHIFT;

    if (sc == 3) { /* read-back: bits 1-3 select counters 0-2 */
        for (unsigned n = 0; n < 3; n++) {
            if (!(value & (2u << n)))
                continue;
            /* The status comes first when both are latched (see i8254_read). */
            if (!(value & I8254_RB_NO_STATUS))
                i8254_latch_status(&p->counter[n], now);
            if (!(value & I8254_RB_NO_COUNT))
                i8254_latch_count(&p->counter[n], now);
        }
        return;
    }
    I8254Counter *c = &p->counter[sc];
    unsigned rw = value >> I8254_CW_RW_SHIFT & 3;
    if (rw == I8254_ACCESS_LATCH) {
        i8254_latch_count(c, now);
        return;
    }
    /* A new mode stops the counter until a count is written. */
    c->idle_count = c->counting ? i8254_count_binary(c, now) : c->idle_count;
    unsigned mode = value >> I8254_CW_MODE_SHIFT & 7;
    c->mode = (uint8_t)(mode > 5 ? mode - 4 : mode); /* 6 and 7 are 2 and 3 */
    c->access = (uint8_t)rw;
    c->bcd = value & I8254_CW_BCD;
    if (c->bcd && c->idle_count >= 10000)
        c->idle_count = 0;
    c->counting = false;
    c->held = false;
    c->null_count = true;
    c->write_msb = false;
    c->read_msb = false;
    c->latch_left = 0;
    c->status_latched = false;
    c->epoch++;
}

void i8254_write(I8254 *p, unsigned port, uint8_t value, uint64_t now)
{
    if (port >= 3) {
        i8254_control(p, value, now);
        return;
    }
    I8254Counter *c = &p->counter[port];
    switch (c->access) {
    case I8254_ACCESS_LSB:
        i8254_load(c, value, now);
        break;
    case I8254_ACCESS_MSB:
        i8254_load(c, (uint16_t)(value << 8), now);
        break;
    default:
        if (!c->write_msb) {
            c->write_lsb = value;
            c->write_msb = true;
        } else {
            c->write_msb = false;
            i8254_load(c, (uint16_t)(c->write_lsb | value << 8), now);
        }
        break;
    }
}

uint8_t i8254_read(I8254 *p, unsigned port, uint64_t now)
{
    if (port >= 3)
        return 0xff; /* the control word cannot be read back this way */
    I8254Counter *c = &p->counter[port];
    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    if (c->latch_left) {
        uint8_t byte = (uint8_t)(c->latch_msb ? c->latch >> 8 : c->latch);
        c->latch_msb = !c->latch_msb;
        c->latch_left--;
        return byte;
    }
    uint16_t v = i8254_count(c, now);
    switch (c->access) {
    case I8254_ACCESS_LSB:
        return (uint8_t)v;
    case I8254_ACCESS_MSB:
        return (uint8_t)(v >> 8);
    default:
        c->read_msb = !c->read_msb;
        return (uint8_t)(c->read_msb ? v : v >> 8);
    }
}

void i8254_set_gate(I8254 *p, unsigned n, bool level, uint64_t now)
{
    I8254Counter *c = &p->counter[n];

    if (c->gate == level)
        return;
    c->gate = level;
    if (!c->counting)
        return;
    switch (c->mode) {
    case 0:
    case 4:
        /* GATE low suspends counting; high resumes where it stopped. */
        if (!level) {
            c->held_ticks = i8254_elapsed(c, now);
            c->held = true;
        } else if (c->held) {
            uint64_t back = i8254_ticks_to_ns(c->held_ticks);
            c->start_ns = now > back ? now - back : 0;
            c->held = false;
        }
        break;
    case 2:
    case 3:
        /* GATE low stops the counter with OUT high; a rising edge reloads. */
        if (!level) {
            c->held_ticks = i8254_elapsed(c, now);
            c->held = true;
        } else {
            i8254_restart(c, now);
        }
        break;
    default: /* 1, 5: a rising edge (re)triggers */
        if (level)
            i8254_restart(c, now);
        break;
    }
}

void i8254_reset(I8254 *p, uint64_t now)
{
    memset(p, 0, sizeof *p);
    for (unsigned n = 0; n < 3; n++) {
        I8254Counter *c = &p->counter[n];
        c->access = I8254_ACCESS_WORD;
        c->gate = n != 2;
        c->reload = 65536;
        c->null_count = true;
    }
    /* Counter 0 as firmware programs it: 18.2 Hz square wave. */
    p->counter[0].mode = 3;
    p->counter[0].null_count = false;
    i8254_restart(&p->counter[0], now);
}
