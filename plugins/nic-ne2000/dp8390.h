/*
 * DP8390 network interface controller register model, as wired on an NE2000:
 * registers, 16 KiB of buffer RAM, the station-address PROM and remote DMA.
 * Knows nothing of the bus or of LilyVM; ne2000.c is the glue.
 */
#ifndef LILYVM_DP8390_H
#define LILYVM_DP8390_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Command register (CR, offset 0 on every page). */
#define DP8390_CR_STP 0x01  /* stop: no reception or transmission */
#define DP8390_CR_STA 0x02  /* start */
#define DP8390_CR_TXP 0x04  /* transmit the packet at TPSR, TBCR bytes */
#define DP8390_CR_RD_MASK 0x38
#define DP8390_CR_RD_READ 0x08  /* remote read */
#define DP8390_CR_RD_WRITE 0x10 /* remote write */
#define DP8390_CR_RD_SEND 0x18  /* send packet: remote read of the packet at BNRY */
#define DP8390_CR_RD_ABORT 0x20 /* abort or complete remote DMA */
#define DP8390_CR_PS_MASK 0xc0  /* register page select */
#define DP8390_CR_PS_SHIFT 6

/* Register offsets, page 0 (R = read, W = write). */
#define DP8390_CR 0x00
#define DP8390_PSTART 0x01 /* W; R: CLDA0 */
#define DP8390_PSTOP 0x02  /* W; R: CLDA1 */
#define DP8390_BNRY 0x03
#define DP8390_TPSR 0x04   /* W; R: TSR */
#define DP8390_TSR 0x04
#define DP8390_TBCR0 0x05  /* W; R: NCR */
#define DP8390_NCR 0x05
#define DP8390_TBCR1 0x06  /* W; R: FIFO */
#define DP8390_FIFO 0x06
#define DP8390_ISR 0x07
#define DP8390_RSAR0 0x08  /* W; R: CRDA0 */
#define DP8390_RSAR1 0x09  /* W; R: CRDA1 */
#define DP8390_RBCR0 0x0a
#define DP8390_RBCR1 0x0b
#define DP8390_RCR 0x0c    /* W; R: RSR */
#define DP8390_RSR 0x0c
#define DP8390_TCR 0x0d    /* W; R: CNTR0 */
#define DP8390_CNTR0 0x0d
#define DP8390_DCR 0x0e    /* W; R: CNTR1 */
#define DP8390_CNTR1 0x0e
#define DP8390_IMR 0x0f    /* W; R: CNTR2 */
#define DP8390_CNTR2 0x0f
/* Page 1. */
#define DP8390_PAR0 0x01   /* PAR0..PAR5 at 0x01..0x06 */
#define DP8390_CURR 0x07
#define DP8390_MAR0 0x08   /* MAR0..MAR7 at 0x08..0x0f */
/* Page 2 (read back of the page 0 write-only registers). */
#define DP8390_P2_RNPP 0x03
#define DP8390_P2_LNPP 0x05
#define DP8390_P2_ACU 0x06
#define DP8390_P2_ACL 0x07

/* Interrupt status / mask bits. */
#define DP8390_ISR_PRX 0x01 /* packet received */
#define DP8390_ISR_PTX 0x02 /* packet transmitted */
#define DP8390_ISR_RXE 0x04 /* receive error */
#define DP8390_ISR_TXE 0x08 /* transmit error */
#define DP8390_ISR_OVW 0x10 /* receive ring overwrite warning */
#define DP8390_ISR_CNT 0x20 /* a tally counter's MSB is set */
#define DP8390_ISR_RDC 0x40 /* remote DMA complete */
#define DP8390_ISR_RST 0x80 /* in reset (stopped); never interrupts */

/* Receive configuration. */
#define DP8390_RCR_SEP 0x01 /* save errored packets */
#define DP8390_RCR_AR 0x02  /* accept runts (shorter than 60 bytes) */
#define DP8390_RCR_AB 0x04  /* accept broadcast */
#define DP8390_RCR_AM 0x08  /* accept multicast through the MAR hash */
#define DP8390_RCR_PRO 0x10 /* promiscuous: every destination */
#define DP8390_RCR_MON 0x20 /* monitor: check, count, never store */

/* Transmit configuration. */
#define DP8390_TCR_CRC 0x01     /* inhibit CRC */
#define DP8390_TCR_LB_MASK 0x06 /* loopback mode (0: normal) */

/* Data configuration. */
#define DP8390_DCR_WTS 0x01 /* word-wide remote DMA */
#define DP8390_DCR_BOS 0x02
#define DP8390_DCR_LAS 0x04
#define DP8390_DCR_LS 0x08  /* normal operation (0: loopback select) */
#define DP8390_DCR_AR 0x10

/* Transmit status. */
#define DP8390_TSR_PTX 0x01

/* Receive status (also byte 0 of the receive header). */
#define DP8390_RSR_PRX 0x01 /* received intact */
#define DP8390_RSR_MPA 0x10 /* missed packet */
#define DP8390_RSR_PHY 0x20 /* multicast or broadcast destination */
#define DP8390_RSR_DIS 0x40 /* receiver disabled (monitor mode) */

/* Buffer RAM as the NE2000 maps it into the remote DMA address space. */
#define DP8390_RAM_START 0x4000u
#define DP8390_RAM_SIZE 0x4000u /* 16 KiB: pages 0x40..0x7f */
#define DP8390_PROM_SIZE 32u
#define DP8390_PAGE_SIZE 256u
#define DP8390_RX_HEADER 4u
#define DP8390_FCS_ROOM 4u /* ring space left for the FCS the chip would store */

