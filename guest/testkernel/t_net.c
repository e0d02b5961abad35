/*
 * /net tests: the guest network library (NE2000 at 0x300, IPv4 stack) against
 * QEMU user networking: DHCP, ping, UDP and TCP echo peers, an accepted call.
 */
#include <stdio.h>
#include <string.h>
#include <lily/cpu.h>
#include "../net/net.h"
#include "kernel.h"
#include "tap.h"

const char *t_net_udpecho, *t_net_tcpecho;

/* User networking's fixed addresses (the guest's lease and the gateway). */
#define NET_GUEST_ADDR IP4(10, 0, 2, 15)
#define NET_GATEWAY IP4(10, 0, 2, 2)
#define NET_LISTEN_PORT 80
/* Every wait is bounded by these, in milliseconds of the 1 kHz timer. */
#define NET_DHCP_MS 10000
#define NET_REPLY_MS 2000
#define NET_TCP_MS 10000
#define NET_ACCEPT_MS 30000

static int net_probed;             /* 0 not yet, 1 card up, -1 unusable */
static const char *net_skip_reason; /* why, when unusable */
static int net_bound;               /* 0 not yet, 1 lease, -1 DHCP failed */
static uint32_t net_last_tick;

/* Wait for the next interrupt and move the stack's clock to the tick count. */
static void net_idle(void)
{
    sti_hlt();
    uint32_t t = timer_ticks;
    net_tick(t - net_last_tick);
    net_last_tick = t;
}

/* Wait until *flag is set or ms pass; the flag's value. */
static int net_wait_for(volatile int *flag, uint32_t ms)
{
    uint32_t start = net_now_ms;

    while (!*flag && net_now_ms - start < ms)
        net_wait();
    return *flag;
}

/* Probe the card once; 1 if the stack runs, else the test is skipped. */
static int net_need_card(void)
{
    if (!net_probed) {
        if (!timer_works) {
            net_probed = -1;
            net_skip_reason = "no timer interrupt arrived at boot (waits need the PIT)";
        } else if (net_init(NE2K_DEFAULT_IOBASE) < 0) {
            net_probed = -1;
            net_skip_reason = "no NE2000 at 0x300";
        } else {
            net_probed = 1;
            net_last_tick = timer_ticks;
            net_idle_hook = net_idle;
        }
    }
    if (net_probed < 0)
        tap_skip(net_skip_reason);
    return net_probed > 0;
}

/* A card and a DHCP lease (asked for once); else the test is skipped. */
static int net_need_lease(void)
{
    if (!net_need_card())
        return 0;
    if (!net_bound)
        net_bound = dhcp_run(NET_DHCP_MS) == 0 ? 1 : -1;
    if (net_bound < 0)
        tap_skip("no DHCP lease (see /net/dhcp-lease)");
    return net_bound > 0;
}

/* The port of a "key=PORT" command-line word; 0 (test skipped or failed) if unusable. */
static uint16_t net_need_port(const char *value, const char *key)
{
    static char reason[64];
    unsigned port = 0;

    if (!value) {
        snprintf(reason, sizeof reason, "no %s=PORT on the command line", key);
        tap_skip(reason);
        return 0;
    }
    for (const char *p = value; *p; p++) {
        if (*p < '0' || *p > '9' || port > 65535) {
            port = 0;
            break;
        }
        port = port * 10 + (unsigned)(*p - '0');
    }
    tap_check(port > 0 && port <= 65535, __FILE__, __LINE__, "port is 1..65535",
              "%s=%s is not a port number (1..65535)", key, value);
    return port > 0 && port <= 65535 ? (uint16_t)port : 0;
}

void t_net_dhcp_lease(void)
{
    char a[16], r[16];

    if (!net_need_card())
        return;
    if (!net_bound)
        net_bound = dhcp_run(NET_DHCP_MS) == 0 ? 1 : -1;
    tap_check(net_bound > 0, __FILE__, __LINE__, "dhcp_run() == 0", "no lease within %u ms",
              NET_DHCP_MS);
    if (net_bound < 0)
        return;
    tap_diag("net: lease %s router %s", ip4_format(net_if.addr, a), ip4_format(net_if.router, r));
    CHECK_EQ(net_if.addr, NET_GUEST_ADDR);
    CHECK_EQ(net_if.router, NET_GATEWAY);
}

