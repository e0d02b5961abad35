/*
 * 8259A programmable interrupt controller: the model of one chip (ICW/OCW
 * programming, IRR/ISR/IMR, priorities, EOI, poll) with no host I/O.  pic.c
 * wires a master and a slave together and to the core; tests drive it alone.
 */
#ifndef LILYVM_I8259_H
#define LILYVM_I8259_H

#include <stdbool.h>
#include <stdint.h>

/* Command port (A0 = 0) bits. */
#define I8259_ICW1 0x10      /* with A0 = 0: start of the initialisation */
#define I8259_ICW1_IC4 0x01  /* ICW4 follows */
#define I8259_ICW1_SNGL 0x02 /* single chip: no ICW3 */
#define I8259_ICW1_LTIM 0x08 /* level-triggered inputs */
#define I8259_OCW3 0x08      /* with A0 = 0 and bit 4 clear: OCW3, else OCW2 */
#define I8259_OCW3_RIS 0x01  /* read ISR (else IRR) ... */
#define I8259_OCW3_RR 0x02   /* ... when this bit is set */
#define I8259_OCW3_POLL 0x04
#define I8259_OCW3_SMM 0x20  /* special mask mode ... */
#define I8259_OCW3_ESMM 0x40 /* ... changes only when this bit is set */
#define I8259_ICW4_8086 0x01
#define I8259_ICW4_AEOI 0x02
#define I8259_ICW4_SFNM 0x10 /* special fully nested mode */

/* OCW2 commands (bits 7-5, R SL EOI); the low three bits name a level. */
#define I8259_OCW2_ROTATE_AEOI_CLEAR 0x00
#define I8259_OCW2_EOI 0x20
#define I8259_OCW2_NOP 0x40
#define I8259_OCW2_SPECIFIC_EOI 0x60
#define I8259_OCW2_ROTATE_AEOI_SET 0x80
#define I8259_OCW2_ROTATE_EOI 0xa0
#define I8259_OCW2_SET_PRIORITY 0xc0
#define I8259_OCW2_ROTATE_SPECIFIC_EOI 0xe0

/* The level the chip answers an acknowledge with when nothing is pending. */
#define I8259_SPURIOUS 7

typedef struct I8259 {
    uint8_t irr;          /* interrupt request register */
    uint8_t isr;          /* in-service register */
    uint8_t imr;          /* interrupt mask register (OCW1) */
    uint8_t lines;        /* current input levels */
    uint8_t elcr;         /* inputs that are level-triggered whatever LTIM says */
    uint8_t vector_base;  /* ICW2, low three bits clear */
    uint8_t icw3;         /* master: inputs with a slave; slave: its identity */
    uint8_t lowest;       /* the level with the lowest priority (rotation) */
    uint8_t init_step;    /* 0: operating; 2, 3, 4: the ICW expected next */
    bool icw4_expected;   /* ICW1 said IC4 */
    bool single;          /* ICW1 SNGL */
    bool ltim;            /* ICW1 LTIM: all inputs level-triggered */
    bool aeoi;            /* ICW4 AEOI */
    bool sfnm;            /* ICW4 special fully nested mode */
    bool rotate_on_aeoi;  /* OCW2 rotate in automatic EOI mode */
    bool special_mask;    /* OCW3 special mask mode */
    bool read_isr;        /* OCW3: the command port reads the ISR (else the IRR) */
    bool poll;            /* OCW3 poll: the next command port read is a poll */
    bool master;          /* wired as the master (its ICW3 is a mask of slaves) */
    bool rotate_always;   /* every end of interrupt rotates (the rotate option) */
} I8259;

/*
 * i8259_reset() - power-on state
 * @c: the chip
 * @master: whether it is wired as the master of a pair
 *
 * The chip starts as a PC firmware leaves it: initialised for a cascade,
 * edge-triggered, master vectors from 0x08 and slave vectors from 0x70,
 * every input masked.  A guest re-initialises it with ICW1-ICW4.
 */
void i8259_reset(I8259 *c, bool master);

/*
 * i8259_set_input() - an input line changes level
 * @c: the chip
 * @pin: input 0..7
 * @level: the new level
 *
 * Edge-triggered inputs latch a request in the IRR on a rising edge only; a
 * line held high does not request again.  Level-triggered inputs (LTIM or
 * the pin's ELCR bit) request while high and withdraw the request when low.
 */
void i8259_set_input(I8259 *c, unsigned pin, bool level);

/*
 * i8259_pending() - the level the chip would hand out on an acknowledge
 *
 * Return: 0..7, the unmasked request of highest priority that is also of
 * higher priority than every level in service (in fully nested mode), or -1
 * when the INT output is low.
 */
int i8259_pending(const I8259 *c);

/*
 * i8259_ack() - the interrupt acknowledge cycle
 *
 * Moves the pending request from the IRR to the ISR (or only clears it under
 * AEOI) and returns its level.  With nothing pending the chip answers with
 * level 7 and sets no ISR bit: the spurious IRQ 7 of the data sheet.
 * Return: the acknowledged level 0..7, or I8259_SPURIOUS.
 */
int i8259_ack(I8259 *c);

/* The vector the chip puts on the bus for level pin (ICW2 base + pin). */
uint8_t i8259_vector(const I8259 *c, unsigned pin);

/* Is pin one of the master's cascade inputs (ICW3 of a chip in cascade mode)? */
bool i8259_is_cascade(const I8259 *c, unsigned pin);

/* A byte the CPU writes; a0 is address line A0 (0: command, 1: data port). */
void i8259_write(I8259 *c, unsigned a0, uint8_t value);
/*
 * A byte the CPU reads.  A command port read after an OCW3 poll command is an
 * acknowledge: 0x80 | level when a request was pending, 0 when none was.
 */
uint8_t i8259_read(I8259 *c, unsigned a0);

#endif
