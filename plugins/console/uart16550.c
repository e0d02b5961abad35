/*
 * 16550A UART register model (National Semiconductor PC16550D behaviour):
 * registers, receive and transmit FIFOs, interrupt priority and
 * identification, loopback.  No host I/O: see uart16550.h for the callbacks.
 *
 * DOC: Theory of operation
 *
 * Transmission takes no time: a byte written to THR goes to the line
 * (ops->transmit) at once unless the line is busy, so THRE and TEMT are set
 * again before the write returns, as in QEMU.  The THRE interrupt is still
 * lowered before the byte is sent and raised after, so an edge-triggered
 * interrupt controller sees a new edge for every byte.  When the line is busy
 * the bytes wait in the transmit FIFO and THRE reads 0, which is how a guest
 * feels back-pressure from a slow host.
 *
 * Reception is paced by the host side: it asks uart_rx_room() and never
 * hands over more than fits, so host input is never lost to an overrun; an
 * overrun happens only in loopback mode, where the guest feeds itself.  In
 * FIFO mode the received-data interrupt fires at the trigger level and the
 * character timeout (four character times without FIFO activity) reports
 * the rest, using a timer the glue provides.
 */
#include "plugins/console/uart16550.h"

#include <string.h>

static unsigned fifo_capacity(const Uart16550 *u)
{
    return (u->fcr & UART_FCR_ENABLE) ? UART_FIFO_SIZE : 1;
}

static unsigned rx_trigger_level(const Uart16550 *u)
{
    static const unsigned levels[4] = { 1, 4, 8, 14 };

    if (!(u->fcr & UART_FCR_ENABLE))
        return 1;
    return levels[(u->fcr & UART_FCR_TRIGGER_MASK) >> 6];
}

static bool loopback(const Uart16550 *u)
{
    return (u->mcr & UART_MCR_LOOP) != 0;
}

/* The highest-priority pending interrupt as IIR bits 0-3. */
static uint8_t pending_interrupt(const Uart16550 *u)
{
    if ((u->ier & UART_IER_RLSI) && (u->lsr_err & UART_LSR_ERRORS))
        return UART_IIR_RLSI;
    if (u->ier & UART_IER_RDI) {
        if (u->timeout_pending)
            return UART_IIR_CTI;
        if (u->rx_count > 0 && u->rx_count >= rx_trigger_level(u))
            return UART_IIR_RDI;
    }
    if ((u->ier & UART_IER_THRI) && u->thri_pending)
        return UART_IIR_THRI;
    if ((u->ier & UART_IER_MSI) && (u->msr & UART_MSR_DELTA))
        return UART_IIR_MSI;
    return UART_IIR_NO_INT;
}

static void update_irq(Uart16550 *u)
{
    bool level = pending_interrupt(u) != UART_IIR_NO_INT;

    if (level != u->irq) {
        u->irq = level;
        if (u->ops->set_irq)
            u->ops->set_irq(u->opaque, level);
    }
}

static void rx_timer_set(Uart16550 *u, uint64_t ns)
{
    if (u->ops->rx_timer)
        u->ops->rx_timer(u->opaque, ns);
}

/* (Re)start the character timeout after FIFO activity, or cancel it. */
static void rx_timeout_restart(Uart16550 *u)
{
    if ((u->fcr & UART_FCR_ENABLE) && u->rx_count > 0 && !u->timeout_pending)
        rx_timer_set(u, 4 * uart_char_time_ns(u));
    else if (u->rx_count == 0 || !(u->fcr & UART_FCR_ENABLE))
        rx_timer_set(u, 0);
}

static void rx_notify_room(Uart16550 *u)
{
    if (u->ops->rx_ready && uart_rx_room(u) > 0)
        u->ops->rx_ready(u->opaque);
}

/* A character arrives from the line (host input or loopback). */
static void rx_push(Uart16550 *u, uint8_t byte, uint8_t flags)
{
    unsigned cap = fifo_capacity(u);

    if (u->rx_count == cap) {
        /*
         * Overrun.  Without FIFOs the new character replaces the one in
         * RBR; with FIFOs it is lost in the shift register.
         */
        u->lsr_err |= UART_LSR_OE;
        u->rx_overruns++;
        if (cap == 1) {
            u->rx_fifo[u->rx_head] = byte;
            u->rx_flags[u->rx_head] = flags;
            u->lsr_err = (uint8_t)((u->lsr_err & UART_LSR_OE) | flags);
        }
        return;
    }
    unsigned slot = (u->rx_head + u->rx_count) % UART_FIFO_SIZE;
    u->rx_fifo[slot] = byte;
    u->rx_flags[slot] = flags;
    if (u->rx_count == 0)
        u->lsr_err |= flags; /* the new head's errors show in LSR */
    u->rx_count++;
}

