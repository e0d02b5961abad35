/*
 * The 8259A chip model on its own (plugins/pic-i8259/i8259.c): programming,
 * request latching, masks, priorities, EOI variants, register reads, poll
 * and spurious acknowledges.
 */
#include <glib.h>

#include "plugins/pic-i8259/i8259.h"

/* ICW1 (edge, cascade, ICW4), ICW2, ICW3, ICW4 (8086): as guest/sdk/pic.c. */
static void chip_program(I8259 *c, bool master, uint8_t base)
{
    i8259_write(c, 0, 0x11);
    i8259_write(c, 1, base);
    i8259_write(c, 1, master ? 0x04 : 0x02);
    i8259_write(c, 1, 0x01);
}

static void chip_init(I8259 *c, bool master, uint8_t base)
{
    i8259_reset(c, master);
    chip_program(c, master, base);
}

static I8259 master_ready(void)
{
    I8259 c;
    chip_init(&c, true, 0x20);
    return c;
}

/* One rising edge whatever the line's level was; the line ends low. */
static void pulse(I8259 *c, unsigned pin)
{
    i8259_set_input(c, pin, false);
    i8259_set_input(c, pin, true);
    i8259_set_input(c, pin, false);
}

static void test_reset_state(void)
{
    I8259 c;
    i8259_reset(&c, true);
    g_assert_cmphex(i8259_read(&c, 1), ==, 0xff); /* everything masked */
    i8259_set_input(&c, 0, true);
    g_assert_cmphex(i8259_read(&c, 0), ==, 0x01); /* requested ... */
    g_assert_cmpint(i8259_pending(&c), ==, -1);   /* ... not delivered */
    g_assert_cmphex(i8259_vector(&c, 0), ==, 0x08);
    i8259_reset(&c, false);
    g_assert_cmphex(i8259_vector(&c, 0), ==, 0x70);
}

static void test_init_sequence(void)
{
    I8259 c;
    i8259_reset(&c, true);
    i8259_write(&c, 0, 0x11);
    g_assert_cmpint(c.init_step, ==, 2);
    i8259_write(&c, 1, 0x27); /* low three bits are not part of the base */
    g_assert_cmpint(c.init_step, ==, 3);
    i8259_write(&c, 1, 0x04);
    g_assert_cmpint(c.init_step, ==, 4);
    i8259_write(&c, 1, 0x01);
    g_assert_cmpint(c.init_step, ==, 0);
    g_assert_cmphex(i8259_read(&c, 1), ==, 0x00); /* ICW1 cleared the mask */
    g_assert_cmphex(i8259_vector(&c, 3), ==, 0x23);
    g_assert_true(i8259_is_cascade(&c, 2));
    g_assert_false(i8259_is_cascade(&c, 3));
    /* After the ICWs, the data port is the mask (OCW1). */
    i8259_write(&c, 1, 0x5a);
    g_assert_cmphex(i8259_read(&c, 1), ==, 0x5a);
}

static void test_init_single_no_icw4(void)
{
    I8259 c;
    i8259_reset(&c, true);
    i8259_write(&c, 0, 0x12); /* SNGL, no IC4: ICW2 only */
    i8259_write(&c, 1, 0x40);
    g_assert_cmpint(c.init_step, ==, 0);
    g_assert_false(i8259_is_cascade(&c, 2));
    i8259_write(&c, 1, 0x80);
    g_assert_cmphex(i8259_read(&c, 1), ==, 0x80);

    /* SNGL with IC4: ICW2 then ICW4, no ICW3. */
    i8259_write(&c, 0, 0x13);
    i8259_write(&c, 1, 0x40);
    g_assert_cmpint(c.init_step, ==, 4);
    i8259_write(&c, 1, 0x03); /* 8086, AEOI */
    g_assert_true(c.aeoi);
    g_assert_cmpint(c.init_step, ==, 0);
}

static void test_edge_triggered(void)
{
    I8259 c = master_ready();

    i8259_set_input(&c, 3, true);
    g_assert_cmpint(i8259_pending(&c), ==, 3);
    g_assert_cmpint(i8259_ack(&c), ==, 3);
    g_assert_cmphex(c.isr, ==, 0x08);
    g_assert_cmphex(c.irr, ==, 0x00);
    /* Held high: no new request, not even after the EOI. */
    i8259_write(&c, 0, 0x20);
    g_assert_cmphex(c.isr, ==, 0x00);
    g_assert_cmpint(i8259_pending(&c), ==, -1);
    /* A new rising edge requests again. */
    pulse(&c, 3);
    g_assert_cmpint(i8259_pending(&c), ==, 3);
    /* A request latched by an edge stays until acknowledged. */
    g_assert_cmphex(c.irr, ==, 0x08);
}

