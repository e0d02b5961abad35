/*
 * TCP of the guest network library: active and passive open, in-order data
 * delivered straight to a callback (so the advertised window stays fixed),
 * go-back-N retransmission on timeout, FIN and RST.  Out-of-order segments
 * are dropped and acknowledged with the sequence number we expect.
 */
#include <stddef.h>
#include <string.h>

#include "net.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

#define TCP_MSS 1460
#define TCP_RTO_MIN_MS 300
#define TCP_RTO_MAX_MS 8000
#define TCP_MAX_RETRIES 8
#define TCP_TIME_WAIT_MS 2000

struct tcp_conn tcp_conns[TCP_CONNS];

#define SEQ_LT(a, b) ((int32_t)((a) - (b)) < 0)
#define SEQ_LE(a, b) ((int32_t)((a) - (b)) <= 0)

const char *tcp_state_name(enum tcp_state s)
{
    static const char *const names[] = {
        "CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
        "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT",
    };
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

static void tcp_segment(ip4_t dst, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                        uint8_t flags, const uint8_t *data, size_t len)
{
    static uint8_t s[IP_MAX_PAYLOAD];
    uint8_t ph[12];
    size_t hl = flags & TCP_SYN ? 24 : 20;

    if (hl + len > sizeof s)
        return;
    net_put16(s, sport);
    net_put16(s + 2, dport);
    net_put32(s + 4, seq);
    net_put32(s + 8, ack);
    s[12] = (uint8_t)(hl / 4 << 4);
    s[13] = flags;
    net_put16(s + 14, TCP_WINDOW);
    net_put16(s + 16, 0);
    net_put16(s + 18, 0);
    if (flags & TCP_SYN) {
        s[20] = 2; /* MSS */
        s[21] = 4;
        net_put16(s + 22, TCP_MSS);
    }
    if (len)
        memcpy(s + hl, data, len);
    net_put32(ph, net_if.addr);
    net_put32(ph + 4, dst);
    ph[8] = 0;
    ph[9] = IP_PROTO_TCP;
    net_put16(ph + 10, (uint16_t)(hl + len));
    net_put16(s + 16, net_csum_fold(net_csum_add(net_csum_add(0, ph, 12), s, hl + len)));
    ip_send(dst, IP_PROTO_TCP, s, hl + len);
}

/* First sequence number of application data. */
static inline uint32_t data_seq(const struct tcp_conn *c) { return c->iss + 1; }

/* Send what the window and buffer allow from snd_nxt, then FIN if due. */
static void tcp_output(struct tcp_conn *c)
{
    uint32_t ack = c->state == TCP_SYN_SENT ? 0 : c->rcv_nxt;
    uint8_t af = c->state == TCP_SYN_SENT ? 0 : TCP_ACK;

    if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RCVD) {
        if (c->snd_nxt == c->iss) {
            tcp_segment(c->rip, c->lport, c->rport, c->iss, ack, TCP_SYN | af, NULL, 0);
            c->snd_nxt = c->iss + 1;
            c->rto_at = net_now_ms + c->rto_ms;
        }
        return;
    }
    if (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT &&
        c->state != TCP_FIN_WAIT_1 && c->state != TCP_CLOSING && c->state != TCP_LAST_ACK)
        return;
    for (;;) {
        /* Offset of snd_nxt in tx (tx[0] is the byte at snd_una, or data_seq). */
        uint32_t base = SEQ_LT(c->snd_una, data_seq(c)) ? data_seq(c) : c->snd_una;
        uint32_t off = c->snd_nxt - base;
        uint32_t inflight = c->snd_nxt - c->snd_una;
        uint32_t wnd = c->snd_wnd ? c->snd_wnd : 1;
        uint32_t n;

        if (off > c->tx_len)
            break; /* the FIN was already sent */
        n = c->tx_len - off;
        if (n > c->mss)
            n = c->mss;
        if (inflight >= wnd)
            n = 0;
        else if (n > wnd - inflight)
            n = wnd - inflight;
        if (n) {
            tcp_segment(c->rip, c->lport, c->rport, c->snd_nxt, ack, TCP_ACK | TCP_PSH,
                        c->tx + off, n);
            if (c->snd_nxt == c->snd_una)
                c->rto_at = net_now_ms + c->rto_ms;
            c->snd_nxt += n;
            continue;
        }
        if (c->fin_queued && off == c->tx_len && inflight < wnd + 1) {
            tcp_segment(c->rip, c->lport, c->rport, c->snd_nxt, ack, TCP_ACK | TCP_FIN, NULL, 0);
            if (c->snd_nxt == c->snd_una)
                c->rto_at = net_now_ms + c->rto_ms;
            c->snd_nxt++;
            if (c->state == TCP_ESTABLISHED)
                c->state = TCP_FIN_WAIT_1;
            else if (c->state == TCP_CLOSE_WAIT)
                c->state = TCP_LAST_ACK;
        }
        break;
    }
}

