/*
 * Tests of the DP8390 register model on its own: registers, remote DMA, the
 * receive ring, transmit, interrupts and address filtering, driven the way
 * NE2000 drivers drive the chip.
 */
#include <glib.h>
#include <string.h>

#include "plugins/nic-ne2000/dp8390.h"

static const uint8_t test_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* The ring layout NE2000 drivers use: 6 transmit pages, then the ring. */
#define TX_PAGE 0x40
#define RX_START 0x46
#define RX_STOP 0x80

typedef struct Fixture {
    Dp8390 chip;
    GPtrArray *tx;      /* GByteArray * per transmitted frame */
    int irq_changes;
    bool irq;
    int rx_ready;
    int guest_errors[DP8390_ERR_COUNT];
} Fixture;

static void hook_irq(void *opaque, bool level)
{
    Fixture *f = opaque;

    f->irq_changes++;
    f->irq = level;
}

static void hook_transmit(void *opaque, const uint8_t *frame, size_t len)
{
    Fixture *f = opaque;
    GByteArray *b = g_byte_array_sized_new((guint)len);

    g_byte_array_append(b, frame, (guint)len);
    g_ptr_array_add(f->tx, b);
}

static void hook_rx_ready(void *opaque)
{
    Fixture *f = opaque;

    f->rx_ready++;
}

static void hook_guest_error(void *opaque, Dp8390GuestError kind, const char *msg)
{
    Fixture *f = opaque;

    g_assert_cmpint(kind, <, DP8390_ERR_COUNT);
    g_test_message("guest error: %s", msg);
    f->guest_errors[kind]++;
}

static const Dp8390Hooks hooks = {
    .irq = hook_irq, .transmit = hook_transmit, .rx_ready = hook_rx_ready,
    .guest_error = hook_guest_error,
};

static void fixture_set_up(Fixture *f, gconstpointer data)
{
    f->tx = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
    f->irq_changes = 0;
    f->irq = false;
    f->rx_ready = 0;
    memset(f->guest_errors, 0, sizeof f->guest_errors);
    dp8390_init(&f->chip, test_mac, &hooks, f);
}

static void fixture_tear_down(Fixture *f, gconstpointer data)
{
    g_ptr_array_unref(f->tx);
}

/* --- driver-like helpers ------------------------------------------------- */

static void wr(Fixture *f, unsigned reg, uint8_t v)
{
    dp8390_reg_write(&f->chip, reg, v);
}

static uint8_t rd(Fixture *f, unsigned reg)
{
    return dp8390_reg_read(&f->chip, reg);
}

/* Select a register page without starting or stopping anything. */
static void page(Fixture *f, unsigned n)
{
    wr(f, DP8390_CR, (uint8_t)(n << DP8390_CR_PS_SHIFT | DP8390_CR_RD_ABORT));
}

static void dma_setup(Fixture *f, uint16_t addr, uint16_t count, uint8_t cmd)
{
    page(f, 0);
    wr(f, DP8390_RBCR0, (uint8_t)count);
    wr(f, DP8390_RBCR1, (uint8_t)(count >> 8));
    wr(f, DP8390_RSAR0, (uint8_t)addr);
    wr(f, DP8390_RSAR1, (uint8_t)(addr >> 8));
    wr(f, DP8390_CR, cmd | DP8390_CR_STA);
}

/* Copy len bytes to buffer RAM as ne_block_output does (word mode rounds up). */
static void dma_out(Fixture *f, uint16_t addr, const uint8_t *buf, size_t len)
{
    bool word = f->chip.dcr & DP8390_DCR_WTS;
    size_t n = word ? (len + 1) & ~(size_t)1 : len;
    g_autofree uint8_t *tmp = g_malloc0(n + 1);

    memcpy(tmp, buf, len);
    wr(f, DP8390_ISR, DP8390_ISR_RDC);
    dma_setup(f, addr, (uint16_t)n, DP8390_CR_RD_WRITE);
    if (word)
        dp8390_data_write_rep(&f->chip, 2, tmp, (uint32_t)(n / 2));
    else
        dp8390_data_write_rep(&f->chip, 1, tmp, (uint32_t)n);
    g_assert_cmphex(rd(f, DP8390_ISR) & DP8390_ISR_RDC, ==, DP8390_ISR_RDC);
}

/* Read len bytes as ne_block_input does (odd tail by a byte access). */
static void dma_in(Fixture *f, uint16_t addr, uint8_t *buf, size_t len)
{
    bool word = f->chip.dcr & DP8390_DCR_WTS;

    wr(f, DP8390_ISR, DP8390_ISR_RDC);
    dma_setup(f, addr, (uint16_t)len, DP8390_CR_RD_READ);
    if (word) {
        dp8390_data_read_rep(&f->chip, 2, buf, (uint32_t)(len / 2));
        if (len & 1)
            buf[len - 1] = (uint8_t)dp8390_data_read(&f->chip, 1);
    } else {
        dp8390_data_read_rep(&f->chip, 1, buf, (uint32_t)len);
    }
    g_assert_cmphex(rd(f, DP8390_ISR) & DP8390_ISR_RDC, ==, DP8390_ISR_RDC);
}

