/*
 * A miniature guest network stack for the net-socket tests (see
 * miniguest.h): frame builders with checksums, a poll() loop standing in
 * for the VM's main loop, and a parser that checks every frame sent back.
 */
#include "miniguest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const uint8_t mg_gw_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };

static void mg_parse(MgPkt *p)
{
    const uint8_t *ip;
    size_t ihl, tot;

    p->mss = p->wscale = -1;
    if (p->len < NS_ETH_HLEN)
        return;
    p->ethertype = ns_rd16(p->eth + 12);
    if (p->ethertype != NS_ETH_P_IP || p->len < NS_ETH_HLEN + 20)
        return;
    ip = p->eth + NS_ETH_HLEN;
    ihl = (size_t)(ip[0] & 15) * 4;
    tot = ns_rd16(ip + 2);
    if (tot > p->len - NS_ETH_HLEN || ihl < 20 || tot < ihl)
        return;
    p->src = ns_rd32(ip + 12);
    p->dst = ns_rd32(ip + 16);
    p->proto = ip[9];
    p->l4 = ip + ihl;
    p->l4_len = tot - ihl;
    p->csum_ok = ns_csum_fold(ns_csum_add(0, ip, ihl)) == 0;
    if (p->proto == NS_IPPROTO_ICMP) {
        p->csum_ok = p->csum_ok && ns_csum_fold(ns_csum_add(0, p->l4, p->l4_len)) == 0;
        p->data = p->l4;
        p->data_len = p->l4_len;
    } else if (p->proto == NS_IPPROTO_UDP && p->l4_len >= 8) {
        uint32_t sum = ns_csum_pseudo(p->src, p->dst, p->proto, p->l4_len);
        p->sport = ns_rd16(p->l4);
        p->dport = ns_rd16(p->l4 + 2);
        p->data = p->l4 + 8;
        p->data_len = ns_rd16(p->l4 + 4) - 8u;
        if (ns_rd16(p->l4 + 6))
            p->csum_ok = p->csum_ok && ns_csum_fold(ns_csum_add(sum, p->l4, p->l4_len)) == 0;
    } else if (p->proto == NS_IPPROTO_TCP && p->l4_len >= 20) {
        uint32_t sum = ns_csum_pseudo(p->src, p->dst, p->proto, p->l4_len);
        size_t doff = (size_t)(p->l4[12] >> 4) * 4;
        p->csum_ok = p->csum_ok && ns_csum_fold(ns_csum_add(sum, p->l4, p->l4_len)) == 0;
        p->sport = ns_rd16(p->l4);
        p->dport = ns_rd16(p->l4 + 2);
        p->seq = ns_rd32(p->l4 + 4);
        p->ack = ns_rd32(p->l4 + 8);
        p->flags = p->l4[13];
        p->win = ns_rd16(p->l4 + 14);
        p->data = p->l4 + doff;
        p->data_len = p->l4_len - doff;
        for (size_t i = 20; i < doff;) {
            uint8_t k = p->l4[i];
            if (k == 0)
                break;
            if (k == 1) {
                i++;
                continue;
            }
            if (k == 2)
                p->mss = ns_rd16(p->l4 + i + 2);
            if (k == 3)
                p->wscale = p->l4[i + 2];
            i += p->l4[i + 1];
        }
    }
}

static bool cb_output(void *opaque, const uint8_t *frame, size_t len)
{
    Mg *mg = opaque;
    MgPkt *p;

    if (mg->refuse_output)
        return false;
    p = g_new0(MgPkt, 1);
    p->frame = g_bytes_new(frame, len);
    p->eth = g_bytes_get_data(p->frame, &p->len);
    mg_parse(p);
    g_queue_push_tail(&mg->out, p);
    if (mg->on_output)
        mg->on_output(mg, p, mg->on_output_opaque);
    return true;
}

