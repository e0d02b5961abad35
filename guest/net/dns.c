/*
 * DNS client of the guest network library: one A query over UDP to the
 * server DHCP named, retried, answer records parsed with name compression.
 */
#include <string.h>

#include "net.h"

#define DNS_RETRY_MS 1000

struct dns_query {
    uint16_t id;
    int done; /* 1 answered with an address, -1 answered without one */
    ip4_t addr;
    const char *err;
};

/* Skip a (possibly compressed) name at o; the offset after it, or 0. */
static size_t dns_skip_name(const uint8_t *m, size_t len, size_t o)
{
    for (unsigned labels = 0; o < len && labels < 128; labels++) {
        uint8_t n = m[o];
        if (n == 0)
            return o + 1;
        if ((n & 0xc0) == 0xc0)
            return o + 2 <= len ? o + 2 : 0;
        if (n & 0xc0)
            return 0;
        o += 1u + n;
    }
    return 0;
}

static void dns_recv(void *ctx, ip4_t src, uint16_t sport, const uint8_t *m, size_t len)
{
    struct dns_query *q = ctx;
    unsigned qd, an;
    size_t o = 12;

    if (len < 12 || net_get16(m) != q->id || !(m[2] & 0x80) || q->done)
        return;
    if ((m[3] & 15) != 0) {
        q->err = (m[3] & 15) == 3 ? "no such name" : "server failure";
        q->done = -1;
        return;
    }
    qd = net_get16(m + 4);
    an = net_get16(m + 6);
    for (unsigned i = 0; i < qd; i++) {
        o = dns_skip_name(m, len, o);
        if (!o || o + 4 > len)
            goto malformed;
        o += 4;
    }
    for (unsigned i = 0; i < an; i++) {
        uint16_t type, rdlen;
        o = dns_skip_name(m, len, o);
        if (!o || o + 10 > len)
            goto malformed;
        type = net_get16(m + o);
        rdlen = net_get16(m + o + 8);
        o += 10;
        if (o + rdlen > len)
            goto malformed;
        /* CNAMEs come first; the first A record is the answer. */
        if (type == 1 && net_get16(m + o - 8) == 1 && rdlen == 4) {
            q->addr = net_get32(m + o);
            q->done = 1;
            return;
        }
        o += rdlen;
    }
    q->err = "no address record in the answer";
    q->done = -1;
    return;
malformed:
    q->err = "malformed answer";
    q->done = -1;
}

/* Encode the query; its length, or 0 if name is not a valid host name. */
static size_t dns_build(uint8_t *m, size_t cap, uint16_t id, const char *name)
{
    size_t o = 12, n = strlen(name);

    if (n == 0 || n > 253 || o + n + 2 + 4 > cap)
        return 0;
    memset(m, 0, 12);
    net_put16(m, id);
    m[2] = 0x01; /* recursion desired */
    net_put16(m + 4, 1);
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        if (l == 0 || l > 63)
            return 0;
        m[o++] = (uint8_t)l;
        memcpy(m + o, name, l);
        o += l;
        name += l;
        if (*name == '.')
            name++;
    }
    m[o++] = 0;
    net_put16(m + o, 1); /* A */
    net_put16(m + o + 2, 1); /* IN */
    return o + 4;
}

int dns_query(const char *name, ip4_t server, uint16_t port, ip4_t *out, uint32_t timeout_ms,
              const char **err)
{
    struct dns_query q = { .id = (uint16_t)net_random() };
    struct udp_sock *s;
    uint8_t m[300];
    size_t len;
    uint32_t start = net_now_ms, sent_at = 0;
    int sent = 0;

    if (ip4_parse(name, out) == 0)
        return 0;
    len = dns_build(m, sizeof m, q.id, name);
    if (!len) {
        *err = "not a valid host name";
        return -1;
    }
    if (!server) {
        *err = "no DNS server (DHCP gave none)";
        return -1;
    }
    s = udp_bind(0, dns_recv, &q);
    if (!s) {
        *err = "no free UDP socket";
        return -1;
    }
    while (!q.done && net_now_ms - start < timeout_ms) {
        if (!sent || net_now_ms - sent_at >= DNS_RETRY_MS) {
            udp_sendto(s, server, port, m, len);
            sent = 1;
            sent_at = net_now_ms;
        }
        net_wait();
    }
    udp_unbind(s);
    if (q.done == 1) {
        *out = q.addr;
        return 0;
    }
    *err = q.done ? q.err : "no answer (timed out)";
    return -1;
}

int dns_resolve(const char *name, ip4_t *out, uint32_t timeout_ms, const char **err)
{
    return dns_query(name, net_if.dns, 53, out, timeout_ms, err);
}
