/* 8259A PIC pair: initialisation (ICW1-4), masks, register reads, EOI. */
#include <lily/io.h>
#include <lily/pic.h>

#define ICW1_INIT_ICW4 0x11 /* edge triggered, cascade, ICW4 follows */
#define ICW4_8086      0x01
#define OCW3_READ_IRR  0x0a
#define OCW3_READ_ISR  0x0b
#define OCW2_EOI       0x20

void pic_remap(uint8_t master_base, uint8_t slave_base)
{
    outb(PIC_MASTER_CMD, ICW1_INIT_ICW4);
    io_wait();
    outb(PIC_SLAVE_CMD, ICW1_INIT_ICW4);
    io_wait();
    outb(PIC_MASTER_DATA, master_base);
    io_wait();
    outb(PIC_SLAVE_DATA, slave_base);
    io_wait();
    outb(PIC_MASTER_DATA, 1u << 2); /* slave on IRQ 2 */
    io_wait();
    outb(PIC_SLAVE_DATA, 2); /* slave identity */
    io_wait();
    outb(PIC_MASTER_DATA, ICW4_8086);
    io_wait();
    outb(PIC_SLAVE_DATA, ICW4_8086);
    io_wait();
    /* Everything masked except the cascade line; drivers unmask what they use. */
    pic_set_imr(0xffff & ~(1u << 2));
}

void pic_set_imr(uint16_t mask)
{
    outb(PIC_MASTER_DATA, (uint8_t)mask);
    outb(PIC_SLAVE_DATA, (uint8_t)(mask >> 8));
}

uint16_t pic_get_imr(void)
{
    return (uint16_t)(inb(PIC_MASTER_DATA) | (inb(PIC_SLAVE_DATA) << 8));
}

void pic_mask(unsigned irq)
{
    pic_set_imr(pic_get_imr() | (uint16_t)(1u << irq));
}

void pic_unmask(unsigned irq)
{
    pic_set_imr(pic_get_imr() & (uint16_t) ~(1u << irq));
}

static uint16_t pic_read_reg(uint8_t ocw3)
{
    outb(PIC_MASTER_CMD, ocw3);
    outb(PIC_SLAVE_CMD, ocw3);
    return (uint16_t)(inb(PIC_MASTER_CMD) | (inb(PIC_SLAVE_CMD) << 8));
}

uint16_t pic_get_irr(void)
{
    return pic_read_reg(OCW3_READ_IRR);
}

uint16_t pic_get_isr(void)
{
    return pic_read_reg(OCW3_READ_ISR);
}

void pic_eoi(unsigned irq)
{
    if (irq >= 8)
        outb(PIC_SLAVE_CMD, OCW2_EOI);
    outb(PIC_MASTER_CMD, OCW2_EOI);
}
