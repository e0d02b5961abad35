/*
 * Tests of the net-socket plugin as the core sees it: loaded with dlopen,
 * its descriptor checked, and instances created through a fake host table
 * (options as the core would hand them over, frames through the port).
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <lilyvm/host.h>
#include <lilyvm/plugin.h>

static const LilyPluginDesc *desc;

/* ---- a fake host ------------------------------------------------------- */

typedef struct FakeHost {
    const LilyNetOps *ops;
    void *opaque;
    GPtrArray *sent;   /* GBytes* frames the backend sent */
    int watches;
    int timers;
    GString *log;
} FakeHost;

static FakeHost fh;
static int fake_port_token, fake_watch_token, fake_timer_token;

static void h_log(LilyInstance *inst, LilyLogLevel level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_string_append_vprintf(fh.log, fmt, ap);
    g_string_append_c(fh.log, '\n');
    va_end(ap);
}

static uint64_t h_clock(LilyInstance *inst) { return (uint64_t)g_get_monotonic_time() * 1000u; }
static LilyTimer *h_timer_new(LilyInstance *i, LilyTimerFn fn, void *o)
{
    fh.timers++;
    return (LilyTimer *)&fake_timer_token;
}
static void h_timer_mod(LilyTimer *t, uint64_t d) {}
static void h_timer_del(LilyTimer *t) {}
static void h_timer_free(LilyTimer *t) { fh.timers--; }
static LilyWatch *h_fd_watch(LilyInstance *i, int fd, unsigned ev, LilyWatchFn fn, void *o)
{
    fh.watches++;
    return (LilyWatch *)&fake_watch_token;
}
static void h_fd_watch_update(LilyWatch *w, unsigned ev) {}
static void h_fd_watch_remove(LilyWatch *w) { fh.watches--; }

static LilyNetPort *h_net_attach(LilyInstance *inst, const char *netdev,
                                 const LilyNetOps *ops, void *opaque, GError **error)
{
    g_assert_null(netdev); /* a backend asks for its own end */
    fh.ops = ops;
    fh.opaque = opaque;
    return (LilyNetPort *)&fake_port_token;
}
static bool h_net_send(LilyNetPort *p, const uint8_t *f, size_t len)
{
    g_ptr_array_add(fh.sent, g_bytes_new(f, len));
    return true;
}
static bool h_net_can_send(LilyNetPort *p) { return true; }
static void h_net_detach(LilyNetPort *p) { fh.ops = NULL; }
static void h_stat_add(LilyInstance *inst, const char *name, uint64_t d) {}
static bool h_log_enabled(LilyInstance *inst, LilyLogLevel level) { return true; }

static const LilyHost fake_host = {
    .size = sizeof(LilyHost),
    .abi_major = LILYVM_ABI_MAJOR,
    .abi_minor = LILYVM_ABI_MINOR,
    .log = h_log,
    .log_enabled = h_log_enabled,
    .clock_ns = h_clock,
    .timer_new = h_timer_new,
    .timer_mod = h_timer_mod,
    .timer_del = h_timer_del,
    .timer_free = h_timer_free,
    .fd_watch = h_fd_watch,
    .fd_watch_update = h_fd_watch_update,
    .fd_watch_remove = h_fd_watch_remove,
    .net_attach = h_net_attach,
    .net_send = h_net_send,
    .net_can_send = h_net_can_send,
    .net_detach = h_net_detach,
    .stat_add = h_stat_add,
};

/* ---- option values as the core would build them ----------------------- */

typedef struct Values {
    LilyOptValue v[32];
    LilyHostFwd fwd[4];
} Values;

static int opt_index(const char *name)
{
    for (int i = 0; desc->options[i].name; i++)
        if (!strcmp(desc->options[i].name, name))
            return i;
    g_assert_not_reached();
}

