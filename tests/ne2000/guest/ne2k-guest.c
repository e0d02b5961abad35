/*
 * A guest kernel that drives the NE2000 at 0x300/IRQ 9 with the tests'
 * driver and reports TAP on COM1: the same checks on QEMU's ne2k_isa and on
 * LilyVM's nic-ne2000, each cabled to a network that echoes every frame.
 */
#include <stdio.h>
#include <string.h>
#include <lily/cpu.h>
#include <lily/debugexit.h>
#include <lily/desc.h>
#include <lily/io.h>
#include <lily/multiboot.h>
#include <lily/paging.h>
#include <lily/pic.h>
#include <lily/serial.h>
#include <lily/trap.h>

#include "../ne2k-driver.h"

#define NE2K_IOBASE 0x300
#define NE2K_IRQ 9
/* Polls of the ring before a wait gives up (each poll is several port reads). */
#define NE2K_WAIT_POLLS 200000u

void kmain(uint32_t magic, uint32_t mbi_pa);

static unsigned failures, checks_failed_in_test;
static volatile unsigned irq_count;
static volatile uint8_t isr_seen;
static uint8_t mac[6];
/*
 * Command line word "qemu": the card is QEMU's ne2k_isa, whose known
 * departures from the DP8390 are reported instead of failed: its socket
 * backend drops what the card cannot take, page 2 does not read back
 * TPSR, RCR, DCR or IMR, and the unicast filter compares with the PROM
 * instead of PAR.
 */
static int qemu_card;

static uint32_t port_in(void *ctx, uint16_t port, unsigned size)
{
    return size == 1 ? inb(port) : size == 2 ? inw(port) : inl(port);
}

static void port_out(void *ctx, uint16_t port, unsigned size, uint32_t value)
{
    if (size == 1)
        outb(port, (uint8_t)value);
    else if (size == 2)
        outw(port, (uint16_t)value);
    else
        outl(port, value);
}

static void port_ins(void *ctx, uint16_t port, unsigned size, void *buf, uint32_t count)
{
    /* One rep insw for the whole transfer, as a real driver does. */
    __asm__ volatile("rep insw" : "+D"(buf), "+c"(count) : "d"(port) : "memory");
}

static void port_outs(void *ctx, uint16_t port, unsigned size, const void *buf,
                      uint32_t count)
{
    __asm__ volatile("rep outsw" : "+S"(buf), "+c"(count) : "d"(port) : "memory");
}

/* ins/outs are used for 16-bit transfers only (the driver's insw/outsw). */
static const Ne2kBus bus = {
    .in = port_in, .out = port_out, .ins = port_ins, .outs = port_outs,
    .iobase = NE2K_IOBASE,
};

static void check(int ok, int line, const char *what, uint32_t got, uint32_t want)
{
    if (ok)
        return;
    checks_failed_in_test++;
    printf("# line %d: %s: got %#x, expected %#x\n", line, what, got, want);
}

#define CHECK_EQ(a, b)                                                       \
    do {                                                                     \
        uint32_t a_ = (uint32_t)(a), b_ = (uint32_t)(b);                     \
        check(a_ == b_, __LINE__, #a " == " #b, a_, b_);                     \
    } while (0)

/* The interrupt handler of a driver: acknowledge what the card raised. */
static void ne2k_irq(struct trap_frame *f)
{
    uint8_t isr = inb(NE2K_IOBASE + 0x07);

    isr_seen |= isr;
    outb(NE2K_IOBASE + 0x07, isr);
    irq_count++;
    pic_eoi(NE2K_IRQ);
}

/* Poll the ring with interrupts open between polls; 0 after the timeout. */
static size_t wait_frame(uint8_t *buf, size_t cap)
{
    for (unsigned i = 0; i < NE2K_WAIT_POLLS; i++) {
        size_t len = ne2k_drv_recv(&bus, buf, cap);
        if (len)
            return len;
        sti();
        __asm__ volatile("pause");
        cli();
    }
    return 0;
}

/* A frame for dst whose contents follow from seed (stored at byte 14). */
static void make_frame(uint8_t *buf, size_t len, const uint8_t dst[6], uint8_t seed)
{
    static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x05 };

    memcpy(buf, dst, 6);
    memcpy(buf + 6, src, 6);
    buf[12] = 0x88;
    buf[13] = 0xb5;
    buf[14] = seed;
    for (size_t i = 15; i < len; i++)
        buf[i] = (uint8_t)(seed * 7 + i);
}

