/*
 * The guest network library (guest/net) compiled for the host over a fake
 * NE2000: frames the stack sends are captured, frames a made-up peer sends
 * are queued for it, and time is moved by hand.  Covers what QEMU's
 * lossless network never shows: ARP holding, TCP retransmission,
 * out-of-order segments, resets.
 */
#include <glib.h>
#include <string.h>

#include "guest/net/net.h"

#define GUEST_IP IP4(10, 0, 2, 15)
#define PEER_IP IP4(10, 0, 2, 2)

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t peer_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
static GQueue to_guest = G_QUEUE_INIT, from_guest = G_QUEUE_INIT;

/* ---- the fake card ---- */

int ne2k_probe(uint16_t iobase, uint8_t mac[6])
{
    memcpy(mac, guest_mac, 6);
    return 0;
}

void ne2k_start(uint16_t iobase, const uint8_t mac[6])
{
}

int ne2k_send(const void *frame, size_t len)
{
    g_queue_push_tail(&from_guest, g_bytes_new(frame, len));
    return 0;
}

size_t ne2k_recv(void *buf, size_t cap)
{
    GBytes *b = g_queue_pop_head(&to_guest);
    size_t len;

    if (!b)
        return 0;
    len = MIN(g_bytes_get_size(b), cap);
    memcpy(buf, g_bytes_get_data(b, NULL), len);
    g_bytes_unref(b);
    return len;
}

/* ---- the peer ---- */

static void drop_all(GQueue *q)
{
    GBytes *b;
    while ((b = g_queue_pop_head(q)))
        g_bytes_unref(b);
}

static void advance(uint32_t ms)
{
    /* One poll per millisecond, as the demo's 1 kHz tick gives. */
    for (uint32_t i = 0; i < ms; i++) {
        net_tick(1);
        net_poll();
    }
}

static size_t ip_frame(uint8_t *f, uint8_t proto, ip4_t src, const uint8_t *payload, size_t len)
{
    uint8_t *h = f + 14;

    memcpy(f, guest_mac, 6);
    memcpy(f + 6, peer_mac, 6);
    net_put16(f + 12, 0x0800);
    memset(h, 0, 20);
    h[0] = 0x45;
    net_put16(h + 2, (uint16_t)(20 + len));
    h[8] = 64;
    h[9] = proto;
    net_put32(h + 12, src);
    net_put32(h + 16, GUEST_IP);
    net_put16(h + 10, net_csum_fold(net_csum_add(0, h, 20)));
    memcpy(h + 20, payload, len);
    return 14 + 20 + len;
}

static void peer_send(const uint8_t *f, size_t len)
{
    g_queue_push_tail(&to_guest, g_bytes_new(f, len));
}

static void peer_tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                     const char *data)
{
    uint8_t t[1500], f[1600], ph[12];
    size_t dl = data ? strlen(data) : 0;

    memset(t, 0, 20);
    net_put16(t, sport);
    net_put16(t + 2, dport);
    net_put32(t + 4, seq);
    net_put32(t + 8, ack);
    t[12] = 5 << 4;
    t[13] = flags;
    net_put16(t + 14, 65535);
    if (dl)
        memcpy(t + 20, data, dl);
    net_put32(ph, PEER_IP);
    net_put32(ph + 4, GUEST_IP);
    ph[8] = 0;
    ph[9] = IP_PROTO_TCP;
    net_put16(ph + 10, (uint16_t)(20 + dl));
    net_put16(t + 16, net_csum_fold(net_csum_add(net_csum_add(0, ph, 12), t, 20 + dl)));
    peer_send(f, ip_frame(f, IP_PROTO_TCP, PEER_IP, t, 20 + dl));
}

struct seg {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    size_t len;
    uint8_t data[1500];
};

