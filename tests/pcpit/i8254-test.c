/*
 * The 8254 counter model on its own (plugins/pit-i8254/i8254.c), on a clock
 * the test sets: control words, access modes, latches, read-back, modes 0,
 * 2, 3 and 4, BCD, GATE, and the OUT edges the plugin turns into IRQ 0.
 */
#include <glib.h>

#include "plugins/pit-i8254/i8254.h"

#define T0 1000000000ull /* a VM time that is not zero */

/* VM time at which n input clocks have passed since start. */
static uint64_t at(uint64_t start, uint64_t ticks)
{
    return start + i8254_ticks_to_ns(ticks);
}

/* Control word for counter n, access rw, mode m. */
static uint8_t cw(unsigned n, unsigned rw, unsigned mode)
{
    return (uint8_t)(n << 6 | rw << 4 | mode << 1);
}

static void load_word(I8254 *p, unsigned n, unsigned mode, uint16_t count, uint64_t now)
{
    i8254_write(p, 3, cw(n, I8254_ACCESS_WORD, mode), now);
    i8254_write(p, n, (uint8_t)count, now);
    i8254_write(p, n, (uint8_t)(count >> 8), now);
}

static uint16_t read_word(I8254 *p, unsigned n, uint64_t now)
{
    uint8_t lo = i8254_read(p, n, now);
    uint8_t hi = i8254_read(p, n, now);
    return (uint16_t)(lo | hi << 8);
}

static uint16_t latch_word(I8254 *p, unsigned n, uint64_t now)
{
    i8254_write(p, 3, cw(n, I8254_ACCESS_LATCH, 0), now);
    return read_word(p, n, now);
}

static void test_clock_conversion(void)
{
    g_assert_cmpuint(i8254_ns_to_ticks(1000000000), ==, I8254_HZ);
    g_assert_cmpuint(i8254_ticks_to_ns(I8254_HZ), ==, 1000000000);
    /* Rounding up: at ticks_to_ns(n), n clocks have passed, not fewer. */
    for (uint64_t n = 1; n < 5000; n += 7)
        g_assert_cmpuint(i8254_ns_to_ticks(i8254_ticks_to_ns(n)), ==, n);
}

static void test_reset_counter0_runs(void)
{
    I8254 p;
    i8254_reset(&p, T0);
    const I8254Counter *c = &p.counter[0];
    g_assert_cmpint(c->mode, ==, 3);
    g_assert_cmpuint(i8254_count(c, T0), ==, 0); /* 65536 reads as 0 */
    g_assert_cmpuint(i8254_count(c, at(T0, 100)), ==, 65536 - 200);
    g_assert_cmpuint(i8254_out_edges(c, at(T0, 65536 * 3)), ==, 3);
    g_assert_false(p.counter[2].gate);
    g_assert_false(p.counter[2].counting);
}

static void test_mode2_counts(void)
{
    I8254 p;
    i8254_reset(&p, 0);
    load_word(&p, 0, 2, 1000, T0);
    g_assert_cmpuint(latch_word(&p, 0, T0), ==, 1000);
    g_assert_cmpuint(latch_word(&p, 0, at(T0, 250)), ==, 750);
    g_assert_cmpuint(latch_word(&p, 0, at(T0, 999)), ==, 1);
    g_assert_cmpuint(latch_word(&p, 0, at(T0, 1000)), ==, 1000); /* reloaded */
    g_assert_cmpuint(latch_word(&p, 0, at(T0, 2300)), ==, 700);
    /* Unlatched reads: LSB then MSB of the count at each read. */
    g_assert_cmpuint(read_word(&p, 0, at(T0, 250)), ==, 750);
}