/* The initialisation sequence of a NE2000 driver, ending started. */
static void driver_init(Fixture *f, uint8_t rcr)
{
    wr(f, DP8390_CR, DP8390_CR_RD_ABORT | DP8390_CR_STP);
    wr(f, DP8390_DCR, 0x49); /* word, normal, FIFO 8 bytes */
    wr(f, DP8390_RBCR0, 0);
    wr(f, DP8390_RBCR1, 0);
    wr(f, DP8390_RCR, DP8390_RCR_MON);
    wr(f, DP8390_TCR, 0x02); /* internal loopback while setting up */
    wr(f, DP8390_TPSR, TX_PAGE);
    wr(f, DP8390_PSTART, RX_START);
    wr(f, DP8390_BNRY, RX_STOP - 1);
    wr(f, DP8390_PSTOP, RX_STOP);
    wr(f, DP8390_ISR, 0xff);
    wr(f, DP8390_IMR, 0);
    wr(f, DP8390_CR, 0x40 | DP8390_CR_RD_ABORT | DP8390_CR_STP);
    for (unsigned i = 0; i < 6; i++)
        wr(f, DP8390_PAR0 + i, test_mac[i]);
    for (unsigned i = 0; i < 8; i++)
        wr(f, DP8390_MAR0 + i, 0);
    wr(f, DP8390_CURR, RX_START);
    wr(f, DP8390_CR, DP8390_CR_RD_ABORT | DP8390_CR_STP);
    wr(f, DP8390_ISR, 0xff);
    wr(f, DP8390_IMR, 0x3f);
    wr(f, DP8390_CR, DP8390_CR_RD_ABORT | DP8390_CR_STA);
    wr(f, DP8390_TCR, 0);
    wr(f, DP8390_RCR, rcr);
}

static void make_frame(uint8_t *buf, size_t len, const uint8_t dst[6], uint8_t seed)
{
    static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x01 };

    memcpy(buf, dst, 6);
    memcpy(buf + 6, src, 6);
    buf[12] = 0x08;
    buf[13] = 0x00;
    for (size_t i = 14; i < len; i++)
        buf[i] = (uint8_t)(seed + i * 7);
}

/* Free pages between CURR and BNRY as the receive path counts them. */
static uint8_t curr(Fixture *f)
{
    uint8_t v;

    page(f, 1);
    v = rd(f, DP8390_CURR);
    page(f, 0);
    return v;
}

/* --- tests --------------------------------------------------------------- */

static void test_reset_state(Fixture *f, gconstpointer data)
{
    g_assert_cmphex(rd(f, DP8390_CR), ==, 0x21);
    g_assert_cmphex(rd(f, DP8390_ISR), ==, DP8390_ISR_RST);
    page(f, 2);
    g_assert_cmphex(rd(f, DP8390_IMR), ==, 0);
    g_assert_false(f->irq);
    g_assert_false(dp8390_irq_pending(&f->chip));

    /* The reset line puts a running chip back into the same state. */
    driver_init(f, DP8390_RCR_AB);
    g_assert_cmphex(rd(f, DP8390_CR) & 0x03, ==, DP8390_CR_STA);
    dp8390_reset(&f->chip);
    g_assert_cmphex(rd(f, DP8390_CR), ==, 0x21);
    g_assert_cmphex(rd(f, DP8390_ISR), ==, DP8390_ISR_RST);
}

static void test_prom_byte_mode(Fixture *f, gconstpointer data)
{
    uint8_t prom[32];

    /* Probe sequence: byte-wide DMA of 32 bytes from address 0. */
    wr(f, DP8390_DCR, 0x48);
    dma_in(f, 0, prom, sizeof prom);
    for (unsigned i = 0; i < 6; i++) {
        g_assert_cmphex(prom[2 * i], ==, test_mac[i]);
        g_assert_cmphex(prom[2 * i + 1], ==, test_mac[i]);
    }
    /* 0x57 0x57 at PROM bytes 14/15: the mark of a 16-bit card. */
    g_assert_cmphex(prom[28], ==, 0x57);
    g_assert_cmphex(prom[29], ==, 0x57);
    g_assert_cmphex(prom[30], ==, 0x57);
    g_assert_cmphex(prom[31], ==, 0x57);
}

static void test_prom_word_mode(Fixture *f, gconstpointer data)
{
    uint16_t words[16];

    wr(f, DP8390_DCR, 0x49);
    wr(f, DP8390_ISR, DP8390_ISR_RDC);
    dma_setup(f, 0, 32, DP8390_CR_RD_READ);
    for (unsigned i = 0; i < 16; i++)
        words[i] = (uint16_t)dp8390_data_read(&f->chip, 2);
    for (unsigned i = 0; i < 6; i++)
        g_assert_cmphex(words[i], ==, test_mac[i] * 0x0101u);
    g_assert_cmphex(words[14], ==, 0x5757);
    g_assert_cmphex(rd(f, DP8390_ISR) & DP8390_ISR_RDC, ==, DP8390_ISR_RDC);
}

static void test_page_switch(Fixture *f, gconstpointer data)
{
    page(f, 1);
    for (unsigned i = 0; i < 6; i++)
        wr(f, DP8390_PAR0 + i, (uint8_t)(0xa0 + i));
    wr(f, DP8390_CURR, 0x55);
    wr(f, DP8390_MAR0 + 3, 0x99);
    for (unsigned i = 0; i < 6; i++)
        g_assert_cmphex(rd(f, DP8390_PAR0 + i), ==, 0xa0 + i);
    g_assert_cmphex(rd(f, DP8390_CURR), ==, 0x55);
    g_assert_cmphex(rd(f, DP8390_MAR0 + 3), ==, 0x99);
    g_assert_cmphex(rd(f, DP8390_CR) >> DP8390_CR_PS_SHIFT, ==, 1);

    /* Page 1 offset 7 is CURR, page 0 offset 7 is ISR. */
    page(f, 0);
    g_assert_cmphex(rd(f, DP8390_ISR), ==, DP8390_ISR_RST);
    wr(f, DP8390_PSTART, 0x46);
    wr(f, DP8390_PSTOP, 0x80);
    wr(f, DP8390_TPSR, 0x40);
    wr(f, DP8390_RCR, 0x1c);
    wr(f, DP8390_TCR, 0x02);
    wr(f, DP8390_DCR, 0x49);
    wr(f, DP8390_IMR, 0x11);
    /* Page 2 reads back what page 0 only lets us write. */
    page(f, 2);
    g_assert_cmphex(rd(f, DP8390_PSTART), ==, 0x46);
    g_assert_cmphex(rd(f, DP8390_PSTOP), ==, 0x80);
    g_assert_cmphex(rd(f, DP8390_TPSR), ==, 0x40);
    g_assert_cmphex(rd(f, DP8390_RCR), ==, 0x1c);
    g_assert_cmphex(rd(f, DP8390_TCR), ==, 0x02);
    g_assert_cmphex(rd(f, DP8390_DCR), ==, 0x49);
    g_assert_cmphex(rd(f, DP8390_IMR), ==, 0x11);
    /* Page 2 registers are read-only. */
    wr(f, DP8390_PSTART, 0x12);
    g_assert_cmphex(rd(f, DP8390_PSTART), ==, 0x46);
}