static void values_default(Values *vals)
{
    memset(vals, 0, sizeof *vals);
    for (int i = 0; desc->options[i].name; i++) {
        const LilyOption *o = &desc->options[i];
        LilyOptValue *v = &vals->v[i];
        g_assert_cmpint(i, <, 32);
        if (!o->def)
            continue;
        v->present = true;
        v->s = o->def;
        if (o->type == LILY_OPT_INT)
            v->i = g_ascii_strtoll(o->def, NULL, 0);
        else if (o->type == LILY_OPT_BOOL)
            v->i = !strcmp(o->def, "true");
        else if (o->type == LILY_OPT_MAC)
            sscanf(o->def, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &v->mac[0], &v->mac[1],
                   &v->mac[2], &v->mac[3], &v->mac[4], &v->mac[5]);
    }
}

static void values_set(Values *vals, const char *name, const char *s)
{
    LilyOptValue *v = &vals->v[opt_index(name)];

    v->set = v->present = true;
    v->s = s;
}

static void fake_reset(void)
{
    if (fh.sent)
        g_ptr_array_unref(fh.sent);
    if (fh.log)
        g_string_free(fh.log, TRUE);
    memset(&fh, 0, sizeof fh);
    fh.sent = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    fh.log = g_string_new("");
}

/* ---- tests ------------------------------------------------------------- */

static void test_descriptor(void)
{
    const LilyOption *o;

    g_assert_cmpuint(desc->abi_major, ==, LILYVM_ABI_MAJOR);
    g_assert_cmpuint(desc->size, ==, sizeof(LilyPluginDesc));
    g_assert_cmpstr(desc->name, ==, "net-socket");
    g_assert_cmpint(desc->kind, ==, LILY_PLUGIN_NETDEV);
    o = &desc->options[opt_index("hostfwd")];
    g_assert_cmpint(o->type, ==, LILY_OPT_HOSTFWD);
    g_assert_true(o->flags & LILY_OPT_F_LIST);
    o = &desc->options[opt_index("mtu")];
    g_assert_cmpint(o->min, ==, 576);
    g_assert_cmpint(o->max, ==, 65520);
    for (int i = 0; desc->options[i].name; i++)
        g_assert_cmpstr(desc->options[i].name, !=, "pcap"); /* the core's */
}

static void test_init_and_arp(void)
{
    Values vals;
    GError *err = NULL;
    void *state = NULL;
    uint8_t frame[42] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                          0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x08, 0x06,
                          0, 1, 8, 0, 6, 4, 0, 1,
                          0x52, 0x54, 0, 0x12, 0x34, 0x56, 10, 0, 2, 15,
                          0, 0, 0, 0, 0, 0, 10, 0, 2, 2 };
    const uint8_t *r;
    gsize len;

    fake_reset();
    values_default(&vals);
    values_set(&vals, "dns-forward", "127.0.0.1:53");
    g_assert_true(desc->init(NULL, &fake_host, vals.v, &state, &err));
    g_assert_no_error(err);
    g_assert_nonnull(fh.ops);
    g_assert_true(fh.ops->can_receive(fh.opaque));
    fh.ops->receive(fh.opaque, frame, sizeof frame);
    g_assert_cmpuint(fh.sent->len, ==, 1);
    r = g_bytes_get_data(fh.sent->pdata[0], &len);
    g_assert_cmpuint(len, >=, 42);
    g_assert_cmphex(r[12] << 8 | r[13], ==, 0x0806);
    g_assert_cmpuint(r[21], ==, 2); /* reply */
    desc->fini(state);
    g_assert_null(fh.ops);
    g_assert_cmpint(fh.watches, ==, 0);
    g_assert_cmpint(fh.timers, ==, 0);
}

static void expect_init_error(Values *vals, const char *needle)
{
    GError *err = NULL;
    void *state = NULL;

    g_assert_false(desc->init(NULL, &fake_host, vals->v, &state, &err));
    g_assert_nonnull(err);
    g_test_message("init error: %s", err->message);
    g_assert_nonnull(strstr(err->message, needle));
    g_error_free(err);
    g_assert_null(fh.ops); /* undone */
    g_assert_cmpint(fh.watches, ==, 0);
    g_assert_cmpint(fh.timers, ==, 0);
}

