/*
 * net-socket IPv4: header validation (version, lengths, checksum, source),
 * protocol demultiplexing and the IP header of everything sent back.
 * Fragments are counted and dropped: the guest's stack does path MTU
 * discovery and we advertise our MTU in TCP's MSS.
 */
#include "ns.h"

#include <string.h>

/*
 * The Internet checksum of data, added to sum (RFC 1071).  The ones'
 * complement sum does not depend on byte order except for a final swap,
 * so the bulk is summed eight bytes at a time in the host's order (with
 * end-around carry) and swapped to big-endian words once at the end.
 */
uint32_t ns_csum_add(uint32_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t acc = 0;
    uint32_t s;

    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        acc += w;
        acc += acc < w; /* end-around carry */
        p += 8;
        len -= 8;
    }
    while (len >= 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        acc += w;
        acc += acc < w;
        p += 2;
        len -= 2;
    }
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffffffu) + (acc >> 32);
    s = (uint32_t)acc;
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    s = (uint32_t)__builtin_bswap16((uint16_t)s);
#endif
    /* A last odd byte is the high half of a big-endian word. */
    if (len)
        s += (uint32_t)(p[0] << 8);
    sum += s;
    /* Fold early so long chains cannot overflow the accumulator. */
    return (sum & 0xffff) + (sum >> 16);
}

uint16_t ns_csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

uint32_t ns_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, size_t len)
{
    uint32_t sum = 0;

    sum += src >> 16;
    sum += src & 0xffff;
    sum += dst >> 16;
    sum += dst & 0xffff;
    sum += proto;
    sum += (uint32_t)len;
    return sum;
}

void ns_ip_input(NsCtx *ctx, const uint8_t *p, size_t len)
{
    size_t ihl, tot;
    uint32_t src, dst;
    uint16_t frag;

    if (len < 20 || (p[0] >> 4) != 4) {
        ns_stat_inc(ctx, NS_ST_IP_BAD_HEADER);
        return;
    }
    ihl = (size_t)(p[0] & 0xf) * 4;
    tot = ns_rd16(p + 2);
    /* The frame may carry Ethernet padding after the datagram. */
    if (ihl < 20 || tot < ihl || tot > len) {
        ns_stat_inc(ctx, NS_ST_IP_BAD_HEADER);
        return;
    }
    if (ns_csum_fold(ns_csum_add(0, p, ihl)) != 0) {
        ns_stat_inc(ctx, NS_ST_IP_BAD_CSUM);
        return;
    }
    frag = ns_rd16(p + 6);
    if (frag & 0x3fff) { /* MF set or a non-zero offset */
        ns_stat_inc(ctx, NS_ST_IP_FRAGMENT);
        return;
    }
    src = ns_rd32(p + 12);
    dst = ns_rd32(p + 16);

    /* Only DHCP may come from 0.0.0.0; nothing else but our guest. */
    if (src != ctx->cfg.guest) {
        if (src == 0 && p[9] == NS_IPPROTO_UDP) {
            ns_udp_input(ctx, src, dst, p + ihl, tot - ihl, p, tot);
            return;
        }
        ns_stat_inc(ctx, NS_ST_IP_BAD_SRC);
        return;
    }
    switch (p[9]) {
    case NS_IPPROTO_ICMP:
        ns_icmp_input(ctx, src, dst, p + ihl, tot - ihl);
        break;
    case NS_IPPROTO_UDP:
        ns_udp_input(ctx, src, dst, p + ihl, tot - ihl, p, tot);
        break;
    case NS_IPPROTO_TCP:
        ns_tcp_input(ctx, src, dst, p + ihl, tot - ihl);
        break;
    default:
        ns_stat_inc(ctx, NS_ST_IP_UNKNOWN_PROTO);
        break;
    }
}

/**
 * ns_ip_output() - Send the L4 bytes at ns_ip_payload() to the guest.
 * @proto: IP protocol number
 * @src, @dst: addresses (host order)
 * @len: bytes of L4 header and payload (at most ns_ip_max_payload())
 *
 * The L4 checksum must already be filled in.  Return: true if sent.
 */
bool ns_ip_output(NsCtx *ctx, uint8_t proto, uint32_t src, uint32_t dst,
                  size_t len)
{
    uint8_t *h = ns_eth_payload(ctx);

    if (len > ns_ip_max_payload(ctx))
        return false;
    h[0] = 0x45;
    h[1] = 0;
    ns_wr16(h + 2, (uint16_t)(20 + len));
    ns_wr16(h + 4, ctx->ip_id++);
    ns_wr16(h + 6, 0x4000); /* DF */
    h[8] = 64;
    h[9] = proto;
    ns_wr16(h + 10, 0);
    ns_wr32(h + 12, src);
    ns_wr32(h + 16, dst);
    ns_wr16(h + 10, ns_csum_fold(ns_csum_add(0, h, 20)));
    return ns_eth_output(ctx, NULL, NS_ETH_P_IP, 20 + len);
}