static void test_dma_write_read(Fixture *f, gconstpointer data)
{
    uint8_t out[301], in[301];

    for (size_t i = 0; i < sizeof out; i++)
        out[i] = (uint8_t)(i * 13 + 5);
    for (unsigned mode = 0; mode < 2; mode++) {
        uint16_t addr = (uint16_t)(0x5000 + mode * 0x400);
        wr(f, DP8390_DCR, (uint8_t)(0x48 | mode));
        dma_out(f, addr, out, sizeof out);
        memset(in, 0, sizeof in);
        dma_in(f, addr, in, sizeof in);
        g_assert_cmpmem(in, sizeof in, out, sizeof out);
    }
    /* RSAR has moved past the data (CRDA reads it). */
    g_assert_cmphex(rd(f, 0x08) | rd(f, 0x09) << 8, ==, 0x5400 + 301 + 1);
}

static void test_dma_count_exhausted(Fixture *f, gconstpointer data)
{
    uint8_t b[4] = { 1, 2, 3, 4 };

    wr(f, DP8390_DCR, 0x48);
    dma_out(f, 0x4100, b, 2);
    /* RBCR is zero now: further writes move nothing, reads give all ones. */
    dp8390_data_write(&f->chip, 1, 0xee);
    g_assert_cmphex(f->chip.ram[0x102], ==, 0);
    g_assert_cmphex(dp8390_data_read(&f->chip, 1), ==, 0xff);
    g_assert_cmphex(dp8390_data_read(&f->chip, 2), ==, 0xffff);
}

static void test_dma_outside_memory(Fixture *f, gconstpointer data)
{
    uint8_t in[4];
    const uint8_t junk[4] = { 9, 9, 9, 9 };

    wr(f, DP8390_DCR, 0x48);
    dma_in(f, 0x8000, in, 4);
    for (unsigned i = 0; i < 4; i++)
        g_assert_cmphex(in[i], ==, 0xff);
    /* The PROM is read-only. */
    dma_out(f, 0, junk, 4);
    dma_in(f, 0, in, 4);
    g_assert_cmphex(in[0], ==, test_mac[0]);
    g_assert_cmphex(in[2], ==, test_mac[1]);
}

static void test_dma_wraps_at_pstop(Fixture *f, gconstpointer data)
{
    uint8_t in[4];

    driver_init(f, DP8390_RCR_AB);
    f->chip.ram[(RX_STOP << 8) - 2 - DP8390_RAM_START] = 0x11;
    f->chip.ram[(RX_STOP << 8) - 1 - DP8390_RAM_START] = 0x22;
    f->chip.ram[(RX_START << 8) - DP8390_RAM_START] = 0x33;
    f->chip.ram[(RX_START << 8) + 1 - DP8390_RAM_START] = 0x44;
    dma_in(f, (RX_STOP << 8) - 2, in, 4);
    g_assert_cmphex(in[0], ==, 0x11);
    g_assert_cmphex(in[1], ==, 0x22);
    g_assert_cmphex(in[2], ==, 0x33);
    g_assert_cmphex(in[3], ==, 0x44);
}

static void test_dma_odd_word_tail(Fixture *f, gconstpointer data)
{
    const uint8_t out[6] = { 0x10, 0x20, 0x30, 0x40, 0x50, 0x60 };
    uint8_t in[5] = { 0 };

    wr(f, DP8390_DCR, 0x49);
    dma_out(f, 0x4200, out, 6);
    /* Two words and a byte access for the fifth byte. */
    dma_in(f, 0x4200, in, 5);
    g_assert_cmpmem(in, 5, out, 5);
}

static void test_transmit_exact_frame(Fixture *f, gconstpointer data)
{
    uint8_t frame[77];
    GByteArray *sent;

    driver_init(f, DP8390_RCR_AB);
    make_frame(frame, sizeof frame, (const uint8_t[6]){ 2, 3, 4, 5, 6, 7 }, 1);
    dma_out(f, TX_PAGE << 8, frame, sizeof frame);
    wr(f, DP8390_TPSR, TX_PAGE);
    wr(f, DP8390_TBCR0, sizeof frame);
    wr(f, DP8390_TBCR1, 0);
    wr(f, DP8390_ISR, 0xff);
    wr(f, DP8390_CR, DP8390_CR_RD_ABORT | DP8390_CR_TXP | DP8390_CR_STA);

    g_assert_cmpuint(f->tx->len, ==, 1);
    sent = g_ptr_array_index(f->tx, 0);
    g_assert_cmpmem(sent->data, sent->len, frame, sizeof frame);
    g_assert_cmphex(rd(f, DP8390_CR) & DP8390_CR_TXP, ==, 0);
    g_assert_cmphex(rd(f, DP8390_TSR) & DP8390_TSR_PTX, ==, DP8390_TSR_PTX);
    g_assert_cmphex(rd(f, DP8390_ISR), ==, DP8390_ISR_PTX);
    g_assert_true(f->irq);
    g_assert_cmpuint(f->chip.stats.tx_frames, ==, 1);
}

static void test_transmit_needs_start(Fixture *f, gconstpointer data)
{
    wr(f, DP8390_TBCR0, 60);
    wr(f, DP8390_CR, DP8390_CR_RD_ABORT | DP8390_CR_TXP | DP8390_CR_STP);
    g_assert_cmpuint(f->tx->len, ==, 0);
    g_assert_cmphex(rd(f, DP8390_ISR) & DP8390_ISR_PTX, ==, 0);
}

