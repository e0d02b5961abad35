/*
 * net-socket DNS forwarder: queries the guest sends to the DNS address go
 * to the host's resolver over UDP with a fresh query id; answers get the
 * guest's id and port back.  A bounded table of pending queries, each
 * forgotten after a few seconds, keeps a flood from growing anything.
 */
#include "ns.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define DNS_HLEN 12
#define DNS_QUERY_TIMEOUT_NS (5 * 1000000000ull)

struct NsDnsQuery {
    bool used;
    uint16_t our_id;
    uint16_t guest_id;
    uint16_t gport;
    uint64_t sent;
};

static void dns_sock_event(NsCtx *ctx, void *obj, int fd, unsigned events)
{
    uint32_t addr;
    uint16_t port, id;
    ssize_t n;
    int budget = 32;

    while (budget-- > 0) {
        n = ctx->sops->recvfrom(ctx->sops_opaque, fd, ctx->scratch,
                                ctx->scratch_len, &addr, &port);
        if (n == -EAGAIN || n == -EINTR)
            return;
        if (n < 0)
            continue; /* an ICMP error from the resolver */
        if (addr != ctx->cfg.resolver || port != ctx->cfg.resolver_port ||
            n < DNS_HLEN || !(ctx->scratch[2] & 0x80)) {
            ns_stat_inc(ctx, NS_ST_DNS_BAD);
            continue;
        }
        id = ns_rd16(ctx->scratch);
        for (unsigned i = 0; i < NS_DNS_SLOTS; i++) {
            NsDnsQuery *q = &ctx->dns_q[i];
            if (!q->used || q->our_id != id)
                continue;
            q->used = false;
            ctx->dns_pending--;
            ns_wr16(ctx->scratch, q->guest_id);
            if (ns_udp_output(ctx, ctx->cfg.dns, 53, ctx->cfg.guest, q->gport,
                              ctx->scratch, (size_t)n))
                ns_stat_inc(ctx, NS_ST_DNS_REPLIES);
            break;
        }
    }
}

static bool dns_open(NsCtx *ctx)
{
    int fd;

    if (ctx->dns_fd >= 0)
        return true;
    fd = ctx->sops->open(ctx->sops_opaque, SOCK_DGRAM, NS_IPPROTO_UDP);
    if (fd < 0)
        return false;
    if (ctx->cfg.outbound && (ctx->cfg.resolver >> 24) != 127)
        ctx->sops->bind(ctx->sops_opaque, fd, ctx->cfg.outbound, 0);
    ctx->dns_fd = fd;
    if (!ctx->dns_q)
        ctx->dns_q = g_new0(NsDnsQuery, NS_DNS_SLOTS);
    ns_sock_add(ctx, fd, NS_EV_IN, dns_sock_event, NULL);
    return true;
}

void ns_dns_input(NsCtx *ctx, uint16_t gport, const uint8_t *p, size_t len)
{
    NsDnsQuery *q = NULL;
    uint16_t id;
    bool clash;

    if (len < DNS_HLEN || (p[2] & 0x80)) {
        ns_stat_inc(ctx, NS_ST_DNS_BAD);
        return;
    }
    if (!ctx->cfg.resolver || len > ctx->scratch_len || !dns_open(ctx)) {
        ns_stat_inc(ctx, NS_ST_DNS_DROPPED);
        return;
    }
    for (unsigned i = 0; i < NS_DNS_SLOTS && !q; i++)
        if (!ctx->dns_q[i].used)
            q = &ctx->dns_q[i];
    if (!q) {
        ns_stat_inc(ctx, NS_ST_DNS_DROPPED);
        return;
    }
    /* A fresh id that no pending query uses. */
    do {
        id = ctx->dns_next_id++;
        clash = false;
        for (unsigned i = 0; i < NS_DNS_SLOTS; i++)
            if (ctx->dns_q[i].used && ctx->dns_q[i].our_id == id)
                clash = true;
    } while (clash);

    memcpy(ctx->scratch, p, len);
    ns_wr16(ctx->scratch, id);
    if (ctx->sops->sendto(ctx->sops_opaque, ctx->dns_fd, ctx->scratch, len,
                          ctx->cfg.resolver, ctx->cfg.resolver_port) < 0) {
        ns_stat_inc(ctx, NS_ST_DNS_DROPPED);
        return;
    }
    q->used = true;
    q->our_id = id;
    q->guest_id = ns_rd16(p);
    q->gport = gport;
    q->sent = ns_now(ctx);
    ctx->dns_pending++;
    ns_stat_inc(ctx, NS_ST_DNS_FWD);
}

void ns_dns_tick(NsCtx *ctx, uint64_t now)
{
    if (!ctx->dns_q)
        return;
    for (unsigned i = 0; i < NS_DNS_SLOTS; i++) {
        NsDnsQuery *q = &ctx->dns_q[i];
        if (q->used && now > q->sent + DNS_QUERY_TIMEOUT_NS) {
            q->used = false;
            ctx->dns_pending--;
            ns_stat_inc(ctx, NS_ST_DNS_DROPPED);
        }
    }
}

uint64_t ns_dns_deadline(NsCtx *ctx)
{
    uint64_t d = UINT64_MAX;

    if (!ctx->dns_q || !ctx->dns_pending)
        return d;
    for (unsigned i = 0; i < NS_DNS_SLOTS; i++)
        if (ctx->dns_q[i].used)
            d = MIN(d, ctx->dns_q[i].sent + DNS_QUERY_TIMEOUT_NS + 1);
    return d;
}

void ns_dns_free(NsCtx *ctx)
{
    if (ctx->dns_fd >= 0) {
        ns_sock_del(ctx, ctx->dns_fd);
        ctx->sops->close(ctx->sops_opaque, ctx->dns_fd, false);
        ctx->dns_fd = -1;
    }
    g_free(ctx->dns_q);
    ctx->dns_q = NULL;
    ctx->dns_pending = 0;
}

/**
 * ns_dns_resolver_from_file() - First IPv4 nameserver of a resolv.conf.
 * @path: usually /etc/resolv.conf
 * @addr: set to the address (host order)
 *
 * Return: true if one was found.
 */
bool ns_dns_resolver_from_file(const char *path, uint32_t *addr)
{
    char *text = NULL;
    char **lines;
    bool found = false;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return false;
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l && !found; l++) {
        char word[16], ip[64];
        unsigned a, b, c, d;
        char tail;
        if (sscanf(*l, " %15s %63s", word, ip) != 2 || strcmp(word, "nameserver"))
            continue;
        if (sscanf(ip, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 &&
            a < 256 && b < 256 && c < 256 && d < 256) {
            *addr = a << 24 | b << 16 | c << 8 | d;
            found = true;
        }
    }
    g_strfreev(lines);
    g_free(text);
    return found;
}