static void test_level_triggered(void)
{
    I8259 c;
    i8259_reset(&c, true);
    i8259_write(&c, 0, 0x19); /* LTIM */
    i8259_write(&c, 1, 0x20);
    i8259_write(&c, 1, 0x04);
    i8259_write(&c, 1, 0x01);

    i8259_set_input(&c, 4, true);
    g_assert_cmpint(i8259_ack(&c), ==, 4);
    g_assert_cmpint(i8259_pending(&c), ==, -1); /* in service */
    i8259_write(&c, 0, 0x20);
    g_assert_cmpint(i8259_pending(&c), ==, 4); /* still high: requests again */
    i8259_set_input(&c, 4, false);
    g_assert_cmpint(i8259_pending(&c), ==, -1); /* request withdrawn */
    g_assert_cmphex(c.irr, ==, 0x00);
}

static void test_elcr_level(void)
{
    I8259 c = master_ready();
    c.elcr = 0x20; /* pin 5 level-triggered, the rest edge */

    i8259_set_input(&c, 5, true);
    i8259_set_input(&c, 6, true);
    i8259_set_input(&c, 5, false);
    i8259_set_input(&c, 6, false);
    g_assert_cmphex(c.irr, ==, 0x40); /* the edge stays latched, the level does not */
}

static void test_mask(void)
{
    I8259 c = master_ready();

    i8259_write(&c, 1, 0x01);
    i8259_set_input(&c, 0, true);
    g_assert_cmphex(i8259_read(&c, 0), ==, 0x01); /* IRR shows it */
    g_assert_cmpint(i8259_pending(&c), ==, -1);
    i8259_write(&c, 1, 0x00);
    g_assert_cmpint(i8259_pending(&c), ==, 0);
}

static void test_priorities_and_nesting(void)
{
    I8259 c = master_ready();

    i8259_set_input(&c, 5, true);
    i8259_set_input(&c, 3, true);
    g_assert_cmpint(i8259_ack(&c), ==, 3); /* lower level first */
    g_assert_cmpint(i8259_pending(&c), ==, -1); /* 5 waits behind 3 */
    i8259_set_input(&c, 1, true);
    g_assert_cmpint(i8259_ack(&c), ==, 1); /* 1 nests inside 3 */
    g_assert_cmphex(c.isr, ==, 0x0a);
    i8259_write(&c, 0, 0x20); /* non-specific EOI ends the highest: 1 */
    g_assert_cmphex(c.isr, ==, 0x08);
    g_assert_cmpint(i8259_pending(&c), ==, -1);
    i8259_write(&c, 0, 0x20);
    g_assert_cmphex(c.isr, ==, 0x00);
    g_assert_cmpint(i8259_ack(&c), ==, 5);
}

static void test_specific_eoi(void)
{
    I8259 c = master_ready();

    i8259_set_input(&c, 5, true);
    g_assert_cmpint(i8259_ack(&c), ==, 5);
    i8259_set_input(&c, 3, true);
    g_assert_cmpint(i8259_ack(&c), ==, 3);
    g_assert_cmphex(c.isr, ==, 0x28);
    i8259_write(&c, 0, 0x60 | 5); /* specific EOI for 5, not the highest */
    g_assert_cmphex(c.isr, ==, 0x08);
    i8259_write(&c, 0, 0x60 | 3);
    g_assert_cmphex(c.isr, ==, 0x00);
    i8259_write(&c, 0, 0x40); /* no operation */
    g_assert_cmphex(c.isr, ==, 0x00);
}

static void test_rotation(void)
{
    I8259 c = master_ready();

    i8259_set_input(&c, 3, true);
    g_assert_cmpint(i8259_ack(&c), ==, 3);
    i8259_write(&c, 0, 0xa0); /* rotate on non-specific EOI: 3 becomes lowest */
    g_assert_cmphex(c.isr, ==, 0x00);
    i8259_set_input(&c, 2, true);
    i8259_set_input(&c, 4, true);
    g_assert_cmpint(i8259_pending(&c), ==, 4); /* order 4 5 6 7 0 1 2 3 */

    i8259_write(&c, 0, 0xc0 | 5); /* set priority: 5 lowest, 6 highest */
    g_assert_cmpint(i8259_pending(&c), ==, 2);
    g_assert_cmpint(i8259_ack(&c), ==, 2);
    i8259_write(&c, 0, 0xe0 | 2); /* rotate on specific EOI: 2 lowest */
    g_assert_cmphex(c.isr, ==, 0x00);
    g_assert_cmpint(i8259_pending(&c), ==, 4);
}

