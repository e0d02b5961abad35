/*
 * The guest IPv4 stack's lower half: Ethernet, ARP (cache and requests),
 * IPv4 (checksum, no fragments), ICMP echo and UDP sockets.
 */
#include <stdio.h>
#include <string.h>

#include "net.h"

#define ETH_HDR 14
#define ETH_ARP 0x0806
#define ETH_IP 0x0800
#define ARP_RETRY_MS 1000
#define ARP_GIVEUP_MS 5000
#define ARP_TTL_MS 300000

volatile uint32_t net_now_ms;
void (*net_idle_hook)(void);
struct net_if net_if;
struct arp_entry arp_cache[ARP_ENTRIES];
icmp_reply_fn icmp_on_reply;
uint32_t icmp_echo_answered;

static const uint8_t eth_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static uint8_t rx_frame[1536];
static uint16_t ip_ident;
static struct udp_sock udp_socks[UDP_SOCKS];

/* One datagram held per ARP entry while its address is being resolved. */
static struct {
    uint8_t frame[ETH_HDR + 20 + IP_MAX_PAYLOAD];
    size_t len;
} arp_pending[ARP_ENTRIES];

uint16_t net_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
uint32_t net_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
void net_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
void net_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* xorshift32 seeded from the time-stamp counter: ports, sequence numbers, ids. */
uint32_t net_random(void)
{
    static uint32_t s;
    if (!s) {
        uint32_t lo, hi;
        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        s = (lo ^ hi ^ 0x9e3779b9u) | 1;
    }
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
}

uint32_t net_csum_add(uint32_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (; len > 1; len -= 2, p += 2)
        sum += (uint32_t)(p[0] << 8 | p[1]);
    if (len)
        sum += (uint32_t)p[0] << 8;
    return sum;
}

uint16_t net_csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

int ip4_parse(const char *text, ip4_t *out)
{
    ip4_t a = 0;
    for (int part = 0; part < 4; part++) {
        unsigned v = 0, digits = 0;
        while (*text >= '0' && *text <= '9' && digits < 4) {
            v = v * 10 + (unsigned)(*text++ - '0');
            digits++;
        }
        if (!digits || v > 255)
            return -1;
        a = a << 8 | v;
        if (part < 3 && *text++ != '.')
            return -1;
    }
    if (*text)
        return -1;
    *out = a;
    return 0;
}

char *ip4_format(ip4_t a, char *buf)
{
    snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
    return buf;
}

static void eth_send(const uint8_t dst[6], uint16_t type, uint8_t *frame, size_t len)
{
    memcpy(frame, dst, 6);
    memcpy(frame + 6, net_if.mac, 6);
    net_put16(frame + 12, type);
    if (ne2k_send(frame, len) == 0)
        net_if.tx_frames++;
    else
        net_if.tx_errors++;
}

/* ---- ARP ---- */

static void arp_send(uint16_t op, const uint8_t tha[6], ip4_t tpa, const uint8_t *dst)
{
    uint8_t f[ETH_HDR + 28];
    uint8_t *a = f + ETH_HDR;

    net_put16(a, 1);
    net_put16(a + 2, ETH_IP);
    a[4] = 6;
    a[5] = 4;
    net_put16(a + 6, op);
    memcpy(a + 8, net_if.mac, 6);
    net_put32(a + 14, net_if.addr);
    memcpy(a + 18, tha, 6);
    net_put32(a + 24, tpa);
    eth_send(dst, ETH_ARP, f, sizeof f);
}

static struct arp_entry *arp_find(ip4_t ip)
{
    for (unsigned i = 0; i < ARP_ENTRIES; i++)
        if (arp_cache[i].state && arp_cache[i].ip == ip)
            return &arp_cache[i];
    return NULL;
}

