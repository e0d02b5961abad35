/*
 * The NE2000 driver of the tests: the register sequences of the classic 8390
 * drivers, written against port numbers only.  Freestanding (no glib, no
 * allocation): the host tests and the guest kernel in tests/ne2000/guest
 * build the same file.
 */
#include "ne2k-driver.h"

#include <string.h>

/* Longest frame the driver copies in one piece. */
#define NE2K_DRV_FRAME_MAX 1536

#define NE_CMD 0x00
#define NE_DATA 0x10
#define NE_RESET 0x1f

static uint8_t inb(const Ne2kBus *b, unsigned reg)
{
    return (uint8_t)b->in(b->ctx, (uint16_t)(b->iobase + reg), 1);
}

static void outb(const Ne2kBus *b, unsigned reg, uint8_t v)
{
    b->out(b->ctx, (uint16_t)(b->iobase + reg), 1, v);
}

static void insw(const Ne2kBus *b, void *buf, uint32_t count)
{
    uint8_t *p = buf;

    if (b->ins) {
        b->ins(b->ctx, (uint16_t)(b->iobase + NE_DATA), 2, buf, count);
        return;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t v = b->in(b->ctx, (uint16_t)(b->iobase + NE_DATA), 2);
        p[2 * i] = (uint8_t)v;
        p[2 * i + 1] = (uint8_t)(v >> 8);
    }
}

static void outsw(const Ne2kBus *b, const void *buf, uint32_t count)
{
    const uint8_t *p = buf;

    if (b->outs) {
        b->outs(b->ctx, (uint16_t)(b->iobase + NE_DATA), 2, buf, count);
        return;
    }
    for (uint32_t i = 0; i < count; i++)
        b->out(b->ctx, (uint16_t)(b->iobase + NE_DATA), 2,
               (uint32_t)(p[2 * i] | p[2 * i + 1] << 8));
}

/* Remote DMA setup: count bytes at addr, then the read or write command. */
static void remote_dma(const Ne2kBus *b, uint16_t addr, uint16_t count, uint8_t cmd)
{
    outb(b, NE_CMD, 0x22);         /* page 0, no DMA, start */
    outb(b, 0x0a, (uint8_t)count); /* RBCR */
    outb(b, 0x0b, (uint8_t)(count >> 8));
    outb(b, 0x08, (uint8_t)addr);  /* RSAR */
    outb(b, 0x09, (uint8_t)(addr >> 8));
    outb(b, NE_CMD, cmd);
}

bool ne2k_drv_probe(const Ne2kBus *b, uint8_t mac[6])
{
    uint8_t prom[32];

    if (inb(b, NE_CMD) == 0xff)
        return false;
    /* Pulse reset and wait for the chip to say it is in reset. */
    outb(b, NE_RESET, inb(b, NE_RESET));
    for (int i = 0; !(inb(b, 0x07) & 0x80); i++)
        if (i > 1000)
            return false;
    outb(b, 0x07, 0xff);

    outb(b, NE_CMD, 0x21);  /* page 0, stop */
    outb(b, 0x0e, 0x48);    /* DCR: byte-wide */
    outb(b, 0x0f, 0x00);    /* IMR */
    outb(b, 0x07, 0xff);    /* ISR */
    outb(b, 0x0c, 0x20);    /* RCR: monitor */
    outb(b, 0x0d, 0x02);    /* TCR: loopback */
    remote_dma(b, 0, sizeof prom, 0x0a);
    for (unsigned i = 0; i < sizeof prom; i++)
        prom[i] = (uint8_t)b->in(b->ctx, (uint16_t)(b->iobase + NE_DATA), 1);
    for (unsigned i = 0; i < 6; i++)
        mac[i] = prom[2 * i];
    /* A 16-bit card doubles every byte and marks bytes 14/15 with 'W'. */
    for (unsigned i = 0; i < 16; i++)
        if (prom[2 * i] != prom[2 * i + 1])
            return false;
    return prom[28] == 0x57 && prom[30] == 0x57;
}

