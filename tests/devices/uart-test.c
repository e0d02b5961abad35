/*
 * Tests of the 16550A register model (plugins/console/uart16550.c) on its
 * own: registers, FIFOs, interrupts and loopback, with a recording line.
 */
#include "plugins/console/uart16550.h"

#include <glib.h>
#include <string.h>

/* What the model did to its surroundings. */
typedef struct Line {
    bool irq;
    unsigned irq_rises;
    GByteArray *sent;
    bool busy;            /* transmit() refuses */
    unsigned wait_calls;  /* transmit() calls with wait set */
    unsigned rx_ready_calls;
    uint64_t timer_ns;    /* last rx_timer() argument */
    unsigned timer_calls;
} Line;

static void line_set_irq(void *opaque, bool level)
{
    Line *l = opaque;
    if (level && !l->irq)
        l->irq_rises++;
    l->irq = level;
}

static bool line_transmit(void *opaque, uint8_t byte, bool wait)
{
    Line *l = opaque;
    if (wait)
        l->wait_calls++;
    if (l->busy)
        return false;
    g_byte_array_append(l->sent, &byte, 1);
    return true;
}

static void line_rx_ready(void *opaque)
{
    Line *l = opaque;
    l->rx_ready_calls++;
}

static void line_rx_timer(void *opaque, uint64_t ns)
{
    Line *l = opaque;
    l->timer_ns = ns;
    l->timer_calls++;
}

static const UartOps line_ops = {
    .set_irq = line_set_irq,
    .transmit = line_transmit,
    .rx_ready = line_rx_ready,
    .rx_timer = line_rx_timer,
};

typedef struct Fixture {
    Uart16550 u;
    Line line;
} Fixture;

static void fx_setup(Fixture *f, gconstpointer data)
{
    memset(f, 0, sizeof *f);
    f->line.sent = g_byte_array_new();
    uart_init(&f->u, &line_ops, &f->line);
}

static void fx_teardown(Fixture *f, gconstpointer data)
{
    g_byte_array_unref(f->line.sent);
}

static void rx(Fixture *f, const char *s)
{
    g_assert_cmpuint(uart_receive(&f->u, (const uint8_t *)s, strlen(s)), ==, strlen(s));
}

static void test_reset_values(Fixture *f, gconstpointer data)
{
    g_assert_cmphex(uart_read(&f->u, UART_IER), ==, 0x00);
    g_assert_cmphex(uart_read(&f->u, UART_IIR), ==, UART_IIR_NO_INT);
    g_assert_cmphex(uart_read(&f->u, UART_LCR), ==, 0x00);
    g_assert_cmphex(uart_read(&f->u, UART_MCR), ==, 0x00);
    g_assert_cmphex(uart_read(&f->u, UART_LSR), ==, UART_LSR_THRE | UART_LSR_TEMT);
    g_assert_cmphex(uart_read(&f->u, UART_MSR), ==,
                    UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
    g_assert_false(f->line.irq);
}

static void test_dlab_latch(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_IER, 0x05);
    uart_write(&f->u, UART_LCR, UART_LCR_DLAB | 0x03);
    uart_write(&f->u, UART_DLL, 0x01);
    uart_write(&f->u, UART_DLM, 0x02);
    g_assert_cmphex(uart_read(&f->u, UART_DLL), ==, 0x01);
    g_assert_cmphex(uart_read(&f->u, UART_DLM), ==, 0x02);
    g_assert_cmpuint(uart_baud(&f->u), ==, 115200 / 0x0201);
    /* Nothing was transmitted by the DLL write. */
    g_assert_cmpuint(f->line.sent->len, ==, 0);

    uart_write(&f->u, UART_LCR, 0x03);
    g_assert_cmphex(uart_read(&f->u, UART_IER), ==, 0x05);
    uart_write(&f->u, UART_LCR, UART_LCR_DLAB);
    uart_write(&f->u, UART_DLL, 0x01);
    uart_write(&f->u, UART_DLM, 0x00);
    g_assert_cmpuint(uart_baud(&f->u), ==, 115200);
}

