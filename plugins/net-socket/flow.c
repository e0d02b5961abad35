/*
 * net-socket core object: configuration, counters, the descriptor table the
 * embedder watches, the shared flow limit and the timer entry points.
 */
#include "ns.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

const char *const ns_stat_names[NS_ST_COUNT] = {
#define NS_STAT_NAME(id, name) [NS_ST_##id] = name,
    NS_STATS(NS_STAT_NAME)
#undef NS_STAT_NAME
};

/* Timer granularity: deadlines closer than a fifth of this are batched. */
#define NS_TICK_NS (50 * 1000 * 1000ull)

void ns_config_default(NsConfig *cfg)
{
    static const uint8_t gw_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };

    memset(cfg, 0, sizeof *cfg);
    cfg->net = 0x0a000200;   /* 10.0.2.0 */
    cfg->mask = 0xffffff00;
    cfg->gw = 0x0a000202;
    cfg->dns = 0x0a000203;
    cfg->guest = 0x0a00020f;
    memcpy(cfg->gw_mac, gw_mac, 6);
    cfg->resolver_port = 53;
    cfg->loopback = true;
    cfg->mtu = 1500;
    cfg->max_flows = 256;
    /* NAT behaviour as RFC 4787 (REQ-5) and RFC 5382 (REQ-5) ask. */
    cfg->udp_timeout_s = 120;
    cfg->tcp_timeout_s = 7440;
    cfg->lease_s = 86400;
}

void ns_stat_inc(NsCtx *ctx, NsStat id)
{
    ctx->stats[id]++;
    if (ctx->cb.stat)
        ctx->cb.stat(ctx->cb_opaque, ns_stat_names[id], 1);
}

uint64_t ns_stat_get(const NsCtx *ctx, NsStat id)
{
    return id < NS_ST_COUNT ? ctx->stats[id] : 0;
}

void ns_logf(NsCtx *ctx, int level, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    if (!ctx->cb.log || (ctx->cb.log_enabled && !ctx->cb.log_enabled(ctx->cb_opaque, level)))
        return;
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    ctx->cb.log(ctx->cb_opaque, level, msg);
    g_free(msg);
}

uint64_t ns_now(NsCtx *ctx)
{
    return ctx->cb.now_ns(ctx->cb_opaque);
}

bool ns_sock_add(NsCtx *ctx, int fd, unsigned events, NsSockFn fn, void *obj)
{
    NsSockHandler *h = g_new0(NsSockHandler, 1);

    h->fn = fn;
    h->obj = obj;
    h->events = events;
    g_hash_table_replace(ctx->socks, GINT_TO_POINTER(fd), h);
    ctx->cb.watch(ctx->cb_opaque, fd, events);
    return true;
}

void ns_sock_update(NsCtx *ctx, int fd, unsigned events)
{
    NsSockHandler *h = g_hash_table_lookup(ctx->socks, GINT_TO_POINTER(fd));

    if (!h || h->events == events)
        return;
    h->events = events;
    ctx->cb.watch(ctx->cb_opaque, fd, events);
}

void ns_sock_del(NsCtx *ctx, int fd)
{
    if (g_hash_table_remove(ctx->socks, GINT_TO_POINTER(fd)))
        ctx->cb.watch(ctx->cb_opaque, fd, 0);
}

void ns_enter(NsCtx *ctx)
{
    ctx->depth++;
}

void ns_leave(NsCtx *ctx)
{
    GBytes *b;

    if (ctx->depth > 1) {
        ctx->depth--;
        return;
    }
    /* Outermost: handle what arrived meanwhile (still at depth 1, so
     * frames sent in answer to these are deferred in turn, bounded). */
    for (;;) {
        if ((b = g_queue_pop_head(&ctx->deferred))) {
            gsize len;
            const uint8_t *d = g_bytes_get_data(b, &len);
            ns_eth_input(ctx, d, len);
            g_bytes_unref(b);
        } else if (ctx->kick_pending) {
            ctx->kick_pending = false;
            ns_tcp_kick(ctx);
        } else {
            break;
        }
    }
    ctx->depth = 0;
}

void ns_sock_event(NsCtx *ctx, int fd, unsigned events)
{
    NsSockHandler *h = g_hash_table_lookup(ctx->socks, GINT_TO_POINTER(fd));

    if (!h)
        return;
    ns_enter(ctx);
    h->fn(ctx, h->obj, fd, events);
    ns_leave(ctx);
}

