/*
 * DHCP client of the guest network library: DISCOVER, OFFER, REQUEST, ACK
 * (RFC 2131), taking the address, mask, router, DNS server and lease.
 */
#include <string.h>

#include "net.h"

#define DHCP_RETRY_MS 1000
#define DHCP_MAGIC 0x63825363u

enum { DHCPDISCOVER = 1, DHCPOFFER = 2, DHCPREQUEST = 3, DHCPACK = 5, DHCPNAK = 6 };

struct dhcp_state {
    uint32_t xid;
    int phase; /* 0 discovering, 1 requesting, 2 bound, -1 refused */
    ip4_t offered, server, mask, router, dns;
    uint32_t lease;
};

/* Fill the fixed part of a BOOTP request; returns where the options start. */
static size_t dhcp_header(uint8_t *m, uint32_t xid)
{
    memset(m, 0, 240);
    m[0] = 1; /* BOOTREQUEST */
    m[1] = 1; /* Ethernet */
    m[2] = 6;
    net_put32(m + 4, xid);
    net_put16(m + 10, 0x8000); /* replies by broadcast: we have no address yet */
    memcpy(m + 28, net_if.mac, 6);
    net_put32(m + 236, DHCP_MAGIC);
    return 240;
}

static void dhcp_send(struct udp_sock *s, struct dhcp_state *st, int type)
{
    uint8_t m[300];
    size_t o = dhcp_header(m, st->xid);

    m[o++] = 53;
    m[o++] = 1;
    m[o++] = (uint8_t)type;
    if (type == DHCPREQUEST) {
        m[o++] = 50;
        m[o++] = 4;
        net_put32(m + o, st->offered);
        o += 4;
        m[o++] = 54;
        m[o++] = 4;
        net_put32(m + o, st->server);
        o += 4;
    }
    m[o++] = 55; /* parameter request list */
    m[o++] = 3;
    m[o++] = 1;
    m[o++] = 3;
    m[o++] = 6;
    m[o++] = 255;
    udp_sendto(s, 0xffffffffu, 67, m, o);
}

static void dhcp_recv(void *ctx, ip4_t src, uint16_t sport, const uint8_t *m, size_t len)
{
    struct dhcp_state *st = ctx;
    int type = 0;
    ip4_t server = 0, mask = 0, router = 0, dns = 0;
    uint32_t lease = 0;

    if (len < 240 || m[0] != 2 || net_get32(m + 4) != st->xid ||
        net_get32(m + 236) != DHCP_MAGIC || memcmp(m + 28, net_if.mac, 6) != 0)
        return;
    for (size_t o = 240; o < len;) {
        uint8_t code = m[o], n;
        if (code == 255)
            break;
        if (code == 0) {
            o++;
            continue;
        }
        if (o + 2 > len || o + 2 + m[o + 1] > len)
            break;
        n = m[o + 1];
        const uint8_t *v = m + o + 2;
        if (code == 53 && n >= 1)
            type = v[0];
        else if (code == 54 && n >= 4)
            server = net_get32(v);
        else if (code == 1 && n >= 4)
            mask = net_get32(v);
        else if (code == 3 && n >= 4)
            router = net_get32(v);
        else if (code == 6 && n >= 4)
            dns = net_get32(v);
        else if (code == 51 && n >= 4)
            lease = net_get32(v);
        o += 2u + n;
    }
    if (st->phase == 0 && type == DHCPOFFER) {
        st->offered = net_get32(m + 16);
        st->server = server ? server : src;
        st->phase = 1;
    } else if (st->phase == 1 && type == DHCPACK) {
        st->offered = net_get32(m + 16);
        st->mask = mask;
        st->router = router;
        st->dns = dns;
        st->lease = lease;
        st->phase = 2;
    } else if (st->phase == 1 && type == DHCPNAK) {
        st->phase = 0;
    }
}

int dhcp_run(uint32_t timeout_ms)
{
    struct dhcp_state st = { .xid = net_random() };
    struct udp_sock *s;
    uint32_t start = net_now_ms, sent_at = 0;
    int sent_phase = -1;

    if (!net_if.up)
        return -1;
    net_if.addr = 0;
    s = udp_bind(68, dhcp_recv, &st);
    if (!s)
        return -1;
    while (st.phase != 2 && net_now_ms - start < timeout_ms) {
        if (st.phase != sent_phase || net_now_ms - sent_at >= DHCP_RETRY_MS) {
            dhcp_send(s, &st, st.phase == 0 ? DHCPDISCOVER : DHCPREQUEST);
            sent_phase = st.phase;
            sent_at = net_now_ms;
        }
        net_wait();
    }
    udp_unbind(s);
    if (st.phase != 2)
        return -1;
    net_if.addr = st.offered;
    net_if.mask = st.mask ? st.mask : 0xffffff00u;
    net_if.router = st.router;
    net_if.dns = st.dns;
    net_if.lease_s = st.lease;
    return 0;
}
