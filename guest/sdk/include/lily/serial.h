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
#define SERIAL_MSR 6
#define SERIAL_SCR 7 /* scratch register: a side-effect-free port to read */

#define SERIAL_MCR_LOOP 0x10 /* loopback: what is sent is received */
#define SERIAL_LSR_DR   0x01 /* a received byte is waiting */
#define SERIAL_LSR_THRE 0x20 /* transmit holding register empty */
#define SERIAL_LSR_TEMT 0x40 /* transmitter completely idle */

/* Program 115200 8N1 with FIFOs; returns 0, or -1 if no UART answers. */
int serial_init(uint16_t base);
void serial_putc(uint16_t base, char c);
/* The next received byte, or -1 if none is waiting. */
int serial_getc(uint16_t base);
void serial_write(uint16_t base, const char *s, unsigned len);

#endif