bool ns_flow_admit(NsCtx *ctx)
{
    if (ctx->nflows < ctx->cfg.max_flows)
        return true;
    ns_stat_inc(ctx, NS_ST_FLOW_LIMIT);
    if (ctx->stats[NS_ST_FLOW_LIMIT] == 1)
        ns_logf(ctx, 1, "flow table full (max-flows = %u): new connections are refused",
                ctx->cfg.max_flows);
    return false;
}

void ns_flow_opened(NsCtx *ctx)
{
    ctx->nflows++;
    ns_stat_inc(ctx, NS_ST_FLOWS_OPENED);
}

void ns_flow_closed(NsCtx *ctx)
{
    if (ctx->nflows)
        ctx->nflows--;
    ns_stat_inc(ctx, NS_ST_FLOWS_CLOSED);
}

unsigned ns_flow_count(const NsCtx *ctx)
{
    return ctx->nflows;
}

uint64_t ns_flow_key(uint16_t gport, uint32_t raddr, uint16_t rport)
{
    return (uint64_t)gport << 48 | (uint64_t)raddr << 16 | rport;
}

#define NS_LOOPBACK 0x7f000001u

bool ns_map_outbound(NsCtx *ctx, uint32_t dst, uint32_t *host)
{
    if (ctx->cfg.restricted)
        return false;
    if (dst == ctx->cfg.gw) {
        if (!ctx->cfg.loopback)
            return false;
        *host = NS_LOOPBACK;
        return true;
    }
    /* Nothing else of our own network exists; the host's loopback,
     * multicast, broadcast and "this network" are never reached. */
    if ((dst & ctx->cfg.mask) == ctx->cfg.net || (dst >> 24) == 127 ||
        (dst >> 24) == 0 || dst >= 0xe0000000u)
        return false;
    *host = dst;
    return true;
}

uint32_t ns_map_inbound(NsCtx *ctx, uint32_t host)
{
    if ((host >> 24) == 127)
        return ctx->cfg.gw;
    return host;
}

static void ns_sock_handler_free(gpointer p)
{
    g_free(p);
}

NsCtx *ns_new(const NsConfig *cfg, const NsCallbacks *cb, void *cb_opaque,
              const NsSockOps *sops, void *sock_opaque, GError **error)
{
    NsCtx *ctx = g_new0(NsCtx, 1);

    ctx->cfg = *cfg;
    if (ctx->cfg.mtu < NS_MTU_MIN)
        ctx->cfg.mtu = NS_MTU_MIN;
    if (ctx->cfg.mtu > NS_MTU_MAX)
        ctx->cfg.mtu = NS_MTU_MAX;
    if (!ctx->cfg.max_flows)
        ctx->cfg.max_flows = 1;
    if (cfg->nfwds) {
        ctx->fwd_specs = g_memdup2(cfg->fwds, cfg->nfwds * sizeof *cfg->fwds);
        ctx->cfg.fwds = ctx->fwd_specs;
    }
    ctx->cb = *cb;
    ctx->cb_opaque = cb_opaque;
    ctx->sops = sops;
    ctx->sops_opaque = sock_opaque;
    ctx->socks = g_hash_table_new_full(NULL, NULL, NULL, ns_sock_handler_free);
    ctx->tcp_flows = g_hash_table_new(g_int64_hash, g_int64_equal);
    ctx->udp_flows = g_hash_table_new(g_int64_hash, g_int64_equal);
    ctx->icmp_flows = g_hash_table_new(NULL, NULL);
    ctx->dns_fd = -1;
    ctx->obuf = g_malloc0(NS_FRAME_MAX);
    ctx->scratch_len = NS_FRAME_MAX;
    ctx->scratch = g_malloc(ctx->scratch_len);
    ctx->isn_seed = cfg->seed ? cfg->seed : g_random_int();
    ctx->dns_next_id = (uint16_t)(cfg->seed ? cfg->seed : g_random_int());

    if (!ns_fwd_open_all(ctx, error)) {
        ns_free(ctx);
        return NULL;
    }
    return ctx;
}