static void test_register_readback(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_LCR, 0x1b);
    g_assert_cmphex(uart_read(&f->u, UART_LCR), ==, 0x1b);
    uart_write(&f->u, UART_MCR, 0xef); /* bits 5-7 do not exist on a 16550A */
    g_assert_cmphex(uart_read(&f->u, UART_MCR), ==, 0x0f);
    uart_write(&f->u, UART_SCR, 0xa5);
    g_assert_cmphex(uart_read(&f->u, UART_SCR), ==, 0xa5);
    uart_write(&f->u, UART_IER, 0xff); /* 4 bits */
    g_assert_cmphex(uart_read(&f->u, UART_IER), ==, 0x0f);
}

static void test_fifo_enable(Fixture *f, gconstpointer data)
{
    g_assert_cmphex(uart_read(&f->u, UART_IIR) & UART_IIR_FIFO, ==, 0);
    g_assert_cmpuint(uart_rx_room(&f->u), ==, 1);
    uart_write(&f->u, UART_FCR, UART_FCR_ENABLE);
    g_assert_cmphex(uart_read(&f->u, UART_IIR), ==, UART_IIR_FIFO | UART_IIR_NO_INT);
    g_assert_cmpuint(uart_rx_room(&f->u), ==, UART_FIFO_SIZE);
    uart_write(&f->u, UART_FCR, 0);
    g_assert_cmphex(uart_read(&f->u, UART_IIR), ==, UART_IIR_NO_INT);
    g_assert_cmpuint(uart_rx_room(&f->u), ==, 1);
}

static void test_fifo_holds_sixteen(Fixture *f, gconstpointer data)
{
    uint8_t in[20];
    for (unsigned i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)('a' + i);
    uart_write(&f->u, UART_FCR, UART_FCR_ENABLE);
    g_assert_cmpuint(uart_receive(&f->u, in, sizeof in), ==, UART_FIFO_SIZE);
    g_assert_cmpuint(uart_rx_room(&f->u), ==, 0);
    for (unsigned i = 0; i < UART_FIFO_SIZE; i++)
        g_assert_cmphex(uart_read(&f->u, UART_RBR), ==, 'a' + i);
    g_assert_cmphex(uart_read(&f->u, UART_LSR) & UART_LSR_DR, ==, 0);
    /* Host input is paced, never overrun. */
    g_assert_cmphex(uart_read(&f->u, UART_LSR) & UART_LSR_OE, ==, 0);
    g_assert_cmpuint(f->line.rx_ready_calls, >, 0);
}

static void test_fifo_clear_rx(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_FCR, UART_FCR_ENABLE);
    rx(f, "hello");
    g_assert_cmphex(uart_read(&f->u, UART_LSR) & UART_LSR_DR, ==, UART_LSR_DR);
    uart_write(&f->u, UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RX);
    g_assert_cmphex(uart_read(&f->u, UART_LSR) & UART_LSR_DR, ==, 0);
    g_assert_cmpuint(uart_rx_room(&f->u), ==, UART_FIFO_SIZE);
    rx(f, "Z");
    g_assert_cmphex(uart_read(&f->u, UART_RBR), ==, 'Z');
}

static void test_fifo_clear_tx(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_FCR, UART_FCR_ENABLE);
    f->line.busy = true;
    uart_write(&f->u, UART_THR, 'a');
    uart_write(&f->u, UART_THR, 'b');
    g_assert_cmpuint(uart_tx_pending(&f->u), ==, 2);
    uart_write(&f->u, UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_TX);
    g_assert_cmpuint(uart_tx_pending(&f->u), ==, 0);
    g_assert_cmphex(uart_read(&f->u, UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT), ==,
                    UART_LSR_THRE | UART_LSR_TEMT);
    f->line.busy = false;
    uart_tx_drain(&f->u);
    g_assert_cmpuint(f->line.sent->len, ==, 0);
}