static void test_transmit_clipped(Fixture *f, gconstpointer data)
{
    driver_init(f, DP8390_RCR_AB);
    wr(f, DP8390_TBCR0, 0xff);
    wr(f, DP8390_TBCR1, 0xff);
    wr(f, DP8390_CR, DP8390_CR_RD_ABORT | DP8390_CR_TXP | DP8390_CR_STA);
    g_assert_cmpuint(f->tx->len, ==, 1);
    g_assert_cmpuint(((GByteArray *)g_ptr_array_index(f->tx, 0))->len, ==,
                     DP8390_MAX_FRAME);
}

static void test_transmit_loopback(Fixture *f, gconstpointer data)
{
    uint8_t frame[64];
    uint8_t hdr[4];

    driver_init(f, DP8390_RCR_AB);
    wr(f, DP8390_TCR, 0x02);
    make_frame(frame, sizeof frame, test_mac, 3);
    dma_out(f, TX_PAGE << 8, frame, sizeof frame);
    wr(f, DP8390_TBCR0, sizeof frame);
    wr(f, DP8390_TBCR1, 0);
    wr(f, DP8390_CR, DP8390_CR_RD_ABORT | DP8390_CR_TXP | DP8390_CR_STA);
    g_assert_cmpuint(f->tx->len, ==, 0);
    g_assert_cmphex(rd(f, DP8390_ISR) & (DP8390_ISR_PTX | DP8390_ISR_PRX), ==,
                    DP8390_ISR_PTX | DP8390_ISR_PRX);
    dma_in(f, RX_START << 8, hdr, 4);
    g_assert_cmpuint(hdr[2] | hdr[3] << 8, ==, sizeof frame + 4);
}

static void test_receive_header(Fixture *f, gconstpointer data)
{
    uint8_t frame[100], hdr[4], in[100];

    driver_init(f, DP8390_RCR_AB);
    make_frame(frame, sizeof frame, test_mac, 9);
    g_assert_true(dp8390_can_receive(&f->chip));
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_STORED);

    dma_in(f, RX_START << 8, hdr, 4);
    g_assert_cmphex(hdr[0], ==, DP8390_RSR_PRX);
    g_assert_cmphex(hdr[1], ==, RX_START + 1);
    g_assert_cmpuint(hdr[2] | hdr[3] << 8, ==, sizeof frame + 4);
    dma_in(f, (RX_START << 8) + 4, in, sizeof in);
    g_assert_cmpmem(in, sizeof in, frame, sizeof frame);
    g_assert_cmphex(curr(f), ==, RX_START + 1);
    g_assert_cmphex(rd(f, DP8390_RSR), ==, DP8390_RSR_PRX);
    g_assert_cmphex(rd(f, DP8390_ISR) & DP8390_ISR_PRX, ==, DP8390_ISR_PRX);
    g_assert_true(f->irq);
}

static void test_receive_multi_page(Fixture *f, gconstpointer data)
{
    uint8_t frame[600], hdr[4];

    driver_init(f, DP8390_RCR_AB);
    make_frame(frame, sizeof frame, test_mac, 1);
    dp8390_receive(&f->chip, frame, sizeof frame);
    dp8390_receive(&f->chip, frame, sizeof frame);
    /* 604 bytes take 3 pages: the second frame starts 3 pages on. */
    dma_in(f, (RX_START + 3) << 8, hdr, 4);
    g_assert_cmphex(hdr[1], ==, RX_START + 6);
    g_assert_cmphex(curr(f), ==, RX_START + 6);
    page(f, 2);
    g_assert_cmphex(rd(f, DP8390_P2_RNPP), ==, RX_START + 6);
}

static unsigned driver_drain(Fixture *f, size_t expect_len);

static void test_receive_next_page_leaves_fcs_room(Fixture *f, gconstpointer data)
{
    /* count = len + 4; the pages also hold the 4 FCS bytes the chip stores. */
    static const struct { size_t len; unsigned pages; } cases[] = {
        { 248, 1 }, { 249, 2 }, { 252, 2 }, { 504, 2 }, { 508, 3 }, { 1514, 6 },
    };
    uint8_t frame[1514], hdr[4];

    driver_init(f, DP8390_RCR_AB);
    make_frame(frame, sizeof frame, test_mac, 8);
    for (size_t c = 0; c < G_N_ELEMENTS(cases); c++) {
        uint8_t at = curr(f);
        size_t count;

        g_assert_cmpint(dp8390_receive(&f->chip, frame, cases[c].len), ==, DP8390_RX_STORED);
        dma_in(f, (uint16_t)(at << 8), hdr, 4);
        count = (size_t)(hdr[2] | hdr[3] << 8);
        g_assert_cmpuint(count, ==, cases[c].len + 4);
        g_assert_cmphex(hdr[1], ==, at + cases[c].pages);
        /* What Linux's ei_receive() accepts as the next page. */
        g_assert_true(hdr[1] == at + 1 + (count >> 8) || hdr[1] == at + 2 + (count >> 8));
        driver_drain(f, cases[c].len);
    }
}

static void test_receive_padding(Fixture *f, gconstpointer data)
{
    uint8_t frame[42], hdr[4], in[60];

    driver_init(f, DP8390_RCR_AB);
    make_frame(frame, sizeof frame, test_mac, 4);
    dp8390_receive(&f->chip, frame, sizeof frame);
    dma_in(f, RX_START << 8, hdr, 4);
    g_assert_cmpuint(hdr[2] | hdr[3] << 8, ==, DP8390_MIN_FRAME + 4);
    dma_in(f, (RX_START << 8) + 4, in, sizeof in);
    g_assert_cmpmem(in, sizeof frame, frame, sizeof frame);
    for (size_t i = sizeof frame; i < sizeof in; i++)
        g_assert_cmphex(in[i], ==, 0);

    /* With "accept runts" the frame keeps its own length. */
    wr(f, DP8390_RCR, DP8390_RCR_AB | DP8390_RCR_AR);
    dp8390_receive(&f->chip, frame, sizeof frame);
    dma_in(f, (RX_START + 1) << 8, hdr, 4);
    g_assert_cmpuint(hdr[2] | hdr[3] << 8, ==, sizeof frame + 4);
}