void ns_free(NsCtx *ctx)
{
    if (!ctx)
        return;
    ns_tcp_free_all(ctx);
    ns_udp_free_all(ctx);
    ns_icmp_free_all(ctx);
    ns_dns_free(ctx);
    ns_fwd_close_all(ctx);
    g_queue_clear_full(&ctx->deferred, (GDestroyNotify)g_bytes_unref);
    g_hash_table_destroy(ctx->tcp_flows);
    g_hash_table_destroy(ctx->udp_flows);
    g_hash_table_destroy(ctx->icmp_flows);
    g_hash_table_destroy(ctx->socks);
    g_free(ctx->fwd_specs);
    g_free(ctx->obuf);
    g_free(ctx->scratch);
    g_free(ctx->tcp_stage);
    g_free(ctx);
}

void ns_tick(NsCtx *ctx)
{
    uint64_t now = ns_now(ctx);

    ns_enter(ctx);
    ns_tcp_flush(ctx);
    ns_tcp_tick(ctx, now);
    ns_udp_tick(ctx, now);
    ns_icmp_tick(ctx, now);
    ns_dns_tick(ctx, now);
    ns_leave(ctx);
}

bool ns_flush_pending(NsCtx *ctx)
{
    return !g_queue_is_empty(&ctx->tcp_acks) || ctx->tcp_stage_flow;
}

void ns_flush(NsCtx *ctx)
{
    if (!ns_flush_pending(ctx))
        return;
    ns_enter(ctx);
    ns_tcp_flush(ctx);
    ns_leave(ctx);
}

uint64_t ns_next_deadline(NsCtx *ctx)
{
    if (ns_flush_pending(ctx))
        return ns_now(ctx);
    return ns_timers_deadline(ctx);
}

uint64_t ns_timers_deadline(NsCtx *ctx)
{
    uint64_t d;

    if (!ctx->nflows && !ctx->dns_pending)
        return UINT64_MAX;
    d = MIN(ns_tcp_deadline(ctx), ns_udp_deadline(ctx));
    d = MIN(d, ns_icmp_deadline(ctx));
    d = MIN(d, ns_dns_deadline(ctx));
    /* Batch timers that fall close together. */
    if (d != UINT64_MAX)
        d = MAX(d, ns_now(ctx) + NS_TICK_NS / 5);
    return d;
}

void ns_output_ready(NsCtx *ctx)
{
    if (ctx->depth) {
        ctx->kick_pending = true;
        return;
    }
    ns_enter(ctx);
    ns_tcp_kick(ctx);
    ns_leave(ctx);
}

static uint64_t flow_last_used(const void *flow, size_t last_used_off)
{
    uint64_t t;

    memcpy(&t, (const uint8_t *)flow + last_used_off, sizeof t);
    return t;
}

/* Collect first, free after: freeing removes the flow from the table. */
static uint64_t flow_idle_ns(const NsCtx *ctx)
{
    return (uint64_t)ctx->cfg.udp_timeout_s * 1000000000ull;
}

void ns_flows_expire(NsCtx *ctx, GHashTable *flows, size_t last_used_off,
                     uint64_t now, NsFlowFreeFn free_fn)
{
    uint64_t idle_ns = flow_idle_ns(ctx);
    GHashTableIter it;
    gpointer v;
    GPtrArray *dead = NULL;

    g_hash_table_iter_init(&it, flows);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        if (now > flow_last_used(v, last_used_off) + idle_ns) {
            if (!dead)
                dead = g_ptr_array_new();
            g_ptr_array_add(dead, v);
        }
    }
    if (!dead)
        return;
    for (guint i = 0; i < dead->len; i++)
        free_fn(ctx, dead->pdata[i]);
    g_ptr_array_free(dead, TRUE);
}

uint64_t ns_flows_deadline(NsCtx *ctx, GHashTable *flows, size_t last_used_off)
{
    uint64_t idle_ns = flow_idle_ns(ctx);
    uint64_t d = UINT64_MAX;
    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init(&it, flows);
    while (g_hash_table_iter_next(&it, NULL, &v))
        d = MIN(d, flow_last_used(v, last_used_off) + idle_ns + 1);
    return d;
}

void ns_flows_free_all(NsCtx *ctx, GHashTable *flows, NsFlowFreeFn free_fn)
{
    GList *all = g_hash_table_get_values(flows);

    for (GList *l = all; l; l = l->next)
        free_fn(ctx, l->data);
    g_list_free(all);
}
