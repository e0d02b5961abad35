/* Polled 16550 UART driver: 115200 8N1, FIFOs on, no interrupts. */
#include <lily/io.h>
#include <lily/serial.h>

#define LCR_DLAB 0x80
#define LCR_8N1  0x03

int serial_init(uint16_t base)
{
    /* The scratch register holds what was written if a UART is there. */
    outb(base + SERIAL_SCR, 0x5a);
    if (inb(base + SERIAL_SCR) != 0x5a)
        return -1;
    outb(base + SERIAL_IER, 0x00);
    outb(base + SERIAL_LCR, LCR_DLAB);
    outb(base + 0, 1); /* divisor 1: 115200 baud */
    outb(base + 1, 0);
    outb(base + SERIAL_LCR, LCR_8N1);
    outb(base + SERIAL_FCR, 0x07); /* enable and clear FIFOs */
    outb(base + SERIAL_MCR, 0x03); /* DTR, RTS */
    return 0;
}

void serial_putc(uint16_t base, char c)
{
    /* Bounded wait: a missing or stuck UART must not hang the kernel. */
    for (unsigned spin = 0; spin < 100000; spin++)
        if (inb(base + SERIAL_LSR) & SERIAL_LSR_THRE)
            break;
    outb(base + SERIAL_THR, (uint8_t)c);
}

int serial_getc(uint16_t base)
{
    if (!(inb(base + SERIAL_LSR) & SERIAL_LSR_DR))
        return -1;
    return inb(base + SERIAL_THR);
}

void serial_write(uint16_t base, const char *s, unsigned len)
{
    for (unsigned i = 0; i < len; i++) {
        if (s[i] == '\n')
            serial_putc(base, '\r');
        serial_putc(base, s[i]);
    }
}