static void test_receive_wraps_at_pstop(Fixture *f, gconstpointer data)
{
    uint8_t frame[700], hdr[4], in[700];

    driver_init(f, DP8390_RCR_AB);
    /* Put CURR two pages before the end; BNRY just behind it. */
    page(f, 1);
    wr(f, DP8390_CURR, RX_STOP - 2);
    page(f, 0);
    wr(f, DP8390_BNRY, RX_STOP - 3);
    make_frame(frame, sizeof frame, test_mac, 7);
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_STORED);

    /* 704 bytes = 3 pages: 0x7e, 0x7f, then PSTART. */
    dma_in(f, (RX_STOP - 2) << 8, hdr, 4);
    g_assert_cmphex(hdr[1], ==, RX_START + 1);
    g_assert_cmphex(curr(f), ==, RX_START + 1);
    /* One remote read across the wrap gets the whole frame back. */
    dma_in(f, ((RX_STOP - 2) << 8) + 4, in, sizeof in);
    g_assert_cmpmem(in, sizeof in, frame, sizeof frame);
    g_assert_cmphex(f->chip.ram[(RX_START << 8) - DP8390_RAM_START],
                    ==, frame[2 * 256 - 4]);
}

/*
 * The receive loop of a NE2000 driver: frames live between BNRY + 1 and
 * CURR; after each one BNRY moves to the page before the next.
 */
static unsigned driver_drain(Fixture *f, size_t expect_len)
{
    unsigned n = 0;

    for (;;) {
        uint8_t this_frame = (uint8_t)(rd(f, DP8390_BNRY) + 1);
        uint8_t hdr[4], next;
        g_autofree uint8_t *buf = NULL;
        size_t len;

        if (this_frame >= RX_STOP)
            this_frame = RX_START;
        if (this_frame == curr(f))
            return n;
        dma_in(f, (uint16_t)(this_frame << 8), hdr, 4);
        len = (size_t)(hdr[2] | hdr[3] << 8) - 4;
        g_assert_cmpuint(len, ==, expect_len);
        buf = g_malloc(len);
        dma_in(f, (uint16_t)((this_frame << 8) + 4), buf, len);
        g_assert_cmphex(buf[0], ==, test_mac[0]);
        next = hdr[1];
        wr(f, DP8390_BNRY, next == RX_START ? RX_STOP - 1 : next - 1);
        n++;
    }
}

static void test_ring_backpressure(Fixture *f, gconstpointer data)
{
    uint8_t frame[1000];
    unsigned stored = 0;

    driver_init(f, DP8390_RCR_AB);
    make_frame(frame, sizeof frame, test_mac, 2);
    /* 1004 bytes = 4 pages; the 58-page ring takes 14 before refusing. */
    while (dp8390_can_receive(&f->chip)) {
        g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==,
                        DP8390_RX_STORED);
        stored++;
        g_assert_cmpuint(stored, <, 64);
    }
    g_assert_cmpuint(stored, ==, 13);
    g_assert_cmpint(f->rx_ready, ==, 0);
    /* Nothing was lost: no overflow, no missed packets. */
    g_assert_cmphex(rd(f, DP8390_ISR) & DP8390_ISR_OVW, ==, 0);
    /* The driver empties the ring; the peer hears about it once. */
    g_assert_cmpuint(driver_drain(f, sizeof frame), ==, stored);
    g_assert_cmpint(f->rx_ready, ==, 1);
    g_assert_true(dp8390_can_receive(&f->chip));
}

static void test_rx_ready_after_reset(Fixture *f, gconstpointer data)
{
    uint8_t frame[1500];

    driver_init(f, DP8390_RCR_AB);
    make_frame(frame, sizeof frame, test_mac, 5);
    while (dp8390_can_receive(&f->chip))
        dp8390_receive(&f->chip, frame, sizeof frame);
    g_assert_cmpint(f->rx_ready, ==, 0);
    /* A driver that gives up on the ring and resets the card: stopped, it
     * drops frames, so the peer may send again. */
    dp8390_reset(&f->chip);
    g_assert_cmpint(f->rx_ready, ==, 1);
    /* Restarted on the same full ring: refused again, then freed by BNRY. */
    wr(f, DP8390_CR, DP8390_CR_RD_ABORT | DP8390_CR_STA);
    g_assert_false(dp8390_can_receive(&f->chip));
    wr(f, DP8390_BNRY, (uint8_t)(curr(f) - 1));
    g_assert_cmpint(f->rx_ready, ==, 2);
}

static void test_ring_invalid_bounds(Fixture *f, gconstpointer data)
{
    uint8_t frame[60];

    driver_init(f, DP8390_RCR_AB);
    make_frame(frame, sizeof frame, test_mac, 0);
    /* PSTART at or above PSTOP is no ring: nothing is stored anywhere. */
    wr(f, DP8390_PSTART, RX_STOP);
    g_assert_false(dp8390_can_receive(&f->chip));
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_OVERFLOW);
    g_assert_cmphex(curr(f), ==, RX_START);
    /* Fixing the bounds lets frames in again, and says so once. */
    wr(f, DP8390_PSTART, RX_START);
    g_assert_cmpint(f->rx_ready, ==, 1);
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_STORED);
}