static volatile int ping_got;
static ip4_t ping_from;
static uint16_t ping_id;

static void ping_reply(ip4_t from, uint16_t id, uint16_t seq, uint32_t sent_ms)
{
    (void)seq;
    (void)sent_ms;
    if (id == ping_id) {
        ping_from = from;
        ping_got = 1;
    }
}

void t_net_ping_gateway(void)
{
    if (!net_need_lease())
        return;
    ping_got = 0;
    ping_id = (uint16_t)net_random();
    icmp_on_reply = ping_reply;
    for (uint16_t seq = 1; seq <= 3 && !ping_got; seq++) {
        CHECK_EQ(icmp_ping(NET_GATEWAY, ping_id, seq), 0);
        net_wait_for(&ping_got, NET_REPLY_MS);
    }
    icmp_on_reply = NULL;
    tap_check(ping_got, __FILE__, __LINE__, "echo reply", "none in 3 tries of %u ms",
              NET_REPLY_MS);
    if (ping_got)
        CHECK_EQ(ping_from, NET_GATEWAY);
}

static volatile int udp_got;
static uint8_t udp_buf[64];
static size_t udp_len;

static void udp_echo_recv(void *ctx, ip4_t src, uint16_t sport, const uint8_t *data, size_t len)
{
    (void)ctx;
    (void)src;
    (void)sport;
    if (udp_got)
        return;
    udp_len = len < sizeof udp_buf ? len : sizeof udp_buf;
    memcpy(udp_buf, data, udp_len);
    udp_got = 1;
}

void t_net_udp_exchange(void)
{
    static const char msg[] = "lilyvm testkernel udp 0123456789";
    uint16_t port, local;

    if (!net_need_lease() || !(port = net_need_port(t_net_udpecho, "udpecho")))
        return;
    struct udp_sock *s = udp_bind(0, udp_echo_recv, NULL);
    CHECK(s != NULL);
    if (!s)
        return;
    udp_got = 0;
    /* The first datagram may wait for ARP; a lost one is sent again. */
    for (int try = 0; try < 3 && !udp_got; try++) {
        CHECK_EQ(udp_sendto(s, NET_GATEWAY, port, msg, sizeof msg - 1), 0);
        net_wait_for(&udp_got, NET_REPLY_MS);
    }
    local = s->port;
    udp_unbind(s);
    tap_check(udp_got, __FILE__, __LINE__, "echo datagram", "none from 10.0.2.2:%u in 3 tries",
              port);
    if (!udp_got)
        tap_diag("net: local port %u; frames in %u, out %u, dropped %u; irqs %u; IP bad %u, "
                 "not ours %u; UDP bad %u, unbound %u", local, net_if.rx_frames,
                 net_if.tx_frames, net_if.rx_dropped, net_if.irqs, net_if.rx_ip_bad,
                 net_if.rx_not_ours, net_if.rx_udp_bad, net_if.rx_udp_unbound);
    if (udp_got) {
        CHECK_EQ(udp_len, sizeof msg - 1);
        CHECK(!memcmp(udp_buf, msg, sizeof msg - 1));
    }
}

/* One TCP exchange's state, shared by the client and the accepted call. */
static struct {
    volatile int connected, closed, reset, line;
    uint8_t buf[128];
    size_t len;
} tc;

static void tc_data(struct tcp_conn *c, const uint8_t *data, size_t len)
{
    (void)c;
    for (size_t i = 0; i < len && tc.len < sizeof tc.buf; i++) {
        tc.buf[tc.len++] = data[i];
        if (data[i] == '\n')
            tc.line = 1;
    }
}

