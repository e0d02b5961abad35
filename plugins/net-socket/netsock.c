/*
 * net-socket plugin glue: turns the [netdev] options into an NsConfig and
 * connects the pure core to the VM through the host API (the network port,
 * descriptor watches on the main loop, one timer, logging and counters).
 */
#include <lilyvm/host.h>
#include <lilyvm/plugin.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "ns.h"

enum {
    OPT_NET, OPT_HOST, OPT_DNS, OPT_GUEST, OPT_DNS_FORWARD, OPT_HOSTFWD,
    OPT_RESTRICT, OPT_LOOPBACK, OPT_OUTBOUND, OPT_MTU, OPT_MAX_FLOWS,
    OPT_UDP_TIMEOUT, OPT_TCP_TIMEOUT, OPT_LEASE, OPT_MAC, OPT_COUNT
};

static const LilyOption netsock_options[] = {
    [OPT_NET] = { "net", LILY_OPT_STRING, "10.0.2.0/24", 0, 0, NULL,
                  "guest network, ADDR/PREFIX (prefix 8-30)", 0, 0 },
    [OPT_HOST] = { "host", LILY_OPT_STRING, "10.0.2.2", 0, 0, NULL,
                   "gateway address; reaches the host's 127.0.0.1 when loopback is on", 0, 0 },
    [OPT_DNS] = { "dns", LILY_OPT_STRING, "10.0.2.3", 0, 0, NULL,
                  "DNS forwarder address announced by DHCP", 0, 0 },
    [OPT_GUEST] = { "guest", LILY_OPT_STRING, "10.0.2.15", 0, 0, NULL,
                    "the address the DHCP server hands the guest", 0, 0 },
    [OPT_DNS_FORWARD] = { "dns-forward", LILY_OPT_STRING, NULL, 0, 0, NULL,
                          "resolver for forwarded DNS queries, ADDR[:PORT] "
                          "(default: first nameserver of /etc/resolv.conf)", 0, 0 },
    [OPT_HOSTFWD] = { "hostfwd", LILY_OPT_HOSTFWD, NULL, 0, 0, NULL,
                      "port forwards, tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport",
                      LILY_OPT_F_LIST, 0 },
    [OPT_RESTRICT] = { "restrict", LILY_OPT_BOOL, "false", 0, 0, NULL,
                       "no outgoing connections: only the port forwards work", 0, 0 },
    [OPT_LOOPBACK] = { "loopback", LILY_OPT_BOOL, "true", 0, 0, NULL,
                       "let the guest reach host 127.0.0.1 through the gateway address", 0, 0 },
    [OPT_OUTBOUND] = { "outbound", LILY_OPT_STRING, NULL, 0, 0, NULL,
                       "host IPv4 address outgoing sockets are bound to", 0, 0 },
    [OPT_MTU] = { "mtu", LILY_OPT_INT, "1500", NS_MTU_MIN, NS_MTU_MAX, NULL,
                  "link MTU (TCP MSS is derived from it)", 0, 0 },
    [OPT_MAX_FLOWS] = { "max-flows", LILY_OPT_INT, "256", 1, 65536, NULL,
                        "most TCP/UDP/ICMP flows at once", 0, 0 },
    [OPT_UDP_TIMEOUT] = { "udp-timeout", LILY_OPT_INT, "120", 1, 86400, NULL,
                          "seconds before an idle UDP or ICMP flow is closed", 0, 0 },
    [OPT_TCP_TIMEOUT] = { "tcp-timeout", LILY_OPT_INT, "7440", 10, 604800, NULL,
                          "seconds before an idle TCP connection is reset", 0, 0 },
    [OPT_LEASE] = { "lease", LILY_OPT_INT, "86400", 60, 31536000, NULL,
                    "DHCP lease time in seconds", 0, 0 },
    [OPT_MAC] = { "mac", LILY_OPT_MAC, "52:55:0a:00:02:02", 0, 0, NULL,
                  "MAC address of the gateway", 0, 0 },
    [OPT_COUNT] = { NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0 },
};

typedef struct NetSock NetSock;

typedef struct NetSockWatch {
    NetSock *ns;
    int fd;
    LilyWatch *w;
    bool dispatching;
    bool dead;
} NetSockWatch;

