/*
 * net-slirp: a network backend over libslirp (the user-mode stack QEMU
 * uses), with the same addresses and options as net-socket where libslirp
 * has them.  Frames from the NIC go to slirp_input(); libslirp's frames go
 * to the NIC through send_packet.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/net-slirp/netslirp.h"

#define NETSLIRP_ERROR (g_quark_from_string("net-slirp"))
#define NETSLIRP_MTU_MIN 576
#define NETSLIRP_MTU_MAX 65520
/* guest_error messages logged as warnings before they drop to debug level. */
#define NETSLIRP_LOUD_ERRORS 10

enum {
    OPT_NET, OPT_HOST, OPT_DNS, OPT_GUEST, OPT_HOSTFWD, OPT_RESTRICT, OPT_LOOPBACK,
    OPT_OUTBOUND, OPT_MTU, OPT_DHCP, OPT_HOSTNAME, OPT_COUNT
};

static const LilyOption netslirp_options[] = {
    [OPT_NET] = { "net", LILY_OPT_STRING, "10.0.2.0/24", 0, 0, NULL,
                  "guest network, ADDR/PREFIX (prefix 8-30)", 0, 0 },
    [OPT_HOST] = { "host", LILY_OPT_STRING, "10.0.2.2", 0, 0, NULL,
                   "gateway address; reaches the host's 127.0.0.1 when loopback is on", 0, 0 },
    [OPT_DNS] = { "dns", LILY_OPT_STRING, "10.0.2.3", 0, 0, NULL,
                  "DNS address; queries go to the first nameserver of /etc/resolv.conf",
                  0, 0 },
    [OPT_GUEST] = { "guest", LILY_OPT_STRING, "10.0.2.15", 0, 0, NULL,
                    "first address the DHCP server hands out", 0, 0 },
    [OPT_HOSTFWD] = { "hostfwd", LILY_OPT_HOSTFWD, NULL, 0, 0, NULL,
                      "port forwards, tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport",
                      LILY_OPT_F_LIST, 0 },
    [OPT_RESTRICT] = { "restrict", LILY_OPT_BOOL, "false", 0, 0, NULL,
                       "isolate the guest: only the port forwards work", 0, 0 },
    [OPT_LOOPBACK] = { "loopback", LILY_OPT_BOOL, "true", 0, 0, NULL,
                       "let the guest reach host 127.0.0.1 through the gateway address", 0, 0 },
    [OPT_OUTBOUND] = { "outbound", LILY_OPT_STRING, NULL, 0, 0, NULL,
                       "host IPv4 address outgoing sockets are bound to", 0, 0 },
    [OPT_MTU] = { "mtu", LILY_OPT_INT, "1500", NETSLIRP_MTU_MIN, NETSLIRP_MTU_MAX, NULL,
                  "link MTU (and MRU)", 0, 0 },
    [OPT_DHCP] = { "dhcp", LILY_OPT_BOOL, "true", 0, 0, NULL,
                   "answer the guest's DHCP requests", 0, 0 },
    [OPT_HOSTNAME] = { "hostname", LILY_OPT_STRING, NULL, 0, 0, NULL,
                       "host name the DHCP server gives the guest", 0, 0 },
    [OPT_COUNT] = { NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0 },
};

typedef struct NetSlirpInstance {
    NetSlirp ns;               /* first: the callbacks' opaque */
    struct sockaddr_in outbound;
    unsigned guest_errors;
} NetSlirpInstance;

/* ---- frames ------------------------------------------------------------- */

static ssize_t netslirp_send_packet(const void *buf, size_t len, void *opaque)
{
    NetSlirp *ns = opaque;
    /* A NIC that is full drops the frame: libslirp's TCP retransmits. */
    if (!ns->port || !ns->host->net_send(ns->port, buf, len)) {
        ns->host->stat_add(ns->inst, "tx-dropped", 1);
        return (ssize_t)len;
    }
    ns->host->stat_add(ns->inst, "tx-frames", 1);
    return (ssize_t)len;
}

static void netslirp_guest_error(const char *msg, void *opaque)
{
    NetSlirpInstance *si = opaque;
    NetSlirp *ns = &si->ns;
    ns->host->stat_add(ns->inst, "guest-errors", 1);
    LilyLogLevel level = si->guest_errors++ < NETSLIRP_LOUD_ERRORS ? LILY_LOG_WARN
                                                                  : LILY_LOG_DEBUG;
    ns->host->log(ns->inst, level, "guest error: %s", msg);
}