/* A slot for ip: a free one, else the oldest (its held datagram is lost). */
static struct arp_entry *arp_slot(ip4_t ip)
{
    struct arp_entry *e = arp_find(ip), *old = &arp_cache[0];
    if (e)
        return e;
    for (unsigned i = 0; i < ARP_ENTRIES; i++) {
        if (!arp_cache[i].state)
            return &arp_cache[i];
        if ((int32_t)(arp_cache[i].stamp_ms - old->stamp_ms) < 0)
            old = &arp_cache[i];
    }
    arp_pending[old - arp_cache].len = 0;
    old->state = 0;
    return old;
}

static void arp_learn(ip4_t ip, const uint8_t mac[6], int create)
{
    struct arp_entry *e = create ? arp_slot(ip) : arp_find(ip);
    size_t i;

    if (!e)
        return;
    e->ip = ip;
    memcpy(e->mac, mac, 6);
    e->state = 2;
    e->stamp_ms = net_now_ms;
    i = (size_t)(e - arp_cache);
    if (arp_pending[i].len) {
        size_t len = arp_pending[i].len;
        arp_pending[i].len = 0;
        eth_send(mac, ETH_IP, arp_pending[i].frame, len);
    }
}

static void arp_input(const uint8_t *a, size_t len)
{
    ip4_t spa, tpa;

    if (len < 28 || net_get16(a) != 1 || net_get16(a + 2) != ETH_IP || a[4] != 6 || a[5] != 4)
        return;
    spa = net_get32(a + 14);
    tpa = net_get32(a + 24);
    if (!net_if.addr || !spa)
        return;
    /* Refresh a known sender; add it only if the request is for us. */
    arp_learn(spa, a + 8, tpa == net_if.addr);
    if (net_get16(a + 6) == 1 && tpa == net_if.addr)
        arp_send(2, a + 8, spa, a + 8);
}

static void arp_timers(void)
{
    for (unsigned i = 0; i < ARP_ENTRIES; i++) {
        struct arp_entry *e = &arp_cache[i];
        uint32_t age = net_now_ms - e->stamp_ms;
        if (e->state == 1 && age >= ARP_GIVEUP_MS) {
            e->state = 0;
            arp_pending[i].len = 0;
        } else if (e->state == 1 && (int32_t)(net_now_ms - e->retry_ms) >= 0) {
            e->retry_ms = net_now_ms + ARP_RETRY_MS;
            arp_send(1, (const uint8_t[6]){ 0 }, e->ip, eth_bcast);
        } else if (e->state == 2 && age >= ARP_TTL_MS) {
            e->state = 0;
        }
    }
}

/* ---- IPv4 ---- */

int ip_send(ip4_t dst, uint8_t proto, const void *payload, size_t len)
{
    static uint8_t f[ETH_HDR + 20 + IP_MAX_PAYLOAD];
    uint8_t *h = f + ETH_HDR;
    ip4_t hop = dst;
    struct arp_entry *e;
    size_t n;

    if (len > IP_MAX_PAYLOAD)
        return -1;
    h[0] = 0x45;
    h[1] = 0;
    net_put16(h + 2, (uint16_t)(20 + len));
    net_put16(h + 4, ip_ident++);
    net_put16(h + 6, 0x4000); /* don't fragment */
    h[8] = 64;
    h[9] = proto;
    net_put16(h + 10, 0);
    net_put32(h + 12, net_if.addr);
    net_put32(h + 16, dst);
    net_put16(h + 10, net_csum_fold(net_csum_add(0, h, 20)));
    memcpy(h + 20, payload, len);
    n = ETH_HDR + 20 + len;

    if (dst == 0xffffffffu || (net_if.mask && (dst | net_if.mask) == 0xffffffffu &&
                               (dst & net_if.mask) == (net_if.addr & net_if.mask))) {
        eth_send(eth_bcast, ETH_IP, f, n);
        return 0;
    }
    if (net_if.mask && (dst & net_if.mask) != (net_if.addr & net_if.mask)) {
        if (!net_if.router)
            return -1;
        hop = net_if.router;
    }
    e = arp_find(hop);
    if (e && e->state == 2) {
        eth_send(e->mac, ETH_IP, f, n);
        return 0;
    }
    if (!e) {
        e = arp_slot(hop);
        e->ip = hop;
        e->state = 1;
        e->stamp_ms = net_now_ms;
        e->retry_ms = net_now_ms + ARP_RETRY_MS;
        arp_send(1, (const uint8_t[6]){ 0 }, hop, eth_bcast);
    }
    /* Held until the reply (a newer datagram replaces an older one). */
    memcpy(arp_pending[e - arp_cache].frame, f, n);
    arp_pending[e - arp_cache].len = n;
    return 0;
}