static void rx_clear(Uart16550 *u)
{
    u->rx_head = 0;
    u->rx_count = 0;
    memset(u->rx_flags, 0, sizeof u->rx_flags);
    u->lsr_err &= UART_LSR_OE;
    u->timeout_pending = false;
    rx_timer_set(u, 0);
}

static void tx_clear(Uart16550 *u)
{
    u->tx_head = 0;
    u->tx_count = 0;
}

static uint8_t modem_lines(const Uart16550 *u)
{
    if (!loopback(u))
        return u->ext_lines;
    /* Loopback wires the modem outputs back to the inputs. */
    uint8_t lines = 0;
    if (u->mcr & UART_MCR_DTR)
        lines |= UART_MSR_DSR;
    if (u->mcr & UART_MCR_RTS)
        lines |= UART_MSR_CTS;
    if (u->mcr & UART_MCR_OUT1)
        lines |= UART_MSR_RI;
    if (u->mcr & UART_MCR_OUT2)
        lines |= UART_MSR_DCD;
    return lines;
}

/* Latch the current modem inputs into MSR, recording the changes. */
static void msr_refresh(Uart16550 *u)
{
    uint8_t now = modem_lines(u);
    uint8_t changed = (u->msr ^ now) & UART_MSR_LINES;
    uint8_t delta = 0;

    if (changed & UART_MSR_CTS)
        delta |= UART_MSR_DCTS;
    if (changed & UART_MSR_DSR)
        delta |= UART_MSR_DDSR;
    if (changed & UART_MSR_DCD)
        delta |= UART_MSR_DDCD;
    if ((changed & UART_MSR_RI) && !(now & UART_MSR_RI))
        delta |= UART_MSR_TERI; /* trailing edge only */
    u->msr = (uint8_t)(now | (u->msr & UART_MSR_DELTA) | delta);
}

void uart_tx_drain(Uart16550 *u)
{
    if (u->in_drain)
        return;
    u->in_drain = true;

    bool had_bytes = u->tx_count > 0;
    while (u->tx_count > 0) {
        uint8_t byte = u->tx_fifo[u->tx_head];
        if (loopback(u)) {
            rx_push(u, byte, 0);
            rx_timeout_restart(u);
        } else if (!u->ops->transmit(u->opaque, byte, false)) {
            break;
        }
        u->tx_head = (u->tx_head + 1) % UART_FIFO_SIZE;
        u->tx_count--;
    }
    if (had_bytes && u->tx_count == 0 && (u->ier & UART_IER_THRI))
        u->thri_pending = true;
    u->in_drain = false;
    update_irq(u);
}

static void write_thr(Uart16550 *u, uint8_t byte)
{
    /* Writing THR acknowledges a THRE interrupt; lower the line first. */
    u->thri_pending = false;
    update_irq(u);

    if (u->tx_count == fifo_capacity(u) && !loopback(u)) {
        /* The guest ignored THRE: ask the line to take the oldest byte now. */
        if (u->ops->transmit(u->opaque, u->tx_fifo[u->tx_head], true)) {
            u->tx_head = (u->tx_head + 1) % UART_FIFO_SIZE;
            u->tx_count--;
        }
    }
    if (u->tx_count == fifo_capacity(u)) {
        u->tx_dropped++;
    } else {
        u->tx_fifo[(u->tx_head + u->tx_count) % UART_FIFO_SIZE] = byte;
        u->tx_count++;
    }
    uart_tx_drain(u);
}