struct NetSock {
    LilyInstance *inst;
    const LilyHost *host;
    LilyNetPort *port;
    LilyTimer *timer;
    uint64_t timer_deadline;
    LilyTimer *flush_timer; /* due at once: deferred ACKs after a burst */
    bool flush_armed;
    GHashTable *watches; /* fd -> NetSockWatch* */
    NsFwdSpec *fwds;
    NsCtx *ctx;
};

static bool parse_ipv4(const char *s, uint32_t *out)
{
    struct in_addr a;

    if (!s || inet_pton(AF_INET, s, &a) != 1)
        return false;
    *out = ntohl(a.s_addr);
    return true;
}

static void netsock_rearm(NetSock *ns)
{
    uint64_t d = ns_timers_deadline(ns->ctx);

    /* ACKs held back while frames come in go out when the main loop comes
     * round again, after the frames it had at hand (a timer already due
     * runs then, without a syscall to arm it). */
    if (!ns->flush_armed && ns_flush_pending(ns->ctx)) {
        ns->flush_armed = true;
        ns->host->timer_mod(ns->flush_timer, ns->host->clock_ns(ns->inst));
    }

    /* Keep an armed timer unless the core needs an earlier one. */
    if (d == UINT64_MAX) {
        if (ns->timer_deadline != UINT64_MAX)
            ns->host->timer_del(ns->timer);
        ns->timer_deadline = UINT64_MAX;
        return;
    }
    if (d >= ns->timer_deadline)
        return;
    ns->timer_deadline = d;
    ns->host->timer_mod(ns->timer, d);
}

static bool cb_output(void *opaque, const uint8_t *frame, size_t len)
{
    NetSock *ns = opaque;

    if (!ns->port || !ns->host->net_can_send(ns->port))
        return false;
    return ns->host->net_send(ns->port, frame, len);
}

static gboolean watch_fn(int fd, unsigned revents, void *opaque)
{
    NetSockWatch *w = opaque;
    NetSock *ns = w->ns;

    w->dispatching = true;
    ns_sock_event(ns->ctx, fd, revents);
    w->dispatching = false;
    if (w->dead) {
        g_free(w);
        netsock_rearm(ns);
        return FALSE;
    }
    netsock_rearm(ns);
    return TRUE;
}

static void cb_watch(void *opaque, int fd, unsigned events)
{
    NetSock *ns = opaque;
    NetSockWatch *w = g_hash_table_lookup(ns->watches, GINT_TO_POINTER(fd));

    if (!events) {
        if (!w)
            return;
        g_hash_table_remove(ns->watches, GINT_TO_POINTER(fd));
        if (w->dispatching) {
            w->dead = true; /* watch_fn returns FALSE and frees it */
            return;
        }
        ns->host->fd_watch_remove(w->w);
        g_free(w);
        return;
    }
    if (w) {
        ns->host->fd_watch_update(w->w, events);
        return;
    }
    w = g_new0(NetSockWatch, 1);
    w->ns = ns;
    w->fd = fd;
    w->w = ns->host->fd_watch(ns->inst, fd, events, watch_fn, w);
    g_hash_table_insert(ns->watches, GINT_TO_POINTER(fd), w);
}

static uint64_t cb_now(void *opaque)
{
    NetSock *ns = opaque;

    return ns->host->clock_ns(ns->inst);
}

static void cb_log(void *opaque, int level, const char *msg)
{
    NetSock *ns = opaque;

    ns->host->log(ns->inst, (LilyLogLevel)level, "%s", msg);
}

static bool cb_log_enabled(void *opaque, int level)
{
    NetSock *ns = opaque;

    return ns->host->log_enabled(ns->inst, (LilyLogLevel)level);
}

static void cb_stat(void *opaque, const char *name, uint64_t delta)
{
    NetSock *ns = opaque;

    ns->host->stat_add(ns->inst, name, delta);
}

static const NsCallbacks netsock_callbacks = {
    .output = cb_output,
    .watch = cb_watch,
    .now_ns = cb_now,
    .log = cb_log,
    .stat = cb_stat,
    .log_enabled = cb_log_enabled,
};

static bool port_can_receive(void *opaque)
{
    return true; /* the core never queues guest frames */
}

static void port_receive(void *opaque, const uint8_t *frame, size_t len)
{
    NetSock *ns = opaque;

    if (!ns->ctx)
        return; /* still starting up */
    ns_input(ns->ctx, frame, len);
    netsock_rearm(ns);
}