/* The next frame the guest sent, which must be a TCP segment with a good checksum. */
static void take_tcp(struct seg *s)
{
    GBytes *b = g_queue_pop_head(&from_guest);
    const uint8_t *f, *h, *t;
    size_t len, hl, tl;
    uint8_t ph[12];

    g_assert_nonnull(b);
    f = g_bytes_get_data(b, &len);
    g_assert_cmpuint(len, >=, 54);
    g_assert_cmpuint(net_get16(f + 12), ==, 0x0800);
    h = f + 14;
    g_assert_cmpuint(h[9], ==, IP_PROTO_TCP);
    g_assert_cmpuint(net_csum_fold(net_csum_add(0, h, 20)), ==, 0);
    tl = net_get16(h + 2) - 20u;
    t = h + 20;
    memcpy(ph, h + 12, 8);
    ph[8] = 0;
    ph[9] = IP_PROTO_TCP;
    net_put16(ph + 10, (uint16_t)tl);
    g_assert_cmpuint(net_csum_fold(net_csum_add(net_csum_add(0, ph, 12), t, tl)), ==, 0);
    hl = (size_t)(t[12] >> 4) * 4;
    s->sport = net_get16(t);
    s->dport = net_get16(t + 2);
    s->seq = net_get32(t + 4);
    s->ack = net_get32(t + 8);
    s->flags = t[13];
    s->len = tl - hl;
    memcpy(s->data, t + hl, s->len);
    g_bytes_unref(b);
}

/* The peer asks who has the guest's address: the guest learns it and answers. */
static void peer_arp_request(void)
{
    uint8_t f[60] = { 0 }, *a = f + 14;

    memset(f, 0xff, 6);
    memcpy(f + 6, peer_mac, 6);
    net_put16(f + 12, 0x0806);
    net_put16(a, 1);
    net_put16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    net_put16(a + 6, 1);
    memcpy(a + 8, peer_mac, 6);
    net_put32(a + 14, PEER_IP);
    net_put32(a + 24, GUEST_IP);
    peer_send(f, sizeof f);
    net_poll();
}

static void setup(void)
{
    drop_all(&to_guest);
    drop_all(&from_guest);
    memset(tcp_conns, 0, sizeof tcp_conns);
    memset(arp_cache, 0, sizeof arp_cache);
    g_assert_cmpint(net_init(0x300), ==, 0);
    net_if.addr = GUEST_IP;
    net_if.mask = IP4(255, 255, 255, 0);
    net_if.router = PEER_IP;
}

/* ---- ARP ---- */

static void test_arp_holds_until_reply(void)
{
    GBytes *b;
    const uint8_t *f;
    uint8_t reply[60] = { 0 }, *a = reply + 14;

    setup();
    g_assert_cmpint(icmp_ping(PEER_IP, 1, 1), ==, 0);
    /* Only the request went out; the echo request waits. */
    g_assert_cmpuint(g_queue_get_length(&from_guest), ==, 1);
    b = g_queue_pop_head(&from_guest);
    f = g_bytes_get_data(b, NULL);
    g_assert_cmpuint(net_get16(f + 12), ==, 0x0806);
    g_assert_cmpuint(net_get16(f + 14 + 6), ==, 1);
    g_assert_cmpuint(net_get32(f + 14 + 24), ==, PEER_IP);
    g_bytes_unref(b);
    /* Asked again after a second without an answer. */
    advance(1000);
    g_assert_cmpuint(g_queue_get_length(&from_guest), ==, 1);
    drop_all(&from_guest);

    memcpy(reply, guest_mac, 6);
    memcpy(reply + 6, peer_mac, 6);
    net_put16(reply + 12, 0x0806);
    net_put16(a, 1);
    net_put16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    net_put16(a + 6, 2);
    memcpy(a + 8, peer_mac, 6);
    net_put32(a + 14, PEER_IP);
    memcpy(a + 18, guest_mac, 6);
    net_put32(a + 24, GUEST_IP);
    peer_send(reply, sizeof reply);
    net_poll();
    /* The held datagram followed, to the peer's MAC. */
    g_assert_cmpuint(g_queue_get_length(&from_guest), ==, 1);
    b = g_queue_pop_head(&from_guest);
    f = g_bytes_get_data(b, NULL);
    g_assert_cmpmem(f, 6, peer_mac, 6);
    g_assert_cmpuint(net_get16(f + 12), ==, 0x0800);
    g_assert_cmpuint(f[14 + 9], ==, IP_PROTO_ICMP);
    g_bytes_unref(b);
    g_assert_cmpuint(arp_cache[0].state, ==, 2);
}