static void test_ring_reported(Fixture *f, gconstpointer data)
{
    uint8_t frame[60];

    make_frame(frame, sizeof frame, test_mac, 0);
    /* Drivers start the chip without a ring to read the PROM: no report. */
    wr(f, DP8390_DCR, 0x48);
    dma_setup(f, 0, 32, DP8390_CR_RD_READ);
    g_assert_cmpint(f->guest_errors[DP8390_ERR_RING_EMPTY], ==, 0);
    /* A frame arriving then is dropped, and that is reported. */
    wr(f, DP8390_RCR, DP8390_RCR_AB);
    page(f, 1);
    for (unsigned i = 0; i < 6; i++)
        wr(f, DP8390_PAR0 + i, test_mac[i]);
    page(f, 0);
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_OVERFLOW);
    g_assert_cmpint(f->guest_errors[DP8390_ERR_RING_EMPTY], ==, 1);

    /* A good ring says nothing. */
    driver_init(f, DP8390_RCR_AB);
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_STORED);
    g_assert_cmpint(f->guest_errors[DP8390_ERR_RING_OUTSIDE_RAM], ==, 0);
    /* A ring laid out for a 32 KiB card: reported with the frame. */
    wr(f, DP8390_PSTOP, 0xc0);
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_STORED);
    g_assert_cmpint(f->guest_errors[DP8390_ERR_RING_OUTSIDE_RAM], ==, 1);
}

static void test_status_registers(Fixture *f, gconstpointer data)
{
    driver_init(f, DP8390_RCR_AB);
    /* Page 0 reads: CLDA follows CURR, no collisions, reserved bytes float. */
    g_assert_cmphex(rd(f, 0x01), ==, 0);
    g_assert_cmphex(rd(f, 0x02), ==, RX_START);
    g_assert_cmphex(rd(f, DP8390_NCR), ==, 0);
    g_assert_cmphex(rd(f, DP8390_FIFO), ==, 0);
    g_assert_cmphex(rd(f, DP8390_CNTR1), ==, 0);
    g_assert_cmphex(rd(f, 0x0a), ==, 0xff);
    g_assert_cmphex(rd(f, 0x0b), ==, 0xff);
    page(f, 2);
    g_assert_cmphex(rd(f, DP8390_P2_LNPP), ==, RX_START);
    g_assert_cmphex(rd(f, DP8390_P2_ACU), ==, RX_START);
    g_assert_cmphex(rd(f, DP8390_P2_ACL), ==, 0);
    g_assert_cmphex(rd(f, 0x08), ==, 0xff);
    /* Page 3 is not decoded; its writes change nothing. */
    page(f, 3);
    g_assert_cmphex(rd(f, 0x05), ==, 0xff);
    wr(f, 0x07, 0x12);
    page(f, 1);
    g_assert_cmphex(rd(f, DP8390_CURR), ==, RX_START);
    /* Data port accesses of a size the bus cannot make are refused. */
    g_assert_cmphex(dp8390_data_read(&f->chip, 3), ==, 0xffffffff);
    dp8390_data_read_rep(&f->chip, 3, NULL, 1);
    dp8390_data_write_rep(&f->chip, 3, NULL, 1);
}

static void test_transmit_empty(Fixture *f, gconstpointer data)
{
    driver_init(f, DP8390_RCR_AB);
    wr(f, DP8390_TBCR0, 0);
    wr(f, DP8390_TBCR1, 0);
    wr(f, DP8390_ISR, 0xff);
    wr(f, DP8390_CR, DP8390_CR_RD_ABORT | DP8390_CR_TXP | DP8390_CR_STA);
    g_assert_cmpuint(f->tx->len, ==, 0);
    g_assert_cmphex(rd(f, DP8390_ISR), ==, DP8390_ISR_PTX);
}

static void test_ring_overflow(Fixture *f, gconstpointer data)
{
    uint8_t frame[1500];
    Dp8390RxResult r = DP8390_RX_STORED;
    unsigned stored = 0;

    driver_init(f, DP8390_RCR_AB);
    make_frame(frame, sizeof frame, test_mac, 5);
    /* A peer that ignores can_receive: frames beyond the ring are dropped. */
    while (r == DP8390_RX_STORED && stored < 100) {
        r = dp8390_receive(&f->chip, frame, sizeof frame);
        stored += r == DP8390_RX_STORED;
    }
    g_assert_cmpint(r, ==, DP8390_RX_OVERFLOW);
    g_assert_cmpuint(stored, ==, 9);
    g_assert_cmphex(rd(f, DP8390_ISR) & DP8390_ISR_OVW, ==, DP8390_ISR_OVW);
    g_assert_cmphex(rd(f, DP8390_RSR) & DP8390_RSR_MPA, ==, DP8390_RSR_MPA);
    g_assert_cmpuint(f->chip.stats.rx_overflow, ==, 1);
    /* Stored frames are intact and CURR never ran into BNRY. */
    g_assert_cmphex(curr(f), !=, rd(f, DP8390_BNRY));
    g_assert_cmpuint(driver_drain(f, sizeof frame), ==, stored);
    /* CNTR2 counted the miss and clears when read. */
    g_assert_cmpuint(rd(f, DP8390_CNTR2), ==, 1);
    g_assert_cmpuint(rd(f, DP8390_CNTR2), ==, 0);
}

static void test_bnry_curr_empty_conventions(Fixture *f, gconstpointer data)
{
    uint8_t frame[60];

    /* CURR == BNRY: the ring is empty for drivers that read at BNRY. */
    driver_init(f, DP8390_RCR_AB);
    wr(f, DP8390_BNRY, RX_START);
    g_assert_true(dp8390_can_receive(&f->chip));
    make_frame(frame, sizeof frame, test_mac, 0);
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_STORED);
    g_assert_cmphex(curr(f), ==, RX_START + 1);
    /* BNRY one page ahead of CURR: only the page at CURR is free. */
    wr(f, DP8390_BNRY, RX_START + 2);
    g_assert_false(dp8390_can_receive(&f->chip));
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_OVERFLOW);
    g_assert_cmphex(curr(f), ==, RX_START + 1);
}

