/* 16550 UART driver (polled output, COM1 by default). */
#ifndef LILY_SERIAL_H
#define LILY_SERIAL_H

#include <stdint.h>

#define SERIAL_COM1 0x3f8

/* UART register offsets from the base port. */
#define SERIAL_THR 0 /* transmit holding (write), receive buffer (read) */
#define SERIAL_IER 1
#define SERIAL_FCR 2
#define SERIAL_LCR 3
#define SERIAL_MCR 4
#define SERIAL_LSR 5
#define SERIAL_SCR 7 /* scratch register: a side-effect-free port to read */

/* Program 115200 8N1 with FIFOs; returns 0, or -1 if no UART answers. */
int serial_init(uint16_t base);
void serial_putc(uint16_t base, char c);
void serial_write(uint16_t base, const char *s, unsigned len);

#endif