static void ip_input(const uint8_t *h, size_t len)
{
    size_t hl, tl;
    ip4_t src, dst;

    if (len < 20 || (h[0] >> 4) != 4)
        return;
    hl = (size_t)(h[0] & 15) * 4;
    tl = net_get16(h + 2);
    if (hl < 20 || tl < hl || tl > len || net_csum_fold(net_csum_add(0, h, hl)) != 0 ||
        (net_get16(h + 6) & 0x3fff) /* a fragment: not supported */) {
        net_if.rx_ip_bad++;
        return;
    }
    src = net_get32(h + 12);
    dst = net_get32(h + 16);
    /* Ours, broadcast, or anything while unconfigured (DHCP offers). */
    if (net_if.addr && dst != net_if.addr && dst != 0xffffffffu &&
        !(net_if.mask && (dst | net_if.mask) == 0xffffffffu)) {
        net_if.rx_not_ours++;
        return;
    }
    switch (h[9]) {
    case IP_PROTO_ICMP: icmp_input(src, h + hl, tl - hl); break;
    case IP_PROTO_UDP: udp_input(src, dst, h + hl, tl - hl); break;
    case IP_PROTO_TCP: tcp_input(src, dst, h + hl, tl - hl); break;
    default: break;
    }
}

/* ---- ICMP echo ---- */

void icmp_input(ip4_t src, const uint8_t *p, size_t len)
{
    static uint8_t reply[IP_MAX_PAYLOAD];

    if (len < 8 || len > sizeof reply || net_csum_fold(net_csum_add(0, p, len)) != 0)
        return;
    if (p[0] == 8 && net_if.addr) {
        memcpy(reply, p, len);
        reply[0] = 0;
        net_put16(reply + 2, 0);
        net_put16(reply + 2, net_csum_fold(net_csum_add(0, reply, len)));
        if (ip_send(src, IP_PROTO_ICMP, reply, len) == 0)
            icmp_echo_answered++;
    } else if (p[0] == 0 && icmp_on_reply) {
        uint32_t sent = len >= 12 ? net_get32(p + 8) : 0;
        icmp_on_reply(src, net_get16(p + 4), net_get16(p + 6), sent);
    }
}

int icmp_ping(ip4_t dst, uint16_t id, uint16_t seq)
{
    uint8_t p[8 + 4 + 44];

    memset(p, 0, sizeof p);
    p[0] = 8;
    net_put16(p + 4, id);
    net_put16(p + 6, seq);
    net_put32(p + 8, net_now_ms);
    for (unsigned i = 12; i < sizeof p; i++)
        p[i] = (uint8_t)i;
    net_put16(p + 2, net_csum_fold(net_csum_add(0, p, sizeof p)));
    return ip_send(dst, IP_PROTO_ICMP, p, sizeof p);
}

/* ---- UDP ---- */

struct udp_sock *udp_bind(uint16_t port, udp_recv_fn recv, void *ctx)
{
    struct udp_sock *free_slot = NULL;