static void cb_watch(void *opaque, int fd, unsigned events)
{
    Mg *mg = opaque;

    if (events)
        g_hash_table_replace(mg->watched, GINT_TO_POINTER(fd), GUINT_TO_POINTER(events));
    else
        g_hash_table_remove(mg->watched, GINT_TO_POINTER(fd));
}

static uint64_t cb_now(void *opaque)
{
    Mg *mg = opaque;

    return (uint64_t)g_get_monotonic_time() * 1000u + mg->clock_skew;
}

static void cb_log(void *opaque, int level, const char *msg)
{
    Mg *mg = opaque;

    g_string_append_printf(mg->log, "%d: %s\n", level, msg);
    g_test_message("core log: %s", msg);
}

static bool cb_log_enabled(void *opaque, int level)
{
    Mg *mg = opaque;

    return level <= mg->log_level;
}

static const NsCallbacks mg_callbacks = {
    .output = cb_output,
    .watch = cb_watch,
    .now_ns = cb_now,
    .log = cb_log,
    .log_enabled = cb_log_enabled,
};

static Mg *mg_create(const NsConfig *cfg, const NsSockOps *ops, GError **error);

Mg *mg_try_new(const NsConfig *cfg, GError **error)
{
    return mg_create(cfg, NULL, error);
}

Mg *mg_new_ops(const NsConfig *cfg, const NsSockOps *ops)
{
    GError *err = NULL;
    Mg *mg = mg_create(cfg, ops, &err);

    g_assert_no_error(err);
    return mg;
}

static Mg *mg_create(const NsConfig *cfg, const NsSockOps *ops, GError **error)
{
    Mg *mg = g_new0(Mg, 1);
    static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

    if (cfg)
        mg->cfg = *cfg;
    else
        ns_config_default(&mg->cfg);
    memcpy(mg->mac, mac, 6);
    g_queue_init(&mg->out);
    mg->watched = g_hash_table_new(NULL, NULL);
    mg->log = g_string_new("");
    mg->log_level = 3;
    mg->ctx = ns_new(&mg->cfg, &mg_callbacks, mg, ops ? ops : &ns_sock_posix, NULL, error);
    if (!mg->ctx) {
        mg_free(mg);
        return NULL;
    }
    return mg;
}

Mg *mg_new(const NsConfig *cfg)
{
    GError *err = NULL;
    Mg *mg = mg_try_new(cfg, &err);

    g_assert_no_error(err);
    return mg;
}

void mg_pkt_free(MgPkt *p)
{
    if (!p)
        return;
    g_bytes_unref(p->frame);
    g_free(p);
}

void mg_drain(Mg *mg)
{
    MgPkt *p;

    while ((p = g_queue_pop_head(&mg->out)))
        mg_pkt_free(p);
}

void mg_free(Mg *mg)
{
    ns_free(mg->ctx);
    mg_drain(mg);
    g_hash_table_destroy(mg->watched);
    g_string_free(mg->log, TRUE);
    g_free(mg);
}

void mg_send_raw(Mg *mg, const void *frame, size_t len)
{
    ns_input(mg->ctx, frame, len);
}

GBytes *mg_build_eth(Mg *mg, uint16_t type, const void *payload, size_t len)
{
    uint8_t *f = g_malloc0(NS_ETH_HLEN + len);

    memcpy(f, mg_gw_mac, 6);
    memcpy(f + 6, mg->mac, 6);
    ns_wr16(f + 12, type);
    memcpy(f + NS_ETH_HLEN, payload, len);
    return g_bytes_new_take(f, NS_ETH_HLEN + len);
}

static void mg_send_bytes(Mg *mg, GBytes *b, uint16_t type)
{
    gsize len;
    const uint8_t *d = g_bytes_get_data(b, &len);
    GBytes *f = mg_build_eth(mg, type, d, len);

    d = g_bytes_get_data(f, &len);
    ns_input(mg->ctx, d, len);
    g_bytes_unref(f);
}