static void test_transmit(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_THR, 'h');
    uart_write(&f->u, UART_THR, 'i');
    g_assert_cmpuint(f->line.sent->len, ==, 2);
    g_assert_cmpmem(f->line.sent->data, 2, "hi", 2);
    g_assert_cmphex(uart_read(&f->u, UART_LSR), ==, UART_LSR_THRE | UART_LSR_TEMT);
}

static void test_thre_irq_on_enable(Fixture *f, gconstpointer data)
{
    /* THR is empty: enabling the interrupt raises it at once. */
    uart_write(&f->u, UART_IER, UART_IER_THRI);
    g_assert_true(f->line.irq);
    g_assert_cmphex(uart_read(&f->u, UART_IIR), ==, UART_IIR_THRI);
    /* Reading IIR acknowledged it. */
    g_assert_false(f->line.irq);
    g_assert_cmphex(uart_read(&f->u, UART_IIR), ==, UART_IIR_NO_INT);
}

static void test_thre_irq_after_write(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_IER, UART_IER_THRI);
    uart_read(&f->u, UART_IIR);
    g_assert_false(f->line.irq);
    unsigned rises = f->line.irq_rises;

    uart_write(&f->u, UART_THR, 'x');
    g_assert_true(f->line.irq);
    g_assert_cmpuint(f->line.irq_rises, ==, rises + 1);
    uart_write(&f->u, UART_THR, 'y');
    /* Every byte gives a fresh edge, for edge-triggered controllers. */
    g_assert_cmpuint(f->line.irq_rises, ==, rises + 2);
    g_assert_cmphex(uart_read(&f->u, UART_IIR), ==, UART_IIR_THRI);
    g_assert_false(f->line.irq);
}

static void test_thre_irq_disable(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_IER, UART_IER_THRI);
    g_assert_true(f->line.irq);
    uart_write(&f->u, UART_IER, 0);
    g_assert_false(f->line.irq);
}

static void test_tx_backpressure(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_FCR, UART_FCR_ENABLE);
    uart_write(&f->u, UART_IER, UART_IER_THRI);
    uart_read(&f->u, UART_IIR);
    f->line.busy = true;
    uart_write(&f->u, UART_THR, 'a');
    g_assert_cmphex(uart_read(&f->u, UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT), ==, 0);
    g_assert_false(f->line.irq);

    f->line.busy = false;
    uart_tx_drain(&f->u);
    g_assert_cmpuint(f->line.sent->len, ==, 1);
    g_assert_cmphex(uart_read(&f->u, UART_LSR) & UART_LSR_THRE, ==, UART_LSR_THRE);
    g_assert_true(f->line.irq);
    g_assert_cmphex(uart_read(&f->u, UART_IIR), ==, UART_IIR_FIFO | UART_IIR_THRI);
}

static void test_tx_full_asks_to_wait(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_FCR, UART_FCR_ENABLE);
    f->line.busy = true;
    for (unsigned i = 0; i < UART_FIFO_SIZE; i++)
        uart_write(&f->u, UART_THR, (uint8_t)i);
    g_assert_cmpuint(f->line.wait_calls, ==, 0);
    uart_write(&f->u, UART_THR, 0x55);
    g_assert_cmpuint(f->line.wait_calls, ==, 1);
    /* The line refused even then: the byte is lost, as on the chip. */
    g_assert_cmpuint(f->u.tx_dropped, ==, 1);
    f->line.busy = false;
    uart_tx_drain(&f->u);
    g_assert_cmpuint(f->line.sent->len, ==, UART_FIFO_SIZE);
    g_assert_cmphex(f->line.sent->data[UART_FIFO_SIZE - 1], ==, UART_FIFO_SIZE - 1);
}

static void test_rx_irq(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_IER, UART_IER_RDI);
    g_assert_false(f->line.irq);
    rx(f, "k");
    g_assert_true(f->line.irq);
    g_assert_cmphex(uart_read(&f->u, UART_IIR), ==, UART_IIR_RDI);
    g_assert_cmphex(uart_read(&f->u, UART_LSR) & UART_LSR_DR, ==, UART_LSR_DR);
    g_assert_cmphex(uart_read(&f->u, UART_RBR), ==, 'k');
    g_assert_false(f->line.irq);
    g_assert_cmphex(uart_read(&f->u, UART_IIR), ==, UART_IIR_NO_INT);
}

