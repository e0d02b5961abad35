/*
 * NE2000 (DP8390 core, ISA, 16-bit programmed I/O) driver for the guest
 * network library: polled receive ring, one transmit buffer.
 */
#include <string.h>
#include <lily/io.h>
#include <lily/pic.h>
#include <lily/trap.h>

#include "net.h"

/* Register offsets (page 0 unless noted) and commands. */
#define NE_CR 0x00
#define NE_PSTART 0x01
#define NE_PSTOP 0x02
#define NE_BNRY 0x03
#define NE_TPSR 0x04
#define NE_TBCR0 0x05
#define NE_TBCR1 0x06
#define NE_ISR 0x07
#define NE_RSAR0 0x08
#define NE_RSAR1 0x09
#define NE_RBCR0 0x0a
#define NE_RBCR1 0x0b
#define NE_RCR 0x0c
#define NE_TCR 0x0d
#define NE_DCR 0x0e
#define NE_IMR 0x0f
#define NE_CURR 0x07 /* page 1 */
#define NE_DATA 0x10
#define NE_RESET 0x1f

#define CR_STOP 0x01
#define CR_START 0x02
#define CR_TXP 0x04
#define CR_RD_READ 0x08
#define CR_RD_WRITE 0x10
#define CR_NODMA 0x20
#define CR_PAGE1 0x40

#define ISR_PTX 0x02
#define ISR_OVW 0x10
#define ISR_RDC 0x40
#define ISR_RST 0x80

/* Card memory pages (256 bytes each): transmit buffer, then the ring. */
#define TX_PAGE 0x40
#define RX_START 0x46
#define RX_STOP 0x80
#define FRAME_MAX 1518

static uint16_t io;
/* IRQ line when interrupts are on (ne2k_irq_attach), else -1; set by the handler. */
static int irq_line = -1;
static volatile int irq_fired;

static inline void reg_out(unsigned r, uint8_t v) { outb((uint16_t)(io + r), v); }
static inline uint8_t reg_in(unsigned r) { return inb((uint16_t)(io + r)); }

static void dma_setup(uint16_t addr, uint16_t count, uint8_t dir)
{
    reg_out(NE_CR, CR_NODMA | CR_START);
    reg_out(NE_RBCR0, (uint8_t)count);
    reg_out(NE_RBCR1, (uint8_t)(count >> 8));
    reg_out(NE_RSAR0, (uint8_t)addr);
    reg_out(NE_RSAR1, (uint8_t)(addr >> 8));
    reg_out(NE_CR, dir | CR_START);
}

/* Wait (bounded) for the remote DMA to report completion, then acknowledge. */
static int dma_done(void)
{
    for (unsigned i = 0; !(reg_in(NE_ISR) & ISR_RDC); i++)
        if (i > 100000)
            return -1;
    reg_out(NE_ISR, ISR_RDC);
    return 0;
}

static void card_read(uint16_t addr, uint8_t *buf, size_t len)
{
    size_t words = len / 2;
    void *p = buf;
    uint32_t n = (uint32_t)words;

    dma_setup(addr, (uint16_t)((len + 1) & ~1u), CR_RD_READ);
    __asm__ volatile("rep insw" : "+D"(p), "+c"(n) : "d"((uint16_t)(io + NE_DATA)) : "memory");
    if (len & 1) {
        uint16_t last = inw((uint16_t)(io + NE_DATA));
        buf[len - 1] = (uint8_t)last;
    }
    dma_done();
}

int ne2k_probe(uint16_t iobase, uint8_t mac[6])
{
    uint8_t prom[32];

    io = iobase;
    if (reg_in(NE_CR) == 0xff)
        return -1;
    reg_out(NE_RESET, reg_in(NE_RESET));
    for (unsigned i = 0; !(reg_in(NE_ISR) & ISR_RST); i++)
        if (i > 100000)
            return -1;
    reg_out(NE_ISR, 0xff);
    reg_out(NE_CR, CR_NODMA | CR_STOP);
    reg_out(NE_DCR, 0x48); /* byte-wide while reading the PROM */
    reg_out(NE_RBCR0, 0);
    reg_out(NE_RBCR1, 0);
    reg_out(NE_IMR, 0);
    reg_out(NE_ISR, 0xff);
    reg_out(NE_RCR, 0x20); /* monitor */
    reg_out(NE_TCR, 0x02); /* loopback */
    dma_setup(0, sizeof prom, CR_RD_READ);
    for (unsigned i = 0; i < sizeof prom; i++)
        prom[i] = inb((uint16_t)(io + NE_DATA));
    dma_done();
    /* A 16-bit card stores every PROM byte twice. */
    for (unsigned i = 0; i < 6; i++)
        mac[i] = prom[2 * i];
    return prom[28] == 0x57 && prom[30] == 0x57 ? 0 : -1;
}

