/*
 * lily-netns: run COMMAND in a private network namespace whose only link is
 * a TAP device served by a LilyVM network backend loaded through the real
 * core (a VM with no CPU; this program is the NIC).  A test bench for the
 * backends with real host applications: curl, iperf3, dig, ...
 *
 *   lily-netns [--backend NAME] [--set KEY=VALUE]... [--mtu N] -- COMMAND [ARGS]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tools/lily-netns/netns.h"

#define NETNS_NETDEV "net0"

typedef struct NetnsOpts {
    const char *backend;
    GPtrArray *sets;     /* "KEY=VALUE" for the netdev */
    int mtu;             /* 0: the backend's */
    bool userns;
    bool stats;
    bool no_resolv;
    const char *debug;
} NetnsOpts;

typedef struct NetnsRun {
    LilyVm *vm;
    NetnsChild child;
    int pidfd;
    int status;
} NetnsRun;

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: lily-netns [OPTION]... -- COMMAND [ARG]...\n"
            "Run COMMAND in a new network namespace whose only interface, " NETNS_IFNAME ",\n"
            "is served by a LilyVM network backend running in this process.\n\n"
            "  -b, --backend NAME   netdev plugin (default net-socket)\n"
            "  -s, --set KEY=VALUE  an option of the backend (repeatable), e.g.\n"
            "                       --set hostfwd=tcp::8080-:80 --set pcap=/tmp/x.pcap\n"
            "  -m, --mtu N          link MTU (sets the backend's mtu option too)\n"
            "      --userns         make a user namespace even when running as root\n"
            "      --no-resolv      leave /etc/resolv.conf alone inside\n"
            "      --stats          print the link and backend counters at the end\n"
            "  -d, --debug CATS     debug log categories (e.g. net0,net,tapnic or all)\n"
            "  -h, --help           this text\n\n"
            "The interface gets the backend's guest address (10.0.2.15/24 by default)\n"
            "with its gateway as default route, and /etc/resolv.conf names its DNS\n"
            "address.  lily-netns exits with COMMAND's status (128+N if killed by\n"
            "signal N; 125 if the namespace or backend could not be set up).\n");
}

static bool parse_args(int argc, char **argv, NetnsOpts *o, char ***command)
{
    static const struct option longopts[] = {
        { "backend", required_argument, NULL, 'b' },
        { "set", required_argument, NULL, 's' },
        { "mtu", required_argument, NULL, 'm' },
        { "userns", no_argument, NULL, 'U' },
        { "no-resolv", no_argument, NULL, 'R' },
        { "stats", no_argument, NULL, 'S' },
        { "debug", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "+b:s:m:d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            o->backend = optarg;
            break;
        case 's':
            if (!strchr(optarg, '=')) {
                fprintf(stderr, "lily-netns: --set %s: expected KEY=VALUE\n", optarg);
                return false;
            }
            g_ptr_array_add(o->sets, optarg);
            break;
        case 'm': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end || v < 68 || v > 65520) {
                fprintf(stderr, "lily-netns: --mtu %s: expected an integer in 68..65520\n",
                        optarg);
                return false;
            }
            o->mtu = (int)v;
            break;
        }
        case 'U':
            o->userns = true;
            break;
        case 'R':
            o->no_resolv = true;
            break;
        case 'S':
            o->stats = true;
            break;
        case 'd':
            o->debug = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return false;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "lily-netns: no COMMAND given (lily-netns [OPTION]... -- COMMAND)\n");
        return false;
    }
    *command = argv + optind;
    return true;
}

/* The value of a backend option as text, or NULL if it has none. */
static const char *netns_backend_opt(LilyInstance *inst, const char *name)
{
    size_t idx;
    const LilyOption *opts = inst->plugin->desc->options;
    if (!opts || !opt_find(opts, name, &idx) || !inst->values[idx].present)
        return NULL;
    return inst->values[idx].s;
}

static gboolean netns_addr(const char *text, uint32_t *out, const char *what, GError **error)
{
    struct in_addr a;
    if (inet_pton(AF_INET, text, &a) != 1) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                    "the backend's %s '%s' is not an IPv4 address", what, text);
        return FALSE;
    }
    *out = ntohl(a.s_addr);
    return TRUE;
}