static void t_probe(void)
{
    static const uint8_t want[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

    CHECK_EQ(ne2k_drv_probe(&bus, mac), 1);
    for (unsigned i = 0; i < 6; i++)
        CHECK_EQ(mac[i], want[i]);
    /* Word mode: every PROM word carries its byte twice. */
    {
        static uint16_t words[16];
        outb(NE2K_IOBASE + 0x0e, 0x49);
        outb(NE2K_IOBASE + 0x0a, 32);
        outb(NE2K_IOBASE + 0x0b, 0);
        outb(NE2K_IOBASE + 0x08, 0);
        outb(NE2K_IOBASE + 0x09, 0);
        outb(NE2K_IOBASE, 0x0a);
        port_ins(NULL, NE2K_IOBASE + 0x10, 2, words, 16);
        for (unsigned i = 0; i < 6; i++)
            CHECK_EQ(words[i], want[i] * 0x0101u);
        CHECK_EQ(words[14], 0x5757);
        CHECK_EQ(inb(NE2K_IOBASE + 0x07) & 0x40, 0x40); /* RDC */
    }
    /* Reset leaves RST alone in ISR; the probe acknowledged it. */
    inb(NE2K_IOBASE + 0x1f);
    CHECK_EQ(inb(NE2K_IOBASE + 0x07), 0x80);
}

static void t_loopback(void)
{
    static uint8_t frame[98], back[1600];
    size_t len;

    ne2k_drv_init(&bus, mac, 0x04);
    irq_count = 0;
    isr_seen = 0;
    make_frame(frame, sizeof frame, mac, 1);
    CHECK_EQ(ne2k_drv_send(&bus, frame, sizeof frame), 1);
    len = wait_frame(back, sizeof back);
    CHECK_EQ(len, sizeof frame);
    CHECK_EQ(memcmp(back, frame, sizeof frame), 0);
    /* Let the interrupt in if it is still pending, then look at what it saw. */
    sti();
    for (unsigned i = 0; i < 1000 && !(isr_seen & 0x01); i++)
        __asm__ volatile("pause");
    cli();
    CHECK_EQ(irq_count > 0, 1);
    CHECK_EQ(isr_seen & 0x03, 0x03);
    /* Acknowledged: nothing left that would hold the line up. */
    CHECK_EQ(inb(NE2K_IOBASE + 0x07) & 0x3f, 0);
    CHECK_EQ(ne2k_drv_recv(&bus, back, sizeof back), 0);
}

static void t_backpressure(void)
{
    enum { FRAMES = 30 };
    static uint8_t frame[1000], back[1600];
    unsigned got = 0, next_seed = 0;

    ne2k_drv_init(&bus, mac, 0x04);
    isr_seen = 0;
    /* More than the ring holds, without reading any of them yet. */
    for (unsigned i = 0; i < FRAMES; i++) {
        make_frame(frame, sizeof frame, mac, (uint8_t)i);
        CHECK_EQ(ne2k_drv_send(&bus, frame, sizeof frame), 1);
    }
    /* They come back intact and in order; with back-pressure, all of them. */
    while (next_seed < FRAMES) {
        size_t len = wait_frame(back, sizeof back);
        if (len == 0)
            break;
        CHECK_EQ(len, sizeof frame);
        CHECK_EQ(back[14] >= next_seed && back[14] < FRAMES, 1);
        make_frame(frame, sizeof frame, mac, back[14]);
        CHECK_EQ(memcmp(back, frame, sizeof frame), 0);
        next_seed = back[14] + 1u;
        got++;
    }
    if (qemu_card)
        printf("# the network dropped %u of %u frames\n", FRAMES - got, FRAMES);
    else
        CHECK_EQ(got, FRAMES);
    CHECK_EQ(isr_seen & 0x10, 0); /* the ring never overflowed */
}

static uint8_t reg(unsigned page, unsigned r)
{
    uint8_t v;

    outb(NE2K_IOBASE, (uint8_t)(page << 6 | 0x22));
    v = inb(NE2K_IOBASE + r);
    outb(NE2K_IOBASE, 0x22);
    return v;
}

/* Send a frame and wait for the card to have it back; CURR before it is *at. */
static size_t echo(const uint8_t *frame, size_t len, uint8_t *at, uint8_t *back)
{
    *at = reg(1, 0x07);
    if (!ne2k_drv_send(&bus, frame, len))
        return 0;
    return wait_frame(back, 1600);
}

/*
 * Does the card turn frame away?  A marker frame to our own address follows
 * it; the network keeps order, so the marker coming back first says so
 * without waiting for a timeout.
 */
static int rejected_for(const uint8_t *frame, size_t len, const uint8_t station[6])
{
    static uint8_t marker[60], back[1600];
    size_t got;

    make_frame(marker, sizeof marker, station, 0xee);
    if (!ne2k_drv_send(&bus, frame, len) || !ne2k_drv_send(&bus, marker, sizeof marker))
        return 0;
    got = wait_frame(back, sizeof back);
    return got == sizeof marker && back[14] == 0xee && ne2k_drv_recv(&bus, back, sizeof back) == 0;
}

static int rejected(const uint8_t *frame, size_t len)
{
    return rejected_for(frame, len, mac);
}

static void t_registers(void)
{
    static uint8_t frame[60], back[1600], hdr[4];
    uint8_t at;

    ne2k_drv_init(&bus, mac, 0x04);
    CHECK_EQ(inb(NE2K_IOBASE), 0x22);
    /* Page 2 reads back what page 0 only writes. */
    CHECK_EQ(reg(2, 0x01), NE2K_DRV_RX_START);
    CHECK_EQ(reg(2, 0x02), NE2K_DRV_RX_STOP);
    if (!qemu_card) {
        CHECK_EQ(reg(2, 0x04), NE2K_DRV_TX_PAGE);
        CHECK_EQ(reg(2, 0x0c) & 0x3f, 0x04);
        CHECK_EQ(reg(2, 0x0e) & 0x7f, 0x49);
        CHECK_EQ(reg(2, 0x0f) & 0x7f, 0x3f);
    } else {
        printf("# page 2 TPSR %#x RCR %#x DCR %#x IMR %#x (QEMU does not read them back)\n",
               reg(2, 0x04), reg(2, 0x0c), reg(2, 0x0e), reg(2, 0x0f));
    }
    for (unsigned i = 0; i < 6; i++)
        CHECK_EQ(reg(1, 0x01 + i), mac[i]);
    /* The tally counters start (and, read, stay) at zero. */
    CHECK_EQ(reg(0, 0x0d), 0);
    CHECK_EQ(reg(0, 0x0e), 0);
    CHECK_EQ(reg(0, 0x0f), 0);

    make_frame(frame, sizeof frame, mac, 9);
    CHECK_EQ(echo(frame, sizeof frame, &at, back), sizeof frame);
    CHECK_EQ(inb(NE2K_IOBASE) & 0x04, 0);    /* TXP cleared */
    CHECK_EQ(reg(0, 0x04) & 0x01, 0x01);     /* TSR.PTX */
    CHECK_EQ(reg(0, 0x0c), 0x01);            /* RSR: intact, physical */
    /* The receive header as the card wrote it. */
    ne2k_drv_read(&bus, (uint16_t)(at << 8), hdr, sizeof hdr);
    CHECK_EQ(hdr[0], 0x01);
    CHECK_EQ(hdr[1], at + 1);
    CHECK_EQ(hdr[2] | hdr[3] << 8, sizeof frame + 4);
    CHECK_EQ(reg(1, 0x07), at + 1);
}

/* The next-page pointer leaves room for the FCS, as 8390 drivers expect. */
static void t_next_page(void)
{
    static const struct { uint16_t len; uint8_t pages; } cases[] = {
        { 248, 1 }, { 252, 2 }, { 508, 3 }, { 1514, 6 },
    };
    static uint8_t frame[1514], back[1600], hdr[4];
    uint8_t at;

    ne2k_drv_init(&bus, mac, 0x04);
    for (unsigned c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        make_frame(frame, cases[c].len, mac, (uint8_t)c);
        CHECK_EQ(echo(frame, cases[c].len, &at, back), cases[c].len);
        ne2k_drv_read(&bus, (uint16_t)(at << 8), hdr, sizeof hdr);
        CHECK_EQ(hdr[2] | hdr[3] << 8, cases[c].len + 4u);
        CHECK_EQ(hdr[1], at + cases[c].pages);
    }
}

static void t_short_frame_padded(void)
{
    static uint8_t frame[42], back[1600], hdr[4];
    uint8_t at;

    ne2k_drv_init(&bus, mac, 0x04);
    make_frame(frame, sizeof frame, mac, 3);
    /* Sent as 42 bytes, stored as the 60 of a minimal Ethernet frame. */
    CHECK_EQ(echo(frame, sizeof frame, &at, back), 60);
    CHECK_EQ(memcmp(back, frame, sizeof frame), 0);
    for (unsigned i = sizeof frame; i < 60; i++)
        CHECK_EQ(back[i], 0);
    ne2k_drv_read(&bus, (uint16_t)(at << 8), hdr, sizeof hdr);
    CHECK_EQ(hdr[2] | hdr[3] << 8, 64);
}

static void t_filters(void)
{
    static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    static const uint8_t other[6] = { 0x02, 0x99, 0x99, 0x99, 0x99, 0x99 };
    static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
    static uint8_t frame[64], back[1600];
    uint8_t at;

    /* Broadcast with AB, and RSR tells it apart. */
    ne2k_drv_init(&bus, mac, 0x04);
    make_frame(frame, sizeof frame, bcast, 1);
    CHECK_EQ(echo(frame, sizeof frame, &at, back), sizeof frame);
    CHECK_EQ(reg(0, 0x0c), 0x21);
    /* Another station's frame is not ours. */
    make_frame(frame, sizeof frame, other, 2);
    CHECK_EQ(rejected(frame, sizeof frame), 1);
    /* Without AB, broadcasts stay out too. */
    ne2k_drv_init(&bus, mac, 0x00);
    make_frame(frame, sizeof frame, bcast, 3);
    CHECK_EQ(rejected(frame, sizeof frame), 1);
    /* Multicast with AM: the init opened every MAR bit; bit 31 alone. */
    ne2k_drv_init(&bus, mac, 0x08);
    make_frame(frame, sizeof frame, mcast, 4);
    CHECK_EQ(echo(frame, sizeof frame, &at, back), sizeof frame);
    outb(NE2K_IOBASE, 0x62);
    for (unsigned i = 0; i < 8; i++)
        outb(NE2K_IOBASE + 0x08 + i, i == 3 ? 0x80 : 0x00);
    outb(NE2K_IOBASE, 0x22);
    CHECK_EQ(echo(frame, sizeof frame, &at, back), sizeof frame);
    outb(NE2K_IOBASE, 0x62);
    outb(NE2K_IOBASE + 0x08 + 3, 0x7f);
    outb(NE2K_IOBASE, 0x22);
    CHECK_EQ(rejected(frame, sizeof frame), 1);
    /* Promiscuous takes anything. */
    ne2k_drv_init(&bus, mac, 0x10);
    make_frame(frame, sizeof frame, other, 5);
    CHECK_EQ(echo(frame, sizeof frame, &at, back), sizeof frame);
    /* The unicast filter follows PAR, not the PROM: a driver may change
     * the station address.  (The marker goes to the new address too.) */
    ne2k_drv_init(&bus, other, 0x04);
    make_frame(frame, sizeof frame, other, 6);
    if (!qemu_card) {
        CHECK_EQ(echo(frame, sizeof frame, &at, back), sizeof frame);
        make_frame(frame, sizeof frame, mac, 7);
        CHECK_EQ(rejected_for(frame, sizeof frame, other), 1);
    } else {
        printf("# a frame to PAR %s (QEMU filters on the PROM address)\n",
               echo(frame, sizeof frame, &at, back) ? "came back" : "was dropped");
    }
}

/* True if word appears as a whole word in the Multiboot command line. */
static int cmdline_has(uint32_t magic, uint32_t mbi_pa, const char *word)
{
    const struct multiboot_info *mbi;
    const char *p;
    size_t n = strlen(word);

    if (magic != MULTIBOOT_BOOTLOADER_MAGIC || mbi_pa >= KERNEL_MAP_SIZE - sizeof *mbi)
        return 0;
    mbi = P2V(mbi_pa);
    if (!(mbi->flags & MULTIBOOT_INFO_CMDLINE) || mbi->cmdline >= KERNEL_MAP_SIZE)
        return 0;
    for (p = P2V(mbi->cmdline); *p;) {
        const char *end;
        while (*p == ' ')
            p++;
        for (end = p; *end && *end != ' '; end++)
            ;
        if ((size_t)(end - p) == n && strncmp(p, word, n) == 0)
            return 1;
        p = end;
    }
    return 0;
}

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
    { "/ne2000/guest/probe", t_probe },
    { "/ne2000/guest/loopback", t_loopback },
    { "/ne2000/guest/registers", t_registers },
    { "/ne2000/guest/next-page", t_next_page },
    { "/ne2000/guest/short-frame-padded", t_short_frame_padded },
    { "/ne2000/guest/filters", t_filters },
    { "/ne2000/guest/backpressure", t_backpressure },
};

static void com1_write(const char *s, unsigned len)
{
    serial_write(SERIAL_COM1, s, len);
}

void kmain(uint32_t magic, uint32_t mbi_pa)
{
    const unsigned n = sizeof tests / sizeof tests[0];

    qemu_card = cmdline_has(magic, mbi_pa, "qemu");
    desc_init();
    idt_init();
    serial_init(SERIAL_COM1);
    console_set_output(com1_write);
    pic_remap(VEC_IRQ0, VEC_IRQ0 + 8);
    trap_set_handler(VEC_IRQ0 + NE2K_IRQ, ne2k_irq);
    pic_unmask(2); /* the cascade */
    pic_unmask(NE2K_IRQ);

    printf("1..%u\n", n);
    for (unsigned i = 0; i < n; i++) {
        checks_failed_in_test = 0;
        tests[i].fn();
        printf("%s %u %s\n", checks_failed_in_test ? "not ok" : "ok", i + 1, tests[i].name);
        failures += checks_failed_in_test != 0;
    }
    debug_exit(failures ? DEBUG_EXIT_FAILURE : DEBUG_EXIT_SUCCESS);
}