static void test_rx_enable_with_data_pending(Fixture *f, gconstpointer data)
{
    rx(f, "k");
    g_assert_false(f->line.irq);
    uart_write(&f->u, UART_IER, UART_IER_RDI);
    g_assert_true(f->line.irq);
}

static void test_rx_trigger_level(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_FCR, UART_FCR_ENABLE | 0x40); /* trigger at 4 */
    uart_write(&f->u, UART_IER, UART_IER_RDI);
    rx(f, "abc");
    g_assert_false(f->line.irq);
    rx(f, "d");
    g_assert_true(f->line.irq);
    g_assert_cmphex(uart_read(&f->u, UART_IIR), ==, UART_IIR_FIFO | UART_IIR_RDI);
    uart_read(&f->u, UART_RBR);
    /* Below the trigger level again. */
    g_assert_false(f->line.irq);
}

static void test_rx_trigger_fourteen(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_FCR, UART_FCR_ENABLE | 0xc0);
    uart_write(&f->u, UART_IER, UART_IER_RDI);
    rx(f, "0123456789abc");
    g_assert_false(f->line.irq);
    rx(f, "d");
    g_assert_true(f->line.irq);
}

static void test_rx_timeout(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_LCR, 0x03); /* 8N1 */
    uart_write(&f->u, UART_FCR, UART_FCR_ENABLE | 0x80); /* trigger at 8 */
    uart_write(&f->u, UART_IER, UART_IER_RDI);
    rx(f, "ab");
    g_assert_false(f->line.irq);
    /* Four character times at the reset rate (9600 baud, 10 bits each). */
    g_assert_cmpuint(f->line.timer_ns, ==, 4 * uart_char_time_ns(&f->u));
    g_assert_cmpuint(f->line.timer_ns, >, 0);

    uart_rx_timeout(&f->u);
    g_assert_true(f->line.irq);
    g_assert_cmphex(uart_read(&f->u, UART_IIR), ==, UART_IIR_FIFO | UART_IIR_CTI);
    g_assert_cmphex(uart_read(&f->u, UART_RBR), ==, 'a');
    /* Reading cleared the timeout and restarted the timer for the rest. */
    g_assert_false(f->line.irq);
    g_assert_cmpuint(f->line.timer_ns, >, 0);
    uart_read(&f->u, UART_RBR);
    g_assert_cmpuint(f->line.timer_ns, ==, 0); /* empty: cancelled */
}

static void test_rx_timeout_needs_fifo(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_IER, UART_IER_RDI);
    rx(f, "a");
    uart_read(&f->u, UART_IIR);
    uart_rx_timeout(&f->u);
    g_assert_cmphex(uart_read(&f->u, UART_IIR), ==, UART_IIR_RDI);
}

static void test_char_time(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_LCR, UART_LCR_DLAB | 0x03);
    uart_write(&f->u, UART_DLL, 1);
    uart_write(&f->u, UART_DLM, 0);
    uart_write(&f->u, UART_LCR, 0x03);
    /* 10 bits at 115200 baud */
    g_assert_cmpuint(uart_char_time_ns(&f->u), ==, UINT64_C(10000000000) / 115200);
    uart_write(&f->u, UART_LCR, 0x03 | UART_LCR_PARITY | UART_LCR_STOP);
    g_assert_cmpuint(uart_char_time_ns(&f->u), ==, UINT64_C(12000000000) / 115200);
}