static void port_ready(void *opaque)
{
    NetSock *ns = opaque;

    if (!ns->ctx)
        return;
    ns_output_ready(ns->ctx);
    netsock_rearm(ns);
}

static const LilyNetOps netsock_port_ops = {
    .can_receive = port_can_receive,
    .receive = port_receive,
    .ready = port_ready,
};

static void netsock_timer(void *opaque)
{
    NetSock *ns = opaque;

    ns->timer_deadline = UINT64_MAX;
    ns_tick(ns->ctx);
    netsock_rearm(ns);
}

static void netsock_flush_timer(void *opaque)
{
    NetSock *ns = opaque;

    ns->flush_armed = false;
    ns_flush(ns->ctx);
    netsock_rearm(ns);
}

static gboolean bad_addr(GError **error, const char *key, const char *value,
                         const char *why)
{
    g_set_error(error, NS_ERROR, 0, "%s = %s: %s", key,
                value ? value : "(unset)", why);
    return FALSE;
}

/* Options into an NsConfig (forwards are left for the caller). */
static gboolean netsock_config(const LilyOptValue *v, NsConfig *cfg,
                               GError **error)
{
    char **parts;
    uint32_t net;
    unsigned prefix;
    char *end;

    ns_config_default(cfg);
    parts = g_strsplit(v[OPT_NET].s, "/", 2);
    if (!parts[0] || !parts[1] || !parse_ipv4(parts[0], &net) ||
        (prefix = (unsigned)strtoul(parts[1], &end, 10), *end) ||
        prefix < 8 || prefix > 30) {
        g_strfreev(parts);
        return bad_addr(error, "net", v[OPT_NET].s,
                        "expected ADDR/PREFIX with a prefix of 8 to 30, e.g. 10.0.2.0/24");
    }
    g_strfreev(parts);
    cfg->mask = 0xffffffffu << (32 - prefix);
    cfg->net = net & cfg->mask;
    if (!parse_ipv4(v[OPT_HOST].s, &cfg->gw) || (cfg->gw & cfg->mask) != cfg->net)
        return bad_addr(error, "host", v[OPT_HOST].s,
                        "expected an IPv4 address inside 'net'");
    if (!parse_ipv4(v[OPT_DNS].s, &cfg->dns) || (cfg->dns & cfg->mask) != cfg->net)
        return bad_addr(error, "dns", v[OPT_DNS].s,
                        "expected an IPv4 address inside 'net'");
    if (!parse_ipv4(v[OPT_GUEST].s, &cfg->guest) ||
        (cfg->guest & cfg->mask) != cfg->net)
        return bad_addr(error, "guest", v[OPT_GUEST].s,
                        "expected an IPv4 address inside 'net'");
    if (cfg->guest == cfg->gw || cfg->guest == cfg->dns ||
        cfg->guest == cfg->net || cfg->guest == (cfg->net | ~cfg->mask))
        return bad_addr(error, "guest", v[OPT_GUEST].s,
                        "must differ from 'host', 'dns' and the network and "
                        "broadcast addresses");
    if (v[OPT_DNS_FORWARD].present && v[OPT_DNS_FORWARD].s[0]) {
        const char *s = v[OPT_DNS_FORWARD].s;
        const char *colon = strrchr(s, ':');
        char *a = colon ? g_strndup(s, (size_t)(colon - s)) : g_strdup(s);
        bool ok = parse_ipv4(a, &cfg->resolver);
        g_free(a);
        if (ok && colon) {
            unsigned long port = strtoul(colon + 1, &end, 10);
            ok = *end == '\0' && port >= 1 && port <= 65535 && colon[1];
            cfg->resolver_port = (uint16_t)port;
        }
        if (!ok)
            return bad_addr(error, "dns-forward", s,
                            "expected IPv4ADDR or IPv4ADDR:PORT, e.g. 127.0.0.53");
    } else if (!ns_dns_resolver_from_file("/etc/resolv.conf", &cfg->resolver)) {
        cfg->resolver = 0; /* DNS queries will be dropped and counted */
    }
    if (v[OPT_OUTBOUND].present && v[OPT_OUTBOUND].s[0] &&
        !parse_ipv4(v[OPT_OUTBOUND].s, &cfg->outbound))
        return bad_addr(error, "outbound", v[OPT_OUTBOUND].s,
                        "expected a local IPv4 address");
    cfg->restricted = v[OPT_RESTRICT].i != 0;
    cfg->loopback = v[OPT_LOOPBACK].i != 0;
    cfg->mtu = (unsigned)v[OPT_MTU].i;
    cfg->max_flows = (unsigned)v[OPT_MAX_FLOWS].i;
    cfg->udp_timeout_s = (unsigned)v[OPT_UDP_TIMEOUT].i;
    cfg->tcp_timeout_s = (unsigned)v[OPT_TCP_TIMEOUT].i;
    cfg->lease_s = (unsigned)v[OPT_LEASE].i;
    if (v[OPT_MAC].present)
        memcpy(cfg->gw_mac, v[OPT_MAC].mac, 6);
    return TRUE;
}

