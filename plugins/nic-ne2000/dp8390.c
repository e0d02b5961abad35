/*
 * DP8390 register model: command and page registers, the receive ring in
 * buffer RAM, transmit, remote DMA, interrupt status, address filtering.
 *
 * DOC: Theory of operation
 *
 * The guest sees the chip only through 16 registers per page and the data
 * port.  Frames move between the wire and 256-byte pages of buffer RAM:
 *
 *  - Receive: a frame is stored at page CURR behind a 4-byte header (status,
 *    next page, byte count including the header) and may wrap from PSTOP
 *    back to PSTART.  CURR then moves past it.  The guest reads frames from
 *    the page after BNRY (or at BNRY, depending on the driver's convention)
 *    and moves BNRY along; the chip never lets CURR run into BNRY.  This
 *    model is stricter than the silicon by one page: a frame is stored only
 *    if neither its later pages nor the new CURR land on BNRY, which keeps
 *    both driver conventions ("CURR == BNRY + 1 is empty" and "CURR == BNRY
 *    is empty") safe.  When a frame does not fit it is dropped with OVW and
 *    the missed-packet counter, but the glue normally never gets that far:
 *    dp8390_can_receive() says no while a largest frame would not fit, so
 *    the network peer keeps its frames until the guest frees ring space and
 *    hooks.rx_ready fires.
 *  - Transmit: CR.TXP sends TBCR bytes from page TPSR at once (the wire is
 *    infinitely fast), then raises PTX.  In loopback mode (TCR.LB) the frame
 *    comes back into our own receiver instead.
 *  - Remote DMA: the guest moves bytes between RAM (or the PROM) and the
 *    data port, RSAR/RBCR counting; RBCR reaching zero raises RDC.  The
 *    address wraps from PSTOP to PSTART as on the chip, so a frame that
 *    wraps in the ring can be read in one go.
 *
 * Everything the guest can write is treated as hostile: addresses outside
 * the PROM and RAM read as all ones and swallow writes, ring walks are
 * bounded, frame lengths are clipped.
 */
#include "plugins/nic-ne2000/dp8390.h"

#include <stdio.h>
#include <string.h>

/* Tally counters stop here instead of wrapping. */
#define DP8390_CNTR_MAX 192u

static uint8_t mem_read(const Dp8390 *s, uint16_t addr)
{
    if (addr < DP8390_PROM_SIZE)
        return s->prom[addr];
    if (addr >= DP8390_RAM_START && addr - DP8390_RAM_START < DP8390_RAM_SIZE)
        return s->ram[addr - DP8390_RAM_START];
    return 0xff;
}

static void mem_write(Dp8390 *s, uint16_t addr, uint8_t value)
{
    /* The PROM is read-only; nothing else is decoded. */
    if (addr >= DP8390_RAM_START && addr - DP8390_RAM_START < DP8390_RAM_SIZE)
        s->ram[addr - DP8390_RAM_START] = value;
}

static void update_irq(Dp8390 *s)
{
    bool level = dp8390_irq_pending(s);

    if (level != s->irq_level) {
        s->irq_level = level;
        if (s->hooks.irq)
            s->hooks.irq(s->opaque, level);
    }
}

static void count_missed(Dp8390 *s)
{
    if (s->cntr[2] < DP8390_CNTR_MAX)
        s->cntr[2]++;
    if (s->cntr[2] & 0x80)
        s->isr |= DP8390_ISR_CNT;
}

/* The page after p in the receive ring. */
static uint8_t ring_next(const Dp8390 *s, uint8_t p)
{
    p++;
    return p == s->pstop ? s->pstart : p;
}

static bool ring_valid(const Dp8390 *s)
{
    return s->pstart < s->pstop;
}

/*
 * Can a frame needing pages pages be stored at CURR?  Walks at most pages
 * steps, so it is cheap and bounded whatever the guest wrote.
 */
static bool ring_fits(const Dp8390 *s, unsigned pages, uint8_t *next)
{
    uint8_t p = s->curr;

    if (!ring_valid(s))
        return false;
    for (unsigned i = 0; i < pages; i++) {
        p = ring_next(s, p);
        if (p == s->bnry)
            return false;
    }
    if (next)
        *next = p;
    return true;
}

/*
 * Pages a received frame of len bytes occupies.  The chip stores the FCS
 * behind the data; the model stores none (and does not count it in the
 * header), but still leaves room for it, so that the next-page pointer is
 * where drivers compute it: Linux's 8390 driver expects
 * 1 + (count >> 8) or one more, and treats anything else as a broken ring
 * (QEMU's card does the same).
 */
