/*
 * Interrupt tests with the PIT on IRQ 0: remapping, masking, EOI and the
 * interrupt flag.  Waits poll the PIC's request register (the PIT keeps
 * raising IRQ 0) with bounded spins, so a broken machine fails instead of
 * hanging; nothing here measures time.
 */
#include <lily/cpu.h>
#include <lily/pic.h>
#include <lily/pit.h>
#include "kernel.h"
#include "tap.h"

#define SPIN_MAX 20000000u

/* Spin until IRQ 0 is requested at the PIC; 1 if it was. */
static int wait_irr0(void)
{
    for (uint32_t i = 0; i < SPIN_MAX; i++)
        if (pic_get_irr() & 1)
            return 1;
    return 0;
}

static int wait_ticks_change(uint32_t from)
{
    for (uint32_t i = 0; i < SPIN_MAX; i++) {
        if (timer_ticks != from)
            return 1;
        __asm__ volatile("pause");
    }
    return 0;
}

void t_irq_pic_remap(void)
{
    if (!need_timer())
        return;
    uint16_t old = pic_get_imr();

    CHECK_EQ(old & 0x5, 0); /* IRQ 0 (timer) and 2 (cascade) unmasked */
    pic_set_imr(0x5afa);
    CHECK_EQ(pic_get_imr(), 0x5afa);
    pic_set_imr(old);
    CHECK_EQ(pic_get_imr(), old);
    timer_last_vector = 0;
    CHECK(timer_wait_until(timer_ticks + 1, 100000));
    CHECK_EQ(timer_last_vector, VEC_IRQ0); /* IRQ 0 arrives where it was remapped */
}

void t_irq_pit_ticks(void)
{
    if (!need_timer())
        return;
    uint32_t t0 = timer_ticks;

    CHECK(timer_wait_until(t0 + 5, 100000));
    CHECK(timer_ticks - t0 >= 5);
    /* The counter is running: two latched reads differ at some point. */
    uint16_t c0 = pit_read_count(), c1 = c0;
    for (uint32_t i = 0; i < 100000 && c1 == c0; i++)
        c1 = pit_read_count();
    CHECK_NE(c1, c0);
}

void t_irq_mask(void)
{
    if (!need_timer())
        return;
    uint32_t flags = irq_save();

    pic_mask(0);
    sti();
    uint32_t t0 = timer_ticks;
    CHECK(wait_irr0()); /* requested ... */
    CHECK(wait_irr0());
    CHECK_EQ(timer_ticks, t0); /* ... but not delivered while masked */
    pic_unmask(0);
    CHECK(wait_ticks_change(t0));
    irq_restore(flags);
}

static volatile uint32_t no_eoi_count;

/* Counts IRQ 0 and acknowledges it only from the second time on. */
static void timer_irq_late_eoi(struct trap_frame *f)
{
    (void)f;
    no_eoi_count++;
    timer_ticks++;
    if (no_eoi_count >= 2)
        pic_eoi(0);
}

void t_irq_eoi(void)
{
    if (!need_timer())
        return;
    no_eoi_count = 0;
    uint32_t flags = irq_save();
    trap_set_handler(VEC_IRQ0, timer_irq_late_eoi);
    sti();
    for (uint32_t i = 0; i < SPIN_MAX && no_eoi_count == 0; i++)
        __asm__ volatile("pause");
    CHECK_EQ(no_eoi_count, 1);
    /* Without EOI the in-service bit blocks the next request. */
    CHECK_EQ(pic_get_isr() & 1, 1);
    CHECK(wait_irr0());
    CHECK_EQ(no_eoi_count, 1);
    cli();
    pic_eoi(0);
    CHECK_EQ(pic_get_isr() & 1, 0);
    sti();
    for (uint32_t i = 0; i < SPIN_MAX && no_eoi_count == 1; i++)
        __asm__ volatile("pause");
    CHECK_GT(no_eoi_count, 1);
    cli();
    trap_set_handler(VEC_IRQ0, timer_irq);
    irq_restore(flags);
}

void t_irq_cli_defers(void)
{
    if (!need_timer())
        return;
    uint32_t flags = irq_save();
    uint32_t t0 = timer_ticks;

    CHECK(wait_irr0());
    CHECK_EQ(timer_ticks, t0);
    sti();
    CHECK(wait_ticks_change(t0));
    irq_restore(flags);
}