static void test_mode2_out_and_edges(void)
{
    I8254 p;
    i8254_reset(&p, 0);
    load_word(&p, 0, 2, 100, T0);
    const I8254Counter *c = &p.counter[0];
    g_assert_true(i8254_out(c, T0));
    g_assert_false(i8254_out(c, at(T0, 99))); /* low while the count is 1 */
    g_assert_true(i8254_out(c, at(T0, 100)));
    g_assert_cmpuint(i8254_out_edges(c, at(T0, 99)), ==, 0);
    g_assert_cmpuint(i8254_out_edges(c, at(T0, 100)), ==, 1);
    g_assert_cmpuint(i8254_out_edges(c, at(T0, 1050)), ==, 10);
    g_assert_cmpuint(i8254_edge_time(c, 1), ==, at(T0, 100));
    g_assert_cmpuint(i8254_edge_time(c, 7), ==, at(T0, 700));
}

static void test_mode3_square_wave(void)
{
    I8254 p;
    i8254_reset(&p, 0);
    load_word(&p, 0, 3, 1000, T0);
    const I8254Counter *c = &p.counter[0];
    g_assert_true(i8254_out(c, at(T0, 0)));
    g_assert_true(i8254_out(c, at(T0, 499)));
    g_assert_false(i8254_out(c, at(T0, 500)));
    g_assert_false(i8254_out(c, at(T0, 999)));
    g_assert_true(i8254_out(c, at(T0, 1000)));
    /* The count goes down by two, twice per period. */
    g_assert_cmpuint(latch_word(&p, 0, at(T0, 100)), ==, 800);
    g_assert_cmpuint(latch_word(&p, 0, at(T0, 600)), ==, 800);
    g_assert_cmpuint(i8254_out_edges(c, at(T0, 5500)), ==, 5);
    /* Control word 0x3e: mode 7 is mode 3. */
    i8254_write(&p, 3, 0x3e, T0);
    g_assert_cmpint(c->mode, ==, 3);
}

static void test_mode0_terminal_count(void)
{
    I8254 p;
    i8254_reset(&p, 0);
    i8254_write(&p, 3, cw(0, I8254_ACCESS_WORD, 0), T0);
    const I8254Counter *c = &p.counter[0];
    g_assert_false(i8254_out(c, T0)); /* low after the control word */
    i8254_write(&p, 0, 0x00, T0);
    i8254_write(&p, 0, 0x01, T0); /* 256 */
    g_assert_false(i8254_out(c, at(T0, 255)));
    g_assert_cmpuint(i8254_out_edges(c, at(T0, 255)), ==, 0);
    g_assert_true(i8254_out(c, at(T0, 256)));
    g_assert_cmpuint(i8254_out_edges(c, at(T0, 100000)), ==, 1); /* one shot */
    g_assert_cmpuint(i8254_edge_time(c, 1), ==, at(T0, 256));
    g_assert_cmpuint(i8254_edge_time(c, 2), ==, I8254_NEVER);
    /* The count wraps past zero and keeps going down; OUT stays high. */
    g_assert_cmpuint(latch_word(&p, 0, at(T0, 257)), ==, 0xffff);
    g_assert_true(i8254_out(c, at(T0, 300)));
}

static void test_mode4_strobe(void)
{
    I8254 p;
    i8254_reset(&p, 0);
    load_word(&p, 1, 4, 50, T0);
    const I8254Counter *c = &p.counter[1];
    g_assert_true(i8254_out(c, at(T0, 49)));
    g_assert_false(i8254_out(c, at(T0, 50)));
    g_assert_true(i8254_out(c, at(T0, 51)));
    g_assert_cmpuint(i8254_out_edges(c, at(T0, 50)), ==, 0);
    g_assert_cmpuint(i8254_out_edges(c, at(T0, 51)), ==, 1);
    g_assert_cmpuint(i8254_edge_time(c, 1), ==, at(T0, 51));
}