/* ---- ICMP ---- */

static void test_icmp_echo_answered(void)
{
    uint8_t p[16] = { 8, 0, 0, 0, 0x12, 0x34, 0, 7, 'p', 'i', 'n', 'g', 1, 2, 3, 4 }, f[100];
    GBytes *b;
    const uint8_t *r;
    size_t len;

    setup();
    peer_arp_request();
    drop_all(&from_guest);
    net_put16(p + 2, net_csum_fold(net_csum_add(0, p, sizeof p)));
    peer_send(f, ip_frame(f, IP_PROTO_ICMP, PEER_IP, p, sizeof p));
    /* A corrupted copy is ignored. */
    p[10] ^= 1;
    peer_send(f, ip_frame(f, IP_PROTO_ICMP, PEER_IP, p, sizeof p));
    net_poll();
    g_assert_cmpuint(g_queue_get_length(&from_guest), ==, 1);
    b = g_queue_pop_head(&from_guest);
    r = g_bytes_get_data(b, &len);
    g_assert_cmpuint(len, ==, 14 + 20 + sizeof p);
    g_assert_cmpuint(net_get32(r + 14 + 16), ==, PEER_IP);
    g_assert_cmpuint(r[34], ==, 0);
    g_assert_cmpuint(net_get16(r + 34 + 4), ==, 0x1234);
    g_assert_cmpuint(net_get16(r + 34 + 6), ==, 7);
    g_assert_cmpmem(r + 34 + 8, 4, "ping", 4);
    g_assert_cmpuint(net_csum_fold(net_csum_add(0, r + 34, sizeof p)), ==, 0);
    g_bytes_unref(b);
}

/* ---- TCP ---- */

static GString *received;
static int events[4];

static void on_data(struct tcp_conn *c, const uint8_t *data, size_t len)
{
    g_string_append_len(received, (const char *)data, (gssize)len);
}

static void on_event(struct tcp_conn *c, enum tcp_event ev)
{
    events[ev]++;
}

/* Connect to the peer's port 80; returns the connection, established. */
static struct tcp_conn *established(struct seg *syn, uint32_t peer_iss)
{
    struct tcp_conn *c;

    setup();
    peer_arp_request();
    drop_all(&from_guest);
    if (received)
        g_string_free(received, TRUE);
    received = g_string_new(NULL);
    memset(events, 0, sizeof events);
    c = tcp_connect(PEER_IP, 80, on_data, on_event, NULL);
    g_assert_nonnull(c);
    take_tcp(syn);
    g_assert_cmpuint(syn->flags, ==, 0x02);
    g_assert_cmpuint(syn->dport, ==, 80);
    peer_tcp(80, syn->sport, peer_iss, syn->seq + 1, 0x12, NULL);
    net_poll();
    g_assert_cmpint(c->state, ==, TCP_ESTABLISHED);
    g_assert_cmpint(events[TCP_EV_CONNECTED], ==, 1);
    {
        struct seg ack;
        take_tcp(&ack);
        g_assert_cmpuint(ack.flags, ==, 0x10);
        g_assert_cmpuint(ack.ack, ==, peer_iss + 1);
    }
    return c;
}