/*
 * The namespace side gets the addresses the backend serves: its options
 * guest, host (or gateway), dns, net (ADDR/PREFIX) and mtu where it has them,
 * else QEMU's user-network defaults.
 */
static gboolean netns_setup_from_backend(LilyInstance *inst, const NetnsOpts *o,
                                         NetnsSetup *su, GError **error)
{
    const char *guest = netns_backend_opt(inst, "guest");
    const char *gw = netns_backend_opt(inst, "host");
    if (!gw)
        gw = netns_backend_opt(inst, "gateway");
    const char *dns = netns_backend_opt(inst, "dns");
    const char *net = netns_backend_opt(inst, "net");
    const char *mtu = netns_backend_opt(inst, "mtu");

    memset(su, 0, sizeof *su);
    if (!netns_addr(guest ? guest : "10.0.2.15", &su->addr, "guest address", error) ||
        !netns_addr(gw ? gw : "10.0.2.2", &su->gateway, "gateway address", error) ||
        !netns_addr(dns ? dns : "10.0.2.3", &su->dns, "DNS address", error))
        return FALSE;
    su->prefix = 24;
    const char *slash = net ? strchr(net, '/') : NULL;
    if (slash) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (*end || p < 1 || p > 30) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                        "the backend's net '%s' has no usable /PREFIX", net);
            return FALSE;
        }
        su->prefix = (uint32_t)p;
    }
    su->mtu = o->mtu ? (uint32_t)o->mtu : mtu ? (uint32_t)strtoul(mtu, NULL, 0) : 1500;
    if (o->no_resolv)
        su->dns = 0;
    /* QEMU's habitual guest MAC: what the backends' tests and docs expect. */
    static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    memcpy(su->mac, mac, 6);
    return TRUE;
}

static gboolean netns_build_vm(NetnsRun *run, const NetnsOpts *o, GError **error)
{
    LilyVm *vm = run->vm;
    if (!vm_load_plugins(vm, error))
        return FALSE;
    const LilyPlugin *p = registry_find(vm_registry(vm), o->backend);
    if (!p || p->desc->kind != LILY_PLUGIN_NETDEV) {
        const char *why = registry_failure(vm_registry(vm), o->backend);
        char *names = registry_names(vm_registry(vm), LILY_PLUGIN_NETDEV);
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                    "--backend %s: %s (network backends found: %s)", o->backend,
                    why ? why : p ? "not a network backend plugin" : "no such plugin",
                    names);
        g_free(names);
        return FALSE;
    }
    char *conf = g_strdup_printf("[machine]\nmemory = 1M\ncpu = none\nmmu = none\n\n"
                                 "[netdev " NETNS_NETDEV "]\nplugin = %s\n", o->backend);
    gboolean ok = vm_configure_data(vm, conf, "<lily-netns>", error);
    g_free(conf);
    if (!ok)
        return FALSE;
    bool mtu_set = false;
    for (guint i = 0; i < o->sets->len; i++) {
        const char *kv = g_ptr_array_index(o->sets, i);
        mtu_set |= g_str_has_prefix(kv, "mtu=");
        char *a = g_strconcat(NETNS_NETDEV ".", kv, NULL);
        ok = vm_set_option(vm, a, error);
        g_free(a);
        if (!ok)
            return FALSE;
    }
    if (o->mtu && !mtu_set && opt_find(p->desc->options, "mtu", NULL)) {
        char *a = g_strdup_printf(NETNS_NETDEV ".mtu=%d", o->mtu);
        ok = vm_set_option(vm, a, error);
        g_free(a);
        if (!ok)
            return FALSE;
    }
    if (!vm_realize(vm, error))
        return FALSE;
    return log_check_categories(vm, error);
}

/* The command ended: so does the VM, with its status. */
static gboolean netns_child_exited(int fd, unsigned revents, void *opaque)
{
    NetnsRun *run = opaque;
    run->status = netns_wait(&run->child);
    run->child.pid = 0;
    vm_end(run->vm, run->status);
    return FALSE;
}

typedef struct NetnsSignal {
    int signo;
    NetnsRun *run;
} NetnsSignal;