static unsigned frame_pages(size_t len)
{
    return (unsigned)((len + DP8390_RX_HEADER + DP8390_FCS_ROOM + DP8390_PAGE_SIZE - 1) /
                      DP8390_PAGE_SIZE);
}

bool dp8390_can_receive(Dp8390 *s)
{
    bool ok = !s->running || (s->rcr & DP8390_RCR_MON) ||
              ring_fits(s, frame_pages(DP8390_MAX_FRAME), NULL);

    if (!ok)
        s->rx_blocked = true;
    return ok;
}

/* Tell the peer once that frames may flow again. */
static void check_rx_ready(Dp8390 *s)
{
    if (!s->rx_blocked || !dp8390_can_receive(s))
        return;
    s->rx_blocked = false;
    if (s->hooks.rx_ready)
        s->hooks.rx_ready(s->opaque);
}

unsigned dp8390_mcast_index(const uint8_t addr[6])
{
    /*
     * The Ethernet CRC-32 of the address, shifted MSB first with data bits
     * taken LSB first; the chip uses its top six bits.
     */
    uint32_t crc = 0xffffffffu;

    for (unsigned i = 0; i < 6; i++) {
        uint8_t b = addr[i];
        for (unsigned j = 0; j < 8; j++) {
            bool feedback = ((crc >> 31) ^ b) & 1u;
            crc <<= 1;
            b >>= 1;
            if (feedback)
                crc ^= 0x04c11db7u;
        }
    }
    return crc >> 26;
}

static bool address_accepted(const Dp8390 *s, const uint8_t *dst)
{
    static const uint8_t broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

    if (s->rcr & DP8390_RCR_PRO)
        return true;
    if (memcmp(dst, broadcast, 6) == 0)
        return s->rcr & DP8390_RCR_AB;
    if (dst[0] & 1) {
        unsigned idx = dp8390_mcast_index(dst);
        return (s->rcr & DP8390_RCR_AM) && (s->mar[idx >> 3] & (1u << (idx & 7)));
    }
    return memcmp(dst, s->par, 6) == 0;
}

/* Store len bytes (src, then zeros up to len) at ring address *addr. */
static void ring_store(Dp8390 *s, uint16_t *addr, const uint8_t *src,
                       size_t srclen, size_t len)
{
    uint16_t stop = (uint16_t)(s->pstop << 8);
    uint16_t a = *addr;

    for (size_t i = 0; i < len; i++) {
        mem_write(s, a, i < srclen ? src[i] : 0);
        a++;
        if (a == stop)
            a = (uint16_t)(s->pstart << 8);
    }
    *addr = a;
}

/*
 * Say so when a frame meets a ring that cannot hold it.  Checked when frames
 * arrive, not when the chip starts: drivers start it without a ring to read
 * the PROM.
 */
static void report_ring(Dp8390 *s)
{
    const unsigned first = DP8390_RAM_START / DP8390_PAGE_SIZE;
    const unsigned end = (DP8390_RAM_START + DP8390_RAM_SIZE) / DP8390_PAGE_SIZE;
    char msg[200];

    if (!s->hooks.guest_error)
        return;
    if (!ring_valid(s)) {
        snprintf(msg, sizeof msg, "receiving with PSTART 0x%02x >= PSTOP 0x%02x: no "
                 "receive ring, frames are dropped", s->pstart, s->pstop);
        s->hooks.guest_error(s->opaque, DP8390_ERR_RING_EMPTY, msg);
    } else if (s->pstart < first || s->pstop > end) {
        snprintf(msg, sizeof msg, "receive ring pages 0x%02x-0x%02x reach outside the "
                 "16 KiB buffer RAM (pages 0x%02x-0x%02x): frames stored there are lost",
                 s->pstart, s->pstop - 1, first, end - 1);
        s->hooks.guest_error(s->opaque, DP8390_ERR_RING_OUTSIDE_RAM, msg);
    }
}