static bool netslirp_can_receive(void *opaque)
{
    return true;  /* libslirp takes every frame (or drops it itself) */
}

static void netslirp_receive(void *opaque, const uint8_t *frame, size_t len)
{
    NetSlirp *ns = opaque;
    ns->host->stat_add(ns->inst, "rx-frames", 1);
    slirp_input(ns->slirp, frame, (int)len);
    netslirp_refresh(ns);
}

static void netslirp_ready(void *opaque)
{
    /* Nothing queued here: frames the NIC refused were dropped. */
}

static const LilyNetOps netslirp_port_ops = {
    .can_receive = netslirp_can_receive,
    .receive = netslirp_receive,
    .ready = netslirp_ready,
};

static const SlirpCb netslirp_callbacks = {
    .send_packet = netslirp_send_packet,
    .guest_error = netslirp_guest_error,
    .clock_get_ns = netslirp_clock_ns,
    .timer_new = netslirp_timer_new,
    .timer_free = netslirp_timer_free,
    .timer_mod = netslirp_timer_mod,
    .register_poll_fd = netslirp_register_poll_fd,
    .unregister_poll_fd = netslirp_unregister_poll_fd,
    .notify = netslirp_notify,
    .timer_new_opaque = netslirp_timer_new_opaque,
};

/* ---- options ------------------------------------------------------------ */

static gboolean bad_value(GError **error, const char *key, const char *value, const char *why)
{
    g_set_error(error, NETSLIRP_ERROR, 0, "%s = %s: %s", key, value ? value : "(unset)", why);
    return FALSE;
}

static bool parse_ipv4(const char *s, struct in_addr *out)
{
    return s && inet_pton(AF_INET, s, out) == 1;
}

/* An address option that must lie inside the guest network. */
static gboolean netslirp_inside(const LilyOptValue *v, const char *key, uint32_t net,
                                uint32_t mask, struct in_addr *out, GError **error)
{
    if (!parse_ipv4(v->s, out) || (ntohl(out->s_addr) & mask) != net)
        return bad_value(error, key, v->s, "expected an IPv4 address inside 'net'");
    return TRUE;
}

static gboolean netslirp_config(NetSlirpInstance *si, const LilyOptValue *v, SlirpConfig *cfg,
                                GError **error)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->version = 4;
    cfg->in_enabled = true;

    char **parts = g_strsplit(v[OPT_NET].s, "/", 2);
    struct in_addr net;
    char *end = NULL;
    unsigned long prefix = parts[0] && parts[1] ? strtoul(parts[1], &end, 10) : 0;
    bool ok = parts[0] && parts[1] && parse_ipv4(parts[0], &net) && parts[1][0] && !*end &&
              prefix >= 8 && prefix <= 30;
    g_strfreev(parts);
    if (!ok)
        return bad_value(error, "net", v[OPT_NET].s,
                         "expected ADDR/PREFIX with a prefix of 8 to 30, e.g. 10.0.2.0/24");
    uint32_t mask = 0xffffffffu << (32 - prefix);
    uint32_t netaddr = ntohl(net.s_addr) & mask;
    cfg->vnetwork.s_addr = htonl(netaddr);
    cfg->vnetmask.s_addr = htonl(mask);
    if (!netslirp_inside(&v[OPT_HOST], "host", netaddr, mask, &cfg->vhost, error) ||
        !netslirp_inside(&v[OPT_DNS], "dns", netaddr, mask, &cfg->vnameserver, error) ||
        !netslirp_inside(&v[OPT_GUEST], "guest", netaddr, mask, &cfg->vdhcp_start, error))
        return FALSE;
    uint32_t guest = ntohl(cfg->vdhcp_start.s_addr);
    if (cfg->vdhcp_start.s_addr == cfg->vhost.s_addr ||
        cfg->vdhcp_start.s_addr == cfg->vnameserver.s_addr || guest == netaddr ||
        guest == (netaddr | ~mask))
        return bad_value(error, "guest", v[OPT_GUEST].s,
                         "must differ from 'host', 'dns' and the network and broadcast "
                         "addresses");
    if (v[OPT_OUTBOUND].present && v[OPT_OUTBOUND].s[0]) {
        si->outbound.sin_family = AF_INET;
        if (!parse_ipv4(v[OPT_OUTBOUND].s, &si->outbound.sin_addr))
            return bad_value(error, "outbound", v[OPT_OUTBOUND].s,
                             "expected a local IPv4 address");
        cfg->outbound_addr = &si->outbound;
    }
    cfg->restricted = v[OPT_RESTRICT].i != 0;
    cfg->disable_host_loopback = v[OPT_LOOPBACK].i == 0;
    cfg->if_mtu = (size_t)v[OPT_MTU].i;
    cfg->if_mru = (size_t)v[OPT_MTU].i;
    cfg->disable_dhcp = v[OPT_DHCP].i == 0;
    cfg->vhostname = v[OPT_HOSTNAME].present ? v[OPT_HOSTNAME].s : NULL;
    return TRUE;
}