/* The rotate option: a level that is always pending (a paced timer) takes
 * its turn after the others instead of before them. */
static void test_rotate_always(void)
{
    for (int rotate = 0; rotate <= 1; rotate++) {
        I8259 c = master_ready();
        c.rotate_always = rotate;
        pulse(&c, 0);
        pulse(&c, 2);
        g_assert_cmpint(i8259_ack(&c), ==, 0);
        i8259_write(&c, 0, 0x20); /* non-specific EOI */
        pulse(&c, 0);             /* the timer is due again already */
        g_assert_cmpint(i8259_ack(&c), ==, rotate ? 2 : 0);
        i8259_write(&c, 0, 0x60 | (rotate ? 2 : 0)); /* specific EOI */
        g_assert_cmphex(c.isr, ==, 0x00);
        g_assert_cmpint(i8259_ack(&c), ==, rotate ? 0 : 2);
        g_assert_cmpint(c.lowest, ==, rotate ? 2 : 7);
    }
}

static void test_aeoi(void)
{
    I8259 c;
    i8259_reset(&c, true);
    i8259_write(&c, 0, 0x11);
    i8259_write(&c, 1, 0x20);
    i8259_write(&c, 1, 0x04);
    i8259_write(&c, 1, 0x03); /* 8086, AEOI */

    i8259_set_input(&c, 6, true);
    i8259_set_input(&c, 1, true);
    g_assert_cmpint(i8259_ack(&c), ==, 1);
    g_assert_cmphex(c.isr, ==, 0x00); /* nothing stays in service */
    g_assert_cmpint(i8259_ack(&c), ==, 6);

    i8259_write(&c, 0, 0x80); /* rotate in AEOI mode */
    pulse(&c, 1);
    pulse(&c, 0);
    g_assert_cmpint(i8259_ack(&c), ==, 0);
    pulse(&c, 0);
    g_assert_cmpint(i8259_ack(&c), ==, 1); /* 0 went to the back */
    i8259_write(&c, 0, 0x00); /* rotation in AEOI off */
    g_assert_false(c.rotate_on_aeoi);
}

static void test_read_irr_isr(void)
{
    I8259 c = master_ready();

    i8259_set_input(&c, 7, true);
    i8259_set_input(&c, 2, true);
    g_assert_cmpint(i8259_ack(&c), ==, 2);
    g_assert_cmphex(i8259_read(&c, 0), ==, 0x80); /* IRR after ICW1 */
    i8259_write(&c, 0, 0x0b);
    g_assert_cmphex(i8259_read(&c, 0), ==, 0x04);
    g_assert_cmphex(i8259_read(&c, 0), ==, 0x04); /* the choice stays */
    i8259_write(&c, 0, 0x0a);
    g_assert_cmphex(i8259_read(&c, 0), ==, 0x80);
    i8259_write(&c, 0, 0x08); /* RR clear: selection unchanged */
    g_assert_cmphex(i8259_read(&c, 0), ==, 0x80);
}

static void test_poll(void)
{
    I8259 c = master_ready();

    i8259_write(&c, 0, 0x0c);
    g_assert_cmphex(i8259_read(&c, 0), ==, 0x00); /* nothing requested */
    i8259_set_input(&c, 6, true);
    i8259_write(&c, 0, 0x0c);
    g_assert_cmphex(i8259_read(&c, 0), ==, 0x86);
    g_assert_cmphex(c.isr, ==, 0x40); /* the poll read acknowledged */
    g_assert_cmphex(i8259_read(&c, 0), ==, 0x00); /* one read only: IRR again */
}

static void test_spurious(void)
{
    I8259 c = master_ready();

    /* An acknowledge with nothing pending answers IRQ 7 and sets no ISR bit. */
    g_assert_cmpint(i8259_ack(&c), ==, I8259_SPURIOUS);
    g_assert_cmphex(c.isr, ==, 0x00);
    g_assert_cmphex(i8259_vector(&c, I8259_SPURIOUS), ==, 0x27);

    /* A level request that goes away before the acknowledge: the same. */
    c.elcr = 0x08;
    i8259_set_input(&c, 3, true);
    g_assert_cmpint(i8259_pending(&c), ==, 3);
    i8259_set_input(&c, 3, false);
    g_assert_cmpint(i8259_ack(&c), ==, I8259_SPURIOUS);
    g_assert_cmphex(c.isr, ==, 0x00);

    /* A real IRQ 7 is in service afterwards; the guest tells them apart so. */
    i8259_set_input(&c, 7, true);
    g_assert_cmpint(i8259_ack(&c), ==, 7);
    g_assert_cmphex(c.isr, ==, 0x80);
}