void mg_send_arp_request(Mg *mg, uint32_t target)
{
    uint8_t a[28] = { 0 };
    GBytes *b;

    ns_wr16(a, 1);
    ns_wr16(a + 2, NS_ETH_P_IP);
    a[4] = 6;
    a[5] = 4;
    ns_wr16(a + 6, 1);
    memcpy(a + 8, mg->mac, 6);
    ns_wr32(a + 14, MG_GUEST);
    ns_wr32(a + 24, target);
    b = g_bytes_new(a, sizeof a);
    mg_send_bytes(mg, b, NS_ETH_P_ARP);
    g_bytes_unref(b);
}

GBytes *mg_build_ip(Mg *mg, uint32_t src, uint32_t dst, uint8_t proto,
                    const void *l4, size_t len)
{
    uint8_t *p = g_malloc0(20 + len);

    p[0] = 0x45;
    ns_wr16(p + 2, (uint16_t)(20 + len));
    ns_wr16(p + 4, mg->ip_id++);
    ns_wr16(p + 6, 0x4000);
    p[8] = 64;
    p[9] = proto;
    ns_wr32(p + 12, src);
    ns_wr32(p + 16, dst);
    ns_wr16(p + 10, ns_csum_fold(ns_csum_add(0, p, 20)));
    memcpy(p + 20, l4, len);
    return g_bytes_new_take(p, 20 + len);
}

void mg_send_ip(Mg *mg, uint32_t src, uint32_t dst, uint8_t proto,
                const void *l4, size_t len)
{
    GBytes *b = mg_build_ip(mg, src, dst, proto, l4, len);

    mg_send_bytes(mg, b, NS_ETH_P_IP);
    g_bytes_unref(b);
}

void mg_send_udp_from(Mg *mg, uint32_t src, uint16_t sport, uint32_t dst,
                      uint16_t dport, const void *data, size_t len)
{
    uint8_t *u = g_malloc0(8 + len);
    uint16_t c;

    ns_wr16(u, sport);
    ns_wr16(u + 2, dport);
    ns_wr16(u + 4, (uint16_t)(8 + len));
    memcpy(u + 8, data, len);
    c = ns_csum_fold(ns_csum_add(ns_csum_pseudo(src, dst, NS_IPPROTO_UDP, 8 + len),
                                 u, 8 + len));
    ns_wr16(u + 6, c ? c : 0xffff);
    mg_send_ip(mg, src, dst, NS_IPPROTO_UDP, u, 8 + len);
    g_free(u);
}

void mg_send_udp(Mg *mg, uint16_t sport, uint32_t dst, uint16_t dport,
                 const void *data, size_t len)
{
    mg_send_udp_from(mg, MG_GUEST, sport, dst, dport, data, len);
}

void mg_send_icmp_echo(Mg *mg, uint32_t dst, uint16_t id, uint16_t seq,
                       const void *data, size_t len)
{
    uint8_t *m = g_malloc0(8 + len);

    m[0] = 8;
    ns_wr16(m + 4, id);
    ns_wr16(m + 6, seq);
    memcpy(m + 8, data, len);
    ns_wr16(m + 2, ns_csum_fold(ns_csum_add(0, m, 8 + len)));
    mg_send_ip(mg, MG_GUEST, dst, NS_IPPROTO_ICMP, m, 8 + len);
    g_free(m);
}