static void test_loopback_echo(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_MCR, UART_MCR_LOOP);
    uart_write(&f->u, UART_THR, 'L');
    g_assert_cmpuint(f->line.sent->len, ==, 0); /* nothing reaches the host */
    g_assert_cmphex(uart_read(&f->u, UART_LSR) & UART_LSR_DR, ==, UART_LSR_DR);
    g_assert_cmphex(uart_read(&f->u, UART_RBR), ==, 'L');
    /* Host input waits while the line is looped back. */
    g_assert_cmpuint(uart_rx_room(&f->u), ==, 0);
    uart_write(&f->u, UART_MCR, 0);
    g_assert_cmpuint(uart_rx_room(&f->u), ==, 1);
    uart_write(&f->u, UART_THR, 'o');
    g_assert_cmpuint(f->line.sent->len, ==, 1);
}

static void test_loopback_modem_lines(Fixture *f, gconstpointer data)
{
    uart_read(&f->u, UART_MSR);
    uart_write(&f->u, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT1);
    uint8_t msr = uart_read(&f->u, UART_MSR);
    g_assert_cmphex(msr & UART_MSR_LINES, ==, UART_MSR_DSR | UART_MSR_RI);
    /* CTS and DCD dropped compared with the outside lines. */
    g_assert_cmphex(msr & UART_MSR_DELTA, ==, UART_MSR_DCTS | UART_MSR_DDCD);
    uart_write(&f->u, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_OUT2);
    msr = uart_read(&f->u, UART_MSR);
    g_assert_cmphex(msr & UART_MSR_LINES, ==, UART_MSR_CTS | UART_MSR_DCD);
    /* RI went off: trailing edge. */
    g_assert_cmphex(msr & UART_MSR_DELTA, ==,
                    UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_TERI | UART_MSR_DDCD);
    g_assert_cmphex(uart_read(&f->u, UART_MSR) & UART_MSR_DELTA, ==, 0);
}

static void test_overrun_no_fifo(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_MCR, UART_MCR_LOOP);
    uart_write(&f->u, UART_THR, '1');
    uart_write(&f->u, UART_THR, '2');
    uint8_t lsr = uart_read(&f->u, UART_LSR);
    g_assert_cmphex(lsr & (UART_LSR_OE | UART_LSR_DR), ==, UART_LSR_OE | UART_LSR_DR);
    g_assert_cmphex(uart_read(&f->u, UART_LSR) & UART_LSR_OE, ==, 0);
    g_assert_cmphex(uart_read(&f->u, UART_RBR), ==, '2');
}

static void test_overrun_fifo(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_FCR, UART_FCR_ENABLE);
    uart_write(&f->u, UART_MCR, UART_MCR_LOOP);
    for (unsigned i = 0; i <= UART_FIFO_SIZE; i++)
        uart_write(&f->u, UART_THR, (uint8_t)('A' + i));
    g_assert_cmphex(uart_read(&f->u, UART_LSR) & UART_LSR_OE, ==, UART_LSR_OE);
    /* The FIFO kept the first sixteen; the seventeenth was lost. */
    for (unsigned i = 0; i < UART_FIFO_SIZE; i++)
        g_assert_cmphex(uart_read(&f->u, UART_RBR), ==, 'A' + i);
    g_assert_cmphex(uart_read(&f->u, UART_LSR) & UART_LSR_DR, ==, 0);
}

static void test_line_status_irq(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_IER, UART_IER_RLSI);
    uart_write(&f->u, UART_MCR, UART_MCR_LOOP);
    uart_write(&f->u, UART_THR, '1');
    g_assert_false(f->line.irq);
    uart_write(&f->u, UART_THR, '2');
    g_assert_true(f->line.irq);
    g_assert_cmphex(uart_read(&f->u, UART_IIR), ==, UART_IIR_RLSI);
    uart_read(&f->u, UART_LSR);
    g_assert_false(f->line.irq);
}

static void test_break(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_IER, UART_IER_RLSI);
    g_assert_true(uart_receive_break(&f->u));
    g_assert_true(f->line.irq);
    uint8_t lsr = uart_read(&f->u, UART_LSR);
    g_assert_cmphex(lsr & (UART_LSR_BI | UART_LSR_DR), ==, UART_LSR_BI | UART_LSR_DR);
    g_assert_false(f->line.irq);
    g_assert_cmphex(uart_read(&f->u, UART_RBR), ==, 0);
}