static void test_tcp_syn_retransmitted(void)
{
    struct seg syn, again;
    struct tcp_conn *c;

    setup();
    peer_arp_request();
    drop_all(&from_guest);
    c = tcp_connect(PEER_IP, 80, NULL, on_event, NULL);
    take_tcp(&syn);
    advance(999);
    g_assert_cmpuint(g_queue_get_length(&from_guest), ==, 0);
    advance(2);
    take_tcp(&again);
    g_assert_cmpuint(again.flags, ==, 0x02);
    g_assert_cmpuint(again.seq, ==, syn.seq);
    g_assert_cmpuint(again.sport, ==, syn.sport);
    /* Refused: the connection goes away and says so. */
    memset(events, 0, sizeof events);
    peer_tcp(80, syn.sport, 0, syn.seq + 1, 0x14, NULL);
    net_poll();
    g_assert_cmpint(c->state, ==, TCP_CLOSED);
    g_assert_cmpint(events[TCP_EV_RESET], ==, 1);
}

static void test_tcp_data_retransmitted(void)
{
    struct seg syn, d1, d2, more;
    struct tcp_conn *c = established(&syn, 5000);

    g_assert_cmpuint(tcp_send(c, "hello", 5), ==, 5);
    take_tcp(&d1);
    g_assert_cmpuint(d1.seq, ==, syn.seq + 1);
    g_assert_cmpuint(d1.len, ==, 5);
    g_assert_cmpmem(d1.data, 5, "hello", 5);
    g_assert_cmpuint(tcp_send(c, " world", 6), ==, 6);
    take_tcp(&d2);
    g_assert_cmpuint(d2.seq, ==, syn.seq + 6);
    /* The peer acknowledges the first segment only; the second is resent. */
    peer_tcp(80, syn.sport, 5001, syn.seq + 6, 0x10, NULL);
    net_poll();
    g_assert_cmpuint(g_queue_get_length(&from_guest), ==, 0);
    advance(3000);
    take_tcp(&more);
    g_assert_cmpuint(more.seq, ==, syn.seq + 6);
    g_assert_cmpuint(more.len, ==, 6);
    g_assert_cmpmem(more.data, 6, " world", 6);
    g_assert_cmpuint(c->retransmits, >=, 1);
    drop_all(&from_guest);
    /* Acknowledged: nothing more is sent. */
    peer_tcp(80, syn.sport, 5001, syn.seq + 12, 0x10, NULL);
    net_poll();
    drop_all(&from_guest);
    advance(10000);
    g_assert_cmpuint(g_queue_get_length(&from_guest), ==, 0);
}

static void test_tcp_in_order_only(void)
{
    struct seg syn, ack;
    struct tcp_conn *c = established(&syn, 7000);

    /* A segment from the future is not delivered; the ACK says what we expect. */
    peer_tcp(80, syn.sport, 7006, syn.seq + 1, 0x18, "world");
    net_poll();
    g_assert_cmpuint(received->len, ==, 0);
    take_tcp(&ack);
    g_assert_cmpuint(ack.ack, ==, 7001);
    peer_tcp(80, syn.sport, 7001, syn.seq + 1, 0x18, "hello");
    peer_tcp(80, syn.sport, 7006, syn.seq + 1, 0x18, "world");
    net_poll();
    g_assert_cmpstr(received->str, ==, "helloworld");
    /* A duplicate is acknowledged, not delivered again. */
    drop_all(&from_guest);
    peer_tcp(80, syn.sport, 7001, syn.seq + 1, 0x18, "hello");
    net_poll();
    g_assert_cmpstr(received->str, ==, "helloworld");
    take_tcp(&ack);
    g_assert_cmpuint(ack.ack, ==, 7011);
    g_assert_cmpint(c->state, ==, TCP_ESTABLISHED);
}

