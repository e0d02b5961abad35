/*
 * net-socket ICMP: echo requests to the gateway and DNS addresses are
 * answered here; others go out through unprivileged ping sockets
 * (SOCK_DGRAM/IPPROTO_ICMP), one per guest echo identifier, and the replies
 * come back with the guest's identifier restored.  Also builds the
 * destination-unreachable messages other protocols send.
 */
#include "ns.h"

#include <stddef.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#define ICMP_ECHOREPLY 0
#define ICMP_UNREACH 3
#define ICMP_ECHO 8
#define ICMP_HLEN 8

struct NsIcmpFlow {
    uint16_t guest_id;
    int fd;
    uint64_t last_used;
};

static void icmp_flow_free(NsCtx *ctx, NsIcmpFlow *f)
{
    ns_sock_del(ctx, f->fd);
    ctx->sops->close(ctx->sops_opaque, f->fd, false);
    g_hash_table_remove(ctx->icmp_flows, GUINT_TO_POINTER(f->guest_id));
    ns_flow_closed(ctx);
    g_free(f);
}

static void icmp_send_echo_reply(NsCtx *ctx, uint32_t from, uint16_t id,
                                 const uint8_t *icmp, size_t len)
{
    uint8_t *o = ns_ip_payload(ctx);

    if (len > ns_ip_max_payload(ctx))
        return;
    memmove(o, icmp, len);
    o[0] = ICMP_ECHOREPLY;
    o[1] = 0;
    ns_wr16(o + 2, 0);
    ns_wr16(o + 4, id);
    ns_wr16(o + 2, ns_csum_fold(ns_csum_add(0, o, len)));
    ns_ip_output(ctx, NS_IPPROTO_ICMP, from, ctx->cfg.guest, len);
}

static void icmp_sock_event(NsCtx *ctx, void *obj, int fd, unsigned events)
{
    NsIcmpFlow *f = obj;
    uint32_t addr;
    uint16_t port;
    ssize_t n;
    int budget = 16;

    while (budget-- > 0) {
        n = ctx->sops->recvfrom(ctx->sops_opaque, fd, ctx->scratch,
                                ctx->scratch_len, &addr, &port);
        if (n == -EAGAIN || n == -EINTR)
            return;
        if (n < 0) {
            icmp_flow_free(ctx, f);
            return;
        }
        if ((size_t)n < ICMP_HLEN || ctx->scratch[0] != ICMP_ECHOREPLY)
            continue;
        f->last_used = ns_now(ctx);
        icmp_send_echo_reply(ctx, ns_map_inbound(ctx, addr), f->guest_id,
                             ctx->scratch, (size_t)n);
    }
}

static NsIcmpFlow *icmp_flow_get(NsCtx *ctx, uint16_t id, uint32_t dst)
{
    NsIcmpFlow *f = g_hash_table_lookup(ctx->icmp_flows, GUINT_TO_POINTER(id));
    int fd;

    if (f)
        return f;
    if (!ns_flow_admit(ctx))
        return NULL;
    fd = ctx->sops->open(ctx->sops_opaque, SOCK_DGRAM, NS_IPPROTO_ICMP);
    if (fd < 0) {
        ns_stat_inc(ctx, NS_ST_ICMP_NO_SOCKET);
        if (!ctx->ping_warned) {
            ctx->ping_warned = true;
            ns_logf(ctx, 1,
                    "ICMP echo to %u.%u.%u.%u not forwarded: the host refuses "
                    "unprivileged ping sockets (%s); allow them with sysctl "
                    "net.ipv4.ping_group_range, the guest gets no replies",
                    dst >> 24, (dst >> 16) & 255, (dst >> 8) & 255, dst & 255,
                    g_strerror(-fd));
        }
        return NULL;
    }
    if (ctx->cfg.outbound && (dst >> 24) != 127)
        ctx->sops->bind(ctx->sops_opaque, fd, ctx->cfg.outbound, 0);
    f = g_new0(NsIcmpFlow, 1);
    f->guest_id = id;
    f->fd = fd;
    g_hash_table_insert(ctx->icmp_flows, GUINT_TO_POINTER(id), f);
    ns_sock_add(ctx, fd, NS_EV_IN, icmp_sock_event, f);
    ns_flow_opened(ctx);
    return f;
}

void ns_icmp_input(NsCtx *ctx, uint32_t src, uint32_t dst, const uint8_t *p,
                   size_t len)
{
    NsIcmpFlow *f;
    uint32_t host;
    ssize_t n;

    if (len < ICMP_HLEN || ns_csum_fold(ns_csum_add(0, p, len)) != 0) {
        ns_stat_inc(ctx, NS_ST_ICMP_BAD);
        return;
    }
    if (p[0] != ICMP_ECHO || p[1] != 0)
        return; /* nothing else is forwarded */
    if (dst == ctx->cfg.gw || dst == ctx->cfg.dns) {
        ns_stat_inc(ctx, NS_ST_ICMP_ECHO_LOCAL);
        icmp_send_echo_reply(ctx, dst, ns_rd16(p + 4), p, len);
        return;
    }
    if (!ns_map_outbound(ctx, dst, &host)) {
        ns_stat_inc(ctx, NS_ST_IP_RESTRICTED);
        return;
    }
    f = icmp_flow_get(ctx, ns_rd16(p + 4), dst);
    if (!f)
        return;
    /* The kernel fills in the identifier and the checksum. */
    n = ctx->sops->sendto(ctx->sops_opaque, f->fd, p, len, host, 0);
    if (n >= 0) {
        f->last_used = ns_now(ctx);
        ns_stat_inc(ctx, NS_ST_ICMP_ECHO_FWD);
    }
}

void ns_icmp_unreach(NsCtx *ctx, uint8_t code, const uint8_t *ip_pkt,
                     size_t len)
{
    uint8_t *o = ns_ip_payload(ctx);
    size_t ihl, quote;
    uint32_t from;

    if (len < 20)
        return;
    ihl = (size_t)(ip_pkt[0] & 0xf) * 4;
    quote = MIN(len, ihl + 8);
    from = ns_rd32(ip_pkt + 16);
    if (ICMP_HLEN + quote > ns_ip_max_payload(ctx))
        return;
    memset(o, 0, ICMP_HLEN);
    o[0] = ICMP_UNREACH;
    o[1] = code;
    memmove(o + ICMP_HLEN, ip_pkt, quote);
    ns_wr16(o + 2, ns_csum_fold(ns_csum_add(0, o, ICMP_HLEN + quote)));
    ns_ip_output(ctx, NS_IPPROTO_ICMP, from, ctx->cfg.guest, ICMP_HLEN + quote);
}

/* NsFlowFreeFn for this table. */
static void icmp_flow_free_any(NsCtx *ctx, void *flow)
{
    icmp_flow_free(ctx, flow);
}

void ns_icmp_tick(NsCtx *ctx, uint64_t now)
{
    ns_flows_expire(ctx, ctx->icmp_flows, offsetof(NsIcmpFlow, last_used), now, icmp_flow_free_any);
}

uint64_t ns_icmp_deadline(NsCtx *ctx)
{
    return ns_flows_deadline(ctx, ctx->icmp_flows, offsetof(NsIcmpFlow, last_used));
}

void ns_icmp_free_all(NsCtx *ctx)
{
    ns_flows_free_all(ctx, ctx->icmp_flows, icmp_flow_free_any);
}