static void test_break_in_fifo(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_FCR, UART_FCR_ENABLE);
    uart_write(&f->u, UART_IER, UART_IER_RLSI);
    rx(f, "a");
    g_assert_true(uart_receive_break(&f->u));
    /* The break is not at the head yet: only LSR bit 7 tells. */
    g_assert_false(f->line.irq);
    uint8_t lsr = uart_read(&f->u, UART_LSR);
    g_assert_cmphex(lsr & (UART_LSR_BI | UART_LSR_FIFO_ERR), ==, UART_LSR_FIFO_ERR);
    g_assert_cmphex(uart_read(&f->u, UART_RBR), ==, 'a');
    /* Now it is, with its error bits and the line status interrupt. */
    g_assert_true(f->line.irq);
    lsr = uart_read(&f->u, UART_LSR);
    g_assert_cmphex(lsr & (UART_LSR_BI | UART_LSR_FIFO_ERR | UART_LSR_DR), ==,
                    UART_LSR_BI | UART_LSR_FIFO_ERR | UART_LSR_DR);
    g_assert_false(f->line.irq);
    lsr = uart_read(&f->u, UART_LSR);
    g_assert_cmphex(lsr & (UART_LSR_BI | UART_LSR_FIFO_ERR), ==, 0);
}

static void test_modem_status_irq(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_IER, UART_IER_MSI);
    g_assert_false(f->line.irq);
    uart_set_modem_lines(&f->u, UART_MSR_DSR | UART_MSR_CTS); /* carrier lost */
    g_assert_true(f->line.irq);
    g_assert_cmphex(uart_read(&f->u, UART_IIR), ==, UART_IIR_MSI);
    g_assert_cmphex(uart_read(&f->u, UART_MSR), ==,
                    UART_MSR_DSR | UART_MSR_CTS | UART_MSR_DDCD);
    g_assert_false(f->line.irq);
}

static void test_priorities(Fixture *f, gconstpointer data)
{
    /* Make all four sources pending at once, then peel them off in order. */
    uart_write(&f->u, UART_IER, UART_IER_RDI | UART_IER_THRI | UART_IER_RLSI | UART_IER_MSI);
    uart_write(&f->u, UART_MCR, UART_MCR_LOOP); /* drops CTS/DSR/DCD: modem status */
    uart_write(&f->u, UART_THR, '1');
    uart_write(&f->u, UART_THR, '2');            /* overrun: line status */
    g_assert_true(f->line.irq);

    g_assert_cmphex(uart_read(&f->u, UART_IIR), ==, UART_IIR_RLSI);
    uart_read(&f->u, UART_LSR);
    g_assert_cmphex(uart_read(&f->u, UART_IIR), ==, UART_IIR_RDI);
    uart_read(&f->u, UART_RBR);
    g_assert_cmphex(uart_read(&f->u, UART_IIR), ==, UART_IIR_THRI);
    /* That read acknowledged THRE. */
    g_assert_cmphex(uart_read(&f->u, UART_IIR), ==, UART_IIR_MSI);
    uart_read(&f->u, UART_MSR);
    g_assert_cmphex(uart_read(&f->u, UART_IIR), ==, UART_IIR_NO_INT);
    g_assert_false(f->line.irq);
}

static void test_reset_lowers_irq(Fixture *f, gconstpointer data)
{
    uart_write(&f->u, UART_IER, UART_IER_THRI);
    g_assert_true(f->line.irq);
    uart_reset(&f->u);
    g_assert_false(f->line.irq);
    g_assert_cmphex(uart_read(&f->u, UART_IER), ==, 0);
}

/*
 * Random register traffic, host input, line stalls and timeouts: the model
 * must keep its FIFOs within bounds and its IRQ output equal to "IIR shows
 * an interrupt" after every step.
 */
static const UartOps probe_ops = { .transmit = line_transmit };

