/*
 * net-socket port forwards (hostfwd): host listeners whose connections and
 * datagrams are carried to a port of the guest.  Opened when the instance
 * starts, so a port already in use is an error that names the forward.
 */
#include "ns.h"

#include <errno.h>
#include <sys/socket.h>

#define FWD_ACCEPT_BUDGET 16

static char *addr_str(uint32_t a)
{
    return g_strdup_printf("%u.%u.%u.%u", a >> 24, (a >> 16) & 255,
                           (a >> 8) & 255, a & 255);
}

char *ns_fwd_describe(const NsFwdSpec *s)
{
    char *h = addr_str(s->host_addr);
    char *g = s->guest_addr ? addr_str(s->guest_addr) : g_strdup("");
    char *d = g_strdup_printf("%s:%s:%u-%s:%u",
                              s->proto == NS_IPPROTO_TCP ? "tcp" : "udp", h,
                              s->host_port, g, s->guest_port);

    g_free(h);
    g_free(g);
    return d;
}

static void fwd_tcp_event(NsCtx *ctx, void *obj, int fd, unsigned events)
{
    NsFwd *fwd = obj;
    uint32_t addr;
    uint16_t port;

    for (int i = 0; i < FWD_ACCEPT_BUDGET; i++) {
        int c = ctx->sops->accept(ctx->sops_opaque, fd, &addr, &port);
        if (c < 0)
            return;
        ns_tcp_fwd_accept(ctx, fwd, c, addr, port);
    }
}

static void fwd_udp_event(NsCtx *ctx, void *obj, int fd, unsigned events)
{
    NsFwd *fwd = obj;
    uint32_t addr;
    uint16_t port;

    for (int i = 0; i < FWD_ACCEPT_BUDGET; i++) {
        ssize_t n = ctx->sops->recvfrom(ctx->sops_opaque, fd, ctx->scratch,
                                        ctx->scratch_len, &addr, &port);
        if (n == -EAGAIN || n == -EINTR)
            return;
        if (n < 0)
            continue;
        ns_udp_fwd_input(ctx, fwd, addr, port, ctx->scratch, (size_t)n);
    }
}

static bool fwd_open(NsCtx *ctx, NsFwd *fwd, GError **error)
{
    const NsFwdSpec *s = &fwd->spec;
    bool tcp = s->proto == NS_IPPROTO_TCP;
    int fd, r;
    char *what;

    if (s->proto != NS_IPPROTO_TCP && s->proto != NS_IPPROTO_UDP) {
        what = ns_fwd_describe(s);
        g_set_error(error, NS_ERROR, 0,
                    "hostfwd %s: protocol must be tcp or udp", what);
        g_free(what);
        return false;
    }
    if (s->guest_addr && s->guest_addr != ctx->cfg.guest) {
        char *g = addr_str(ctx->cfg.guest);
        what = ns_fwd_describe(s);
        g_set_error(error, NS_ERROR, 0,
                    "hostfwd %s: the guest address must be %s (the address "
                    "the DHCP server hands out) or empty", what, g);
        g_free(what);
        g_free(g);
        return false;
    }
    if (!s->guest_port || !s->host_port) {
        what = ns_fwd_describe(s);
        g_set_error(error, NS_ERROR, 0,
                    "hostfwd %s: ports must be 1-65535", what);
        g_free(what);
        return false;
    }
    fd = ctx->sops->open(ctx->sops_opaque, tcp ? SOCK_STREAM : SOCK_DGRAM,
                         s->proto);
    if (fd < 0) {
        r = fd;
        goto out_error;
    }
    r = ctx->sops->bind(ctx->sops_opaque, fd, s->host_addr, s->host_port);
    if (r == 0 && tcp)
        r = ctx->sops->listen(ctx->sops_opaque, fd);
    if (r < 0) {
        ctx->sops->close(ctx->sops_opaque, fd, false);
        goto out_error;
    }
    fwd->fd = fd;
    ns_sock_add(ctx, fd, NS_EV_IN, tcp ? fwd_tcp_event : fwd_udp_event, fwd);
    return true;

out_error:
    what = ns_fwd_describe(s);
    {
        char *h = addr_str(s->host_addr);
        g_set_error(error, NS_ERROR, -r,
                    "hostfwd %s: cannot listen on %s:%u: %s%s", what, h,
                    s->host_port, g_strerror(-r),
                    r == -EADDRINUSE ? " (another program, or another forward, "
                                       "already uses that port)" : "");
        g_free(h);
    }
    g_free(what);
    return false;
}

bool ns_fwd_open_all(NsCtx *ctx, GError **error)
{
    ctx->nfwds = ctx->cfg.nfwds;
    ctx->fwds = g_new0(NsFwd, ctx->nfwds ? ctx->nfwds : 1);
    for (size_t i = 0; i < ctx->nfwds; i++) {
        ctx->fwds[i].spec = ctx->cfg.fwds[i];
        ctx->fwds[i].fd = -1;
    }
    for (size_t i = 0; i < ctx->nfwds; i++)
        if (!fwd_open(ctx, &ctx->fwds[i], error))
            return false; /* ns_free() closes the ones opened */
    return true;
}

void ns_fwd_close_all(NsCtx *ctx)
{
    for (size_t i = 0; i < ctx->nfwds; i++) {
        if (ctx->fwds[i].fd >= 0) {
            ns_sock_del(ctx, ctx->fwds[i].fd);
            ctx->sops->close(ctx->sops_opaque, ctx->fwds[i].fd, false);
            ctx->fwds[i].fd = -1;
        }
    }
    g_free(ctx->fwds);
    ctx->fwds = NULL;
    ctx->nfwds = 0;
}