static void tcp_free(struct tcp_conn *c, enum tcp_event ev)
{
    tcp_event_fn fn = c->on_event;
    c->state = TCP_CLOSED;
    c->on_event = NULL;
    c->on_data = NULL;
    if (fn)
        fn(c, ev);
}

static struct tcp_conn *tcp_alloc(void)
{
    for (unsigned i = 0; i < TCP_CONNS; i++)
        if (tcp_conns[i].state == TCP_CLOSED) {
            struct tcp_conn *c = &tcp_conns[i];
            uint32_t retransmits = c->retransmits;
            memset(c, 0, offsetof(struct tcp_conn, tx));
            c->on_data = NULL;
            c->on_event = NULL;
            c->on_accept = NULL;
            c->user = NULL;
            c->retransmits = retransmits;
            c->mss = 536;
            c->rto_ms = 1000;
            c->iss = net_random();
            c->snd_una = c->snd_nxt = c->iss;
            return c;
        }
    return NULL;
}

struct tcp_conn *tcp_listen(uint16_t port, tcp_accept_fn accept)
{
    struct tcp_conn *c = tcp_alloc();
    if (!c)
        return NULL;
    c->state = TCP_LISTEN;
    c->lport = port;
    c->on_accept = accept;
    return c;
}

struct tcp_conn *tcp_connect(ip4_t dst, uint16_t port, tcp_data_fn on_data,
                             tcp_event_fn on_event, void *user)
{
    struct tcp_conn *c = tcp_alloc();
    if (!c)
        return NULL;
    c->state = TCP_SYN_SENT;
    c->rip = dst;
    c->rport = port;
    c->lport = (uint16_t)(49152 + net_random() % 16000);
    c->on_data = on_data;
    c->on_event = on_event;
    c->user = user;
    tcp_output(c);
    return c;
}

size_t tcp_send(struct tcp_conn *c, const void *data, size_t len)
{
    size_t room;

    if (c->fin_queued || (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT &&
                          c->state != TCP_SYN_SENT && c->state != TCP_SYN_RCVD))
        return 0;
    room = TCP_TX_BUF - c->tx_len;
    if (len > room)
        len = room;
    memcpy(c->tx + c->tx_len, data, len);
    c->tx_len += (uint32_t)len;
    tcp_output(c);
    return len;
}

void tcp_close(struct tcp_conn *c)
{
    if (c->state == TCP_LISTEN || c->state == TCP_SYN_SENT) {
        tcp_free(c, TCP_EV_CLOSED);
        return;
    }
    c->fin_queued = 1;
    tcp_output(c);
}

void tcp_abort(struct tcp_conn *c)
{
    if (c->state != TCP_CLOSED && c->state != TCP_LISTEN && c->state != TCP_TIME_WAIT)
        tcp_segment(c->rip, c->lport, c->rport, c->snd_nxt, c->rcv_nxt, TCP_RST | TCP_ACK,
                    NULL, 0);
    tcp_free(c, TCP_EV_RESET);
}

/* Answer a segment that belongs to no connection (RFC 793 reset generation). */
static void tcp_reset_reply(ip4_t src, const uint8_t *h, size_t dlen, uint8_t flags)
{
    uint32_t seq = net_get32(h + 4), ack = net_get32(h + 8);

    if (flags & TCP_RST)
        return;
    if (flags & TCP_ACK)
        tcp_segment(src, net_get16(h + 2), net_get16(h), ack, 0, TCP_RST, NULL, 0);
    else
        tcp_segment(src, net_get16(h + 2), net_get16(h), 0,
                    seq + (uint32_t)dlen + !!(flags & TCP_SYN) + !!(flags & TCP_FIN),
                    TCP_RST | TCP_ACK, NULL, 0);
}

static void tcp_parse_mss(struct tcp_conn *c, const uint8_t *h, size_t hl)
{
    for (size_t o = 20; o < hl;) {
        if (h[o] == 0)
            break;
        if (h[o] == 1) {
            o++;
            continue;
        }
        if (o + 1 >= hl || h[o + 1] < 2 || o + h[o + 1] > hl)
            break;
        if (h[o] == 2 && h[o + 1] == 4) {
            uint16_t m = net_get16(h + o + 2);
            c->mss = m > TCP_MSS ? TCP_MSS : m < 64 ? 64 : m;
        }
        o += h[o + 1];
    }
}