static void test_counter_latch_holds(void)
{
    I8254 p;
    i8254_reset(&p, 0);
    load_word(&p, 0, 2, 40000, T0);
    i8254_write(&p, 3, 0x00, at(T0, 1000)); /* latch: 39000 */
    i8254_write(&p, 3, 0x00, at(T0, 2000)); /* ignored: the first latch holds */
    uint8_t lo = i8254_read(&p, 0, at(T0, 5000));
    uint8_t hi = i8254_read(&p, 0, at(T0, 6000));
    g_assert_cmpuint(lo | hi << 8, ==, 39000);
    /* Read out, the next latch sees the counter again: lower. */
    uint16_t later = latch_word(&p, 0, at(T0, 7000));
    g_assert_cmpuint(later, ==, 33000);
    g_assert_cmpuint(later, <, 39000);
}

static void test_access_lsb_msb(void)
{
    I8254 p;
    i8254_reset(&p, 0);
    i8254_write(&p, 3, cw(1, I8254_ACCESS_LSB, 2), T0);
    i8254_write(&p, 1, 0x80, T0);
    g_assert_cmpuint(p.counter[1].reload, ==, 0x80);
    g_assert_cmphex(i8254_read(&p, 1, at(T0, 0x10)), ==, 0x70);
    g_assert_cmphex(i8254_read(&p, 1, at(T0, 0x10)), ==, 0x70); /* no MSB phase */

    i8254_write(&p, 3, cw(1, I8254_ACCESS_MSB, 2), T0);
    i8254_write(&p, 1, 0x02, T0);
    g_assert_cmpuint(p.counter[1].reload, ==, 0x200);
    g_assert_cmphex(i8254_read(&p, 1, at(T0, 0x100)), ==, 0x01);
    i8254_write(&p, 3, cw(1, I8254_ACCESS_LATCH, 0), at(T0, 0x80));
    g_assert_cmphex(i8254_read(&p, 1, at(T0, 0x100)), ==, 0x01); /* 0x180: MSB */
}

static void test_read_back(void)
{
    I8254 p;
    i8254_reset(&p, 0);
    i8254_write(&p, 3, 0x34, T0); /* counter 0, word, mode 2 */
    /* Status only: null count until a count is written. */
    i8254_write(&p, 3, 0xe2, T0);
    g_assert_cmphex(i8254_read(&p, 0, T0), ==, 0x80 | 0x40 | 0x34);
    i8254_write(&p, 0, 0xe8, T0);
    i8254_write(&p, 0, 0x03, T0); /* 1000 */

    /* Count and status of counters 0 and 2: status first, then the count. */
    i8254_write(&p, 3, 0xca, at(T0, 400));
    g_assert_cmphex(i8254_read(&p, 0, at(T0, 900)), ==, 0x80 | 0x34);
    g_assert_cmpuint(read_word(&p, 0, at(T0, 900)), ==, 600);
    g_assert_true(p.counter[2].status_latched);
    /* Count only, later: it has decreased. */
    i8254_write(&p, 3, 0xd2, at(T0, 700));
    g_assert_cmpuint(read_word(&p, 0, at(T0, 900)), ==, 300);
    /* OUT in the status: low while the count is 1. */
    i8254_write(&p, 3, 0xe2, at(T0, 999));
    g_assert_cmphex(i8254_read(&p, 0, at(T0, 999)) & 0x80, ==, 0);
}

static void test_bcd(void)
{
    I8254 p;
    i8254_reset(&p, 0);
    i8254_write(&p, 3, 0x35, T0); /* counter 0, word, mode 2, BCD */
    i8254_write(&p, 0, 0x00, T0);
    i8254_write(&p, 0, 0x10, T0); /* 1000 decimal */
    g_assert_cmpuint(p.counter[0].reload, ==, 1000);
    g_assert_cmphex(latch_word(&p, 0, at(T0, 1)), ==, 0x0999);
    g_assert_cmphex(latch_word(&p, 0, at(T0, 766)), ==, 0x0234);
    /* Count 0 in BCD is 10000. */
    i8254_write(&p, 3, 0x31, T0);
    i8254_write(&p, 0, 0x00, T0);
    i8254_write(&p, 0, 0x00, T0);
    g_assert_cmpuint(p.counter[0].reload, ==, 10000);
    g_assert_cmphex(latch_word(&p, 0, at(T0, 1)), ==, 0x9999);
}