/* Frame sizes without the FCS (the model never stores or sends one). */
#define DP8390_MIN_FRAME 60u
#define DP8390_MAX_FRAME 1518u /* 1514 + an 802.1Q tag */

/* What happened to a frame given to dp8390_receive(). */
typedef enum Dp8390RxResult {
    DP8390_RX_STORED = 0,   /* written into the ring, PRX raised */
    DP8390_RX_FILTERED,     /* not for us (address filter, or a runt without AR) */
    DP8390_RX_STOPPED,      /* the receiver is stopped: dropped silently */
    DP8390_RX_MONITOR,      /* monitor mode: checked and counted, not stored */
    DP8390_RX_OVERFLOW,     /* no room in the ring: dropped, OVW + CNTR2 */
    DP8390_RX_TOO_LONG,     /* longer than DP8390_MAX_FRAME: dropped */
} Dp8390RxResult;

/*
 * What the chip needs from its surroundings.  Every hook may be NULL.
 * irq: the interrupt output changed level (called on changes only).
 * transmit: one frame leaves the chip; the buffer is valid for the call only.
 *   The chip may be re-entered from inside (a loopback peer answering at
 *   once): the hook is called when no register operation is half done.
 * rx_ready: dp8390_can_receive() answered false earlier and would now
 *   answer true (the guest freed ring space, restarted or reset the chip).
 * guest_error: the guest programmed the chip in a way that loses frames;
 *   kind tells the cases apart (so the glue can report each once), msg
 *   says what is wrong and what would work.
 */
typedef enum Dp8390GuestError {
    DP8390_ERR_RING_EMPTY = 0,   /* a frame arrived while PSTART >= PSTOP */
    DP8390_ERR_RING_OUTSIDE_RAM, /* a frame arrived on a ring outside the RAM */
    DP8390_ERR_COUNT
} Dp8390GuestError;

typedef struct Dp8390Hooks {
    void (*irq)(void *opaque, bool level);
    void (*transmit)(void *opaque, const uint8_t *frame, size_t len);
    void (*rx_ready)(void *opaque);
    void (*guest_error)(void *opaque, Dp8390GuestError kind, const char *msg);
} Dp8390Hooks;

/* Counts kept for statistics and tests; never reset by the guest. */
typedef struct Dp8390Stats {
    uint64_t tx_frames, tx_bytes;
    uint64_t rx_frames, rx_bytes;
    uint64_t rx_filtered, rx_stopped, rx_overflow, rx_too_long;
} Dp8390Stats;

/*
 * The chip state.  Fields are private to dp8390.c; the structure is public
 * only so that the glue can embed it.
 */
typedef struct Dp8390 {
    uint8_t cr;          /* TXP, RD and PS bits; STA/STP come from running */
    bool running;        /* started (STA) and not stopped */
    uint8_t pstart, pstop, bnry, curr;
    uint8_t tpsr;
    uint16_t tbcr;
    uint16_t rsar, rbcr;
    uint8_t isr, imr;
    uint8_t rcr, tcr, dcr;
    uint8_t tsr, rsr;
    uint8_t cntr[3];
    uint8_t par[6], mar[8];
    uint8_t rnpp;        /* next packet pointer of the last stored frame */
    bool irq_level;      /* the level last reported through hooks.irq */
    bool rx_blocked;     /* can_receive answered false: call rx_ready later */
    uint8_t mac[6];      /* burnt into the PROM */
    uint8_t prom[DP8390_PROM_SIZE];
    uint8_t ram[DP8390_RAM_SIZE];
    uint8_t txbuf[DP8390_MAX_FRAME];
    Dp8390Hooks hooks;
    void *opaque;
    Dp8390Stats stats;
} Dp8390;

/* Power the chip up with station address mac: everything zero, then reset. */
void dp8390_init(Dp8390 *s, const uint8_t mac[6], const Dp8390Hooks *hooks,
                 void *opaque);

/* The NE2000 reset line (a read of the reset port): stop, ISR = RST, IMR = 0. */
void dp8390_reset(Dp8390 *s);

/* One register access; reg is 0x00..0x0f of the page selected in CR. */
uint8_t dp8390_reg_read(Dp8390 *s, unsigned reg);
void dp8390_reg_write(Dp8390 *s, unsigned reg, uint8_t value);

/*
 * The data port: one remote DMA transfer of size bytes (1, 2 or 4).  In
 * word mode (DCR.WTS) every transfer moves at least a whole word, so a byte
 * read returns the low half of the word it moved.  Nothing moves while the
 * remote byte count is zero (reads then return all ones).
 */
uint32_t dp8390_data_read(Dp8390 *s, unsigned size);
void dp8390_data_write(Dp8390 *s, unsigned size, uint32_t value);
/* count transfers of size bytes to or from buf (a whole rep ins/outs). */
void dp8390_data_read_rep(Dp8390 *s, unsigned size, void *buf, uint32_t count);
void dp8390_data_write_rep(Dp8390 *s, unsigned size, const void *buf,
                           uint32_t count);

/*
 * Would a frame of the largest size be dealt with now?  True when the
 * receiver is stopped or monitoring (the frame would be dropped) or when
 * the ring has room for DP8390_MAX_FRAME; false asks the peer to hold its
 * frames until hooks.rx_ready runs.
 */
bool dp8390_can_receive(Dp8390 *s);

/* A frame (no FCS) arrives from the wire. */
Dp8390RxResult dp8390_receive(Dp8390 *s, const uint8_t *frame, size_t len);

/* The level of the interrupt output: ISR & IMR has a bit set. */
bool dp8390_irq_pending(const Dp8390 *s);

/* Index (0..63) of the multicast hash bit a destination address selects. */
unsigned dp8390_mcast_index(const uint8_t addr[6]);

#endif /* LILYVM_DP8390_H */
