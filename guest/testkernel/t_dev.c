/* Device tests that need no interrupts: the UART's loopback mode. */
#include <lily/io.h>
#include <lily/serial.h>
#include "kernel.h"
#include "tap.h"

#define SPIN_MAX 1000000u

/* Bytes sent in loopback mode come back, in order, without reaching the line. */
void t_dev_uart_loopback(void)
{
    const uint16_t base = SERIAL_COM1;
    const char msg[] = "Lily\n\x00\xff";
    uint8_t mcr = inb(base + SERIAL_MCR);
    uint32_t spins;

    /* Let the last TAP line leave first: loopback would swallow it. */
    for (spins = 0; spins < SPIN_MAX && !(inb(base + SERIAL_LSR) & SERIAL_LSR_TEMT); spins++)
        ;
    outb(base + SERIAL_MCR, mcr | SERIAL_MCR_LOOP);
    for (spins = 0; spins < 64 && serial_getc(base) >= 0; spins++)
        ; /* drop whatever was received before */

    int got[sizeof msg - 1];
    for (unsigned i = 0; i < sizeof msg - 1; i++) {
        serial_putc(base, msg[i]);
        got[i] = -1;
        for (spins = 0; spins < SPIN_MAX && got[i] < 0; spins++)
            got[i] = serial_getc(base);
    }
    int extra = serial_getc(base);
    outb(base + SERIAL_MCR, mcr);

    CHECK_EQ(inb(base + SERIAL_MCR), mcr);
    for (unsigned i = 0; i < sizeof msg - 1; i++)
        CHECK_EQ(got[i], (uint8_t)msg[i]);
    CHECK_EQ(extra, -1);
}
