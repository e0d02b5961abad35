/*
 * net-socket UDP: each guest source port gets one unconnected host socket
 * (so replies from any peer come back, as with a NAT that maps endpoints
 * independently), closed after an idle timeout.  Datagrams to the DHCP
 * server and the DNS address are handed to dhcp.c and dns.c; datagrams
 * arriving on a forward listener create a flow that remembers the host
 * peer so the guest's answers find their way back.
 */
#include "ns.h"

#include <stddef.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#define UDP_HLEN 8
#define DHCP_SERVER_PORT 67
#define DNS_PORT 53

struct NsUdpFlow {
    uint64_t key;
    int fd;              /* own socket; -1 for forward flows */
    uint16_t gport;      /* guest's port */
    NsFwd *fwd;          /* forward flows: the listener */
    uint32_t peer_addr;  /* forward flows: host peer */
    uint16_t peer_port;
    uint64_t last_used;
};

static void udp_flow_free(NsCtx *ctx, NsUdpFlow *f)
{
    if (f->fd >= 0) {
        ns_sock_del(ctx, f->fd);
        ctx->sops->close(ctx->sops_opaque, f->fd, false);
    }
    g_hash_table_remove(ctx->udp_flows, &f->key);
    ns_flow_closed(ctx);
    g_free(f);
}

/**
 * ns_udp_output() - Send one datagram to the guest.
 *
 * Return: false if it does not fit the MTU or the guest side refused it.
 */
bool ns_udp_output(NsCtx *ctx, uint32_t src, uint16_t sport, uint32_t dst,
                   uint16_t dport, const void *data, size_t len)
{
    uint8_t *u = ns_ip_payload(ctx);
    uint16_t csum;

    if (UDP_HLEN + len > ns_ip_max_payload(ctx)) {
        ns_stat_inc(ctx, NS_ST_TX_DROPPED);
        return false;
    }
    memmove(u + UDP_HLEN, data, len);
    ns_wr16(u, sport);
    ns_wr16(u + 2, dport);
    ns_wr16(u + 4, (uint16_t)(UDP_HLEN + len));
    ns_wr16(u + 6, 0);
    csum = ns_csum_fold(ns_csum_add(ns_csum_pseudo(src, dst, NS_IPPROTO_UDP,
                                                   UDP_HLEN + len),
                                    u, UDP_HLEN + len));
    ns_wr16(u + 6, csum ? csum : 0xffff);
    bool sent = ns_ip_output(ctx, NS_IPPROTO_UDP, src, dst, UDP_HLEN + len);
    ns_logf(ctx, 3, "udp %u <- %u.%u.%u.%u:%u: %zu bytes%s", dport, src >> 24,
            (src >> 16) & 255, (src >> 8) & 255, src & 255, sport, len,
            sent ? "" : " refused by the guest side");
    if (sent)
        ns_stat_inc(ctx, NS_ST_UDP_RX);
    return sent;
}

static void udp_sock_event(NsCtx *ctx, void *obj, int fd, unsigned events)
{
    NsUdpFlow *f = obj;
    size_t room = ns_ip_max_payload(ctx) - UDP_HLEN;
    uint32_t addr;
    uint16_t port;
    ssize_t n;
    int budget = 32;

    while (budget-- > 0) {
        n = ctx->sops->recvfrom(ctx->sops_opaque, fd, ctx->scratch,
                                ctx->scratch_len, &addr, &port);
        if (n == -EAGAIN || n == -EINTR)
            return;
        if (n < 0) {
            /* ICMP errors surface here (ECONNREFUSED...): not fatal. */
            ns_stat_inc(ctx, NS_ST_UDP_ERR);
            continue;
        }
        f->last_used = ns_now(ctx);
        if ((size_t)n > room) {
            ns_stat_inc(ctx, NS_ST_TX_DROPPED);
            continue;
        }
        ns_udp_output(ctx, ns_map_inbound(ctx, addr), port, ctx->cfg.guest,
                      f->gport, ctx->scratch, (size_t)n);
    }
}

static NsUdpFlow *udp_flow_new(NsCtx *ctx, uint64_t key, uint16_t gport)
{
    NsUdpFlow *f;

    if (!ns_flow_admit(ctx))
        return NULL;
    f = g_new0(NsUdpFlow, 1);
    f->key = key;
    f->fd = -1;
    f->gport = gport;
    f->last_used = ns_now(ctx);
    g_hash_table_insert(ctx->udp_flows, &f->key, f);
    ns_flow_opened(ctx);
    return f;
}

/* One socket per guest port; a second one for host loopback when outgoing
 * sockets are bound to an outbound address (which cannot reach 127/8). */