    for (unsigned i = 0; i < UDP_SOCKS; i++) {
        if (port && udp_socks[i].port == port)
            return NULL;
        if (!udp_socks[i].port && !free_slot)
            free_slot = &udp_socks[i];
    }
    if (!free_slot)
        return NULL;
    while (!port) {
        uint16_t cand = (uint16_t)(49152 + net_random() % 16000);
        port = cand;
        for (unsigned i = 0; i < UDP_SOCKS; i++)
            if (udp_socks[i].port == cand)
                port = 0;
    }
    free_slot->port = port;
    free_slot->recv = recv;
    free_slot->ctx = ctx;
    return free_slot;
}

void udp_unbind(struct udp_sock *s)
{
    if (s)
        memset(s, 0, sizeof *s);
}

int udp_sendto(struct udp_sock *s, ip4_t dst, uint16_t dport, const void *data, size_t len)
{
    static uint8_t d[IP_MAX_PAYLOAD];
    uint8_t ph[12];
    uint32_t sum;

    if (!s || len + 8 > sizeof d)
        return -1;
    net_put16(d, s->port);
    net_put16(d + 2, dport);
    net_put16(d + 4, (uint16_t)(8 + len));
    net_put16(d + 6, 0);
    memcpy(d + 8, data, len);
    net_put32(ph, net_if.addr);
    net_put32(ph + 4, dst);
    ph[8] = 0;
    ph[9] = IP_PROTO_UDP;
    net_put16(ph + 10, (uint16_t)(8 + len));
    sum = net_csum_fold(net_csum_add(net_csum_add(0, ph, 12), d, 8 + len));
    net_put16(d + 6, sum ? (uint16_t)sum : 0xffff);
    return ip_send(dst, IP_PROTO_UDP, d, 8 + len);
}

void udp_input(ip4_t src, ip4_t dst, const uint8_t *p, size_t len)
{
    size_t ul;
    uint16_t dport;

    ul = len >= 8 ? net_get16(p + 4) : 0;
    if (ul < 8 || ul > len) {
        net_if.rx_udp_bad++;
        return;
    }
    if (net_get16(p + 6)) {
        uint8_t ph[12];
        net_put32(ph, src);
        net_put32(ph + 4, dst);
        ph[8] = 0;
        ph[9] = IP_PROTO_UDP;
        net_put16(ph + 10, (uint16_t)ul);
        if (net_csum_fold(net_csum_add(net_csum_add(0, ph, 12), p, ul)) != 0) {
            net_if.rx_udp_bad++;
            return;
        }
    }
    dport = net_get16(p + 2);
    for (unsigned i = 0; i < UDP_SOCKS; i++)
        if (udp_socks[i].port == dport && udp_socks[i].recv) {
            udp_socks[i].recv(udp_socks[i].ctx, src, net_get16(p), p + 8, ul - 8);
            return;
        }
    net_if.rx_udp_unbound++;
}

/* ---- the interface ---- */

int net_init(uint16_t iobase)
{
    memset(&net_if, 0, sizeof net_if);
    if (ne2k_probe(iobase, net_if.mac) < 0)
        return -1;
    ne2k_start(iobase, net_if.mac);
    net_if.up = 1;
    net_if.irq = -1;
    ip_ident = (uint16_t)net_random();
    return 0;
}

void net_poll(void)
{
    static uint32_t last_timer;
    size_t len;

    if (!net_if.up)
        return;
    /* A bounded batch, so that a flood cannot starve the caller. */
    for (unsigned n = 0; n < 32 && (len = ne2k_recv(rx_frame, sizeof rx_frame)) != 0; n++) {
        uint16_t type;
        net_if.rx_frames++;
        if (len < ETH_HDR)
            continue;
        type = net_get16(rx_frame + 12);
        if (type == ETH_ARP)
            arp_input(rx_frame + ETH_HDR, len - ETH_HDR);
        else if (type == ETH_IP)
            ip_input(rx_frame + ETH_HDR, len - ETH_HDR);
    }
    if (net_now_ms != last_timer) {
        last_timer = net_now_ms;
        arp_timers();
        tcp_timers();
    }
}

void net_wait(void)
{
    net_poll();
    if (net_idle_hook)
        net_idle_hook();
}
