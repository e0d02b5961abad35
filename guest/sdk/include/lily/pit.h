/* 8254 programmable interval timer, channel 0 (wired to IRQ 0). */
#ifndef LILY_PIT_H
#define LILY_PIT_H

#include <stdint.h>

#define PIT_HZ 1193182u

/* Channel 0 as a rate generator (mode 2) at about hz interrupts per second. */
void pit_set_rate(unsigned hz);
/* Latch and read channel 0's current count. */
uint16_t pit_read_count(void);

#endif