Dp8390RxResult dp8390_receive(Dp8390 *s, const uint8_t *frame, size_t len)
{
    uint8_t dst[6] = { 0 };
    size_t stored_len;
    uint8_t next;
    uint8_t hdr[DP8390_RX_HEADER];
    uint16_t addr;

    if (!s->running) {
        s->stats.rx_stopped++;
        return DP8390_RX_STOPPED;
    }
    if (len > DP8390_MAX_FRAME) {
        s->stats.rx_too_long++;
        return DP8390_RX_TOO_LONG;
    }
    /*
     * Peers hand over frames as the guest's network stack would see them,
     * often without the padding the wire adds.  Pad them to the minimum
     * unless the guest asked to see runts as they are.
     */
    stored_len = len;
    if (len < DP8390_MIN_FRAME && !((s->rcr & DP8390_RCR_AR) && len >= 14))
        stored_len = DP8390_MIN_FRAME;
    memcpy(dst, frame, len < 6 ? len : 6);

    if (!address_accepted(s, dst)) {
        s->stats.rx_filtered++;
        return DP8390_RX_FILTERED;
    }
    if (s->rcr & DP8390_RCR_MON) {
        s->rsr = DP8390_RSR_MPA | DP8390_RSR_DIS;
        count_missed(s);
        update_irq(s);
        return DP8390_RX_MONITOR;
    }
    report_ring(s);
    if (!ring_fits(s, frame_pages(stored_len), &next)) {
        s->rsr = DP8390_RSR_MPA;
        s->isr |= DP8390_ISR_OVW;
        count_missed(s);
        s->stats.rx_overflow++;
        update_irq(s);
        return DP8390_RX_OVERFLOW;
    }

    s->rsr = DP8390_RSR_PRX | ((dst[0] & 1) ? DP8390_RSR_PHY : 0);
    hdr[0] = s->rsr;
    hdr[1] = next;
    hdr[2] = (uint8_t)(stored_len + DP8390_RX_HEADER);
    hdr[3] = (uint8_t)((stored_len + DP8390_RX_HEADER) >> 8);
    addr = (uint16_t)(s->curr << 8);
    ring_store(s, &addr, hdr, sizeof hdr, sizeof hdr);
    ring_store(s, &addr, frame, len, stored_len);
    s->curr = next;
    s->rnpp = next;
    s->isr |= DP8390_ISR_PRX;
    s->stats.rx_frames++;
    s->stats.rx_bytes += stored_len;
    update_irq(s);
    return DP8390_RX_STORED;
}

static void transmit(Dp8390 *s)
{
    size_t len = s->tbcr;
    uint16_t addr = (uint16_t)(s->tpsr << 8);

    /* A longer frame would jabber on a real wire; send what fits a frame. */
    if (len > DP8390_MAX_FRAME)
        len = DP8390_MAX_FRAME;
    for (size_t i = 0; i < len; i++)
        s->txbuf[i] = mem_read(s, (uint16_t)(addr + i));

    /* An empty frame completes without anything reaching the wire. */
    if (len > 0) {
        s->stats.tx_frames++;
        s->stats.tx_bytes += len;
        if (s->tcr & DP8390_TCR_LB_MASK)
            dp8390_receive(s, s->txbuf, len);
        else if (s->hooks.transmit)
            s->hooks.transmit(s->opaque, s->txbuf, len);
    }

    s->tsr = DP8390_TSR_PTX;
    s->isr |= DP8390_ISR_PTX;
    s->cr &= (uint8_t)~DP8390_CR_TXP;
}

static void write_cr(Dp8390 *s, uint8_t value)
{
    uint8_t rd = value & DP8390_CR_RD_MASK;

    s->cr = value & (DP8390_CR_PS_MASK | DP8390_CR_RD_MASK | DP8390_CR_TXP);
    if (value & DP8390_CR_STP) {
        s->running = false;
        s->isr |= DP8390_ISR_RST;
    } else if (value & DP8390_CR_STA) {
        s->running = true;
        s->isr &= (uint8_t)~DP8390_ISR_RST;
    }

    if (rd == DP8390_CR_RD_SEND) {
        /* Set up a remote read of the whole frame waiting at BNRY. */
        uint16_t a = (uint16_t)(s->bnry << 8);
        s->rsar = a;
        s->rbcr = (uint16_t)(mem_read(s, (uint16_t)(a + 2)) |
                             mem_read(s, (uint16_t)(a + 3)) << 8);
    }
    if ((rd == DP8390_CR_RD_READ || rd == DP8390_CR_RD_WRITE) && s->rbcr == 0)
        s->isr |= DP8390_ISR_RDC; /* nothing to move: complete at once */

    if ((value & DP8390_CR_TXP) && s->running)
        transmit(s);
    else
        s->cr &= (uint8_t)~DP8390_CR_TXP;
}

static uint8_t read_cr(const Dp8390 *s)
{
    return s->cr | (s->running ? DP8390_CR_STA : DP8390_CR_STP);
}

static uint8_t read_counter(Dp8390 *s, unsigned i)
{
    uint8_t v = s->cntr[i];

    s->cntr[i] = 0; /* the tally counters clear when read */
    return v;
}

