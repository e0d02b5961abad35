/*
 * Tests of the net-socket core: synthetic guest frames from the mini guest
 * stack in, frames and real loopback (127.0.0.1) socket traffic out.
 */
#define _GNU_SOURCE
#include "miniguest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WAIT_MS 2000

/* ---- small host-side helpers ------------------------------------------ */

static bool fd_wait(int fd, short events, int ms)
{
    struct pollfd p = { .fd = fd, .events = events };

    return poll(&p, 1, ms) == 1;
}

/* Wait for fd while letting the core run (its sockets need servicing). */
static bool fd_wait_core(Mg *mg, int fd, short events, int ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

    while (g_get_monotonic_time() < end) {
        if (fd_wait(fd, events, 0))
            return true;
        mg_poll(mg, 5);
    }
    return fd_wait(fd, events, 0);
}

static int accept_core(Mg *mg, int lfd)
{
    g_assert_true(fd_wait_core(mg, lfd, POLLIN, WAIT_MS));
    return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

static int connect_loopback(uint16_t port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int r;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    g_assert_true(r == 0 || errno == EINPROGRESS);
    return fd;
}

static uint64_t stat_of(Mg *mg, NsStat id)
{
    return ns_stat_get(mg->ctx, id);
}

/* ---- ARP ------------------------------------------------------------- */

static void test_arp_gateway(void)
{
    Mg *mg = mg_new(NULL);
    static const uint8_t gw_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
    MgPkt *p;
    const uint8_t *a;

    mg_send_arp_request(mg, MG_GW);
    p = mg_next(mg, 0);
    g_assert_nonnull(p);
    g_assert_cmphex(p->ethertype, ==, NS_ETH_P_ARP);
    g_assert_cmpmem(p->eth, 6, mg->mac, 6);
    a = p->eth + NS_ETH_HLEN;
    g_assert_cmpuint(ns_rd16(a + 6), ==, 2);
    g_assert_cmpmem(a + 8, 6, gw_mac, 6);
    g_assert_cmphex(ns_rd32(a + 14), ==, MG_GW);
    g_assert_cmpmem(a + 18, 6, mg->mac, 6);
    g_assert_cmphex(ns_rd32(a + 24), ==, MG_GUEST);
    mg_pkt_free(p);

    /* The DNS address answers too; the guest's own address does not. */
    mg_send_arp_request(mg, MG_DNS);
    p = mg_next(mg, 0);
    g_assert_nonnull(p);
    mg_pkt_free(p);
    mg_send_arp_request(mg, MG_GUEST);
    g_assert_null(mg_next(mg, 0));
    g_assert_cmpuint(stat_of(mg, NS_ST_ARP_REPLIES), ==, 2);
    mg_free(mg);
}

/* ---- DHCP ------------------------------------------------------------ */

static GBytes *dhcp_build(Mg *mg, uint8_t type, uint32_t req_addr, uint32_t server)
{
    uint8_t b[300] = { 0 };
    size_t o = 240;

    b[0] = 1;
    b[1] = 1;
    b[2] = 6;
    ns_wr32(b + 4, 0x11223344);
    ns_wr16(b + 10, 0x8000);
    memcpy(b + 28, mg->mac, 6);
    ns_wr32(b + 236, 0x63825363);
    b[o++] = 53;
    b[o++] = 1;
    b[o++] = type;
    b[o++] = 55; /* parameter request list */
    b[o++] = 3;
    b[o++] = 1;
    b[o++] = 3;
    b[o++] = 6;
    if (req_addr) {
        b[o++] = 50;
        b[o++] = 4;
        ns_wr32(b + o, req_addr);
        o += 4;
    }
    if (server) {
        b[o++] = 54;
        b[o++] = 4;
        ns_wr32(b + o, server);
        o += 4;
    }
    b[o++] = 255;
    return g_bytes_new(b, sizeof b);
}

/* Value of option code in a DHCP reply, or NULL. */
static const uint8_t *dhcp_opt(const MgPkt *p, uint8_t code, uint8_t *len)
{
    const uint8_t *o = p->data + 240, *end = p->data + p->data_len;

    while (o + 1 < end && *o != 255) {
        if (*o == 0) {
            o++;
            continue;
        }
        if (o[0] == code) {
            *len = o[1];
            return o + 2;
        }
        o += 2 + o[1];
    }
    return NULL;
}

static MgPkt *dhcp_exchange(Mg *mg, uint8_t type, uint32_t req, uint32_t server)
{
    GBytes *b = dhcp_build(mg, type, req, server);
    gsize len;
    const void *d = g_bytes_get_data(b, &len);
    MgPkt *p;

    mg_send_udp_from(mg, 0, 68, 0xffffffffu, 67, d, len);
    g_bytes_unref(b);
    p = mg_next_l4(mg, NS_IPPROTO_UDP, 68, 0);
    g_assert_nonnull(p);
    g_assert_true(p->csum_ok);
    g_assert_cmpuint(p->sport, ==, 67);
    g_assert_cmpuint(p->data_len, >=, 240);
    g_assert_cmpuint(p->data[0], ==, 2);
    g_assert_cmphex(ns_rd32(p->data + 4), ==, 0x11223344);
    g_assert_cmpmem(p->data + 28, 6, mg->mac, 6);
    return p;
}

static void check_u32_opt(const MgPkt *p, uint8_t code, uint32_t want)
{
    uint8_t len = 0;
    const uint8_t *v = dhcp_opt(p, code, &len);

    g_assert_nonnull(v);
    g_assert_cmpuint(len, ==, 4);
    g_assert_cmphex(ns_rd32(v), ==, want);
}

static void test_dhcp_handshake(void)
{
    Mg *mg = mg_new(NULL);
    MgPkt *p;
    uint8_t len;
    const uint8_t *v;

    p = dhcp_exchange(mg, 1, 0, 0);
    v = dhcp_opt(p, 53, &len);
    g_assert_nonnull(v);
    g_assert_cmpuint(v[0], ==, 2); /* OFFER */
    g_assert_cmphex(ns_rd32(p->data + 16), ==, MG_GUEST);
    check_u32_opt(p, 54, MG_GW);
    check_u32_opt(p, 1, 0xffffff00);
    check_u32_opt(p, 3, MG_GW);
    check_u32_opt(p, 6, MG_DNS);
    check_u32_opt(p, 51, 86400);
    v = dhcp_opt(p, 26, &len);
    g_assert_nonnull(v);
    g_assert_cmpuint(ns_rd16(v), ==, 1500);
    mg_pkt_free(p);

    p = dhcp_exchange(mg, 3, MG_GUEST, MG_GW);
    v = dhcp_opt(p, 53, &len);
    g_assert_cmpuint(v[0], ==, 5); /* ACK */
    g_assert_cmphex(ns_rd32(p->data + 16), ==, MG_GUEST);
    check_u32_opt(p, 1, 0xffffff00);
    check_u32_opt(p, 3, MG_GW);
    check_u32_opt(p, 6, MG_DNS);
    check_u32_opt(p, 51, 86400);
    mg_pkt_free(p);
    mg_free(mg);
}

static void test_dhcp_nak(void)
{
    Mg *mg = mg_new(NULL);
    MgPkt *p;
    uint8_t len;
    const uint8_t *v;

    p = dhcp_exchange(mg, 3, 0x0a000263, MG_GW);
    v = dhcp_opt(p, 53, &len);
    g_assert_cmpuint(v[0], ==, 6); /* NAK: only our guest address */
    g_assert_cmphex(ns_rd32(p->data + 16), ==, 0);
    mg_pkt_free(p);
    mg_free(mg);
}

/* ---- ICMP ------------------------------------------------------------ */

static void test_icmp_ping_gateway(void)
{
    Mg *mg = mg_new(NULL);
    MgPkt *p;

    mg_send_icmp_echo(mg, MG_GW, 0x4242, 7, "lilyvm-ping", 11);
    p = mg_next_l4(mg, NS_IPPROTO_ICMP, 0, 0);
    g_assert_nonnull(p);
    g_assert_true(p->csum_ok);
    g_assert_cmphex(p->src, ==, MG_GW);
    g_assert_cmphex(p->dst, ==, MG_GUEST);
    g_assert_cmpuint(p->l4[0], ==, 0);
    g_assert_cmphex(ns_rd16(p->l4 + 4), ==, 0x4242);
    g_assert_cmpuint(ns_rd16(p->l4 + 6), ==, 7);
    g_assert_cmpmem(p->l4 + 8, p->l4_len - 8, "lilyvm-ping", 11);
    mg_pkt_free(p);
    mg_free(mg);
}

/*
 * Ping through a ping socket.  The socket layer is wrapped so that the
 * echo request really goes to 127.0.0.1 although the guest pinged
 * 192.0.2.1 (TEST-NET-1): no traffic leaves this machine.
 */
#define PING_FAKE_DST 0xc0000201u
static GHashTable *icmp_fds;

static int redir_open(void *o, int type, int proto)
{
    int fd = ns_sock_posix.open(o, type, proto);

    if (fd >= 0 && proto == NS_IPPROTO_ICMP)
        g_hash_table_add(icmp_fds, GINT_TO_POINTER(fd));
    return fd;
}

static ssize_t redir_sendto(void *o, int fd, const void *buf, size_t len,
                            uint32_t addr, uint16_t port)
{
    if (g_hash_table_contains(icmp_fds, GINT_TO_POINTER(fd))) {
        g_assert_cmphex(addr, ==, PING_FAKE_DST);
        addr = INADDR_LOOPBACK;
    }
    return ns_sock_posix.sendto(o, fd, buf, len, addr, port);
}

static ssize_t redir_recvfrom(void *o, int fd, void *buf, size_t len,
                              uint32_t *addr, uint16_t *port)
{
    ssize_t n = ns_sock_posix.recvfrom(o, fd, buf, len, addr, port);

    if (n >= 0 && g_hash_table_contains(icmp_fds, GINT_TO_POINTER(fd)) &&
        *addr == INADDR_LOOPBACK)
        *addr = PING_FAKE_DST;
    return n;
}

static void test_icmp_ping_socket(void)
{
    NsSockOps ops = ns_sock_posix;
    Mg *mg;
    MgPkt *p;
    int probe;

    icmp_fds = g_hash_table_new(NULL, NULL);
    ops.open = redir_open;
    ops.sendto = redir_sendto;
    ops.recvfrom = redir_recvfrom;
    mg = mg_new_ops(NULL, &ops);
    probe = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    if (probe >= 0)
        close(probe);

    mg_send_icmp_echo(mg, PING_FAKE_DST, 0x5151, 3, "far away", 8);
    mg_send_icmp_echo(mg, PING_FAKE_DST, 0x5151, 4, "far away", 8);
    p = mg_next_l4(mg, NS_IPPROTO_ICMP, 0, probe >= 0 ? WAIT_MS : 100);
    if (probe < 0) {
        /* The host forbids ping sockets: one log line, no reply. */
        g_assert_null(p);
        g_assert_cmpuint(stat_of(mg, NS_ST_ICMP_NO_SOCKET), ==, 2);
        g_assert_nonnull(strstr(mg->log->str, "ping_group_range"));
        g_assert_nonnull(strstr(mg->log->str, "192.0.2.1"));
        g_assert_null(strstr(strstr(mg->log->str, "ping_group_range") + 1,
                             "ping_group_range"));
        g_test_message("ping sockets refused here; checked the refusal path");
    } else {
        g_assert_nonnull(p);
        g_assert_true(p->csum_ok);
        g_assert_cmphex(p->src, ==, PING_FAKE_DST);
        g_assert_cmpuint(p->l4[0], ==, 0);
        g_assert_cmphex(ns_rd16(p->l4 + 4), ==, 0x5151); /* guest's id back */
        g_assert_cmpmem(p->l4 + 8, p->l4_len - 8, "far away", 8);
        g_assert_cmpuint(ns_flow_count(mg->ctx), ==, 1);
        mg_pkt_free(p);
    }
    mg_free(mg);
    g_hash_table_destroy(icmp_fds);
}

/* ---- UDP ------------------------------------------------------------- */

static void test_udp_echo(void)
{
    Mg *mg = mg_new(NULL);
    uint16_t port = 0;
    int srv = mg_udp_bind(&port);
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    char buf[64];
    ssize_t n;
    MgPkt *p;

    mg_send_udp(mg, 40000, MG_GW, port, "ping", 4);
    g_assert_true(fd_wait(srv, POLLIN, WAIT_MS));
    n = recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    g_assert_cmpint(n, ==, 4);
    g_assert_cmpmem(buf, 4, "ping", 4);
    g_assert_cmphex(ntohl(from.sin_addr.s_addr), ==, INADDR_LOOPBACK);
    g_assert_cmpint(sendto(srv, "pong!", 5, 0, (struct sockaddr *)&from, fl), ==, 5);

    p = mg_next_l4(mg, NS_IPPROTO_UDP, 40000, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_true(p->csum_ok);
    g_assert_cmphex(p->src, ==, MG_GW);
    g_assert_cmpuint(p->sport, ==, port);
    g_assert_cmpmem(p->data, p->data_len, "pong!", 5);
    mg_pkt_free(p);
    g_assert_cmpuint(ns_flow_count(mg->ctx), ==, 1);

    /* An idle flow goes away after udp-timeout. */
    mg->clock_skew += 121ull * 1000000000ull;
    mg_poll(mg, 0);
    g_assert_cmpuint(ns_flow_count(mg->ctx), ==, 0);
    close(srv);
    mg_free(mg);
}

/* Debug lines are formatted only when the embedder wants that level. */
static void test_log_level(void)
{
    Mg *mg = mg_new(NULL);
    uint16_t port = 0;
    int srv = mg_udp_bind(&port);
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    char buf[16];
    MgPkt *p;

    for (int level = 2; level <= 3; level++) {
        mg->log_level = level;
        g_string_truncate(mg->log, 0);
        mg_send_udp(mg, 40000, MG_GW, port, "ping", 4);
        g_assert_true(fd_wait(srv, POLLIN, WAIT_MS));
        g_assert_cmpint(recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl), ==, 4);
        g_assert_cmpint(sendto(srv, "pong", 4, 0, (struct sockaddr *)&from, fl), ==, 4);
        p = mg_next_l4(mg, NS_IPPROTO_UDP, 40000, WAIT_MS);
        g_assert_nonnull(p);
        mg_pkt_free(p);
        if (level < 3)
            g_assert_null(strstr(mg->log->str, "3: udp 40000 <-"));
        else
            g_assert_nonnull(strstr(mg->log->str, "3: udp 40000 <-"));
    }
    close(srv);
    mg_free(mg);
}

static void test_udp_loopback_off(void)
{
    NsConfig cfg;
    Mg *mg;
    MgPkt *p;

    ns_config_default(&cfg);
    cfg.loopback = false;
    mg = mg_new(&cfg);
    mg_send_udp(mg, 40001, MG_GW, 9, "x", 1);
    p = mg_next_l4(mg, NS_IPPROTO_ICMP, 0, 0);
    g_assert_nonnull(p);
    g_assert_cmpuint(p->l4[0], ==, 3); /* unreachable */
    g_assert_cmpuint(p->l4[1], ==, 3); /* port */
    g_assert_cmpuint(ns_flow_count(mg->ctx), ==, 0);
    mg_pkt_free(p);
    mg_free(mg);
}

static void test_udp_hostfwd(void)
{
    NsConfig cfg;
    NsFwdSpec fwd = { .proto = NS_IPPROTO_UDP, .host_addr = INADDR_LOOPBACK,
                      .guest_port = 5000 };
    Mg *mg;
    MgPkt *p;
    uint16_t cport = 0;
    int cli = mg_udp_bind(&cport);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    char buf[16];
    uint16_t src_port;

    fwd.host_port = mg_unused_port();
    ns_config_default(&cfg);
    cfg.fwds = &fwd;
    cfg.nfwds = 1;
    mg = mg_new(&cfg);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(fwd.host_port);
    g_assert_cmpint(sendto(cli, "hi", 2, 0, (struct sockaddr *)&sa, sizeof sa), ==, 2);
    p = mg_next_l4(mg, NS_IPPROTO_UDP, 5000, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_true(p->csum_ok);
    g_assert_cmphex(p->src, ==, MG_GW);
    g_assert_cmpmem(p->data, p->data_len, "hi", 2);
    src_port = p->sport;
    mg_pkt_free(p);

    mg_send_udp(mg, 5000, MG_GW, src_port, "ho", 2);
    g_assert_true(fd_wait(cli, POLLIN, WAIT_MS));
    g_assert_cmpint(recv(cli, buf, sizeof buf, 0), ==, 2);
    g_assert_cmpmem(buf, 2, "ho", 2);
    close(cli);
    mg_free(mg);
}

/* ---- DNS ------------------------------------------------------------- */

static void test_dns_forward(void)
{
    NsConfig cfg;
    Mg *mg;
    uint16_t rport = 0;
    int res = mg_udp_bind(&rport);
    static const uint8_t query[] = {
        0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
        6, 'l', 'i', 'l', 'y', 'v', 'm', 0, 0, 1, 0, 1,
    };
    uint8_t buf[512];
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n;
    MgPkt *p;

    ns_config_default(&cfg);
    cfg.resolver = INADDR_LOOPBACK;
    cfg.resolver_port = rport;
    mg = mg_new(&cfg);
    mg_send_udp(mg, 33333, MG_DNS, 53, query, sizeof query);
    g_assert_true(fd_wait(res, POLLIN, WAIT_MS));
    n = recvfrom(res, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    g_assert_cmpint(n, ==, sizeof query);
    g_assert_cmpmem(buf + 2, n - 2, query + 2, sizeof query - 2);
    /* Answer with the id the forwarder chose. */
    buf[2] |= 0x80;
    g_assert_cmpint(sendto(res, buf, (size_t)n, 0, (struct sockaddr *)&from, fl), ==, n);

    p = mg_next_l4(mg, NS_IPPROTO_UDP, 33333, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_true(p->csum_ok);
    g_assert_cmphex(p->src, ==, MG_DNS);
    g_assert_cmpuint(p->sport, ==, 53);
    g_assert_cmpuint(p->data_len, ==, sizeof query);
    g_assert_cmphex(ns_rd16(p->data), ==, 0xabcd);
    g_assert_cmphex(p->data[2], ==, 0x81);
    mg_pkt_free(p);
    g_assert_cmpuint(stat_of(mg, NS_ST_DNS_REPLIES), ==, 1);
    close(res);
    mg_free(mg);
}

static void test_dns_resolv_conf(void)
{
    char *path = NULL;
    int fd = g_file_open_tmp("ns-resolv-XXXXXX", &path, NULL);
    uint32_t a = 0;
    static const char text[] = "# comment\nsearch example\nnameserver ::1\n"
                               "nameserver 127.0.0.53\nnameserver 9.9.9.9\n";

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, text, strlen(text)), ==, (ssize_t)strlen(text));
    close(fd);
    g_assert_true(ns_dns_resolver_from_file(path, &a));
    g_assert_cmphex(a, ==, 0x7f000035);
    g_assert_false(ns_dns_resolver_from_file("/nonexistent/resolv.conf", &a));
    unlink(path);
    g_free(path);
}

/* ---- TCP ------------------------------------------------------------- */

typedef struct TcpConn {
    uint16_t gport, rport;
    uint32_t dst;
    uint32_t snd_nxt; /* guest's next sequence number */
    uint32_t rcv_nxt; /* next byte expected from the core */
    int host;         /* the host end (accepted or connected) */
} TcpConn;

static void tcp_guest_send(Mg *mg, TcpConn *c, uint8_t flags, const void *d,
                           size_t len, uint16_t win)
{
    mg_send_tcp(mg, c->gport, c->dst, c->rport, c->snd_nxt, c->rcv_nxt,
                flags, win, -1, -1, d, len);
    c->snd_nxt += (uint32_t)len + ((flags & (MG_TCP_SYN | MG_TCP_FIN)) ? 1 : 0);
}

static MgPkt *tcp_next(Mg *mg, TcpConn *c, int ms)
{
    MgPkt *p = mg_next_l4(mg, NS_IPPROTO_TCP, c->gport, ms);

    if (p) {
        g_assert_true(p->csum_ok);
        g_assert_cmphex(p->src, ==, c->dst);
        g_assert_cmpuint(p->sport, ==, c->rport);
    }
    return p;
}

/* Guest connects to 10.0.2.2:port, which reaches lfd on 127.0.0.1. */
static void tcp_open(Mg *mg, TcpConn *c, int lfd, uint16_t port, uint16_t gport,
                     int wscale, uint16_t win)
{
    MgPkt *p;

    memset(c, 0, sizeof *c);
    c->gport = gport;
    c->rport = port;
    c->dst = MG_GW;
    c->snd_nxt = 1000;
    mg_send_tcp(mg, gport, MG_GW, port, c->snd_nxt, 0, MG_TCP_SYN, win,
                (int)mg->cfg.mtu - 40, wscale, NULL, 0);
    c->snd_nxt++;
    p = tcp_next(mg, c, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_cmphex(p->flags, ==, MG_TCP_SYN | MG_TCP_ACK);
    g_assert_cmpuint(p->ack, ==, 1001);
    g_assert_cmpint(p->mss, ==, (int)mg->cfg.mtu - 40);
    g_assert_cmpint(p->wscale, ==, wscale >= 0 ? 7 : -1);
    c->rcv_nxt = p->seq + 1;
    mg_pkt_free(p);
    tcp_guest_send(mg, c, MG_TCP_ACK, NULL, 0, win);
    c->host = accept_core(mg, lfd);
    g_assert_cmpint(c->host, >=, 0);
}

/* Read n bytes on a host socket while the core runs. */
static void host_read_exact(Mg *mg, int fd, void *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r;
        g_assert_true(fd_wait_core(mg, fd, POLLIN, WAIT_MS));
        r = recv(fd, (uint8_t *)buf + got, n - got, MSG_DONTWAIT);
        g_assert_cmpint(r, >, 0);
        got += (size_t)r;
    }
}

static void test_tcp_handshake_and_data(void)
{
    Mg *mg = mg_new(NULL);
    uint16_t port = 0;
    int lfd = mg_tcp_listen(&port);
    TcpConn c;
    MgPkt *p;
    char buf[16];

    tcp_open(mg, &c, lfd, port, 41000, 7, 512);
    /* guest -> host */
    tcp_guest_send(mg, &c, MG_TCP_ACK | MG_TCP_PSH, "hello", 5, 512);
    p = tcp_next(mg, &c, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_cmpuint(p->ack, ==, c.snd_nxt);
    g_assert_cmpuint(p->win, >, 0);
    mg_pkt_free(p);
    host_read_exact(mg, c.host, buf, 5);
    g_assert_cmpmem(buf, 5, "hello", 5);

    /* host -> guest */
    g_assert_cmpint(send(c.host, "world", 5, 0), ==, 5);
    p = tcp_next(mg, &c, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_cmpuint(p->seq, ==, c.rcv_nxt);
    g_assert_cmpmem(p->data, p->data_len, "world", 5);
    c.rcv_nxt += 5;
    mg_pkt_free(p);
    tcp_guest_send(mg, &c, MG_TCP_ACK, NULL, 0, 512);
    g_assert_cmpuint(stat_of(mg, NS_ST_TCP_BAD), ==, 0);
    close(c.host);
    close(lfd);
    mg_free(mg);
}

/* Data stays in the host socket until acknowledged: the guest's window
 * bounds what is sent, and a retransmission re-reads the same bytes. */
static void tcp_flow_control(const NsSockOps *ops)
{
    Mg *mg = mg_new_ops(NULL, ops);
    uint16_t port = 0;
    int lfd = mg_tcp_listen(&port);
    uint8_t data[3000];
    TcpConn c;
    MgPkt *p;
    size_t got = 0;
    uint32_t first_seq;

    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    tcp_open(mg, &c, lfd, port, 41001, -1, 1000); /* no scaling: 1000 B */
    g_assert_cmpint(send(c.host, data, sizeof data, 0), ==, sizeof data);
    first_seq = c.rcv_nxt;
    /* Retransmissions may show up too: count each byte once. */
    while ((p = tcp_next(mg, &c, 100))) {
        g_assert_cmpmem(p->data, p->data_len, data + (p->seq - first_seq), p->data_len);
        if (p->seq == first_seq + got)
            got += p->data_len;
        mg_pkt_free(p);
    }
    g_assert_cmpuint(got, ==, 1000);

    /* Nothing acknowledged: the retransmission carries the same bytes. */
    mg->clock_skew += 400ull * 1000000;
    mg_poll(mg, 0);
    p = tcp_next(mg, &c, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_cmpuint(p->seq, ==, first_seq);
    g_assert_cmpmem(p->data, p->data_len, data, p->data_len);
    mg_pkt_free(p);
    mg_drain(mg);
    g_assert_cmpuint(stat_of(mg, NS_ST_TCP_RETRANS), >=, 1);

    /* Acknowledge the first 1000: the next 1000 follow. */
    c.rcv_nxt = first_seq + 1000;
    tcp_guest_send(mg, &c, MG_TCP_ACK, NULL, 0, 1000);
    got = 0;
    while ((p = tcp_next(mg, &c, 100))) {
        if (p->data_len) {
            g_assert_cmpuint(p->seq, >=, first_seq + 1000);
            g_assert_cmpmem(p->data, p->data_len, data + (p->seq - first_seq),
                            p->data_len);
            if (p->seq == first_seq + 1000 + got)
                got += p->data_len;
        }
        mg_pkt_free(p);
    }
    g_assert_cmpuint(got, ==, 1000);
    close(c.host);
    close(lfd);
    mg_free(mg);
}

static void test_tcp_flow_control(void)
{
    tcp_flow_control(NULL);
}

/* The same where the kernel cannot peek at an offset. */
static void test_tcp_flow_control_peek_copy(void)
{
    tcp_flow_control(&ns_sock_posix_peek_copy);
}

/* Data the host writes while earlier bytes are still unacknowledged goes
 * out at once, not only on the guest's next ACK. */
static void tcp_pipelined(const NsSockOps *ops)
{
    Mg *mg = mg_new_ops(NULL, ops);
    uint16_t port = 0;
    int lfd = mg_tcp_listen(&port);
    TcpConn c;
    MgPkt *p;
    uint32_t first;

    tcp_open(mg, &c, lfd, port, 41010, 7, 4096);
    first = c.rcv_nxt;
    g_assert_cmpint(send(c.host, "first-chunk", 11, 0), ==, 11);
    p = tcp_next(mg, &c, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_cmpuint(p->seq, ==, first);
    g_assert_cmpmem(p->data, p->data_len, "first-chunk", 11);
    mg_pkt_free(p);

    g_assert_cmpint(send(c.host, "second", 6, 0), ==, 6);
    p = tcp_next(mg, &c, 200); /* well under the retransmission timeout */
    g_assert_nonnull(p);
    g_assert_cmpuint(p->seq, ==, first + 11);
    g_assert_cmpmem(p->data, p->data_len, "second", 6);
    mg_pkt_free(p);

    /* A partial ACK consumes exactly what it covers. */
    c.rcv_nxt = first + 5;
    tcp_guest_send(mg, &c, MG_TCP_ACK, NULL, 0, 4096);
    g_assert_null(tcp_next(mg, &c, 50));
    mg->clock_skew += 400ull * 1000000;
    p = tcp_next(mg, &c, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_cmpuint(p->seq, ==, first + 5);
    g_assert_cmpmem(p->data, p->data_len, "-chunksecond", 12);
    mg_pkt_free(p);
    close(c.host);
    close(lfd);
    mg_free(mg);
}

static void test_tcp_pipelined(void)
{
    tcp_pipelined(NULL);
}

/* The host writes and closes at once: data, then FIN, no ACK between. */
static void tcp_fin_after_data(const NsSockOps *ops)
{
    Mg *mg = mg_new_ops(NULL, ops);
    uint16_t port = 0;
    int lfd = mg_tcp_listen(&port);
    TcpConn c;
    MgPkt *p;
    uint32_t first;
    bool fin = false;

    tcp_open(mg, &c, lfd, port, 41011, 7, 4096);
    first = c.rcv_nxt;
    g_assert_cmpint(send(c.host, "bye", 3, 0), ==, 3);
    close(c.host);
    while (!fin && (p = tcp_next(mg, &c, 200))) {
        if (p->data_len) {
            g_assert_cmpuint(p->seq, ==, first);
            g_assert_cmpmem(p->data, p->data_len, "bye", 3);
        }
        if (p->flags & MG_TCP_FIN) {
            g_assert_cmpuint(p->seq + p->data_len, ==, first + 3);
            fin = true;
        }
        mg_pkt_free(p);
    }
    g_assert_true(fin);
    close(lfd);
    mg_free(mg);
}

static void test_tcp_fin_after_data(void)
{
    tcp_fin_after_data(NULL);
}

static void test_tcp_fin_after_data_peek_copy(void)
{
    tcp_fin_after_data(&ns_sock_posix_peek_copy);
}

static void test_tcp_pipelined_peek_copy(void)
{
    tcp_pipelined(&ns_sock_posix_peek_copy);
}

/* The host writes and closes; the guest loses the last segments and
 * acknowledges only the first one. The retransmission timeout resends
 * every byte still in flight, in order, and the FIN follows the last
 * byte rather than standing in for the lost data. */
static void tcp_rto_after_eof(const NsSockOps *ops)
{
    Mg *mg = mg_new_ops(NULL, ops);
    uint16_t port = 0;
    int lfd = mg_tcp_listen(&port);
    uint8_t data[4000];
    TcpConn c;
    MgPkt *p;
    uint32_t first, acked = 0;
    size_t got;
    bool fin = false;

    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 13 + 5);
    tcp_open(mg, &c, lfd, port, 41012, 7, 4096);
    first = c.rcv_nxt;
    g_assert_cmpint(send(c.host, data, sizeof data, 0), ==, sizeof data);
    close(c.host);

    /* First pass: everything and the FIN go out; the guest keeps only
     * the first segment (the rest is "lost"). */
    while (!fin && (p = tcp_next(mg, &c, 200))) {
        if (p->data_len) {
            g_assert_cmpmem(p->data, p->data_len, data + (p->seq - first),
                            p->data_len);
            if (!acked && p->seq == first)
                acked = p->data_len;
        }
        if (p->flags & MG_TCP_FIN) {
            g_assert_cmpuint(p->seq + p->data_len, ==, first + sizeof data);
            fin = true;
        }
        mg_pkt_free(p);
    }
    g_assert_true(fin);
    g_assert_cmpuint(acked, >, 0);
    g_assert_cmpuint(acked, <, sizeof data); /* something is left to lose */
    mg_drain(mg);
    c.rcv_nxt = first + acked;
    tcp_guest_send(mg, &c, MG_TCP_ACK, NULL, 0, 4096);
    g_assert_null(tcp_next(mg, &c, 50));

    /* The timer fires: the bytes past the ACK come again, in order, and
     * the FIN only after the last of them. */
    mg->clock_skew += 400ull * 1000000;
    mg_poll(mg, 0);
    got = acked;
    fin = false;
    while (!fin && (p = tcp_next(mg, &c, WAIT_MS))) {
        if (p->data_len) {
            g_assert_cmpuint(p->seq, >=, first + acked);
            g_assert_cmpuint(p->seq - first + p->data_len, <=, sizeof data);
            g_assert_cmpmem(p->data, p->data_len, data + (p->seq - first),
                            p->data_len);
            if (p->seq == first + got)
                got += p->data_len;
        }
        if (p->flags & MG_TCP_FIN) {
            g_assert_cmpuint(p->seq + p->data_len, ==, first + sizeof data);
            g_assert_cmpuint(got, ==, sizeof data);
            fin = true;
        }
        mg_pkt_free(p);
    }
    g_assert_true(fin);
    g_assert_cmpuint(stat_of(mg, NS_ST_TCP_RETRANS), >=, 1);

    /* The guest acknowledges everything and the FIN: nothing more. */
    c.rcv_nxt = first + sizeof data + 1;
    tcp_guest_send(mg, &c, MG_TCP_ACK, NULL, 0, 4096);
    g_assert_null(tcp_next(mg, &c, 50));
    g_assert_cmpuint(stat_of(mg, NS_ST_TCP_BAD), ==, 0);
    close(lfd);
    mg_free(mg);
}

static void test_tcp_rto_after_eof(void)
{
    tcp_rto_after_eof(NULL);
}

static void test_tcp_rto_after_eof_peek_copy(void)
{
    tcp_rto_after_eof(&ns_sock_posix_peek_copy);
}

/*
 * A guest side that answers inside the core's output call (as a NIC
 * wired straight to a stack could): every data segment is acknowledged
 * at once, re-entering ns_input().  The stream must still arrive whole.
 */
typedef struct SyncAcker {
    TcpConn *c;
    uint32_t first;
    GByteArray *got;
} SyncAcker;

static void sync_ack(Mg *mg, const MgPkt *p, void *opaque)
{
    SyncAcker *s = opaque;

    if (p->proto != NS_IPPROTO_TCP || p->dport != s->c->gport || !p->data_len)
        return;
    if (p->seq == s->c->rcv_nxt) {
        g_byte_array_append(s->got, p->data, (guint)p->data_len);
        s->c->rcv_nxt += (uint32_t)p->data_len;
    }
    tcp_guest_send(mg, s->c, MG_TCP_ACK, NULL, 0, 8192);
}

static void test_tcp_reentrant_output(void)
{
    Mg *mg = mg_new(NULL);
    uint16_t port = 0;
    int lfd = mg_tcp_listen(&port);
    enum { TOTAL = 200000 };
    uint8_t *data = g_malloc(TOTAL);
    SyncAcker s;
    TcpConn c;
    size_t sent = 0;

    for (size_t i = 0; i < TOTAL; i++)
        data[i] = (uint8_t)(i * 13 + (i >> 8));
    tcp_open(mg, &c, lfd, port, 41020, -1, 8192);
    s.c = &c;
    s.first = c.rcv_nxt;
    s.got = g_byte_array_new();
    mg->on_output = sync_ack;
    mg->on_output_opaque = &s;
    for (int i = 0; i < 2000 && s.got->len < TOTAL; i++) {
        if (sent < TOTAL) {
            ssize_t n = send(c.host, data + sent, TOTAL - sent, MSG_DONTWAIT);
            if (n > 0)
                sent += (size_t)n;
        }
        mg_poll(mg, 5);
        mg_drain(mg);
    }
    mg->on_output = NULL;
    g_assert_cmpuint(s.got->len, ==, TOTAL);
    g_assert_cmpmem(s.got->data, TOTAL, data, TOTAL);
    g_assert_cmpuint(stat_of(mg, NS_ST_RX_DEFERRED_DROP), ==, 0);
    g_byte_array_unref(s.got);
    g_free(data);
    close(c.host);
    close(lfd);
    mg_free(mg);
}

/* A segment after a hole is held (not acknowledged) until the hole is
 * filled; then both go to the host in order under one ACK. */
static void test_tcp_out_of_order(void)
{
    Mg *mg = mg_new(NULL);
    uint16_t port = 0;
    int lfd = mg_tcp_listen(&port);
    TcpConn c;
    MgPkt *p;
    char buf[16];
    uint32_t base;

    tcp_open(mg, &c, lfd, port, 41030, 7, 512);
    base = c.snd_nxt;
    mg_send_tcp(mg, c.gport, c.dst, c.rport, base + 5, c.rcv_nxt, MG_TCP_ACK,
                512, -1, -1, "world", 5);
    p = tcp_next(mg, &c, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_cmpuint(p->ack, ==, base); /* duplicate ACK: the hole */
    mg_pkt_free(p);
    g_assert_false(fd_wait_core(mg, c.host, POLLIN, 50));

    mg_send_tcp(mg, c.gport, c.dst, c.rport, base, c.rcv_nxt, MG_TCP_ACK, 512,
                -1, -1, "hello", 5);
    p = tcp_next(mg, &c, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_cmpuint(p->ack, ==, base + 10);
    mg_pkt_free(p);
    host_read_exact(mg, c.host, buf, 10);
    g_assert_cmpmem(buf, 10, "helloworld", 10);
    g_assert_cmpuint(stat_of(mg, NS_ST_TCP_OUT_OF_ORDER), ==, 1);
    close(c.host);
    close(lfd);
    mg_free(mg);
}

/* When the host socket cannot take more, the guest's data is no longer
 * acknowledged and the window closes; it reopens once the host reads. */
static void test_tcp_backpressure(void)
{
    NsConfig cfg;
    Mg *mg;
    uint16_t port = 0;
    int lfd = mg_tcp_listen(&port);
    int small = 4096;
    static uint8_t chunk[60000];
    TcpConn c;
    MgPkt *p;
    bool stalled = false;
    uint8_t *sink = g_malloc(1 << 20);
    ssize_t n;
    uint32_t stall_ack = 0, start;
    size_t drained = 0;

    ns_config_default(&cfg);
    cfg.mtu = 65520;
    mg = mg_new(&cfg);
    setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    tcp_open(mg, &c, lfd, port, 41002, 7, 65535);
    start = c.snd_nxt;
    for (int i = 0; i < 400 && !stalled; i++) {
        uint32_t seq = c.snd_nxt;
        tcp_guest_send(mg, &c, MG_TCP_ACK, chunk, sizeof chunk, 65535);
        p = tcp_next(mg, &c, WAIT_MS);
        g_assert_nonnull(p);
        if (p->ack != seq + sizeof chunk) {
            /* Not all taken: not acknowledged, and the window closes. */
            g_assert_cmpuint(p->win, ==, 0);
            stall_ack = p->ack;
            stalled = true;
        }
        mg_pkt_free(p);
    }
    g_assert_true(stalled);

    /* The host drains its socket: what was held goes on, and a window
     * update acknowledges it.  What was held may fill the socket again
     * first: an ACK that moves on with the window still shut comes before
     * the update then. */
    p = NULL;
    for (int i = 0; i < WAIT_MS / 5 && !(p && p->win > 0); i++) {
        while ((n = recv(c.host, sink, 1 << 20, MSG_DONTWAIT)) > 0)
            drained += (size_t)n;
        if (p) {
            g_assert_cmpuint(p->ack - start, <=, c.snd_nxt - start);
            mg_pkt_free(p);
        }
        p = tcp_next(mg, &c, 5);
    }
    g_assert_nonnull(p);
    g_assert_cmpuint(p->win, >, 0);
    g_assert_cmpuint(p->ack - stall_ack, >, 0);
    g_assert_cmpuint(p->ack - start, <=, c.snd_nxt - start);
    /* Everything acknowledged reaches the host, nothing more. */
    for (int i = 0; i < 50 && drained < p->ack - start; i++) {
        mg_poll(mg, 5);
        while ((n = recv(c.host, sink, 1 << 20, MSG_DONTWAIT)) > 0)
            drained += (size_t)n;
    }
    g_assert_cmpuint(drained, >=, p->ack - start);
    g_assert_cmpuint(drained, <=, c.snd_nxt - start);
    mg_pkt_free(p);
    g_free(sink);
    close(c.host);
    close(lfd);
    mg_free(mg);
}

static void test_tcp_half_close(void)
{
    Mg *mg = mg_new(NULL);
    uint16_t port = 0;
    int lfd = mg_tcp_listen(&port);
    TcpConn c;
    MgPkt *p;
    char buf[16];

    tcp_open(mg, &c, lfd, port, 41003, 7, 512);
    /* Guest FIN: the host sees end of stream but may still send. */
    tcp_guest_send(mg, &c, MG_TCP_ACK | MG_TCP_FIN, NULL, 0, 512);
    p = tcp_next(mg, &c, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_cmpuint(p->ack, ==, c.snd_nxt);
    mg_pkt_free(p);
    g_assert_true(fd_wait_core(mg, c.host, POLLIN, WAIT_MS));
    g_assert_cmpint(recv(c.host, buf, sizeof buf, 0), ==, 0);

    g_assert_cmpint(send(c.host, "late", 4, 0), ==, 4);
    p = tcp_next(mg, &c, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_cmpmem(p->data, p->data_len, "late", 4);
    c.rcv_nxt += 4;
    mg_pkt_free(p);
    tcp_guest_send(mg, &c, MG_TCP_ACK, NULL, 0, 512);

    /* Host closes: FIN to the guest; its ACK ends the connection. */
    close(c.host);
    p = tcp_next(mg, &c, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_true(p->flags & MG_TCP_FIN);
    g_assert_cmpuint(p->seq, ==, c.rcv_nxt);
    c.rcv_nxt++;
    mg_pkt_free(p);
    tcp_guest_send(mg, &c, MG_TCP_ACK, NULL, 0, 512);
    g_assert_cmpuint(ns_flow_count(mg->ctx), ==, 1); /* TIME_WAIT */
    mg->clock_skew += 3ull * 1000000000ull;
    mg_poll(mg, 0);
    g_assert_cmpuint(ns_flow_count(mg->ctx), ==, 0);
    close(lfd);
    mg_free(mg);
}

static void test_tcp_refused(void)
{
    Mg *mg = mg_new(NULL);
    uint16_t port = mg_unused_port();
    MgPkt *p;

    mg_send_tcp(mg, 41004, MG_GW, port, 5000, 0, MG_TCP_SYN, 512, 1460, 7, NULL, 0);
    p = mg_next_l4(mg, NS_IPPROTO_TCP, 41004, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_true(p->csum_ok);
    g_assert_cmphex(p->flags & (MG_TCP_RST | MG_TCP_ACK), ==, MG_TCP_RST | MG_TCP_ACK);
    g_assert_cmpuint(p->ack, ==, 5001);
    mg_pkt_free(p);
    g_assert_cmpuint(stat_of(mg, NS_ST_TCP_CONNECT_FAIL), ==, 1);
    g_assert_cmpuint(ns_flow_count(mg->ctx), ==, 0);
    mg_free(mg);
}

static void test_tcp_guest_rst(void)
{
    Mg *mg = mg_new(NULL);
    uint16_t port = 0;
    int lfd = mg_tcp_listen(&port);
    TcpConn c;
    char buf[4];

    tcp_open(mg, &c, lfd, port, 41005, 7, 512);
    tcp_guest_send(mg, &c, MG_TCP_RST, NULL, 0, 0);
    g_assert_cmpuint(ns_flow_count(mg->ctx), ==, 0);
    g_assert_true(fd_wait(c.host, POLLIN, WAIT_MS));
    errno = 0;
    g_assert_cmpint(recv(c.host, buf, sizeof buf, 0), ==, -1);
    g_assert_cmpint(errno, ==, ECONNRESET);
    close(c.host);
    close(lfd);
    mg_free(mg);
}

static void test_tcp_host_rst(void)
{
    Mg *mg = mg_new(NULL);
    uint16_t port = 0;
    int lfd = mg_tcp_listen(&port);
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    TcpConn c;
    MgPkt *p;

    tcp_open(mg, &c, lfd, port, 41006, 7, 512);
    setsockopt(c.host, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(c.host);
    p = tcp_next(mg, &c, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_true(p->flags & MG_TCP_RST);
    mg_pkt_free(p);
    g_assert_cmpuint(ns_flow_count(mg->ctx), ==, 0);
    close(lfd);
    mg_free(mg);
}

static void tcp_hostfwd(bool restricted)
{
    NsConfig cfg;
    NsFwdSpec fwd = { .proto = NS_IPPROTO_TCP, .host_addr = INADDR_LOOPBACK,
                      .guest_port = 80 };
    Mg *mg;
    MgPkt *p;
    TcpConn c = { .gport = 80, .dst = MG_GW };
    char buf[8];
    int cli;

    fwd.host_port = mg_unused_port();
    ns_config_default(&cfg);
    cfg.fwds = &fwd;
    cfg.nfwds = 1;
    cfg.restricted = restricted;
    mg = mg_new(&cfg);
    mg_send_arp_request(mg, MG_GW); /* the core learns the guest's MAC */
    mg_drain(mg);

    cli = connect_loopback(fwd.host_port);
    p = mg_next_l4(mg, NS_IPPROTO_TCP, 80, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_true(p->csum_ok);
    g_assert_cmphex(p->flags, ==, MG_TCP_SYN);
    g_assert_cmphex(p->src, ==, MG_GW);
    g_assert_cmpmem(p->eth, 6, mg->mac, 6);
    g_assert_cmpint(p->mss, ==, 1460);
    g_assert_cmpint(p->wscale, ==, 7);
    c.rport = p->sport;
    c.rcv_nxt = p->seq + 1;
    mg_pkt_free(p);

    mg_send_tcp(mg, 80, MG_GW, c.rport, 7000, c.rcv_nxt, MG_TCP_SYN | MG_TCP_ACK,
                1024, 1460, 2, NULL, 0);
    c.snd_nxt = 7001;
    p = tcp_next(mg, &c, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_cmphex(p->flags, ==, MG_TCP_ACK);
    g_assert_cmpuint(p->ack, ==, 7001);
    mg_pkt_free(p);

    g_assert_true(fd_wait(cli, POLLOUT, WAIT_MS));
    g_assert_cmpint(send(cli, "GET", 3, 0), ==, 3);
    p = tcp_next(mg, &c, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_cmpmem(p->data, p->data_len, "GET", 3);
    c.rcv_nxt += 3;
    mg_pkt_free(p);
    tcp_guest_send(mg, &c, MG_TCP_ACK | MG_TCP_PSH, "OK", 2, 1024);
    host_read_exact(mg, cli, buf, 2);
    g_assert_cmpmem(buf, 2, "OK", 2);
    close(cli);
    mg_free(mg);
}

static void test_tcp_hostfwd(void)
{
    tcp_hostfwd(false);
}

/* restrict = true: forwards are the one way in, and they still work. */
static void test_tcp_hostfwd_restricted(void)
{
    tcp_hostfwd(true);
}

/* No resolver known: queries are dropped and counted, nothing is sent. */
static void test_dns_no_resolver(void)
{
    Mg *mg = mg_new(NULL);
    static const uint8_t q[12] = { 0x12, 0x34, 0x01, 0x00 };

    mg_send_udp(mg, 33334, MG_DNS, 53, q, sizeof q);
    g_assert_cmpuint(stat_of(mg, NS_ST_DNS_DROPPED), ==, 1);
    g_assert_cmpuint(stat_of(mg, NS_ST_DNS_FWD), ==, 0);
    g_assert_null(mg_next(mg, 0));
    mg_free(mg);
}

/* A forwarded connection before the guest said anything: ARP first. */
static void test_tcp_hostfwd_unknown_mac(void)
{
    NsConfig cfg;
    NsFwdSpec fwd = { .proto = NS_IPPROTO_TCP, .host_addr = INADDR_LOOPBACK,
                      .guest_port = 22 };
    Mg *mg;
    MgPkt *p;
    int cli;

    fwd.host_port = mg_unused_port();
    ns_config_default(&cfg);
    cfg.fwds = &fwd;
    cfg.nfwds = 1;
    mg = mg_new(&cfg);
    cli = connect_loopback(fwd.host_port);
    p = mg_next(mg, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_cmphex(p->ethertype, ==, NS_ETH_P_ARP);
    g_assert_cmpuint(ns_rd16(p->eth + NS_ETH_HLEN + 6), ==, 1); /* request */
    g_assert_cmphex(ns_rd32(p->eth + NS_ETH_HLEN + 24), ==, MG_GUEST);
    mg_pkt_free(p);
    mg_drain(mg);

    /* The guest answers; the retransmitted SYN is addressed to it. */
    {
        uint8_t a[28] = { 0, 1, 8, 0, 6, 4, 0, 2 };
        GBytes *f;
        memcpy(a + 8, mg->mac, 6);
        ns_wr32(a + 14, MG_GUEST);
        ns_wr32(a + 24, MG_GW);
        f = mg_build_eth(mg, NS_ETH_P_ARP, a, sizeof a);
        mg_send_raw(mg, g_bytes_get_data(f, NULL), g_bytes_get_size(f));
        g_bytes_unref(f);
    }
    g_assert_null(mg_next(mg, 0)); /* no reply to a reply */
    mg->clock_skew += 300ull * 1000000;
    p = mg_next_l4(mg, NS_IPPROTO_TCP, 22, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_cmphex(p->flags, ==, MG_TCP_SYN);
    g_assert_cmpmem(p->eth, 6, mg->mac, 6);
    mg_pkt_free(p);
    close(cli);
    mg_free(mg);
}

/* Connections closed both ways are recycled first when the table is full. */
static void test_tcp_time_wait_recycled(void)
{
    NsConfig cfg;
    Mg *mg;
    uint16_t port = 0;
    int lfd = mg_tcp_listen(&port);
    TcpConn c, d;
    MgPkt *p;

    ns_config_default(&cfg);
    cfg.max_flows = 1;
    mg = mg_new(&cfg);
    tcp_open(mg, &c, lfd, port, 43000, 7, 512);
    tcp_guest_send(mg, &c, MG_TCP_ACK | MG_TCP_FIN, NULL, 0, 512);
    close(c.host);
    for (;;) {
        p = tcp_next(mg, &c, WAIT_MS);
        g_assert_nonnull(p);
        if (p->flags & MG_TCP_FIN) {
            c.rcv_nxt = p->seq + 1;
            mg_pkt_free(p);
            break;
        }
        mg_pkt_free(p);
    }
    tcp_guest_send(mg, &c, MG_TCP_ACK, NULL, 0, 512);
    g_assert_cmpuint(ns_flow_count(mg->ctx), ==, 1);
    /* A retransmitted FIN in TIME_WAIT is acknowledged again. */
    c.snd_nxt--;
    tcp_guest_send(mg, &c, MG_TCP_ACK | MG_TCP_FIN, NULL, 0, 512);
    p = tcp_next(mg, &c, 0);
    g_assert_nonnull(p);
    g_assert_cmpuint(p->ack, ==, c.snd_nxt);
    mg_pkt_free(p);

    tcp_open(mg, &d, lfd, port, 43001, 7, 512);
    g_assert_cmpuint(ns_flow_count(mg->ctx), ==, 1);
    g_assert_cmpuint(stat_of(mg, NS_ST_FLOW_LIMIT), ==, 0);
    close(d.host);
    close(lfd);
    mg_free(mg);
}

/* The core asks to be woken for its nearest deadline, not constantly. */
static void test_deadlines(void)
{
    Mg *mg = mg_new(NULL);
    uint16_t port = 0;
    int srv = mg_udp_bind(&port);
    uint64_t now = (uint64_t)g_get_monotonic_time() * 1000u, d;

    g_assert_cmpuint(ns_next_deadline(mg->ctx), ==, UINT64_MAX);
    mg_send_udp(mg, 44000, MG_GW, port, "a", 1);
    d = ns_next_deadline(mg->ctx);
    g_assert_cmpuint(d, >=, now + 119ull * 1000000000ull);
    g_assert_cmpuint(d, <=, now + 122ull * 1000000000ull);
    close(srv);
    mg_free(mg);
}

static void test_fwd_port_in_use(void)
{
    NsConfig cfg;
    uint16_t port = 0;
    int busy = mg_tcp_listen(&port);
    NsFwdSpec fwd = { .proto = NS_IPPROTO_TCP, .host_addr = INADDR_LOOPBACK,
                      .host_port = port, .guest_port = 22 };
    GError *err = NULL;
    char *want = g_strdup_printf("tcp:127.0.0.1:%u-:22", port);

    ns_config_default(&cfg);
    cfg.fwds = &fwd;
    cfg.nfwds = 1;
    g_assert_null(mg_try_new(&cfg, &err));
    g_assert_nonnull(err);
    g_test_message("error: %s", err->message);
    g_assert_nonnull(strstr(err->message, want));
    g_assert_nonnull(strstr(err->message, "in use"));
    g_error_free(err);
    g_free(want);
    close(busy);
}

static void test_flow_limit(void)
{
    NsConfig cfg;
    Mg *mg;
    uint16_t port = 0;
    int srv = mg_udp_bind(&port);
    MgPkt *p;

    ns_config_default(&cfg);
    cfg.max_flows = 2;
    mg = mg_new(&cfg);
    mg_send_udp(mg, 42000, MG_GW, port, "a", 1);
    mg_send_udp(mg, 42001, MG_GW, port, "b", 1);
    mg_send_udp(mg, 42002, MG_GW, port, "c", 1);
    g_assert_cmpuint(ns_flow_count(mg->ctx), ==, 2);
    mg_send_tcp(mg, 42003, MG_GW, port, 1, 0, MG_TCP_SYN, 512, 1460, 7, NULL, 0);
    p = mg_next_l4(mg, NS_IPPROTO_TCP, 42003, 0);
    g_assert_nonnull(p);
    g_assert_true(p->flags & MG_TCP_RST);
    mg_pkt_free(p);
    g_assert_cmpuint(stat_of(mg, NS_ST_FLOW_LIMIT), ==, 2);
    g_assert_cmpuint(ns_flow_count(mg->ctx), ==, 2);
    close(srv);
    mg_free(mg);
}

static void test_restrict(void)
{
    NsConfig cfg;
    Mg *mg;
    uint16_t port = 0;
    int lfd = mg_tcp_listen(&port);
    MgPkt *p;

    ns_config_default(&cfg);
    cfg.restricted = true;
    mg = mg_new(&cfg);
    mg_send_tcp(mg, 42100, MG_GW, port, 1, 0, MG_TCP_SYN, 512, 1460, 7, NULL, 0);
    p = mg_next_l4(mg, NS_IPPROTO_TCP, 42100, 0);
    g_assert_nonnull(p);
    g_assert_true(p->flags & MG_TCP_RST);
    mg_pkt_free(p);
    mg_send_udp(mg, 42101, 0x01020304, 9, "x", 1); /* would leave the host */
    g_assert_cmpuint(ns_flow_count(mg->ctx), ==, 0);
    g_assert_cmpuint(stat_of(mg, NS_ST_IP_RESTRICTED), ==, 2);
    g_assert_false(fd_wait(lfd, POLLIN, 50));
    close(lfd);
    mg_free(mg);
}

/* ---- malformed input -------------------------------------------------- */

static GBytes *corrupt(GBytes *b, size_t off, uint8_t xor_val)
{
    gsize len;
    uint8_t *d = g_bytes_unref_to_data(b, &len);

    g_assert_cmpuint(off, <, len);
    d[off] ^= xor_val;
    return g_bytes_new_take(d, len);
}

static void send_ip_bytes(Mg *mg, GBytes *ip, size_t trim)
{
    gsize len;
    const uint8_t *d = g_bytes_get_data(ip, &len);
    GBytes *f = mg_build_eth(mg, NS_ETH_P_IP, d, len - trim);

    d = g_bytes_get_data(f, &len);
    mg_send_raw(mg, d, len);
    g_bytes_unref(f);
    g_bytes_unref(ip);
}

static void test_malformed(void)
{
    Mg *mg = mg_new(NULL);
    uint8_t runt[10] = { 0 };
    uint8_t udp[12] = { 0x9c, 0x40, 0, 53, 0, 12, 0, 0, 1, 2, 3, 4 };
    uint8_t arp_short[10] = { 0, 1, 8, 0, 6, 4 };
    GBytes *b;

    mg_send_raw(mg, runt, sizeof runt);
    g_assert_cmpuint(stat_of(mg, NS_ST_ETH_RUNT), ==, 1);

    b = mg_build_eth(mg, NS_ETH_P_ARP, arp_short, sizeof arp_short);
    mg_send_raw(mg, g_bytes_get_data(b, NULL), g_bytes_get_size(b));
    g_bytes_unref(b);
    g_assert_cmpuint(stat_of(mg, NS_ST_ARP_BAD), ==, 1);

    /* IP: wrong version, truncated, bad checksum, fragment, bad source. */
    send_ip_bytes(mg, corrupt(mg_build_ip(mg, MG_GUEST, MG_GW, 17, udp, 12), 0, 0x20), 0);
    send_ip_bytes(mg, mg_build_ip(mg, MG_GUEST, MG_GW, 17, udp, 12), 4);
    send_ip_bytes(mg, mg_build_ip(mg, MG_GUEST, MG_GW, 17, udp, 12), 25);
    g_assert_cmpuint(stat_of(mg, NS_ST_IP_BAD_HEADER), ==, 3);
    send_ip_bytes(mg, corrupt(mg_build_ip(mg, MG_GUEST, MG_GW, 17, udp, 12), 10, 1), 0);
    g_assert_cmpuint(stat_of(mg, NS_ST_IP_BAD_CSUM), ==, 1);
    {
        /* More-fragments set, checksum fixed up. */
        GBytes *ip = mg_build_ip(mg, MG_GUEST, MG_GW, 17, udp, 12);
        gsize len;
        uint8_t *d = g_bytes_unref_to_data(ip, &len);
        d[6] |= 0x20;
        ns_wr16(d + 10, 0);
        ns_wr16(d + 10, ns_csum_fold(ns_csum_add(0, d, 20)));
        send_ip_bytes(mg, g_bytes_new_take(d, len), 0);
    }
    g_assert_cmpuint(stat_of(mg, NS_ST_IP_FRAGMENT), ==, 1);
    send_ip_bytes(mg, mg_build_ip(mg, 0x0a000263, MG_GW, 17, udp, 12), 0);
    g_assert_cmpuint(stat_of(mg, NS_ST_IP_BAD_SRC), ==, 1);

    /* UDP: bad checksum, length beyond the packet. */
    ns_wr16(udp + 6, 0x1234);
    send_ip_bytes(mg, mg_build_ip(mg, MG_GUEST, MG_GW, 17, udp, 12), 0);
    ns_wr16(udp + 6, 0);
    ns_wr16(udp + 4, 200);
    send_ip_bytes(mg, mg_build_ip(mg, MG_GUEST, MG_GW, 17, udp, 12), 0);
    g_assert_cmpuint(stat_of(mg, NS_ST_UDP_BAD), ==, 2);

    /* TCP: bad checksum, data offset past the end, bogus option. */
    send_ip_bytes(mg, corrupt(mg_build_tcp(mg, 1, MG_GW, 2, 1, 0, MG_TCP_SYN, 100,
                                           1460, 7, NULL, 0), 40, 0xff), 0);
    {
        uint8_t t[24] = { 0, 1, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0xf0, MG_TCP_SYN };
        ns_wr16(t + 16, ns_csum_fold(ns_csum_add(
                            ns_csum_pseudo(MG_GUEST, MG_GW, 6, sizeof t), t, sizeof t)));
        send_ip_bytes(mg, mg_build_ip(mg, MG_GUEST, MG_GW, 6, t, sizeof t), 0);
        t[12] = 0x60;
        t[20] = 2; /* MSS option with length 0 */
        t[21] = 0;
        ns_wr16(t + 16, 0);
        ns_wr16(t + 16, ns_csum_fold(ns_csum_add(
                            ns_csum_pseudo(MG_GUEST, MG_GW, 6, sizeof t), t, sizeof t)));
        send_ip_bytes(mg, mg_build_ip(mg, MG_GUEST, MG_GW, 6, t, sizeof t), 0);
    }
    g_assert_cmpuint(stat_of(mg, NS_ST_TCP_BAD), ==, 3);

    /* ICMP with a bad checksum; DHCP too short. */
    {
        uint8_t icmp[8] = { 8, 0, 0x12, 0x34 };
        send_ip_bytes(mg, mg_build_ip(mg, MG_GUEST, MG_GW, 1, icmp, 8), 0);
    }
    g_assert_cmpuint(stat_of(mg, NS_ST_ICMP_BAD), ==, 1);
    mg_send_udp_from(mg, 0, 68, 0xffffffffu, 67, "short", 5);
    g_assert_cmpuint(stat_of(mg, NS_ST_DHCP_BAD), ==, 1);

    g_assert_null(mg_next(mg, 0));
    g_assert_cmpuint(ns_flow_count(mg->ctx), ==, 0);
    mg_free(mg);
}

/* ---- per-segment costs ------------------------------------------------ */

/* A socket layer that counts the calls the fast paths are meant to save
 * and reports a fixed, large send space. */
static unsigned cnt_space, cnt_discard;
static int cnt_rcvbuf; /* > 0: SO_RCVBUF for new TCP sockets */

static int cnt_send_space(void *o, int fd)
{
    cnt_space++;
    return 1 << 20;
}

static ssize_t cnt_discard_fn(void *o, int fd, size_t len)
{
    cnt_discard++;
    return ns_sock_posix.discard(o, fd, len);
}

static int cnt_open(void *o, int type, int proto)
{
    int fd = ns_sock_posix.open(o, type, proto);

    if (fd >= 0 && type == SOCK_STREAM && cnt_rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &cnt_rcvbuf, sizeof cnt_rcvbuf);
    return fd;
}

static Mg *mg_counting_mtu(unsigned mtu)
{
    static NsSockOps ops;
    NsConfig cfg;

    ns_config_default(&cfg);
    cfg.mtu = mtu;
    ops = ns_sock_posix;
    ops.send_space = cnt_send_space;
    ops.discard = cnt_discard_fn;
    ops.open = cnt_open;
    cnt_space = cnt_discard = 0;
    return mg_new_ops(&cfg, &ops);
}

static Mg *mg_counting(void)
{
    return mg_counting_mtu(1500);
}

/* TCP frames the core has queued so far, without running it. */
static unsigned tcp_queued(Mg *mg, uint16_t gport)
{
    unsigned n = 0;

    for (GList *l = mg->out.head; l; l = l->next) {
        MgPkt *p = l->data;
        n += p->proto == NS_IPPROTO_TCP && p->dport == gport;
    }
    return n;
}

/* Full-sized in-order segments handed in together draw one ACK, sent when
 * the embedder runs ns_tick() after them (ns_next_deadline() asks for
 * that). */
static void test_tcp_ack_coalesced(void)
{
    Mg *mg = mg_counting();
    uint16_t port = 0;
    int lfd = mg_tcp_listen(&port);
    uint8_t seg[1460], got[8 * 1460];
    TcpConn c;
    MgPkt *p;

    memset(seg, 'a', sizeof seg);
    tcp_open(mg, &c, lfd, port, 41100, 7, 8192);
    mg_drain(mg);
    for (int i = 0; i < 8; i++)
        tcp_guest_send(mg, &c, MG_TCP_ACK | MG_TCP_PSH, seg, sizeof seg, 8192);
    g_assert_cmpuint(tcp_queued(mg, c.gport), ==, 0);
    g_assert_cmpuint(ns_next_deadline(mg->ctx), <=, (uint64_t)g_get_monotonic_time() * 1000u);
    ns_tick(mg->ctx);
    g_assert_cmpuint(tcp_queued(mg, c.gport), ==, 1);
    p = tcp_next(mg, &c, 0);
    g_assert_cmphex(p->flags, ==, MG_TCP_ACK);
    g_assert_cmpuint(p->ack, ==, c.snd_nxt);
    g_assert_cmpuint(p->data_len, ==, 0);
    mg_pkt_free(p);
    /* Nothing left to acknowledge: the next tick sends nothing. */
    ns_tick(mg->ctx);
    g_assert_cmpuint(tcp_queued(mg, c.gport), ==, 0);
    host_read_exact(mg, c.host, got, sizeof got);

    /* A shorter segment (the end of a write) is answered at once. */
    tcp_guest_send(mg, &c, MG_TCP_ACK | MG_TCP_PSH, "end", 3, 8192);
    g_assert_cmpuint(tcp_queued(mg, c.gport), ==, 1);
    p = tcp_next(mg, &c, 0);
    g_assert_cmpuint(p->ack, ==, c.snd_nxt);
    mg_pkt_free(p);
    host_read_exact(mg, c.host, got, 3);

    /* A segment after a hole is answered at once (a duplicate ACK). */
    c.snd_nxt += 500;
    tcp_guest_send(mg, &c, MG_TCP_ACK, seg, sizeof seg, 8192);
    g_assert_cmpuint(tcp_queued(mg, c.gport), ==, 1);
    p = tcp_next(mg, &c, 0);
    g_assert_cmpuint(p->ack, ==, c.snd_nxt - 500 - sizeof seg);
    mg_pkt_free(p);
    close(c.host);
    close(lfd);
    mg_free(mg);
}

/* The window is measured once per half window, not per segment, and its
 * right edge never moves left. */
static void test_tcp_window_edge(void)
{
    Mg *mg = mg_counting();
    uint16_t port = 0;
    int lfd = mg_tcp_listen(&port);
    uint8_t seg[1400], sink[1400];
    uint32_t edge = 0;
    unsigned acks = 0;
    TcpConn c;
    MgPkt *p;

    memset(seg, 'w', sizeof seg);
    tcp_open(mg, &c, lfd, port, 41101, 7, 8192);
    mg_drain(mg);
    cnt_space = 0;
    for (int i = 0; i < 40; i++) {
        tcp_guest_send(mg, &c, MG_TCP_ACK | MG_TCP_PSH, seg, sizeof seg, 8192);
        ns_tick(mg->ctx);
        while ((p = tcp_next(mg, &c, 0))) {
            uint32_t e = p->ack + ((uint32_t)p->win << 7);
            g_assert_true(edge == 0 || (int32_t)(e - edge) >= 0);
            edge = e;
            acks++;
            mg_pkt_free(p);
        }
        host_read_exact(mg, c.host, sink, sizeof seg);
    }
    g_assert_cmpuint(acks, >=, 10);
    g_assert_cmpuint(cnt_space, <=, 2);
    close(c.host);
    close(lfd);
    mg_free(mg);
}

/* Full-sized segments of a burst reach the host in one write when the
 * burst ends (and are acknowledged then, not before); a shorter segment
 * (the end of a write) sends what was staged at once, with itself. */
static void test_tcp_stage_burst(void)
{
    Mg *mg = mg_counting();
    uint16_t port = 0;
    int lfd = mg_tcp_listen(&port);
    uint8_t seg[1460], got[20000];
    size_t have = 0;
    TcpConn c;
    MgPkt *p;

    for (size_t i = 0; i < sizeof seg; i++)
        seg[i] = (uint8_t)(i * 3);
    tcp_open(mg, &c, lfd, port, 41105, 7, 8192);
    mg_drain(mg);
    for (int i = 0; i < 10; i++)
        tcp_guest_send(mg, &c, MG_TCP_ACK, seg, sizeof seg, 8192);
    g_assert_cmpuint(tcp_queued(mg, c.gport), ==, 0);
    g_assert_false(fd_wait(c.host, POLLIN, 0));
    ns_tick(mg->ctx);
    p = tcp_next(mg, &c, 0);
    g_assert_nonnull(p);
    g_assert_cmpuint(p->ack, ==, c.snd_nxt);
    mg_pkt_free(p);
    g_assert_null(tcp_next(mg, &c, 0));
    host_read_exact(mg, c.host, got, 10 * sizeof seg);
    for (int i = 0; i < 10; i++)
        g_assert_cmpmem(got + i * sizeof seg, sizeof seg, seg, sizeof seg);

    tcp_guest_send(mg, &c, MG_TCP_ACK, seg, sizeof seg, 8192);
    tcp_guest_send(mg, &c, MG_TCP_ACK, seg, sizeof seg, 8192);
    tcp_guest_send(mg, &c, MG_TCP_ACK | MG_TCP_PSH, "tail", 4, 8192);
    while (have < 2 * sizeof seg + 4) {
        ssize_t n = recv(c.host, got + have, sizeof got - have, MSG_DONTWAIT);
        g_assert_cmpint(n, >, 0);
        have += (size_t)n;
    }
    g_assert_cmpmem(got + 2 * sizeof seg, 4, "tail", 4);
    close(c.host);
    close(lfd);
    mg_free(mg);
}

static bool kernel_peeks_at_offset(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), off = 0;
    bool ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off) == 0;

    if (fd >= 0)
        close(fd);
    return ok;
}

/*
 * Host to guest with the guest acknowledging every segment: the socket
 * layer follows the kernel's peek offset (set once), acknowledged bytes
 * are consumed in batches, and the stream arrives whole.  rcvbuf: a small
 * receive buffer for the core's host socket, where bytes acknowledged but
 * not yet consumed would hold the host's window shut if they were kept.
 */
static void tcp_download(int rcvbuf, size_t total, uint16_t gport, unsigned mtu)
{
    Mg *mg;
    uint16_t port = 0;
    int lfd = mg_tcp_listen(&port);
    uint8_t *data = g_malloc(total);
    GByteArray *got = g_byte_array_new();
    unsigned long sets0 = ns_sock_peek_off_sets;
    unsigned acks = 0;
    size_t sent = 0;
    TcpConn c;
    MgPkt *p;
    char eof;

    cnt_rcvbuf = rcvbuf;
    mg = mg_counting_mtu(mtu);
    for (size_t i = 0; i < total; i++)
        data[i] = (uint8_t)(i * 31 + (i >> 10));
    tcp_open(mg, &c, lfd, port, gport, 7, 512); /* 64 KiB window */
    for (int i = 0; i < 20000 && got->len < total; i++) {
        if (sent < total) {
            ssize_t n = send(c.host, data + sent, total - sent, MSG_DONTWAIT);
            if (n > 0)
                sent += (size_t)n;
            if (sent == total)
                shutdown(c.host, SHUT_WR);
        }
        mg_poll(mg, 1);
        while ((p = tcp_next(mg, &c, 0))) {
            if (p->data_len && p->seq == c.rcv_nxt) {
                g_byte_array_append(got, p->data, (guint)p->data_len);
                c.rcv_nxt += (uint32_t)p->data_len;
                tcp_guest_send(mg, &c, MG_TCP_ACK, NULL, 0, 512);
                acks++;
            }
            mg_pkt_free(p);
        }
    }
    g_assert_cmpuint(got->len, ==, total);
    g_assert_cmpmem(got->data, total, data, total);
    if (kernel_peeks_at_offset())
        g_assert_cmpuint(ns_sock_peek_off_sets - sets0, <=, 1);
    g_assert_cmpuint(cnt_discard, <, acks);
    /* The core's FIN follows; closing both ways is clean (everything
     * consumed first, so no reset reaches the host). */
    p = tcp_next(mg, &c, WAIT_MS);
    g_assert_nonnull(p);
    g_assert_true(p->flags & MG_TCP_FIN);
    c.rcv_nxt++;
    mg_pkt_free(p);
    tcp_guest_send(mg, &c, MG_TCP_ACK | MG_TCP_FIN, NULL, 0, 512);
    g_assert_true(fd_wait_core(mg, c.host, POLLIN, WAIT_MS));
    g_assert_cmpint(recv(c.host, &eof, 1, MSG_DONTWAIT), ==, 0);
    cnt_rcvbuf = 0;
    g_byte_array_unref(got);
    g_free(data);
    close(c.host);
    close(lfd);
    mg_free(mg);
}

static void test_tcp_download_batched(void)
{
    tcp_download(0, 600000, 41102, 1500);
}

/* Segments of a large MTU are peeked straight into the outgoing frame. */
static void test_tcp_download_large_mtu(void)
{
    tcp_download(0, 2000000, 41104, 65520);
}

static void test_tcp_download_small_rcvbuf(void)
{
    tcp_download(4096, 200000, 41103, 1500);
}

/* The word-wide checksum agrees with the textbook one on any length,
 * alignment and starting sum. */
static uint32_t csum_ref(uint32_t sum, const uint8_t *p, size_t len)
{
    for (; len > 1; p += 2, len -= 2)
        sum += (uint32_t)(p[0] << 8 | p[1]);
    if (len)
        sum += (uint32_t)(p[0] << 8);
    return sum;
}

static void test_csum_reference(void)
{
    static uint8_t buf[70000];
    GRand *r = g_rand_new_with_seed(7);

    for (int t = 0; t < 3000; t++) {
        size_t off = (size_t)g_rand_int_range(r, 0, 8);
        size_t len = (size_t)g_rand_int_range(r, 0, t < 100 ? 65536 : 80);
        uint32_t sum0 = (uint32_t)g_rand_int_range(r, 0, 0x40000);
        for (size_t i = 0; i < off + len; i++)
            buf[i] = t % 5 == 0 ? 0xff : (uint8_t)g_rand_int(r);
        g_assert_cmphex(ns_csum_fold(ns_csum_add(sum0, buf + off, len)), ==,
                        ns_csum_fold(csum_ref(sum0, buf + off, len)));
    }
    g_rand_free(r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/netsock/arp/gateway", test_arp_gateway);
    g_test_add_func("/netsock/log/level", test_log_level);
    g_test_add_func("/netsock/dhcp/handshake", test_dhcp_handshake);
    g_test_add_func("/netsock/dhcp/nak-other-address", test_dhcp_nak);
    g_test_add_func("/netsock/icmp/ping-gateway", test_icmp_ping_gateway);
    g_test_add_func("/netsock/icmp/ping-socket", test_icmp_ping_socket);
    g_test_add_func("/netsock/udp/echo-loopback", test_udp_echo);
    g_test_add_func("/netsock/udp/loopback-off", test_udp_loopback_off);
    g_test_add_func("/netsock/udp/hostfwd", test_udp_hostfwd);
    g_test_add_func("/netsock/dns/forward", test_dns_forward);
    g_test_add_func("/netsock/dns/resolv-conf", test_dns_resolv_conf);
    g_test_add_func("/netsock/tcp/handshake-and-data", test_tcp_handshake_and_data);
    g_test_add_func("/netsock/tcp/flow-control", test_tcp_flow_control);
    g_test_add_func("/netsock/tcp/flow-control-peek-copy", test_tcp_flow_control_peek_copy);
    g_test_add_func("/netsock/tcp/pipelined", test_tcp_pipelined);
    g_test_add_func("/netsock/tcp/pipelined-peek-copy", test_tcp_pipelined_peek_copy);
    g_test_add_func("/netsock/tcp/fin-after-data", test_tcp_fin_after_data);
    g_test_add_func("/netsock/tcp/fin-after-data-peek-copy", test_tcp_fin_after_data_peek_copy);
    g_test_add_func("/netsock/tcp/rto-after-eof", test_tcp_rto_after_eof);
    g_test_add_func("/netsock/tcp/rto-after-eof-peek-copy", test_tcp_rto_after_eof_peek_copy);
    g_test_add_func("/netsock/tcp/reentrant-output", test_tcp_reentrant_output);
    g_test_add_func("/netsock/tcp/out-of-order", test_tcp_out_of_order);
    g_test_add_func("/netsock/tcp/backpressure", test_tcp_backpressure);
    g_test_add_func("/netsock/tcp/half-close", test_tcp_half_close);
    g_test_add_func("/netsock/tcp/refused-rst", test_tcp_refused);
    g_test_add_func("/netsock/tcp/guest-rst", test_tcp_guest_rst);
    g_test_add_func("/netsock/tcp/host-rst", test_tcp_host_rst);
    g_test_add_func("/netsock/tcp/hostfwd", test_tcp_hostfwd);
    g_test_add_func("/netsock/tcp/hostfwd-restricted", test_tcp_hostfwd_restricted);
    g_test_add_func("/netsock/tcp/hostfwd-unknown-mac", test_tcp_hostfwd_unknown_mac);
    g_test_add_func("/netsock/dns/no-resolver", test_dns_no_resolver);
    g_test_add_func("/netsock/tcp/time-wait-recycled", test_tcp_time_wait_recycled);
    g_test_add_func("/netsock/flow/deadlines", test_deadlines);
    g_test_add_func("/netsock/fwd/port-in-use", test_fwd_port_in_use);
    g_test_add_func("/netsock/flow/limit", test_flow_limit);
    g_test_add_func("/netsock/restrict", test_restrict);
    g_test_add_func("/netsock/malformed", test_malformed);
    g_test_add_func("/netsock/tcp/ack-coalesced", test_tcp_ack_coalesced);
    g_test_add_func("/netsock/tcp/window-edge", test_tcp_window_edge);
    g_test_add_func("/netsock/tcp/stage-burst", test_tcp_stage_burst);
    g_test_add_func("/netsock/tcp/download-batched", test_tcp_download_batched);
    g_test_add_func("/netsock/tcp/download-small-rcvbuf", test_tcp_download_small_rcvbuf);
    g_test_add_func("/netsock/tcp/download-large-mtu", test_tcp_download_large_mtu);
    g_test_add_func("/netsock/csum/reference", test_csum_reference);
    return g_test_run();
}