void ne2k_drv_init(const Ne2kBus *b, const uint8_t mac[6], uint8_t rcr)
{
    outb(b, NE_CMD, 0x21);
    outb(b, 0x0e, 0x49);        /* DCR: word-wide, normal */
    outb(b, 0x0a, 0);
    outb(b, 0x0b, 0);
    outb(b, 0x0c, 0x20);
    outb(b, 0x0d, 0x02);
    outb(b, 0x04, NE2K_DRV_TX_PAGE);
    outb(b, 0x01, NE2K_DRV_RX_START);
    outb(b, 0x03, NE2K_DRV_RX_STOP - 1);
    outb(b, 0x02, NE2K_DRV_RX_STOP);
    outb(b, 0x07, 0xff);
    outb(b, 0x0f, 0x00);
    outb(b, NE_CMD, 0x61);      /* page 1 */
    for (unsigned i = 0; i < 6; i++)
        outb(b, 0x01 + i, mac[i]);
    for (unsigned i = 0; i < 8; i++)
        outb(b, 0x08 + i, 0xff);
    outb(b, 0x07, NE2K_DRV_RX_START); /* CURR */
    outb(b, NE_CMD, 0x21);
    outb(b, 0x07, 0xff);
    outb(b, 0x0f, 0x3f);        /* every interrupt but RDC */
    outb(b, NE_CMD, 0x22);      /* start */
    outb(b, 0x0d, 0x00);        /* TCR: normal */
    outb(b, 0x0c, rcr);
}

bool ne2k_drv_send(const Ne2kBus *b, const uint8_t *frame, size_t len)
{
    static uint8_t tmp[NE2K_DRV_FRAME_MAX];
    size_t n = (len + 1) & ~(size_t)1;

    if (len == 0 || n > sizeof tmp)
        return false;
    memcpy(tmp, frame, len);
    if (len & 1)
        tmp[len] = 0; /* the pad byte of the last word */
    outb(b, 0x07, 0x40);
    remote_dma(b, NE2K_DRV_TX_PAGE << 8, (uint16_t)n, 0x12);
    outsw(b, tmp, (uint32_t)(n / 2));
    /* Wait for the remote DMA to finish, as drivers do. */
    for (int i = 0; !(inb(b, 0x07) & 0x40); i++)
        if (i > 1000)
            return false;
    outb(b, 0x07, 0x40);
    outb(b, 0x04, NE2K_DRV_TX_PAGE);
    outb(b, 0x05, (uint8_t)len);
    outb(b, 0x06, (uint8_t)(len >> 8));
    outb(b, NE_CMD, 0x26);      /* no DMA, transmit, start */
    return true;
}

void ne2k_drv_read(const Ne2kBus *b, uint16_t addr, uint8_t *buf, size_t len)
{
    remote_dma(b, addr, (uint16_t)len, 0x0a);
    insw(b, buf, (uint32_t)(len / 2));
    if (len & 1)
        buf[len - 1] = (uint8_t)b->in(b->ctx, (uint16_t)(b->iobase + NE_DATA), 1);
    outb(b, 0x07, 0x40);
}

size_t ne2k_drv_recv(const Ne2kBus *b, uint8_t *buf, size_t cap)
{
    uint8_t this_frame, current, hdr[4];
    size_t len;

    outb(b, NE_CMD, 0x62);      /* page 1 */
    current = inb(b, 0x07);
    outb(b, NE_CMD, 0x22);
    this_frame = (uint8_t)(inb(b, 0x03) + 1);
    if (this_frame >= NE2K_DRV_RX_STOP)
        this_frame = NE2K_DRV_RX_START;
    if (this_frame == current)
        return 0;
    ne2k_drv_read(b, (uint16_t)(this_frame << 8), hdr, sizeof hdr);
    len = (size_t)(hdr[2] | hdr[3] << 8);
    if (len < sizeof hdr || len > NE2K_DRV_FRAME_MAX) {
        /* A broken header: give the whole ring back rather than loop. */
        outb(b, 0x03, current == NE2K_DRV_RX_START ? NE2K_DRV_RX_STOP - 1 : (uint8_t)(current - 1));
        return 0;
    }
    len -= sizeof hdr;
    ne2k_drv_read(b, (uint16_t)((this_frame << 8) + sizeof hdr), buf, len < cap ? len : cap);
    outb(b, 0x03, hdr[1] == NE2K_DRV_RX_START ? NE2K_DRV_RX_STOP - 1 : (uint8_t)(hdr[1] - 1));
    return len;
}

uint8_t ne2k_drv_isr(const Ne2kBus *b)
{
    return inb(b, 0x07);
}

void ne2k_drv_ack(const Ne2kBus *b, uint8_t bits)
{
    outb(b, 0x07, bits);
}