static void test_isr_write_one_clears(Fixture *f, gconstpointer data)
{
    driver_init(f, DP8390_RCR_AB);
    f->chip.isr |= DP8390_ISR_PRX | DP8390_ISR_PTX | DP8390_ISR_RDC;
    wr(f, DP8390_ISR, DP8390_ISR_PRX);
    g_assert_cmphex(rd(f, DP8390_ISR), ==, DP8390_ISR_PTX | DP8390_ISR_RDC);
    wr(f, DP8390_ISR, 0);
    g_assert_cmphex(rd(f, DP8390_ISR), ==, DP8390_ISR_PTX | DP8390_ISR_RDC);
    wr(f, DP8390_ISR, 0xff);
    g_assert_cmphex(rd(f, DP8390_ISR), ==, 0);
    /* RST follows the stop state, not writes. */
    wr(f, DP8390_CR, DP8390_CR_RD_ABORT | DP8390_CR_STP);
    wr(f, DP8390_ISR, 0xff);
    g_assert_cmphex(rd(f, DP8390_ISR), ==, DP8390_ISR_RST);
    wr(f, DP8390_CR, DP8390_CR_RD_ABORT | DP8390_CR_STA);
    g_assert_cmphex(rd(f, DP8390_ISR), ==, 0);
}

static void test_imr_gates_irq(Fixture *f, gconstpointer data)
{
    uint8_t frame[60];

    driver_init(f, DP8390_RCR_AB);
    wr(f, DP8390_IMR, 0);
    make_frame(frame, sizeof frame, test_mac, 0);
    dp8390_receive(&f->chip, frame, sizeof frame);
    g_assert_cmphex(rd(f, DP8390_ISR) & DP8390_ISR_PRX, ==, DP8390_ISR_PRX);
    g_assert_false(f->irq);
    wr(f, DP8390_IMR, DP8390_ISR_PTX);
    g_assert_false(f->irq);
    wr(f, DP8390_IMR, DP8390_ISR_PRX);
    g_assert_true(f->irq);
    wr(f, DP8390_ISR, DP8390_ISR_PRX);
    g_assert_false(f->irq);
    /* RST never interrupts, whatever IMR says. */
    wr(f, DP8390_IMR, 0xff);
    wr(f, DP8390_CR, DP8390_CR_RD_ABORT | DP8390_CR_STP);
    g_assert_false(f->irq);
    /* The hook only hears about changes. */
    g_assert_cmpint(f->irq_changes, ==, 2);
}

static void test_filter_physical(Fixture *f, gconstpointer data)
{
    uint8_t frame[60];

    driver_init(f, 0);
    make_frame(frame, sizeof frame, (const uint8_t[6]){ 0x52, 0x54, 0, 0x12, 0x34, 0x57 }, 0);
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_FILTERED);
    make_frame(frame, sizeof frame, test_mac, 0);
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_STORED);
    g_assert_cmphex(rd(f, DP8390_RSR) & DP8390_RSR_PHY, ==, 0);
    /* The filter follows PAR, not the address in the PROM. */
    page(f, 1);
    wr(f, DP8390_PAR0 + 5, 0x99);
    page(f, 0);
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_FILTERED);
    frame[5] = 0x99;
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_STORED);
}

static void test_filter_broadcast(Fixture *f, gconstpointer data)
{
    static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    uint8_t frame[60];

    driver_init(f, 0);
    make_frame(frame, sizeof frame, bcast, 0);
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_FILTERED);
    wr(f, DP8390_RCR, DP8390_RCR_AB);
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_STORED);
    g_assert_cmphex(rd(f, DP8390_RSR), ==, DP8390_RSR_PRX | DP8390_RSR_PHY);
    /* Broadcast is not a multicast hash match: AM alone does not take it. */
    wr(f, DP8390_RCR, DP8390_RCR_AM);
    page(f, 1);
    for (unsigned i = 0; i < 8; i++)
        wr(f, DP8390_MAR0 + i, 0xff);
    page(f, 0);
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_FILTERED);
}

static void test_filter_multicast_hash(Fixture *f, gconstpointer data)
{
    /* Hash indexes of the Ethernet CRC, computed independently. */
    static const struct { uint8_t addr[6]; unsigned index; } cases[] = {
        { { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 }, 31 },
        { { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 }, 62 },
        { { 0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa }, 43 },
    };
    uint8_t frame[60];

    driver_init(f, DP8390_RCR_AM);
    for (size_t c = 0; c < G_N_ELEMENTS(cases); c++) {
        unsigned idx = cases[c].index;

        g_assert_cmpuint(dp8390_mcast_index(cases[c].addr), ==, idx);
        make_frame(frame, sizeof frame, cases[c].addr, 0);
        page(f, 1);
        for (unsigned i = 0; i < 8; i++)
            wr(f, DP8390_MAR0 + i, (uint8_t)~(i == idx / 8 ? 1u << (idx % 8) : 0));
        page(f, 0);
        /* Every bit but the right one set: filtered. */
        g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_FILTERED);
        page(f, 1);
        for (unsigned i = 0; i < 8; i++)
            wr(f, DP8390_MAR0 + i, (uint8_t)(i == idx / 8 ? 1u << (idx % 8) : 0));
        page(f, 0);
        g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_STORED);
        g_assert_cmphex(rd(f, DP8390_RSR), ==, DP8390_RSR_PRX | DP8390_RSR_PHY);
    }
    /* AM off: the hash is not consulted. */
    wr(f, DP8390_RCR, 0);
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_FILTERED);
}

static void test_filter_promiscuous(Fixture *f, gconstpointer data)
{
    uint8_t frame[60];

    driver_init(f, DP8390_RCR_PRO);
    make_frame(frame, sizeof frame, (const uint8_t[6]){ 0x02, 9, 9, 9, 9, 9 }, 0);
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_STORED);
    make_frame(frame, sizeof frame, (const uint8_t[6]){ 0x01, 9, 9, 9, 9, 9 }, 0);
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_STORED);
}

static void test_stopped_drops(Fixture *f, gconstpointer data)
{
    uint8_t frame[60];

    driver_init(f, DP8390_RCR_AB);
    wr(f, DP8390_CR, DP8390_CR_RD_ABORT | DP8390_CR_STP);
    make_frame(frame, sizeof frame, test_mac, 0);
    /* A stopped chip does not hold the network up: it drops. */
    g_assert_true(dp8390_can_receive(&f->chip));
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_STOPPED);
    g_assert_cmphex(curr(f), ==, RX_START);
}