static gboolean netslirp_add_fwd(NetSlirp *ns, const LilyHostFwd *f, GError **error)
{
    struct in_addr host = { .s_addr = f->host_addr };
    struct in_addr guest = { .s_addr = f->guest_addr };  /* 0: the DHCP address */
    errno = 0;
    if (slirp_add_hostfwd(ns->slirp, f->proto == 17, host, f->host_port, guest,
                          f->guest_port) < 0) {
        char addr[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &host, addr, sizeof addr);
        g_set_error(error, NETSLIRP_ERROR, 0, "hostfwd %s:%s:%u-:%u: cannot listen on %s:%u%s%s",
                    f->proto == 17 ? "udp" : "tcp", addr, f->host_port, f->guest_port, addr,
                    f->host_port, errno ? ": " : " (in use, or not a local address?)",
                    errno ? g_strerror(errno) : "");
        return FALSE;
    }
    return TRUE;
}

/* ---- instance ----------------------------------------------------------- */

/*
 * libslirp writes to its sockets with plain send(): a host peer that has
 * closed its end would raise SIGPIPE and kill the whole VM.  The write
 * failing with EPIPE is what libslirp expects, so SIGPIPE must be ignored;
 * a program that handles it itself is left alone.
 */
static void netslirp_ignore_sigpipe(NetSlirp *ns)
{
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
        old.sa_handler == SIG_DFL) {
        signal(SIGPIPE, SIG_IGN);
        ns->host->log(ns->inst, LILY_LOG_DEBUG, "SIGPIPE is now ignored (libslirp needs it)");
    }
}

static void netslirp_free(NetSlirpInstance *si)
{
    NetSlirp *ns = &si->ns;
    if (ns->port)
        ns->host->net_detach(ns->port);
    ns->port = NULL;
    /* slirp_cleanup() frees libslirp's timers through our callbacks. */
    if (ns->slirp)
        slirp_cleanup(ns->slirp);
    ns->slirp = NULL;
    netslirp_loop_fini(ns);
    g_free(si);
}

static gboolean netslirp_init(LilyInstance *inst, const LilyHost *host,
                              const LilyOptValue *values, void **state, GError **error)
{
    NetSlirpInstance *si = g_new0(NetSlirpInstance, 1);
    NetSlirp *ns = &si->ns;
    SlirpConfig cfg;

    ns->inst = inst;
    ns->host = host;
    if (!netslirp_config(si, values, &cfg, error))
        goto out_free;
    netslirp_ignore_sigpipe(ns);
    netslirp_loop_init(ns);
    ns->slirp = slirp_new(&cfg, &netslirp_callbacks, si);
    if (!ns->slirp) {
        g_set_error(error, NETSLIRP_ERROR, 0, "libslirp %s refused the configuration",
                    slirp_version_string());
        goto out_free;
    }

    const LilyOptValue *fv = &values[OPT_HOSTFWD];
    const LilyHostFwd *fwds = fv->n ? fv->list : &fv->fwd;
    size_t nfwds = fv->n ? fv->n : fv->present && fv->fwd.proto ? 1 : 0;
    for (size_t i = 0; i < nfwds; i++)
        if (!netslirp_add_fwd(ns, &fwds[i], error))
            goto out_free;

    ns->port = host->net_attach(inst, NULL, &netslirp_port_ops, ns, error);
    if (!ns->port)
        goto out_free;
    netslirp_refresh(ns);
    host->log(inst, LILY_LOG_DEBUG, "libslirp %s, MTU %d", slirp_version_string(),
              (int)values[OPT_MTU].i);
    *state = si;
    return TRUE;

out_free:
    netslirp_free(si);
    return FALSE;
}

static void netslirp_fini(void *state)
{
    netslirp_free(state);
}

static const LilyPluginDesc netslirp_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "net-slirp",
    .kind = LILY_PLUGIN_NETDEV,
    .description = "user-mode networking through libslirp (NAT, DHCP, DNS, port forwards)",
    .options = netslirp_options,
    .init = netslirp_init,
    .fini = netslirp_fini,
};

LILYVM_PLUGIN_DEFINE(netslirp_desc)