static void test_random_traffic(Fixture *f, gconstpointer data)
{
    GRand *rand = g_rand_new_with_seed(0x16550a);

    for (int step = 0; step < 200000; step++) {
        unsigned reg = (unsigned)g_rand_int_range(rand, 0, 8);
        uint8_t value = (uint8_t)g_rand_int_range(rand, 0, 256);
        switch (g_rand_int_range(rand, 0, 6)) {
        case 0:
        case 1:
            uart_read(&f->u, reg);
            break;
        case 2:
            /* Keep DLAB mostly off so that THR/RBR/IER see traffic. */
            if (reg == UART_LCR && (value & UART_LCR_DLAB) && g_rand_boolean(rand))
                value &= (uint8_t)~UART_LCR_DLAB;
            uart_write(&f->u, reg, value);
            break;
        case 3:
            uart_receive(&f->u, &value, 1);
            break;
        case 4:
            f->line.busy = g_rand_boolean(rand);
            if (!f->line.busy)
                uart_tx_drain(&f->u);
            break;
        default:
            uart_rx_timeout(&f->u);
            break;
        }
        g_assert_cmpuint(f->u.rx_count, <=, UART_FIFO_SIZE);
        g_assert_cmpuint(f->u.tx_count, <=, UART_FIFO_SIZE);
        g_assert_cmpint(f->line.irq, ==, uart_irq_level(&f->u));
        /* Ask IIR on a copy, so that the read's side effects do not count. */
        Uart16550 probe = f->u;
        probe.ops = &probe_ops;
        bool pending = (uart_read(&probe, UART_IIR) & UART_IIR_NO_INT) == 0;
        g_assert_cmpint(pending, ==, f->line.irq);
        if (f->line.sent->len > 4096)
            g_byte_array_set_size(f->line.sent, 0);
    }
    /* The walk went through the interesting states. */
    g_assert_cmpuint(f->line.irq_rises, >, 1000);
    g_assert_cmpuint(f->u.rx_overruns, >, 0);
    g_rand_free(rand);
}

#define ADD(path, fn) g_test_add("/uart/" path, Fixture, NULL, fx_setup, fn, fx_teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ADD("reset/values", test_reset_values);
    ADD("reset/lowers-irq", test_reset_lowers_irq);
    ADD("dlab/latch", test_dlab_latch);
    ADD("registers/readback", test_register_readback);
    ADD("fifo/enable", test_fifo_enable);
    ADD("fifo/holds-sixteen", test_fifo_holds_sixteen);
    ADD("fifo/clear-rx", test_fifo_clear_rx);
    ADD("fifo/clear-tx", test_fifo_clear_tx);
    ADD("tx/transmit", test_transmit);
    ADD("tx/backpressure", test_tx_backpressure);
    ADD("tx/full-asks-to-wait", test_tx_full_asks_to_wait);
    ADD("irq/thre-on-enable", test_thre_irq_on_enable);
    ADD("irq/thre-after-write", test_thre_irq_after_write);
    ADD("irq/thre-disable", test_thre_irq_disable);
    ADD("irq/rx-data", test_rx_irq);
    ADD("irq/rx-enable-with-data", test_rx_enable_with_data_pending);
    ADD("irq/rx-trigger-level", test_rx_trigger_level);
    ADD("irq/rx-trigger-fourteen", test_rx_trigger_fourteen);
    ADD("irq/rx-timeout", test_rx_timeout);
    ADD("irq/rx-timeout-needs-fifo", test_rx_timeout_needs_fifo);
    ADD("irq/line-status", test_line_status_irq);
    ADD("irq/modem-status", test_modem_status_irq);
    ADD("irq/priorities", test_priorities);
    ADD("line/char-time", test_char_time);
    ADD("line/break", test_break);
    ADD("line/break-in-fifo", test_break_in_fifo);
    ADD("loopback/echo", test_loopback_echo);
    ADD("loopback/modem-lines", test_loopback_modem_lines);
    ADD("loopback/overrun", test_overrun_no_fifo);
    ADD("loopback/overrun-fifo", test_overrun_fifo);
    ADD("robust/random-traffic", test_random_traffic);
    return g_test_run();
}