static void write_fcr(Uart16550 *u, uint8_t value)
{
    bool was_enabled = (u->fcr & UART_FCR_ENABLE) != 0;

    if (!(value & UART_FCR_ENABLE)) {
        /* The other bits are only programmed together with FCR0. */
        if (was_enabled) {
            rx_clear(u);
            tx_clear(u);
        }
        u->fcr = 0;
    } else {
        if (!was_enabled) {
            /* Changing the FIFO mode empties both FIFOs. */
            rx_clear(u);
            tx_clear(u);
        }
        u->fcr = value & (UART_FCR_ENABLE | UART_FCR_DMA | UART_FCR_TRIGGER_MASK);
        if (value & UART_FCR_CLEAR_RX)
            rx_clear(u);
        if (value & UART_FCR_CLEAR_TX) {
            tx_clear(u);
            if (u->ier & UART_IER_THRI)
                u->thri_pending = true;
        }
    }
    if (u->tx_count == 0 && (u->ier & UART_IER_THRI) && was_enabled != !!(u->fcr & UART_FCR_ENABLE))
        u->thri_pending = true;
    rx_timeout_restart(u);
    update_irq(u);
    rx_notify_room(u);
}

static void write_ier(Uart16550 *u, uint8_t value)
{
    uint8_t old = u->ier;

    u->ier = value & 0x0f;
    if (!(u->ier & UART_IER_THRI))
        u->thri_pending = false;
    else if (!(old & UART_IER_THRI) && u->tx_count == 0)
        u->thri_pending = true; /* enabling it while THR is empty fires at once */
    update_irq(u);
}

static void write_mcr(Uart16550 *u, uint8_t value)
{
    bool was_loop = loopback(u);

    u->mcr = value & UART_MCR_MASK;
    msr_refresh(u);
    if (was_loop != loopback(u)) {
        /* Waiting bytes now go to the other side; host input may resume. */
        uart_tx_drain(u);
        rx_notify_room(u);
    }
    update_irq(u);
}

static uint8_t read_rbr(Uart16550 *u)
{
    if (u->rx_count == 0)
        return u->rx_fifo[u->rx_head]; /* stale, as on the chip */

    uint8_t byte = u->rx_fifo[u->rx_head];
    u->rx_flags[u->rx_head] = 0;
    u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
    u->rx_count--;
    /* The next character's errors (if any) now show in LSR. */
    u->lsr_err &= UART_LSR_OE;
    if (u->rx_count > 0)
        u->lsr_err |= u->rx_flags[u->rx_head];
    u->timeout_pending = false;
    rx_timeout_restart(u);
    update_irq(u);
    rx_notify_room(u);
    return byte;
}

static uint8_t read_lsr(Uart16550 *u)
{
    uint8_t v = u->lsr_err;

    if (u->rx_count > 0)
        v |= UART_LSR_DR;
    if (u->tx_count == 0)
        v |= UART_LSR_THRE | UART_LSR_TEMT;
    if (u->fcr & UART_FCR_ENABLE) {
        for (unsigned i = 0; i < u->rx_count; i++) {
            if (u->rx_flags[(u->rx_head + i) % UART_FIFO_SIZE]) {
                v |= UART_LSR_FIFO_ERR;
                break;
            }
        }
    }
    /* Reading LSR clears the error bits it reported. */
    u->lsr_err = 0;
    if (u->rx_count > 0)
        u->rx_flags[u->rx_head] = 0;
    update_irq(u);
    return v;
}

static uint8_t read_iir(Uart16550 *u)
{
    uint8_t id = pending_interrupt(u);

    if (id == UART_IIR_THRI) {
        /* Reading IIR while it names THRE acknowledges that interrupt. */
        u->thri_pending = false;
        update_irq(u);
    }
    return (uint8_t)(id | ((u->fcr & UART_FCR_ENABLE) ? UART_IIR_FIFO : 0));
}

static uint8_t read_msr(Uart16550 *u)
{
    uint8_t v = u->msr;

    u->msr &= UART_MSR_LINES;
    update_irq(u);
    return v;
}

uint8_t uart_read(Uart16550 *u, unsigned reg)
{
    bool dlab = (u->lcr & UART_LCR_DLAB) != 0;

    switch (reg & 7) {
    case UART_RBR:
        return dlab ? (uint8_t)(u->divisor & 0xff) : read_rbr(u);
    case UART_IER:
        return dlab ? (uint8_t)(u->divisor >> 8) : u->ier;
    case UART_IIR:
        return read_iir(u);
    case UART_LCR:
        return u->lcr;
    case UART_MCR:
        return u->mcr;
    case UART_LSR:
        return read_lsr(u);
    case UART_MSR:
        return read_msr(u);
    default: /* UART_SCR */
        return u->scr;
    }
}