GBytes *mg_build_tcp(Mg *mg, uint16_t sport, uint32_t dst, uint16_t dport,
                     uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
                     int mss, int wscale, const void *data, size_t len)
{
    uint8_t opts[8];
    size_t olen = 0, hlen;
    uint8_t *t;
    GBytes *ip;

    if (mss >= 0) {
        opts[olen++] = 2;
        opts[olen++] = 4;
        ns_wr16(opts + olen, (uint16_t)mss);
        olen += 2;
    }
    if (wscale >= 0) {
        opts[olen++] = 1;
        opts[olen++] = 3;
        opts[olen++] = 3;
        opts[olen++] = (uint8_t)wscale;
    }
    hlen = 20 + olen;
    t = g_malloc0(hlen + len);
    ns_wr16(t, sport);
    ns_wr16(t + 2, dport);
    ns_wr32(t + 4, seq);
    ns_wr32(t + 8, ack);
    t[12] = (uint8_t)((hlen / 4) << 4);
    t[13] = flags;
    ns_wr16(t + 14, win);
    memcpy(t + 20, opts, olen);
    if (len)
        memcpy(t + hlen, data, len);
    ns_wr16(t + 16, ns_csum_fold(ns_csum_add(
                        ns_csum_pseudo(MG_GUEST, dst, NS_IPPROTO_TCP, hlen + len),
                        t, hlen + len)));
    ip = mg_build_ip(mg, MG_GUEST, dst, NS_IPPROTO_TCP, t, hlen + len);
    g_free(t);
    return ip;
}

void mg_send_tcp(Mg *mg, uint16_t sport, uint32_t dst, uint16_t dport,
                 uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
                 int mss, int wscale, const void *data, size_t len)
{
    GBytes *ip = mg_build_tcp(mg, sport, dst, dport, seq, ack, flags, win,
                              mss, wscale, data, len);

    mg_send_bytes(mg, ip, NS_ETH_P_IP);
    g_bytes_unref(ip);
}

void mg_poll(Mg *mg, int ms)
{
    guint n = g_hash_table_size(mg->watched);
    struct pollfd *pfd = g_new0(struct pollfd, n ? n : 1);
    GHashTableIter it;
    gpointer k, v;
    guint i = 0;

    g_hash_table_iter_init(&it, mg->watched);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        pfd[i].fd = GPOINTER_TO_INT(k);
        pfd[i].events = (short)GPOINTER_TO_UINT(v);
        i++;
    }
    if (poll(pfd, n, ms) > 0) {
        for (i = 0; i < n; i++) {
            gpointer ev;
            if (!pfd[i].revents)
                continue;
            /* Skip descriptors closed (or re-registered) meanwhile. */
            if (!g_hash_table_lookup_extended(mg->watched, GINT_TO_POINTER(pfd[i].fd),
                                              NULL, &ev) ||
                !(pfd[i].revents & (GPOINTER_TO_UINT(ev) | POLLERR | POLLHUP)))
                continue;
            ns_sock_event(mg->ctx, pfd[i].fd, (unsigned)pfd[i].revents);
        }
    }
    ns_tick(mg->ctx);
    g_free(pfd);
}

MgPkt *mg_next(Mg *mg, int ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

    while (g_queue_is_empty(&mg->out)) {
        gint64 left = end - g_get_monotonic_time();
        if (left <= 0)
            return NULL;
        mg_poll(mg, (int)MIN(left / 1000 + 1, 20));
    }
    return g_queue_pop_head(&mg->out);
}

MgPkt *mg_next_l4(Mg *mg, uint8_t proto, uint16_t dport, int ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

    for (;;) {
        gint64 left = end - g_get_monotonic_time();
        MgPkt *p = mg_next(mg, (int)MAX(left / 1000, 0));
        if (!p)
            return NULL;
        if (p->ethertype == NS_ETH_P_IP && p->proto == proto &&
            (!dport || p->dport == dport))
            return p;
        mg_pkt_free(p);
    }
}

static int mg_bound(int type, uint16_t *port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t sl = sizeof sa;
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(*port);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof sa), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &sl), ==, 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

int mg_tcp_listen(uint16_t *port)
{
    int fd = mg_bound(SOCK_STREAM, port);

    g_assert_cmpint(listen(fd, 8), ==, 0);
    return fd;
}

int mg_udp_bind(uint16_t *port)
{
    return mg_bound(SOCK_DGRAM, port);
}

uint16_t mg_unused_port(void)
{
    uint16_t port = 0;
    int fd = mg_bound(SOCK_STREAM, &port);

    close(fd); /* bound, never listened: connecting there is refused */
    return port;
}