static void test_special_mask_mode(void)
{
    I8259 c = master_ready();

    i8259_set_input(&c, 3, true);
    g_assert_cmpint(i8259_ack(&c), ==, 3);
    i8259_set_input(&c, 5, true);
    g_assert_cmpint(i8259_pending(&c), ==, -1);
    i8259_write(&c, 1, 0x08);  /* mask the level in service ... */
    i8259_write(&c, 0, 0x68);  /* ... and enter special mask mode */
    g_assert_cmpint(i8259_pending(&c), ==, 5); /* lower levels are enabled */
    i8259_write(&c, 0, 0x48);  /* leave it */
    g_assert_cmpint(i8259_pending(&c), ==, -1);
    i8259_write(&c, 0, 0x28);  /* ESMM clear: SMM bit ignored */
    g_assert_false(c.special_mask);
}

static void test_special_fully_nested(void)
{
    I8259 c;
    i8259_reset(&c, true);
    i8259_write(&c, 0, 0x11);
    i8259_write(&c, 1, 0x20);
    i8259_write(&c, 1, 0x04);
    i8259_write(&c, 1, 0x11); /* 8086, SFNM */

    i8259_set_input(&c, 2, true);
    g_assert_cmpint(i8259_ack(&c), ==, 2);
    i8259_set_input(&c, 2, false);
    i8259_set_input(&c, 2, true); /* the slave asks again (higher level there) */
    g_assert_cmpint(i8259_pending(&c), ==, 2);

    chip_program(&c, true, 0x20); /* fully nested: the same request waits */
    i8259_set_input(&c, 2, false);
    i8259_set_input(&c, 2, true);
    g_assert_cmpint(i8259_ack(&c), ==, 2);
    pulse(&c, 2);
    g_assert_cmpint(i8259_pending(&c), ==, -1);
}

static void test_icw1_resets_edge_sense(void)
{
    I8259 c = master_ready();

    i8259_set_input(&c, 0, true);
    i8259_write(&c, 1, 0x01);
    g_assert_cmphex(c.irr, ==, 0x01);
    chip_program(&c, true, 0x20);
    i8259_set_input(&c, 0, true); /* was high across the re-initialisation */
    g_assert_cmphex(c.irr, ==, 0x00);
    g_assert_cmpint(i8259_pending(&c), ==, -1);
    i8259_set_input(&c, 0, false);
    i8259_set_input(&c, 0, true);
    g_assert_cmpint(i8259_pending(&c), ==, 0);
}

static void test_no_vector_while_initialising(void)
{
    I8259 c = master_ready();

    i8259_write(&c, 0, 0x11);
    pulse(&c, 1); /* latched, but ... */
    g_assert_cmpint(i8259_pending(&c), ==, -1); /* waiting for ICW2 */
    i8259_write(&c, 1, 0x30);
    i8259_write(&c, 1, 0x04);
    i8259_write(&c, 1, 0x01);
    g_assert_cmpint(i8259_pending(&c), ==, 1);
    g_assert_cmphex(i8259_vector(&c, (unsigned)i8259_ack(&c)), ==, 0x31);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/i8259/reset", test_reset_state);
    g_test_add_func("/i8259/init/cascade-icw4", test_init_sequence);
    g_test_add_func("/i8259/init/single", test_init_single_no_icw4);
    g_test_add_func("/i8259/init/edge-sense-reset", test_icw1_resets_edge_sense);
    g_test_add_func("/i8259/init/no-vector-midway", test_no_vector_while_initialising);
    g_test_add_func("/i8259/trigger/edge", test_edge_triggered);
    g_test_add_func("/i8259/trigger/level", test_level_triggered);
    g_test_add_func("/i8259/trigger/elcr", test_elcr_level);
    g_test_add_func("/i8259/mask", test_mask);
    g_test_add_func("/i8259/priority/nesting", test_priorities_and_nesting);
    g_test_add_func("/i8259/priority/rotation", test_rotation);
    g_test_add_func("/i8259/priority/rotate-option", test_rotate_always);
    g_test_add_func("/i8259/eoi/specific", test_specific_eoi);
    g_test_add_func("/i8259/eoi/automatic", test_aeoi);
    g_test_add_func("/i8259/ocw3/read-irr-isr", test_read_irr_isr);
    g_test_add_func("/i8259/ocw3/poll", test_poll);
    g_test_add_func("/i8259/ocw3/special-mask", test_special_mask_mode);
    g_test_add_func("/i8259/sfnm", test_special_fully_nested);
    g_test_add_func("/i8259/spurious", test_spurious);
    return g_test_run();
}
