/* 8259A programmable interrupt controller pair: remap, masking, EOI. */
#ifndef LILY_PIC_H
#define LILY_PIC_H

#include <stdint.h>

#define PIC_MASTER_CMD  0x20
#define PIC_MASTER_DATA 0x21
#define PIC_SLAVE_CMD   0xa0
#define PIC_SLAVE_DATA  0xa1

/* Re-initialise both PICs: IRQ 0-7 at master_base, 8-15 at slave_base; all masked. */
void pic_remap(uint8_t master_base, uint8_t slave_base);
void pic_mask(unsigned irq);
void pic_unmask(unsigned irq);
/* 16-bit mask, bit n = IRQ n (slave in the high byte). */
void pic_set_imr(uint16_t mask);
uint16_t pic_get_imr(void);
/* Interrupt request and in-service registers (OCW3 reads). */
uint16_t pic_get_irr(void);
uint16_t pic_get_isr(void);
/* Non-specific end of interrupt for irq (both PICs for a slave IRQ). */
void pic_eoi(unsigned irq);

#endif
