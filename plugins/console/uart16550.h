/*
 * 16550A UART register model: the eight registers, the 16-byte FIFOs and the
 * interrupt logic of the chip, with no host I/O.  console.c wires it to a bus
 * region, an IRQ line and a host backend; tests drive it directly.
 */
#ifndef LILYVM_UART16550_H
#define LILYVM_UART16550_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UART_FIFO_SIZE 16
/* The divisor latch counts down a 1.8432 MHz clock divided by 16. */
#define UART_BASE_BAUD 115200u

/* Register offsets (DLAB selects DLL/DLM at 0 and 1). */
enum {
    UART_RBR = 0, /* read: receiver buffer */
    UART_THR = 0, /* write: transmitter holding */
    UART_DLL = 0, /* DLAB=1: divisor latch, low byte */
    UART_IER = 1,
    UART_DLM = 1, /* DLAB=1: divisor latch, high byte */
    UART_IIR = 2, /* read */
    UART_FCR = 2, /* write */
    UART_LCR = 3,
    UART_MCR = 4,
    UART_LSR = 5,
    UART_MSR = 6,
    UART_SCR = 7,
};

/* IER */
#define UART_IER_RDI 0x01  /* received data available (and character timeout) */
#define UART_IER_THRI 0x02 /* transmitter holding register empty */
#define UART_IER_RLSI 0x04 /* receiver line status */
#define UART_IER_MSI 0x08  /* modem status */

/* IIR: bit 0 clear = an interrupt is pending; bits 1-3 say which. */
#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI 0x00
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_RLSI 0x06
#define UART_IIR_CTI 0x0c  /* character timeout (FIFO mode) */
#define UART_IIR_ID_MASK 0x0e
#define UART_IIR_FIFO 0xc0 /* both set while the FIFOs are enabled */

/* FCR */
#define UART_FCR_ENABLE 0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_FCR_CLEAR_TX 0x04
#define UART_FCR_DMA 0x08
#define UART_FCR_TRIGGER_MASK 0xc0 /* 00: 1, 01: 4, 10: 8, 11: 14 bytes */

/* LCR */
#define UART_LCR_WLEN_MASK 0x03 /* word length 5 + n bits */
#define UART_LCR_STOP 0x04
#define UART_LCR_PARITY 0x08
#define UART_LCR_BREAK 0x40
#define UART_LCR_DLAB 0x80

/* MCR */
#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10
#define UART_MCR_MASK 0x1f

/* LSR */
#define UART_LSR_DR 0x01
#define UART_LSR_OE 0x02
#define UART_LSR_PE 0x04
#define UART_LSR_FE 0x08
#define UART_LSR_BI 0x10
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_LSR_FIFO_ERR 0x80
#define UART_LSR_ERRORS (UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)

/* MSR: bits 0-3 record changes of bits 4-7 since the last MSR read. */
#define UART_MSR_DCTS 0x01
#define UART_MSR_DDSR 0x02
#define UART_MSR_TERI 0x04 /* RI went from on to off */
#define UART_MSR_DDCD 0x08
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_RI 0x40
#define UART_MSR_DCD 0x80
#define UART_MSR_DELTA 0x0f
#define UART_MSR_LINES 0xf0

/*
 * What the chip needs from its surroundings.  Every callback is called from
 * within a uart_* call; none may call back into the model except where noted.
 */
typedef struct UartOps {
    /* The interrupt output changed level. */
    void (*set_irq)(void *opaque, bool level);
    /*
     * Put one byte on the line.  Return false when the line cannot take it
     * now: the byte stays in the transmitter (THRE reads 0) and the glue calls
     * uart_tx_drain() once it can take bytes again.  wait is true when the
     * guest has written into a full transmitter: the glue should then do what
     * it must (block, flush) to take the byte, because a false return drops
     * it, as the chip would.
     */
    bool (*transmit)(void *opaque, uint8_t byte, bool wait);
    /* The receiver has room again (uart_rx_room() > 0). May be NULL. */
    void (*rx_ready)(void *opaque);
    /*
     * Arm (ns > 0) or cancel (ns == 0) the character timeout: the glue calls
     * uart_rx_timeout() once ns nanoseconds have passed.  May be NULL (then
     * FIFO-mode guests with a trigger level above 1 see received bytes only
     * when the FIFO reaches the trigger level).
     */
    void (*rx_timer)(void *opaque, uint64_t ns);
} UartOps;

/* The chip state.  Fields are private to uart16550.c; tests use the API. */
typedef struct Uart16550 {
    const UartOps *ops;
    void *opaque;

    uint8_t ier, lcr, mcr, scr, fcr;
    uint8_t msr;        /* lines in bits 4-7, deltas in bits 0-3 */
    uint8_t lsr_err;    /* OE plus the error bits of the character at the head */
    uint8_t ext_lines;  /* CTS/DSR/RI/DCD as the outside world drives them */
    uint16_t divisor;

    uint8_t rx_fifo[UART_FIFO_SIZE];
    uint8_t rx_flags[UART_FIFO_SIZE]; /* BI/FE/PE that came with each byte */
    unsigned rx_head, rx_count;
    uint8_t tx_fifo[UART_FIFO_SIZE];
    unsigned tx_head, tx_count;

    bool thri_pending;    /* THRE interrupt latched, cleared by IIR read or THR write */
    bool timeout_pending; /* character timeout latched, cleared by RBR read */
    bool irq;             /* current level of the interrupt output */
    bool in_drain;        /* guards uart_tx_drain() against re-entry */

    uint64_t tx_dropped;  /* bytes the guest wrote into a full transmitter */
    uint64_t rx_overruns; /* bytes lost to overrun (loopback only: host input waits) */
} Uart16550;

/* Set up u in its reset state.  The IRQ output starts low (not signalled). */
void uart_init(Uart16550 *u, const UartOps *ops, void *opaque);
/* The chip's master reset: registers to their reset values, FIFOs empty. */
void uart_reset(Uart16550 *u);

/* Register access as the CPU does it; reg is 0..7. */
uint8_t uart_read(Uart16550 *u, unsigned reg);
void uart_write(Uart16550 *u, unsigned reg, uint8_t value);

/* How many bytes of host input the receiver takes now (0 in loopback mode). */
size_t uart_rx_room(const Uart16550 *u);
/* Deliver host input: takes at most uart_rx_room() bytes; returns how many. */
size_t uart_receive(Uart16550 *u, const uint8_t *buf, size_t len);
/* A break condition arrived on the line (a NUL byte with BI); false if no room. */
bool uart_receive_break(Uart16550 *u);
/* The line can take bytes again: send what waits in the transmitter. */
void uart_tx_drain(Uart16550 *u);
/* The character timeout the model asked for through rx_timer() expired. */
void uart_rx_timeout(Uart16550 *u);

/* Set the modem input lines (UART_MSR_CTS|DSR|RI|DCD) outside loopback mode. */
void uart_set_modem_lines(Uart16550 *u, uint8_t lines);

/* Time one character takes on the line at the programmed rate and format. */
uint64_t uart_char_time_ns(const Uart16550 *u);
/* The programmed baud rate (UART_BASE_BAUD / divisor). */
unsigned uart_baud(const Uart16550 *u);
/* Level of the interrupt output. */
bool uart_irq_level(const Uart16550 *u);
/* Bytes waiting in the transmitter, not yet taken by the line. */
unsigned uart_tx_pending(const Uart16550 *u);

#endif /* LILYVM_UART16550_H */
