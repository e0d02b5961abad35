/*
 * net-loopback: a network backend that sends every frame it gets straight
 * back to the NIC, unchanged.  While the NIC cannot take frames, up to
 * `queue` of them wait here in order; beyond that they are dropped.
 */
#include <lilyvm/lilyvm.h>

#include <string.h>

typedef struct NetLoopFrame {
    size_t len;
    uint8_t data[];
} NetLoopFrame;

typedef struct NetLoop {
    LilyInstance *inst;
    const LilyHost *host;
    LilyNetPort *port;
    unsigned limit;      /* most frames held while the NIC is busy */
    GQueue pending;      /* NetLoopFrame *, oldest first */
    bool told_full;      /* can_receive said no: call net_ready when room */
} NetLoop;

enum { NETLOOP_OPT_QUEUE };

static const LilyOption netloop_options[] = {
    [NETLOOP_OPT_QUEUE] = { .name = "queue", .type = LILY_OPT_INT, .def = "64",
                            .min = 1, .max = 4096,
                            .help = "frames held while the NIC cannot receive" },
    { .name = NULL },
};

static void netloop_stat(NetLoop *s, const char *name)
{
    if (s->host->stat_add)
        s->host->stat_add(s->inst, name, 1);
}

/* Send what waits, oldest first, as long as the NIC takes it. */
static void netloop_flush(NetLoop *s)
{
    NetLoopFrame *f;

    while ((f = g_queue_peek_head(&s->pending)) != NULL) {
        if (!s->host->net_can_send(s->port) ||
            !s->host->net_send(s->port, f->data, f->len))
            break;
        g_queue_pop_head(&s->pending);
        g_free(f);
        netloop_stat(s, "echoed_frames");
    }
    if (s->told_full && g_queue_get_length(&s->pending) < s->limit) {
        s->told_full = false;
        s->host->net_ready(s->port);
    }
}

static bool netloop_can_receive(void *opaque)
{
    NetLoop *s = opaque;

    if (g_queue_get_length(&s->pending) < s->limit)
        return true;
    s->told_full = true;
    return false;
}

static void netloop_receive(void *opaque, const uint8_t *frame, size_t len)
{
    NetLoop *s = opaque;
    NetLoopFrame *f;

    if (g_queue_is_empty(&s->pending) && s->host->net_can_send(s->port) &&
        s->host->net_send(s->port, frame, len)) {
        netloop_stat(s, "echoed_frames");
        return;
    }
    if (g_queue_get_length(&s->pending) >= s->limit) {
        netloop_stat(s, "dropped_frames"); /* only if the NIC ignored can_receive */
        return;
    }
    f = g_malloc(sizeof *f + len);
    f->len = len;
    memcpy(f->data, frame, len);
    g_queue_push_tail(&s->pending, f);
    netloop_stat(s, "queued_frames");
}

static void netloop_ready(void *opaque)
{
    netloop_flush(opaque);
}

static const LilyNetOps netloop_ops = {
    .can_receive = netloop_can_receive,
    .receive = netloop_receive,
    .ready = netloop_ready,
};

static gboolean netloop_init(LilyInstance *inst, const LilyHost *host,
                             const LilyOptValue *values, void **state,
                             GError **error)
{
    NetLoop *s = g_new0(NetLoop, 1);

    s->inst = inst;
    s->host = host;
    s->limit = (unsigned)values[NETLOOP_OPT_QUEUE].i;
    g_queue_init(&s->pending);
    s->port = host->net_attach(inst, NULL, &netloop_ops, s, error);
    if (!s->port) {
        g_free(s);
        return FALSE;
    }
    *state = s;
    return TRUE;
}

static void netloop_fini(void *state)
{
    NetLoop *s = state;

    s->host->net_detach(s->port);
    g_queue_clear_full(&s->pending, g_free);
    g_free(s);
}

static const LilyPluginDesc netloop_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "net-loopback",
    .kind = LILY_PLUGIN_NETDEV,
    .description = "network backend that sends every frame back to the NIC",
    .options = netloop_options,
    .init = netloop_init,
    .fini = netloop_fini,
};

LILYVM_PLUGIN_DEFINE(netloop_desc)
