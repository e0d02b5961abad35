/*
 * 8254 programmable interval timer: the model of the three counters
 * (control words, count loads and reads, latches, read-back, modes 0-5)
 * over a clock given by the caller, with no host I/O.  pit.c wires it to
 * the bus, the VM clock, IRQ 0 and port 0x61; tests drive it alone.
 *
 * The counters are not stepped: each one remembers the VM time at which it
 * started counting, and its count and OUT level are computed from the time
 * of the access.  So what the guest reads follows the VM clock exactly,
 * whatever the host does with timers.
 */
#ifndef LILYVM_I8254_H
#define LILYVM_I8254_H

#include <stdbool.h>
#include <stdint.h>

#define I8254_HZ 1193182u        /* the counters' input clock */
#define I8254_NEVER UINT64_MAX   /* "no such event" time */

/* Port offsets. */
#define I8254_PORT_COUNTER0 0
#define I8254_PORT_CONTROL 3

/* Control word fields. */
#define I8254_CW_SC_SHIFT 6       /* select counter 0-2, 3 = read-back */
#define I8254_CW_RW_SHIFT 4       /* 0 = latch, 1 = LSB, 2 = MSB, 3 = LSB then MSB */
#define I8254_CW_MODE_SHIFT 1
#define I8254_CW_BCD 0x01
#define I8254_RB_NO_COUNT 0x20    /* read-back: do not latch the count */
#define I8254_RB_NO_STATUS 0x10   /* read-back: do not latch the status */

/* Status byte (read-back). */
#define I8254_STATUS_OUT 0x80
#define I8254_STATUS_NULL_COUNT 0x40

enum {
    I8254_ACCESS_LATCH = 0,
    I8254_ACCESS_LSB = 1,
    I8254_ACCESS_MSB = 2,
    I8254_ACCESS_WORD = 3,
};

typedef struct I8254Counter {
    uint8_t mode;           /* 0..5 */
    uint8_t access;         /* I8254_ACCESS_LSB/MSB/WORD */
    bool bcd;
    bool gate;
    bool counting;          /* a count is loaded and the counter runs */
    bool null_count;        /* control word written, no count loaded yet */
    uint32_t reload;        /* initial count in input clocks (1..65536, BCD 1..10000) */
    uint32_t idle_count;    /* the count (binary) while not counting */
    uint64_t start_ns;      /* VM time at which the counter started (elapsed 0) */
    uint64_t held_ticks;    /* modes 0 and 4 with GATE low: the elapsed clocks so far */
    bool held;
    uint32_t epoch;         /* changes whenever the counter restarts */
    /* write side: LSB-then-MSB loads */
    bool write_msb;
    uint8_t write_lsb;
    /* read side */
    bool read_msb;          /* next unlatched read of a word is the MSB */
    uint16_t latch;         /* latched count */
    uint8_t latch_left;     /* bytes of the latched count still to read (0: none) */
    bool latch_msb;         /* next latched byte is the MSB */
    bool status_latched;
    uint8_t status;
} I8254Counter;

typedef struct I8254 {
    I8254Counter counter[3];
} I8254;

/*
 * i8254_reset() - power-on state at VM time now
 *
 * Counter 0 is left as PC firmware leaves it: mode 3, count 65536 (18.2 Hz),
 * running.  Counters 1 and 2 are in mode 0 with no count loaded.  The gates
 * of counters 0 and 1 are high; counter 2's is low (port 0x61 drives it).
 */
void i8254_reset(I8254 *p, uint64_t now);

/* A byte written to port offset 0..3 at VM time now. */
void i8254_write(I8254 *p, unsigned port, uint8_t value, uint64_t now);
/* A byte read from port offset 0..3 at VM time now (the control port reads 0xff). */
uint8_t i8254_read(I8254 *p, unsigned port, uint64_t now);

/* Counter n's GATE input (modes 1, 5 trigger on a rising edge; 2, 3 restart). */
void i8254_set_gate(I8254 *p, unsigned n, bool level, uint64_t now);

/* The count the counter holds at time now (what an unlatched read sees). */
uint16_t i8254_count(const I8254Counter *c, uint64_t now);
/* The OUT level at time now. */
bool i8254_out(const I8254Counter *c, uint64_t now);

/*
 * i8254_out_edges() - rising edges of OUT that signal an event, since start
 *
 * Mode 0 and 1: 1 once terminal count is reached; modes 2 and 3: one per
 * completed period; modes 4 and 5: 1 once the strobe has ended.  Zero while
 * the counter is not counting.  pit.c turns these into IRQ 0 edges.
 */
uint64_t i8254_out_edges(const I8254Counter *c, uint64_t now);

/* VM time of rising edge number n (1 = the first) since start, or I8254_NEVER. */
uint64_t i8254_edge_time(const I8254Counter *c, uint64_t n);

/* Conversions between VM nanoseconds and input clocks (rounded down / up). */
uint64_t i8254_ns_to_ticks(uint64_t ns);
uint64_t i8254_ticks_to_ns(uint64_t ticks);

#endif
