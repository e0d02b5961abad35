/*
 * net-null: a network backend that takes every frame the NIC sends, counts
 * it and drops it, and never sends anything.  For tests and for guests that
 * need a NIC but no network.
 */
#include <lilyvm/lilyvm.h>

typedef struct NetNull {
    LilyInstance *inst;
    const LilyHost *host;
    LilyNetPort *port;
    uint64_t frames, bytes;
} NetNull;

static bool netnull_can_receive(void *opaque)
{
    return true;
}

static void netnull_receive(void *opaque, const uint8_t *frame, size_t len)
{
    NetNull *s = opaque;

    s->frames++;
    s->bytes += len;
    if (s->host->stat_add) {
        s->host->stat_add(s->inst, "dropped_frames", 1);
        s->host->stat_add(s->inst, "dropped_bytes", len);
    }
}

static void netnull_ready(void *opaque)
{
    /* Nothing is ever waiting to be sent. */
}

static const LilyNetOps netnull_ops = {
    .can_receive = netnull_can_receive,
    .receive = netnull_receive,
    .ready = netnull_ready,
};

static const LilyOption netnull_options[] = {
    { .name = NULL },
};

static gboolean netnull_init(LilyInstance *inst, const LilyHost *host,
                             const LilyOptValue *values, void **state,
                             GError **error)
{
    NetNull *s = g_new0(NetNull, 1);

    s->inst = inst;
    s->host = host;
    s->port = host->net_attach(inst, NULL, &netnull_ops, s, error);
    if (!s->port) {
        g_free(s);
        return FALSE;
    }
    *state = s;
    return TRUE;
}

static void netnull_fini(void *state)
{
    NetNull *s = state;

    if (s->host->log_enabled && s->host->log_enabled(s->inst, LILY_LOG_DEBUG))
        s->host->log(s->inst, LILY_LOG_DEBUG, "dropped %" G_GUINT64_FORMAT
                     " frames, %" G_GUINT64_FORMAT " bytes", s->frames, s->bytes);
    s->host->net_detach(s->port);
    g_free(s);
}

static const LilyPluginDesc netnull_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "net-null",
    .kind = LILY_PLUGIN_NETDEV,
    .description = "network backend that drops every frame",
    .options = netnull_options,
    .init = netnull_init,
    .fini = netnull_fini,
};

LILYVM_PLUGIN_DEFINE(netnull_desc)