static NsFwdSpec fwd_from_opt(const LilyHostFwd *f)
{
    NsFwdSpec s = {
        .proto = f->proto,
        .host_addr = ntohl(f->host_addr),
        .host_port = f->host_port,
        .guest_addr = ntohl(f->guest_addr),
        .guest_port = f->guest_port,
    };
    return s;
}

static void netsock_free(NetSock *ns)
{
    GHashTableIter it;
    gpointer v;

    ns_free(ns->ctx);
    if (ns->port)
        ns->host->net_detach(ns->port);
    if (ns->timer)
        ns->host->timer_free(ns->timer);
    if (ns->flush_timer)
        ns->host->timer_free(ns->flush_timer);
    if (ns->watches) {
        g_hash_table_iter_init(&it, ns->watches);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
            NetSockWatch *w = v;
            ns->host->fd_watch_remove(w->w);
            g_free(w);
        }
        g_hash_table_destroy(ns->watches);
    }
    g_free(ns->fwds);
    g_free(ns);
}

static gboolean netsock_init(LilyInstance *inst, const LilyHost *host,
                             const LilyOptValue *values, void **state,
                             GError **error)
{
    NetSock *ns = g_new0(NetSock, 1);
    const LilyOptValue *fv = &values[OPT_HOSTFWD];
    NsConfig cfg;
    size_t n = 0;

    ns->inst = inst;
    ns->host = host;
    ns->timer_deadline = UINT64_MAX;
    ns->watches = g_hash_table_new(NULL, NULL);
    if (!netsock_config(values, &cfg, error))
        goto out_free;

    if (fv->present && fv->n) {
        const LilyHostFwd *list = fv->list;
        ns->fwds = g_new0(NsFwdSpec, fv->n);
        for (size_t i = 0; i < fv->n; i++)
            ns->fwds[n++] = fwd_from_opt(&list[i]);
    } else if (fv->present && fv->fwd.proto) {
        ns->fwds = g_new0(NsFwdSpec, 1);
        ns->fwds[n++] = fwd_from_opt(&fv->fwd);
    }
    cfg.fwds = ns->fwds;
    cfg.nfwds = n;

    ns->timer = host->timer_new(inst, netsock_timer, ns);
    ns->flush_timer = host->timer_new(inst, netsock_flush_timer, ns);
    ns->port = host->net_attach(inst, NULL, &netsock_port_ops, ns, error);
    if (!ns->port)
        goto out_free;
    ns->ctx = ns_new(&cfg, &netsock_callbacks, ns, &ns_sock_posix, NULL, error);
    if (!ns->ctx)
        goto out_free;
    if (!cfg.resolver)
        host->log(inst, LILY_LOG_WARN,
                  "no IPv4 nameserver in /etc/resolv.conf: DNS queries to the "
                  "DNS address are dropped (set dns-forward = ADDR[:PORT])");
    *state = ns;
    return TRUE;

out_free:
    netsock_free(ns);
    return FALSE;
}

static void netsock_fini(void *state)
{
    netsock_free(state);
}

static const LilyPluginDesc netsock_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "net-socket",
    .kind = LILY_PLUGIN_NETDEV,
    .description = "user-mode networking through host sockets (NAT, DHCP, DNS, port forwards)",
    .options = netsock_options,
    .init = netsock_init,
    .fini = netsock_fini,
};

LILYVM_PLUGIN_DEFINE(netsock_desc)
