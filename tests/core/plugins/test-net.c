/*
 * test-net: a network backend for the core tests.  It takes frames while
 * its "full" flag is clear and, with echo = on, sends each frame back.
 */
#include <lilyvm/lilyvm.h>

typedef struct TestNet {
    LilyInstance *inst;
    const LilyHost *host;
    LilyNetPort *port;
    bool echo;
    unsigned received;
} TestNet;

static const LilyOption net_options[] = {
    { "echo", LILY_OPT_BOOL, "off", 0, 0, NULL, "send every frame back", 0, 0 },
    { NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0 },
};

static bool net_can_receive(void *opaque)
{
    return true;
}

static void net_receive(void *opaque, const uint8_t *frame, size_t len)
{
    TestNet *s = opaque;
    s->received++;
    s->host->stat_add(s->inst, "frames", 1);
    if (s->echo)
        s->host->net_send(s->port, frame, len);
}

static const LilyNetOps net_ops = { net_can_receive, net_receive, NULL };

static gboolean net_init(LilyInstance *inst, const LilyHost *host, const LilyOptValue *v,
                         void **state, GError **error)
{
    TestNet *s = g_new0(TestNet, 1);
    s->inst = inst;
    s->host = host;
    s->echo = v[0].i;
    s->port = host->net_attach(inst, NULL, &net_ops, s, error);
    if (!s->port) {
        g_free(s);
        return FALSE;
    }
    *state = s;
    return TRUE;
}

static void net_fini(void *state)
{
    TestNet *s = state;
    s->host->net_detach(s->port);
    g_free(s);
}

static const LilyPluginDesc net_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "test-net",
    .kind = LILY_PLUGIN_NETDEV,
    .description = "Loopback network backend for the core tests",
    .options = net_options,
    .init = net_init,
    .fini = net_fini,
};

LILYVM_PLUGIN_DEFINE(net_desc)