static NsUdpFlow *udp_flow_outbound(NsCtx *ctx, uint16_t gport, bool loopback)
{
    bool bind_out = ctx->cfg.outbound && !loopback;
    uint64_t key = ns_flow_key(gport, 0, bind_out ? 1 : 0);
    NsUdpFlow *f = g_hash_table_lookup(ctx->udp_flows, &key);
    int fd;

    if (f)
        return f;
    fd = ctx->sops->open(ctx->sops_opaque, SOCK_DGRAM, NS_IPPROTO_UDP);
    if (fd < 0) {
        ns_stat_inc(ctx, NS_ST_UDP_ERR);
        return NULL;
    }
    if (bind_out &&
        ctx->sops->bind(ctx->sops_opaque, fd, ctx->cfg.outbound, 0) < 0) {
        ns_stat_inc(ctx, NS_ST_UDP_ERR);
        ctx->sops->close(ctx->sops_opaque, fd, false);
        return NULL;
    }
    f = udp_flow_new(ctx, key, gport);
    if (!f) {
        ctx->sops->close(ctx->sops_opaque, fd, false);
        return NULL;
    }
    f->fd = fd;
    ns_sock_add(ctx, fd, NS_EV_IN, udp_sock_event, f);
    return f;
}

void ns_udp_input(NsCtx *ctx, uint32_t src, uint32_t dst, const uint8_t *p,
                  size_t len, const uint8_t *ip_pkt, size_t ip_len)
{
    uint16_t sport, dport, ulen, csum;
    NsUdpFlow *f;
    uint64_t key;
    uint32_t host;
    ssize_t n;

    if (len < UDP_HLEN) {
        ns_stat_inc(ctx, NS_ST_UDP_BAD);
        return;
    }
    ulen = ns_rd16(p + 4);
    if (ulen < UDP_HLEN || ulen > len) {
        ns_stat_inc(ctx, NS_ST_UDP_BAD);
        return;
    }
    csum = ns_rd16(p + 6);
    if (csum && ns_csum_fold(ns_csum_add(ns_csum_pseudo(src, dst, NS_IPPROTO_UDP, ulen),
                                         p, ulen)) != 0) {
        ns_stat_inc(ctx, NS_ST_UDP_BAD);
        return;
    }
    sport = ns_rd16(p);
    dport = ns_rd16(p + 2);
    p += UDP_HLEN;
    len = ulen - UDP_HLEN;

    if (dport == DHCP_SERVER_PORT &&
        (dst == 0xffffffffu || dst == ctx->cfg.gw)) {
        ns_dhcp_input(ctx, p, len);
        return;
    }
    if (src == 0) {
        ns_stat_inc(ctx, NS_ST_IP_BAD_SRC);
        return;
    }
    /* Replies of the guest to a forwarded peer. */
    key = ns_flow_key(sport, dst, dport);
    f = g_hash_table_lookup(ctx->udp_flows, &key);
    if (f && f->fwd) {
        n = ctx->sops->sendto(ctx->sops_opaque, f->fwd->fd, p, len,
                              f->peer_addr, f->peer_port);
        if (n < 0)
            ns_stat_inc(ctx, NS_ST_UDP_ERR);
        else
            ns_stat_inc(ctx, NS_ST_UDP_TX);
        f->last_used = ns_now(ctx);
        return;
    }
    if (dst == ctx->cfg.dns && dport == DNS_PORT && !ctx->cfg.restricted) {
        ns_dns_input(ctx, sport, p, len);
        return;
    }
    if (!ns_map_outbound(ctx, dst, &host)) {
        ns_stat_inc(ctx, NS_ST_IP_RESTRICTED);
        /* Say so for the gateway (loopback off) rather than go silent. */
        if (dst == ctx->cfg.gw || dst == ctx->cfg.dns)
            ns_icmp_unreach(ctx, 3, ip_pkt, ip_len);
        return;
    }
    f = udp_flow_outbound(ctx, sport, (host >> 24) == 127);
    if (!f)
        return;
    n = ctx->sops->sendto(ctx->sops_opaque, f->fd, p, len, host, dport);
    if (n < 0)
        ns_stat_inc(ctx, NS_ST_UDP_ERR);
    else
        ns_stat_inc(ctx, NS_ST_UDP_TX);
    f->last_used = ns_now(ctx);
}

void ns_udp_fwd_input(NsCtx *ctx, NsFwd *fwd, uint32_t addr, uint16_t port,
                      const void *data, size_t len)
{
    uint32_t gsrc = ns_map_inbound(ctx, addr);
    uint16_t gport = fwd->spec.guest_port;
    uint64_t key = ns_flow_key(gport, gsrc, port);
    NsUdpFlow *f = g_hash_table_lookup(ctx->udp_flows, &key);

    if (!f) {
        f = udp_flow_new(ctx, key, gport);
        if (!f)
            return;
        f->fwd = fwd;
        f->peer_addr = addr;
        f->peer_port = port;
    }
    f->last_used = ns_now(ctx);
    ns_udp_output(ctx, gsrc, port, ctx->cfg.guest, gport, data, len);
}

/* NsFlowFreeFn for this table. */
static void udp_flow_free_any(NsCtx *ctx, void *flow)
{
    udp_flow_free(ctx, flow);
}

void ns_udp_tick(NsCtx *ctx, uint64_t now)
{
    ns_flows_expire(ctx, ctx->udp_flows, offsetof(NsUdpFlow, last_used), now, udp_flow_free_any);
}

uint64_t ns_udp_deadline(NsCtx *ctx)
{
    return ns_flows_deadline(ctx, ctx->udp_flows, offsetof(NsUdpFlow, last_used));
}

void ns_udp_free_all(NsCtx *ctx)
{
    ns_flows_free_all(ctx, ctx->udp_flows, udp_flow_free_any);
}