uint8_t dp8390_reg_read(Dp8390 *s, unsigned reg)
{
    unsigned page = (s->cr & DP8390_CR_PS_MASK) >> DP8390_CR_PS_SHIFT;

    reg &= 0x0f;
    if (reg == DP8390_CR)
        return read_cr(s);

    if (page == 0) {
        switch (reg) {
        case 0x01: return 0;            /* CLDA0: local DMA runs page-aligned */
        case 0x02: return s->curr;      /* CLDA1 */
        case DP8390_BNRY: return s->bnry;
        case DP8390_TSR: return s->tsr;
        case DP8390_NCR: return 0;      /* no collisions on this wire */
        case DP8390_FIFO: return 0;
        case DP8390_ISR: return s->isr;
        case 0x08: return (uint8_t)s->rsar;        /* CRDA0 */
        case 0x09: return (uint8_t)(s->rsar >> 8); /* CRDA1 */
        case DP8390_RSR: return s->rsr;
        case DP8390_CNTR0: return read_counter(s, 0);
        case DP8390_CNTR1: return read_counter(s, 1);
        case DP8390_CNTR2: return read_counter(s, 2);
        default: return 0xff;           /* 0x0a, 0x0b: reserved */
        }
    }
    if (page == 1) {
        if (reg <= 0x06)
            return s->par[reg - DP8390_PAR0];
        if (reg == DP8390_CURR)
            return s->curr;
        return s->mar[reg - DP8390_MAR0];
    }
    if (page == 2) {
        switch (reg) {
        case DP8390_PSTART: return s->pstart;
        case DP8390_PSTOP: return s->pstop;
        case DP8390_P2_RNPP: return s->rnpp;
        case DP8390_TPSR: return s->tpsr;
        case DP8390_P2_LNPP: return s->curr;
        case DP8390_P2_ACU: return s->curr;
        case DP8390_P2_ACL: return 0;
        case DP8390_RCR: return s->rcr;
        case DP8390_TCR: return s->tcr;
        case DP8390_DCR: return s->dcr;
        case DP8390_IMR: return s->imr;
        default: return 0xff;
        }
    }
    return 0xff; /* page 3 is not decoded on the DP8390 */
}

void dp8390_reg_write(Dp8390 *s, unsigned reg, uint8_t value)
{
    unsigned page = (s->cr & DP8390_CR_PS_MASK) >> DP8390_CR_PS_SHIFT;

    reg &= 0x0f;
    if (reg == DP8390_CR) {
        write_cr(s, value);
    } else if (page == 0) {
        switch (reg) {
        case DP8390_PSTART: s->pstart = value; break;
        case DP8390_PSTOP: s->pstop = value; break;
        case DP8390_BNRY: s->bnry = value; break;
        case DP8390_TPSR: s->tpsr = value; break;
        case DP8390_TBCR0: s->tbcr = (uint16_t)((s->tbcr & 0xff00) | value); break;
        case DP8390_TBCR1: s->tbcr = (uint16_t)((s->tbcr & 0x00ff) | value << 8); break;
        case DP8390_ISR: s->isr &= (uint8_t)~(value & 0x7f); break;
        case DP8390_RSAR0: s->rsar = (uint16_t)((s->rsar & 0xff00) | value); break;
        case DP8390_RSAR1: s->rsar = (uint16_t)((s->rsar & 0x00ff) | value << 8); break;
        case DP8390_RBCR0: s->rbcr = (uint16_t)((s->rbcr & 0xff00) | value); break;
        case DP8390_RBCR1: s->rbcr = (uint16_t)((s->rbcr & 0x00ff) | value << 8); break;
        case DP8390_RCR: s->rcr = value & 0x3f; break;
        case DP8390_TCR: s->tcr = value & 0x1f; break;
        case DP8390_DCR: s->dcr = value & 0x7f; break;
        case DP8390_IMR: s->imr = value & 0x7f; break;
        }
    } else if (page == 1) {
        if (reg <= 0x06)
            s->par[reg - DP8390_PAR0] = value;
        else if (reg == DP8390_CURR)
            s->curr = value;
        else
            s->mar[reg - DP8390_MAR0] = value;
    }
    /* Pages 2 and 3: only CR is writable here. */

    update_irq(s);
    check_rx_ready(s);
}