static void test_count_zero_is_65536(void)
{
    I8254 p;
    i8254_reset(&p, 0);
    load_word(&p, 0, 2, 0, T0);
    g_assert_cmpuint(p.counter[0].reload, ==, 65536);
    g_assert_cmpuint(latch_word(&p, 0, at(T0, 1)), ==, 65535);
}

static void test_control_word_stops_counter(void)
{
    I8254 p;
    i8254_reset(&p, 0);
    load_word(&p, 0, 2, 1000, T0);
    uint32_t epoch = p.counter[0].epoch;
    i8254_write(&p, 3, 0x34, at(T0, 300));
    g_assert_false(p.counter[0].counting);
    g_assert_cmpuint(p.counter[0].epoch, !=, epoch);
    g_assert_cmpuint(i8254_out_edges(&p.counter[0], at(T0, 5000)), ==, 0);
    g_assert_cmpuint(i8254_edge_time(&p.counter[0], 1), ==, I8254_NEVER);
    g_assert_cmpuint(latch_word(&p, 0, at(T0, 900)), ==, 700); /* frozen */
    /* Half a word written: still stopped. */
    i8254_write(&p, 0, 0x10, at(T0, 900));
    g_assert_false(p.counter[0].counting);
}

static void test_gate_counter2(void)
{
    I8254 p;
    i8254_reset(&p, 0);
    load_word(&p, 2, 0, 1000, T0); /* GATE low: loaded but held */
    const I8254Counter *c = &p.counter[2];
    g_assert_cmpuint(latch_word(&p, 2, at(T0, 500)), ==, 1000);
    i8254_set_gate(&p, 2, true, at(T0, 500));
    g_assert_cmpuint(latch_word(&p, 2, at(T0, 800)), ==, 700);
    i8254_set_gate(&p, 2, false, at(T0, 800));
    g_assert_cmpuint(latch_word(&p, 2, at(T0, 5000)), ==, 700); /* suspended */
    uint64_t resumed = at(T0, 5000);
    i8254_set_gate(&p, 2, true, resumed);
    g_assert_false(i8254_out(c, at(resumed, 699)));
    g_assert_true(i8254_out(c, at(resumed, 701)));

    /* Mode 2: GATE low holds OUT high; a rising edge reloads. */
    load_word(&p, 2, 2, 100, T0);
    i8254_set_gate(&p, 2, false, at(T0, 30));
    g_assert_true(i8254_out(c, at(T0, 99)));
    i8254_set_gate(&p, 2, true, at(T0, 200));
    g_assert_cmpuint(latch_word(&p, 2, at(at(T0, 200), 10)), ==, 90);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/i8254/clock", test_clock_conversion);
    g_test_add_func("/i8254/reset", test_reset_counter0_runs);
    g_test_add_func("/i8254/mode2/counts", test_mode2_counts);
    g_test_add_func("/i8254/mode2/out-edges", test_mode2_out_and_edges);
    g_test_add_func("/i8254/mode3", test_mode3_square_wave);
    g_test_add_func("/i8254/mode0", test_mode0_terminal_count);
    g_test_add_func("/i8254/mode4", test_mode4_strobe);
    g_test_add_func("/i8254/latch", test_counter_latch_holds);
    g_test_add_func("/i8254/access/lsb-msb", test_access_lsb_msb);
    g_test_add_func("/i8254/read-back", test_read_back);
    g_test_add_func("/i8254/bcd", test_bcd);
    g_test_add_func("/i8254/count-zero", test_count_zero_is_65536);
    g_test_add_func("/i8254/control-word-stops", test_control_word_stops_counter);
    g_test_add_func("/i8254/gate", test_gate_counter2);
    return g_test_run();
}