static void tc_event(struct tcp_conn *c, enum tcp_event ev)
{
    switch (ev) {
    case TCP_EV_CONNECTED:
        tc.connected = 1;
        break;
    case TCP_EV_PEER_CLOSED:
        tcp_close(c);
        break;
    case TCP_EV_RESET:
        tc.reset = 1;
        tc.closed = 1;
        break;
    case TCP_EV_CLOSED:
        tc.closed = 1;
        break;
    }
}

void t_net_tcp_client(void)
{
    static const char msg[] = "lilyvm testkernel tcp: the quick brown fox\n";
    uint16_t port;

    if (!net_need_lease() || !(port = net_need_port(t_net_tcpecho, "tcpecho")))
        return;
    memset((void *)&tc, 0, sizeof tc);
    struct tcp_conn *c = tcp_connect(NET_GATEWAY, port, tc_data, tc_event, NULL);
    CHECK(c != NULL);
    if (!c)
        return;
    if (!net_wait_for(&tc.connected, NET_TCP_MS)) {
        tap_check(0, __FILE__, __LINE__, "connected", "to 10.0.2.2:%u: %s within %u ms", port,
                  tc.reset ? "reset" : "no answer", NET_TCP_MS);
        if (!tc.closed)
            tcp_abort(c);
        return;
    }
    CHECK_EQ(tcp_send(c, msg, sizeof msg - 1), sizeof msg - 1);
    net_wait_for(&tc.line, NET_TCP_MS);
    tap_check(tc.line, __FILE__, __LINE__, "echo line", "got %u bytes", (unsigned)tc.len);
    CHECK_EQ(tc.len, sizeof msg - 1);
    CHECK(!memcmp(tc.buf, msg, sizeof msg - 1));
    if (!tc.closed)
        tcp_close(c);
    if (!net_wait_for(&tc.closed, NET_TCP_MS)) {
        tap_diag("net: connection not closed within %u ms, reset", NET_TCP_MS);
        tcp_abort(c);
    }
}

static struct tcp_conn *accepted;

static void tc_accept(struct tcp_conn *c)
{
    if (accepted) { /* one call is expected: refuse others */
        tcp_abort(c);
        return;
    }
    accepted = c;
    c->on_data = tc_data;
    c->on_event = tc_event;
    tc.connected = 1;
}

void t_net_tcp_accept(void)
{
    static const char reply[] = "lilyvm: ";

    if (!net_need_lease())
        return;
    memset((void *)&tc, 0, sizeof tc);
    accepted = NULL;
    struct tcp_conn *l = tcp_listen(NET_LISTEN_PORT, tc_accept);
    CHECK(l != NULL);
    if (!l)
        return;
    /* The host side waits for this line before it connects through hostfwd. */
    tap_diag("net: listening on %u", NET_LISTEN_PORT);
    int got = net_wait_for(&tc.connected, NET_ACCEPT_MS);
    tcp_close(l);
    tap_check(got, __FILE__, __LINE__, "accepted", "no connection to port %u within %u ms",
              NET_LISTEN_PORT, NET_ACCEPT_MS);
    if (!got)
        return;
    struct tcp_conn *c = accepted;
    net_wait_for(&tc.line, NET_TCP_MS);
    tap_check(tc.line, __FILE__, __LINE__, "a line from the host", "got %u bytes",
              (unsigned)tc.len);
    if (!tc.line) {
        if (!tc.closed)
            tcp_abort(c);
        return;
    }
    tap_diag("net: accepted call from %u.%u.%u.%u:%u", c->rip >> 24, c->rip >> 16 & 0xff,
             c->rip >> 8 & 0xff, c->rip & 0xff, c->rport);
    /* Answer the line with a prefix, so the host sees it was not an echo. */
    CHECK_EQ(tcp_send(c, reply, sizeof reply - 1), sizeof reply - 1);
    CHECK_EQ(tcp_send(c, tc.buf, tc.len), tc.len);
    tcp_close(c);
    if (!net_wait_for(&tc.closed, NET_TCP_MS)) {
        tap_diag("net: accepted call not closed within %u ms, reset", NET_TCP_MS);
        tcp_abort(c);
    }
    CHECK(!tc.reset);
}