static void test_monitor_mode(Fixture *f, gconstpointer data)
{
    uint8_t frame[60];

    driver_init(f, DP8390_RCR_AB | DP8390_RCR_MON);
    make_frame(frame, sizeof frame, test_mac, 0);
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_MONITOR);
    g_assert_cmphex(curr(f), ==, RX_START);
    g_assert_cmpuint(rd(f, DP8390_CNTR2), ==, 1);
}

static void test_too_long(Fixture *f, gconstpointer data)
{
    uint8_t frame[DP8390_MAX_FRAME + 1];

    driver_init(f, DP8390_RCR_AB);
    make_frame(frame, sizeof frame, test_mac, 0);
    g_assert_cmpint(dp8390_receive(&f->chip, frame, sizeof frame), ==, DP8390_RX_TOO_LONG);
    g_assert_cmpint(dp8390_receive(&f->chip, frame, DP8390_MAX_FRAME), ==, DP8390_RX_STORED);
}

static void test_counters_clear_on_read(Fixture *f, gconstpointer data)
{
    /* The 8390 probe: a page 1 write at 0x0d must not show in CNTR0. */
    wr(f, DP8390_CR, 0x40 | DP8390_CR_RD_ABORT | DP8390_CR_STP);
    wr(f, 0x0d, 0xff);
    wr(f, DP8390_CR, DP8390_CR_RD_ABORT);
    (void)rd(f, DP8390_CNTR0);
    g_assert_cmpuint(rd(f, DP8390_CNTR0), ==, 0);
    /* CNTR2 saturates and raises CNT once its top bit is set. */
    driver_init(f, DP8390_RCR_AB | DP8390_RCR_MON);
    for (unsigned i = 0; i < 300; i++) {
        uint8_t frame[60];
        make_frame(frame, sizeof frame, test_mac, 0);
        dp8390_receive(&f->chip, frame, sizeof frame);
        if (i == 126)
            g_assert_cmphex(rd(f, DP8390_ISR) & DP8390_ISR_CNT, ==, 0);
    }
    g_assert_cmphex(rd(f, DP8390_ISR) & DP8390_ISR_CNT, ==, DP8390_ISR_CNT);
    g_assert_cmpuint(rd(f, DP8390_CNTR2), ==, 192);
    g_assert_cmpuint(rd(f, DP8390_CNTR2), ==, 0);
}

static void test_send_packet_command(Fixture *f, gconstpointer data)
{
    uint8_t frame[80];

    driver_init(f, DP8390_RCR_AB);
    /* Convention of drivers using Send Packet: BNRY points at the frame. */
    wr(f, DP8390_BNRY, RX_START);
    make_frame(frame, sizeof frame, test_mac, 0);
    dp8390_receive(&f->chip, frame, sizeof frame);
    wr(f, DP8390_CR, DP8390_CR_RD_SEND | DP8390_CR_STA);
    g_assert_cmphex(rd(f, 0x08) | rd(f, 0x09) << 8, ==, RX_START << 8);
    g_assert_cmpuint(f->chip.rbcr, ==, sizeof frame + 4);
}

static void test_rdc_on_empty_dma(Fixture *f, gconstpointer data)
{
    wr(f, DP8390_ISR, 0xff);
    dma_setup(f, 0x4000, 0, DP8390_CR_RD_WRITE);
    g_assert_cmphex(rd(f, DP8390_ISR) & DP8390_ISR_RDC, ==, DP8390_ISR_RDC);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) \
    g_test_add("/ne2000/dp8390/" path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
    ADD("reset-state", test_reset_state);
    ADD("prom/byte-mode", test_prom_byte_mode);
    ADD("prom/word-mode", test_prom_word_mode);
    ADD("page-switch", test_page_switch);
    ADD("status-registers", test_status_registers);
    ADD("dma/write-read", test_dma_write_read);
    ADD("dma/count-exhausted", test_dma_count_exhausted);
    ADD("dma/outside-memory", test_dma_outside_memory);
    ADD("dma/wraps-at-pstop", test_dma_wraps_at_pstop);
    ADD("dma/odd-word-tail", test_dma_odd_word_tail);
    ADD("dma/rdc-on-empty", test_rdc_on_empty_dma);
    ADD("tx/exact-frame", test_transmit_exact_frame);
    ADD("tx/needs-start", test_transmit_needs_start);
    ADD("tx/clipped", test_transmit_clipped);
    ADD("tx/empty", test_transmit_empty);
    ADD("tx/loopback", test_transmit_loopback);
    ADD("rx/header", test_receive_header);
    ADD("rx/multi-page", test_receive_multi_page);
    ADD("rx/padding", test_receive_padding);
    ADD("rx/next-page-leaves-fcs-room", test_receive_next_page_leaves_fcs_room);
    ADD("rx/wraps-at-pstop", test_receive_wraps_at_pstop);
    ADD("rx/too-long", test_too_long);
    ADD("rx/stopped-drops", test_stopped_drops);
    ADD("rx/monitor", test_monitor_mode);
    ADD("ring/backpressure", test_ring_backpressure);
    ADD("ring/overflow", test_ring_overflow);
    ADD("ring/rx-ready-after-reset", test_rx_ready_after_reset);
    ADD("ring/invalid-bounds", test_ring_invalid_bounds);
    ADD("ring/reported", test_ring_reported);
    ADD("ring/bnry-curr-conventions", test_bnry_curr_empty_conventions);
    ADD("ring/send-packet-command", test_send_packet_command);
    ADD("isr/write-one-clears", test_isr_write_one_clears);
    ADD("isr/imr-gates-irq", test_imr_gates_irq);
    ADD("filter/physical", test_filter_physical);
    ADD("filter/broadcast", test_filter_broadcast);
    ADD("filter/multicast-hash", test_filter_multicast_hash);
    ADD("filter/promiscuous", test_filter_promiscuous);
    ADD("counters/clear-on-read", test_counters_clear_on_read);
#undef ADD
    return g_test_run();
}