void uart_write(Uart16550 *u, unsigned reg, uint8_t value)
{
    bool dlab = (u->lcr & UART_LCR_DLAB) != 0;

    switch (reg & 7) {
    case UART_THR:
        if (dlab)
            u->divisor = (uint16_t)((u->divisor & 0xff00) | value);
        else
            write_thr(u, value);
        break;
    case UART_IER:
        if (dlab)
            u->divisor = (uint16_t)((u->divisor & 0x00ff) | (value << 8));
        else
            write_ier(u, value);
        break;
    case UART_FCR:
        write_fcr(u, value);
        break;
    case UART_LCR:
        u->lcr = value;
        break;
    case UART_MCR:
        write_mcr(u, value);
        break;
    case UART_LSR:
        break; /* factory test register on the real chip: writes ignored */
    case UART_MSR:
        break; /* read-only */
    default: /* UART_SCR */
        u->scr = value;
        break;
    }
}

size_t uart_rx_room(const Uart16550 *u)
{
    if (loopback(u))
        return 0; /* the line input is disconnected in loopback mode */
    return fifo_capacity(u) - u->rx_count;
}

size_t uart_receive(Uart16550 *u, const uint8_t *buf, size_t len)
{
    size_t room = uart_rx_room(u);
    size_t n = len < room ? len : room;

    for (size_t i = 0; i < n; i++)
        rx_push(u, buf[i], 0);
    if (n > 0) {
        rx_timeout_restart(u);
        update_irq(u);
    }
    return n;
}

bool uart_receive_break(Uart16550 *u)
{
    if (uart_rx_room(u) == 0)
        return false;
    rx_push(u, 0, UART_LSR_BI);
    rx_timeout_restart(u);
    update_irq(u);
    return true;
}

void uart_rx_timeout(Uart16550 *u)
{
    if ((u->fcr & UART_FCR_ENABLE) && u->rx_count > 0) {
        u->timeout_pending = true;
        update_irq(u);
    }
}

void uart_set_modem_lines(Uart16550 *u, uint8_t lines)
{
    u->ext_lines = lines & UART_MSR_LINES;
    if (!loopback(u)) {
        msr_refresh(u);
        update_irq(u);
    }
}

unsigned uart_baud(const Uart16550 *u)
{
    /* A divisor of 0 counts the full 16 bits before the first tick. */
    unsigned div = u->divisor ? u->divisor : 65536;
    unsigned baud = UART_BASE_BAUD / div;
    return baud ? baud : 1;
}

uint64_t uart_char_time_ns(const Uart16550 *u)
{
    /* Counted in half bits because of the 1.5 stop bits of 5-bit words. */
    unsigned wlen = 5 + (u->lcr & UART_LCR_WLEN_MASK);
    unsigned half_bits = 2 /* start */ + 2 * wlen;

    if (u->lcr & UART_LCR_PARITY)
        half_bits += 2;
    if (u->lcr & UART_LCR_STOP)
        half_bits += wlen == 5 ? 3 : 4;
    else
        half_bits += 2;
    uint64_t div = u->divisor ? u->divisor : 65536;
    return half_bits * UINT64_C(1000000000) * div / (2 * (uint64_t)UART_BASE_BAUD);
}

bool uart_irq_level(const Uart16550 *u)
{
    return u->irq;
}

unsigned uart_tx_pending(const Uart16550 *u)
{
    return u->tx_count;
}

void uart_reset(Uart16550 *u)
{
    u->ier = 0;
    u->lcr = 0;
    u->mcr = 0;
    u->scr = 0;
    u->fcr = 0;
    u->divisor = 12; /* 9600 baud, what PC firmware leaves behind */
    u->lsr_err = 0;
    rx_clear(u);
    tx_clear(u);
    u->thri_pending = false;
    u->msr = modem_lines(u);
    update_irq(u);
}

void uart_init(Uart16550 *u, const UartOps *ops, void *opaque)
{
    memset(u, 0, sizeof *u);
    u->ops = ops;
    u->opaque = opaque;
    /* A console is always "connected": carrier, data set ready, clear to send. */
    u->ext_lines = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
    uart_reset(u);
}