/* Signals meant for the command reach it; it decides when we end. */
static gboolean netns_signal_cb(gpointer data)
{
    NetnsSignal *s = data;
    if (s->run->child.pid > 0)
        kill(s->run->child.pid, s->signo);
    return G_SOURCE_CONTINUE;
}

static void netns_watch_signals(NetnsRun *run, GPtrArray *sources)
{
    static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
    for (size_t i = 0; i < G_N_ELEMENTS(signals); i++) {
        NetnsSignal *s = g_new0(NetnsSignal, 1);
        s->signo = signals[i];
        s->run = run;
        GSource *src = g_unix_signal_source_new(signals[i]);
        g_source_set_callback(src, netns_signal_cb, s, g_free);
        g_source_attach(src, run->vm->ctx);
        g_ptr_array_add(sources, src);
    }
}

int main(int argc, char **argv)
{
    NetnsOpts o = { .backend = "net-socket", .sets = g_ptr_array_new() };
    char **command = NULL;
    if (!parse_args(argc, argv, &o, &command)) {
        g_ptr_array_free(o.sets, TRUE);
        return NETNS_EXIT_SETUP;
    }
    if (o.debug)
        log_set_categories(o.debug);

    NetnsRun run = { .pidfd = -1, .status = NETNS_EXIT_SETUP };
    GError *err = NULL;
    TapNic *nic = NULL;
    GPtrArray *signal_sources = g_ptr_array_new();
    bool userns = o.userns || geteuid() != 0;

    /* Fork first: the command must not inherit the backend's sockets. */
    if (!netns_spawn(command, userns, &run.child, &err)) {
        fprintf(stderr, "lily-netns: %s\n", err->message);
        g_clear_error(&err);
        int st = netns_wait(&run.child);
        g_ptr_array_free(signal_sources, TRUE);
        g_ptr_array_free(o.sets, TRUE);
        return st ? st : NETNS_EXIT_SETUP;
    }
    /* Backends write to sockets whose peer may be gone: EPIPE, not death.
     * (After the fork: the command keeps the default disposition.) */
    signal(SIGPIPE, SIG_IGN);
    run.vm = vm_new();
    NetnsSetup su;
    if (!netns_build_vm(&run, &o, &err) ||
        !netns_setup_from_backend(vm_find_instance(run.vm, NETNS_NETDEV), &o, &su, &err))
        goto out_fail;
    nic = tapnic_new(run.vm, NETNS_NETDEV, run.child.tap_fd, &err);
    if (!nic)
        goto out_fail;
    run.pidfd = (int)syscall(SYS_pidfd_open, run.child.pid, 0);
    if (run.pidfd < 0) {
        g_set_error(&err, LILY_CORE_ERROR, LILY_CORE_ERROR_NET, "pidfd_open: %s",
                    g_strerror(errno));
        goto out_fail;
    }
    loop_fd_watch(run.vm, NULL, run.pidfd, LILY_IO_IN, netns_child_exited, &run);
    netns_watch_signals(&run, signal_sources);
    if (!netns_start(&run.child, &su, &err))
        goto out_fail;

    vm_run(run.vm);
    if (run.child.pid > 0) {
        /* The backend failed while the command still runs: it has no network left. */
        kill(run.child.pid, SIGTERM);
        netns_wait(&run.child);
        run.status = NETNS_EXIT_SETUP;
    }
    goto out_free;

out_fail:
    fprintf(stderr, "lily-netns: %s\n", err->message);
    g_clear_error(&err);
    netns_wait(&run.child);
    run.child.pid = 0;
    run.status = NETNS_EXIT_SETUP;
out_free:
    if (o.stats && run.vm && run.vm->realized) {
        vm_print_stats(run.vm, stderr);
        if (nic)
            tapnic_print_stats(nic, stderr);
    }
    for (guint i = 0; i < signal_sources->len; i++) {
        g_source_destroy(g_ptr_array_index(signal_sources, i));
        g_source_unref(g_ptr_array_index(signal_sources, i));
    }
    g_ptr_array_free(signal_sources, TRUE);
    tapnic_free(nic);
    vm_free(run.vm);
    if (run.pidfd >= 0)
        close(run.pidfd);
    if (run.child.tap_fd >= 0)
        close(run.child.tap_fd);
    log_shutdown();
    g_ptr_array_free(o.sets, TRUE);
    return run.status;
}