/* Move one byte between the data port and remote DMA address RSAR. */
static uint8_t dma_byte(Dp8390 *s, bool write, uint8_t value)
{
    uint16_t stop = (uint16_t)(s->pstop << 8);
    uint8_t v = value;

    if (write)
        mem_write(s, s->rsar, value);
    else
        v = mem_read(s, s->rsar);
    s->rsar++;
    if (s->rsar == stop)
        s->rsar = (uint16_t)(s->pstart << 8);
    if (s->rbcr > 0)
        s->rbcr--;
    return v;
}

/*
 * One transfer unit: a byte in byte mode, a little-endian word in word
 * mode.  Moves nothing once the byte count has run out; raises RDC when this
 * transfer empties it.
 */
static uint16_t dma_unit(Dp8390 *s, bool write, uint16_t value)
{
    uint16_t v;

    if (s->rbcr == 0)
        return 0xffff;
    if (s->dcr & DP8390_DCR_WTS) {
        v = dma_byte(s, write, (uint8_t)value);
        v |= (uint16_t)(dma_byte(s, write, (uint8_t)(value >> 8)) << 8);
    } else {
        v = dma_byte(s, write, (uint8_t)value);
    }
    if (s->rbcr == 0)
        s->isr |= DP8390_ISR_RDC;
    return v;
}

static uint32_t data_access(Dp8390 *s, unsigned size, bool write, uint32_t value)
{
    unsigned unit = (s->dcr & DP8390_DCR_WTS) ? 2 : 1;
    uint32_t result = 0;

    if (size != 1 && size != 2 && size != 4)
        return 0xffffffffu;
    if (size <= unit) {
        /* A byte access in word mode still moves the whole word. */
        result = dma_unit(s, write, (uint16_t)value);
    } else {
        /* A wider access than the port is split into units, low first. */
        uint32_t unit_mask = unit == 2 ? 0xffffu : 0xffu;
        for (unsigned shift = 0; shift < size * 8; shift += unit * 8) {
            uint32_t v = dma_unit(s, write, (uint16_t)(value >> shift));
            result |= (v & unit_mask) << shift;
        }
    }
    return size == 4 ? result : result & ((1u << (size * 8)) - 1);
}

uint32_t dp8390_data_read(Dp8390 *s, unsigned size)
{
    uint32_t v = data_access(s, size, false, 0);

    update_irq(s);
    return v;
}

void dp8390_data_write(Dp8390 *s, unsigned size, uint32_t value)
{
    data_access(s, size, true, value);
    update_irq(s);
}

void dp8390_data_read_rep(Dp8390 *s, unsigned size, void *buf, uint32_t count)
{
    uint8_t *p = buf;

    if (size != 1 && size != 2 && size != 4)
        return;
    for (uint32_t i = 0; i < count; i++, p += size) {
        uint32_t v = data_access(s, size, false, 0);
        for (unsigned b = 0; b < size; b++)
            p[b] = (uint8_t)(v >> (8 * b));
    }
    update_irq(s);
}

void dp8390_data_write_rep(Dp8390 *s, unsigned size, const void *buf,
                           uint32_t count)
{
    const uint8_t *p = buf;

    if (size != 1 && size != 2 && size != 4)
        return;
    for (uint32_t i = 0; i < count; i++, p += size) {
        uint32_t v = 0;
        for (unsigned b = 0; b < size; b++)
            v |= (uint32_t)p[b] << (8 * b);
        data_access(s, size, true, v);
    }
    update_irq(s);
}

bool dp8390_irq_pending(const Dp8390 *s)
{
    return (s->isr & s->imr & 0x7f) != 0;
}

void dp8390_reset(Dp8390 *s)
{
    s->running = false;
    s->cr = DP8390_CR_RD_ABORT;
    s->isr = DP8390_ISR_RST;
    s->imr = 0;
    update_irq(s);
    check_rx_ready(s);
}

void dp8390_init(Dp8390 *s, const uint8_t mac[6], const Dp8390Hooks *hooks,
                 void *opaque)
{
    memset(s, 0, sizeof *s);
    if (hooks)
        s->hooks = *hooks;
    s->opaque = opaque;
    memcpy(s->mac, mac, 6);
    /*
     * The NE2000 wires its 16-byte PROM to both halves of the data bus, so
     * every byte appears twice: drivers read 32 bytes and take every other
     * one.  Bytes 14 and 15 hold 0x57 ('W'), the mark of a 16-bit card.
     */
    for (unsigned i = 0; i < 16; i++) {
        uint8_t b = i < 6 ? mac[i] : (i >= 14 ? 0x57 : 0);
        s->prom[2 * i] = b;
        s->prom[2 * i + 1] = b;
    }
    dp8390_reset(s);
}