static void test_tcp_close_both_ways(void)
{
    struct seg syn, fin, ack;
    struct tcp_conn *c = established(&syn, 9000);

    peer_tcp(80, syn.sport, 9001, syn.seq + 1, 0x19, "bye");
    net_poll();
    g_assert_cmpstr(received->str, ==, "bye");
    g_assert_cmpint(c->state, ==, TCP_CLOSE_WAIT);
    g_assert_cmpint(events[TCP_EV_PEER_CLOSED], ==, 1);
    take_tcp(&ack);
    g_assert_cmpuint(ack.ack, ==, 9005);
    tcp_close(c);
    take_tcp(&fin);
    g_assert_cmpuint(fin.flags & 0x01, ==, 0x01);
    g_assert_cmpuint(fin.seq, ==, syn.seq + 1);
    g_assert_cmpint(c->state, ==, TCP_LAST_ACK);
    /* The FIN is resent until acknowledged. */
    advance(1100);
    take_tcp(&fin);
    g_assert_cmpuint(fin.flags & 0x01, ==, 0x01);
    g_assert_cmpuint(fin.seq, ==, syn.seq + 1);
    peer_tcp(80, syn.sport, 9005, syn.seq + 2, 0x10, NULL);
    net_poll();
    g_assert_cmpint(c->state, ==, TCP_CLOSED);
    g_assert_cmpint(events[TCP_EV_CLOSED], ==, 1);
}

static void test_tcp_listen_accept(void)
{
    struct seg synack, reply, fin;
    struct tcp_conn *l, *c;

    setup();
    peer_arp_request();
    drop_all(&from_guest);
    received = received ? received : g_string_new(NULL);
    g_string_truncate(received, 0);
    l = tcp_listen(8080, NULL);
    g_assert_nonnull(l);
    peer_tcp(40000, 8080, 100, 0, 0x02, NULL);
    net_poll();
    take_tcp(&synack);
    g_assert_cmpuint(synack.flags, ==, 0x12);
    g_assert_cmpuint(synack.ack, ==, 101);
    c = &tcp_conns[1];
    g_assert_cmpint(c->state, ==, TCP_SYN_RCVD);
    c->on_data = on_data;
    peer_tcp(40000, 8080, 101, synack.seq + 1, 0x18, "GET");
    net_poll();
    g_assert_cmpint(c->state, ==, TCP_ESTABLISHED);
    g_assert_cmpstr(received->str, ==, "GET");
    take_tcp(&reply);
    g_assert_cmpuint(reply.ack, ==, 104);
    tcp_send(c, "ok", 2);
    tcp_close(c);
    take_tcp(&reply);
    g_assert_cmpuint(reply.len, ==, 2);
    take_tcp(&fin);
    g_assert_cmpuint(fin.flags & 0x01, ==, 0x01);
    g_assert_cmpint(c->state, ==, TCP_FIN_WAIT_1);
    /* A segment for a port nobody listens on gets a reset. */
    drop_all(&from_guest);
    peer_tcp(40001, 8081, 500, 0, 0x02, NULL);
    net_poll();
    take_tcp(&reply);
    g_assert_cmpuint(reply.flags & 0x04, ==, 0x04);
    g_assert_cmpuint(reply.ack, ==, 501);
    g_assert_cmpint(l->state, ==, TCP_LISTEN);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/guestnet/arp/holds-until-reply", test_arp_holds_until_reply);
    g_test_add_func("/guestnet/icmp/echo-answered", test_icmp_echo_answered);
    g_test_add_func("/guestnet/tcp/syn-retransmitted", test_tcp_syn_retransmitted);
    g_test_add_func("/guestnet/tcp/data-retransmitted", test_tcp_data_retransmitted);
    g_test_add_func("/guestnet/tcp/in-order-only", test_tcp_in_order_only);
    g_test_add_func("/guestnet/tcp/close-both-ways", test_tcp_close_both_ways);
    g_test_add_func("/guestnet/tcp/listen-accept", test_tcp_listen_accept);
    return g_test_run();
}