void ne2k_start(uint16_t iobase, const uint8_t mac[6])
{
    io = iobase;
    reg_out(NE_CR, CR_NODMA | CR_STOP);
    reg_out(NE_DCR, 0x49); /* word-wide, normal, FIFO 8 bytes */
    reg_out(NE_RBCR0, 0);
    reg_out(NE_RBCR1, 0);
    reg_out(NE_RCR, 0x20);
    reg_out(NE_TCR, 0x02);
    reg_out(NE_TPSR, TX_PAGE);
    reg_out(NE_PSTART, RX_START);
    reg_out(NE_BNRY, RX_STOP - 1);
    reg_out(NE_PSTOP, RX_STOP);
    reg_out(NE_ISR, 0xff);
    reg_out(NE_IMR, 0x00); /* polled: no interrupts */
    reg_out(NE_CR, CR_PAGE1 | CR_NODMA | CR_STOP);
    for (unsigned i = 0; i < 6; i++)
        reg_out(0x01 + i, mac[i]);
    for (unsigned i = 0; i < 8; i++)
        reg_out(0x08 + i, 0x00);
    reg_out(NE_CURR, RX_START);
    reg_out(NE_CR, CR_NODMA | CR_START);
    reg_out(NE_TCR, 0x00);
    reg_out(NE_RCR, 0x04); /* broadcasts too */
}

int ne2k_send(const void *frame, size_t len)
{
    static uint8_t tmp[FRAME_MAX + 2];
    size_t n;
    void *p = tmp;
    uint32_t words;

    if (len < 14 || len > 1514)
        return -1;
    memcpy(tmp, frame, len);
    if (len < 60) {
        memset(tmp + len, 0, 60 - len);
        len = 60;
    }
    n = (len + 1) & ~(size_t)1;
    tmp[len] = 0;
    /* The previous transmission must be over before its buffer is reused. */
    for (unsigned i = 0; reg_in(NE_CR) & CR_TXP; i++)
        if (i > 1000000)
            return -1;
    reg_out(NE_ISR, ISR_RDC);
    dma_setup(TX_PAGE << 8, (uint16_t)n, CR_RD_WRITE);
    words = (uint32_t)(n / 2);
    __asm__ volatile("rep outsw" : "+S"(p), "+c"(words) : "d"((uint16_t)(io + NE_DATA)) : "memory");
    if (dma_done() < 0)
        return -1;
    reg_out(NE_TPSR, TX_PAGE);
    reg_out(NE_TBCR0, (uint8_t)len);
    reg_out(NE_TBCR1, (uint8_t)(len >> 8));
    reg_out(NE_CR, CR_NODMA | CR_TXP | CR_START);
    return 0;
}

/*
 * The handler touches only the PIC: the main loop may be half-way through a
 * register sequence (page select, remote DMA) that an access from here would
 * break.  It masks the line; ne2k_recv() acknowledges the card and unmasks.
 */
static void ne2k_irq(struct trap_frame *f)
{
    irq_fired = 1;
    net_if.irqs++;
    pic_mask((unsigned)irq_line);
    pic_eoi((unsigned)irq_line);
}

void ne2k_irq_attach(unsigned irq)
{
    irq_line = (int)irq;
    net_if.irq = (int)irq;
    trap_set_handler(VEC_IRQ0 + irq, ne2k_irq);
    reg_out(NE_ISR, 0xff);
    reg_out(NE_IMR, 0x15); /* received, receive error, overwrite */
    if (irq >= 8)
        pic_unmask(2); /* the cascade */
    pic_unmask(irq);
}

size_t ne2k_recv(void *buf, size_t cap)
{
    uint8_t hdr[4], curr, next;
    size_t len;

    if (irq_fired) {
        /* Acknowledge before draining: a frame that lands later raises a new edge. */
        irq_fired = 0;
        reg_out(NE_ISR, reg_in(NE_ISR) & 0x15);
        pic_unmask((unsigned)irq_line);
    }

    reg_out(NE_CR, CR_PAGE1 | CR_NODMA | CR_START);
    curr = reg_in(NE_CURR);
    reg_out(NE_CR, CR_NODMA | CR_START);
    next = (uint8_t)(reg_in(NE_BNRY) + 1);
    if (next >= RX_STOP)
        next = RX_START;
    if (next == curr) {
        /* Ring empty: clear an overflow so the card receives again. */
        if (reg_in(NE_ISR) & ISR_OVW)
            reg_out(NE_ISR, ISR_OVW);
        return 0;
    }
    card_read((uint16_t)(next << 8), hdr, sizeof hdr);
    len = (size_t)(hdr[2] | hdr[3] << 8);
    if (len < sizeof hdr + 14 || len > FRAME_MAX + sizeof hdr || hdr[1] < RX_START ||
        hdr[1] >= RX_STOP) {
        /* A header that makes no sense: drop the whole ring. */
        net_if.rx_dropped++;
        reg_out(NE_BNRY, curr == RX_START ? RX_STOP - 1 : (uint8_t)(curr - 1));
        return 0;
    }
    len -= sizeof hdr;
    if (len > cap)
        len = cap;
    {
        /* The frame may wrap around the end of the ring. */
        uint16_t start = (uint16_t)((next << 8) + sizeof hdr);
        size_t first = ((size_t)RX_STOP << 8) - start;
        if (len <= first) {
            card_read(start, buf, len);
        } else {
            card_read(start, buf, first);
            card_read(RX_START << 8, (uint8_t *)buf + first, len - first);
        }
    }
    reg_out(NE_BNRY, hdr[1] == RX_START ? RX_STOP - 1 : (uint8_t)(hdr[1] - 1));
    return len;
}