/* The peer acknowledged up to ack: drop the acknowledged bytes from tx. */
static void tcp_acked(struct tcp_conn *c, uint32_t ack)
{
    uint32_t old_base, new_base, drop;

    if (!SEQ_LT(c->snd_una, ack) || SEQ_LT(c->snd_nxt, ack))
        return;
    old_base = SEQ_LT(c->snd_una, data_seq(c)) ? data_seq(c) : c->snd_una;
    new_base = SEQ_LT(ack, data_seq(c)) ? data_seq(c) : ack;
    drop = new_base - old_base;
    if (drop > c->tx_len)
        drop = c->tx_len; /* the FIN's sequence number */
    memmove(c->tx, c->tx + drop, c->tx_len - drop);
    c->tx_len -= drop;
    c->snd_una = ack;
    c->retries = 0;
    c->rto_ms = c->rto_ms > TCP_RTO_MIN_MS * 2 ? c->rto_ms / 2 : TCP_RTO_MIN_MS;
    c->rto_at = net_now_ms + c->rto_ms;
}

void tcp_input(ip4_t src, ip4_t dst, const uint8_t *h, size_t len)
{
    uint8_t ph[12], flags;
    uint16_t sport, dport;
    uint32_t seq, ack;
    size_t hl, dlen;
    const uint8_t *data;
    struct tcp_conn *c = NULL, *listener = NULL;

    if (len < 20 || !net_if.addr || dst != net_if.addr)
        return;
    net_put32(ph, src);
    net_put32(ph + 4, dst);
    ph[8] = 0;
    ph[9] = IP_PROTO_TCP;
    net_put16(ph + 10, (uint16_t)len);
    if (net_csum_fold(net_csum_add(net_csum_add(0, ph, 12), h, len)) != 0)
        return;
    hl = (size_t)(h[12] >> 4) * 4;
    if (hl < 20 || hl > len)
        return;
    sport = net_get16(h);
    dport = net_get16(h + 2);
    seq = net_get32(h + 4);
    ack = net_get32(h + 8);
    flags = h[13];
    data = h + hl;
    dlen = len - hl;

    for (unsigned i = 0; i < TCP_CONNS; i++) {
        struct tcp_conn *t = &tcp_conns[i];
        if (t->state == TCP_CLOSED || t->lport != dport)
            continue;
        if (t->state == TCP_LISTEN)
            listener = t;
        else if (t->rip == src && t->rport == sport)
            c = t;
    }
    if (!c && listener && (flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN) {
        c = tcp_alloc();
        if (!c)
            return; /* no room: the peer retries */
        c->state = TCP_SYN_RCVD;
        c->rip = src;
        c->rport = sport;
        c->lport = dport;
        c->rcv_nxt = seq + 1;
        c->snd_wnd = net_get16(h + 14);
        tcp_parse_mss(c, h, hl);
        if (listener->on_accept)
            listener->on_accept(c);
        tcp_output(c);
        return;
    }
    if (!c) {
        tcp_reset_reply(src, h, dlen, flags);
        return;
    }

    if (c->state == TCP_SYN_SENT) {
        if ((flags & TCP_ACK) && ack != c->iss + 1) {
            if (!(flags & TCP_RST))
                tcp_segment(src, dport, sport, ack, 0, TCP_RST, NULL, 0);
            return;
        }
        if (flags & TCP_RST) {
            if (flags & TCP_ACK)
                tcp_free(c, TCP_EV_RESET);
            return;
        }
        if ((flags & TCP_SYN) && (flags & TCP_ACK)) {
            c->rcv_nxt = seq + 1;
            c->snd_una = ack;
            c->snd_wnd = net_get16(h + 14);
            tcp_parse_mss(c, h, hl);
            c->state = TCP_ESTABLISHED;
            c->retries = 0;
            tcp_segment(src, dport, sport, c->snd_nxt, c->rcv_nxt, TCP_ACK, NULL, 0);
            if (c->on_event)
                c->on_event(c, TCP_EV_CONNECTED);
            tcp_output(c);
        }
        return;
    }

    /* Acceptability: only the segment that starts at rcv_nxt is taken. */
    if (flags & TCP_RST) {
        if (seq == c->rcv_nxt || (c->state == TCP_SYN_RCVD))
            tcp_free(c, TCP_EV_RESET);
        return;
    }
    if (flags & TCP_SYN) {
        /* A retransmitted SYN while in SYN_RCVD: answer again. */
        if (c->state == TCP_SYN_RCVD && seq + 1 == c->rcv_nxt) {
            c->snd_nxt = c->iss;
            tcp_output(c);
        }
        return;
    }
    if (!(flags & TCP_ACK))
        return;
    if (c->state == TCP_SYN_RCVD) {
        if (ack != c->iss + 1) {
            tcp_segment(src, dport, sport, ack, 0, TCP_RST, NULL, 0);
            return;
        }
        c->snd_una = ack;
        c->state = TCP_ESTABLISHED;
        c->retries = 0;
        if (c->on_event)
            c->on_event(c, TCP_EV_CONNECTED);
    }
    c->snd_wnd = net_get16(h + 14);
    tcp_acked(c, ack);

    /* Our FIN acknowledged? */
    if (c->fin_queued && c->snd_una == c->snd_nxt && c->tx_len == 0 &&
        !SEQ_LT(c->snd_nxt, data_seq(c) + 1)) {
        if (c->state == TCP_FIN_WAIT_1)
            c->state = TCP_FIN_WAIT_2;
        else if (c->state == TCP_CLOSING) {
            c->state = TCP_TIME_WAIT;
            c->timewait_at = net_now_ms + TCP_TIME_WAIT_MS;
        } else if (c->state == TCP_LAST_ACK) {
            tcp_free(c, TCP_EV_CLOSED);
            return;
        }
    }

    if (seq != c->rcv_nxt) {
        /* Old or out of order: tell the peer what we expect. */
        if (dlen || (flags & TCP_FIN))
            tcp_segment(src, dport, sport, c->snd_nxt, c->rcv_nxt, TCP_ACK, NULL, 0);
        tcp_output(c);
        return;
    }
    if (dlen && (c->state == TCP_ESTABLISHED || c->state == TCP_FIN_WAIT_1 ||
                 c->state == TCP_FIN_WAIT_2)) {
        if (dlen > TCP_WINDOW) {
            /* Past our window: the rest comes again, and a FIN after it too. */
            dlen = TCP_WINDOW;
            flags &= (uint8_t)~TCP_FIN;
        }
        c->rcv_nxt += (uint32_t)dlen;
        if (c->on_data)
            c->on_data(c, data, dlen);
        if (c->state == TCP_CLOSED)
            return; /* the callback aborted */
    } else {
        dlen = 0;
    }
    if (flags & TCP_FIN) {
        c->rcv_nxt++;
        if (c->state == TCP_ESTABLISHED) {
            c->state = TCP_CLOSE_WAIT;
        } else if (c->state == TCP_FIN_WAIT_1) {
            c->state = TCP_CLOSING;
        } else if (c->state == TCP_FIN_WAIT_2) {
            c->state = TCP_TIME_WAIT;
            c->timewait_at = net_now_ms + TCP_TIME_WAIT_MS;
        }
        tcp_segment(src, dport, sport, c->snd_nxt, c->rcv_nxt, TCP_ACK, NULL, 0);
        if (c->on_event && (c->state == TCP_CLOSE_WAIT || c->state == TCP_TIME_WAIT ||
                            c->state == TCP_CLOSING))
            c->on_event(c, TCP_EV_PEER_CLOSED);
        if (c->state == TCP_CLOSED)
            return;
    } else if (dlen) {
        tcp_segment(src, dport, sport, c->snd_nxt, c->rcv_nxt, TCP_ACK, NULL, 0);
    }
    tcp_output(c);
}

void tcp_timers(void)
{
    for (unsigned i = 0; i < TCP_CONNS; i++) {
        struct tcp_conn *c = &tcp_conns[i];
        if (c->state == TCP_CLOSED || c->state == TCP_LISTEN)
            continue;
        if (c->state == TCP_TIME_WAIT) {
            if ((int32_t)(net_now_ms - c->timewait_at) >= 0)
                tcp_free(c, TCP_EV_CLOSED);
            continue;
        }
        if (c->snd_una == c->snd_nxt) {
            /* Nothing in flight; a zero window gets probed by output. */
            if (c->tx_len || c->fin_queued)
                tcp_output(c);
            continue;
        }
        if ((int32_t)(net_now_ms - c->rto_at) < 0)
            continue;
        if (++c->retries > TCP_MAX_RETRIES) {
            tcp_abort(c);
            continue;
        }
        /* Go back to the oldest unacknowledged byte and send again. */
        c->retransmits++;
        c->rto_ms = c->rto_ms * 2 > TCP_RTO_MAX_MS ? TCP_RTO_MAX_MS : c->rto_ms * 2;
        c->rto_at = net_now_ms + c->rto_ms;
        c->snd_nxt = c->snd_una;
        if (c->state == TCP_FIN_WAIT_1 && c->tx_len) {
            c->state = TCP_ESTABLISHED; /* the FIN goes out again after the data */
        } else if (c->state == TCP_LAST_ACK && c->tx_len) {
            c->state = TCP_CLOSE_WAIT;
        } else if (c->state == TCP_FIN_WAIT_1 || c->state == TCP_LAST_ACK ||
                   c->state == TCP_CLOSING) {
            tcp_segment(c->rip, c->lport, c->rport, c->snd_nxt, c->rcv_nxt, TCP_ACK | TCP_FIN,
                        NULL, 0);
            c->snd_nxt++;
            continue;
        }
        tcp_output(c);
    }
}