static void test_bad_options(void)
{
    Values vals;

    fake_reset();
    values_default(&vals);
    values_set(&vals, "net", "10.0.2.0/33");
    expect_init_error(&vals, "net = 10.0.2.0/33");
    values_default(&vals);
    values_set(&vals, "guest", "192.168.1.5");
    expect_init_error(&vals, "inside 'net'");
    values_default(&vals);
    values_set(&vals, "guest", "10.0.2.2");
    expect_init_error(&vals, "must differ");
    values_default(&vals);
    values_set(&vals, "dns-forward", "resolver.example:53");
    expect_init_error(&vals, "dns-forward");
    values_default(&vals);
    values_set(&vals, "outbound", "not-an-address");
    expect_init_error(&vals, "outbound");
}

static void test_hostfwd_in_use(void)
{
    Values vals;
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t sl = sizeof sa;
    int busy = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    LilyOptValue *v;
    char *want;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_assert_cmpint(bind(busy, (struct sockaddr *)&sa, sizeof sa), ==, 0);
    g_assert_cmpint(listen(busy, 1), ==, 0);
    g_assert_cmpint(getsockname(busy, (struct sockaddr *)&sa, &sl), ==, 0);

    fake_reset();
    values_default(&vals);
    values_set(&vals, "dns-forward", "127.0.0.1");
    /* tcp::2323-:23 (free) and tcp::BUSY-:80 */
    vals.fwd[0] = (LilyHostFwd){ .proto = 6, .host_addr = htonl(INADDR_LOOPBACK),
                                 .host_port = 0, .guest_port = 23 };
    vals.fwd[1] = (LilyHostFwd){ .proto = 6, .host_addr = htonl(INADDR_LOOPBACK),
                                 .host_port = ntohs(sa.sin_port), .guest_port = 80 };
    {
        /* A free port for the first forward. */
        struct sockaddr_in f = { .sin_family = AF_INET };
        socklen_t fl = sizeof f;
        int tmp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        f.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        g_assert_cmpint(bind(tmp, (struct sockaddr *)&f, sizeof f), ==, 0);
        g_assert_cmpint(getsockname(tmp, (struct sockaddr *)&f, &fl), ==, 0);
        vals.fwd[0].host_port = ntohs(f.sin_port);
        close(tmp);
    }
    v = &vals.v[opt_index("hostfwd")];
    v->set = v->present = true;
    v->s = "(list)";
    v->n = 2;
    v->list = vals.fwd;
    want = g_strdup_printf("hostfwd tcp:127.0.0.1:%u-:80", ntohs(sa.sin_port));
    expect_init_error(&vals, want);
    g_free(want);
    close(busy);
}

int main(int argc, char **argv)
{
    char *dir, *path;
    void *h;
    LilyPluginEntryFn entry;

    g_test_init(&argc, &argv, NULL);
    dir = g_path_get_dirname(argv[0]);
    path = g_build_filename(dir, "..", "..", "plugins", "net-socket.so", NULL);
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        g_printerr("cannot load %s: %s\n", path, dlerror());
        return 1;
    }
    entry = (LilyPluginEntryFn)dlsym(h, LILYVM_PLUGIN_ENTRY_SYMBOL);
    g_assert_nonnull(entry);
    desc = entry();
    g_free(path);
    g_free(dir);

    g_test_add_func("/netsock/plugin/descriptor", test_descriptor);
    g_test_add_func("/netsock/plugin/init-and-arp", test_init_and_arp);
    g_test_add_func("/netsock/plugin/bad-options", test_bad_options);
    g_test_add_func("/netsock/plugin/hostfwd-in-use", test_hostfwd_in_use);
    return g_test_run();
}
