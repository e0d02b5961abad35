/* 8254 PIT channel 0: periodic rate and counter reads. */
#include <lily/io.h>
#include <lily/pit.h>

#define PIT_CH0  0x40
#define PIT_CMD  0x43
#define PIT_CH0_LOHI_RATE 0x34 /* channel 0, lobyte/hibyte, mode 2 */
#define PIT_CH0_LATCH     0x00

void pit_set_rate(unsigned hz)
{
    unsigned divisor = hz ? PIT_HZ / hz : 0;

    if (divisor < 2)
        divisor = 2;
    if (divisor > 65535)
        divisor = 0; /* 0 means 65536 */
    outb(PIT_CMD, PIT_CH0_LOHI_RATE);
    outb(PIT_CH0, (uint8_t)divisor);
    outb(PIT_CH0, (uint8_t)(divisor >> 8));
}

uint16_t pit_read_count(void)
{
    outb(PIT_CMD, PIT_CH0_LATCH);
    uint8_t lo = inb(PIT_CH0);
    uint8_t hi = inb(PIT_CH0);
    return (uint16_t)(lo | (hi << 8));
}
