/* A network backend with an option named like a core key (pcap): refused. */
#include <lilyvm/lilyvm.h>

static const LilyOption corekey_options[] = {
    { "pcap", LILY_OPT_STRING, NULL, 0, 0, NULL, "shadows the core's pcap key", 0, 0 },
    { NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0 },
};

static gboolean corekey_init(LilyInstance *inst, const LilyHost *host, const LilyOptValue *v,
                             void **state, GError **error)
{
    return TRUE;
}

static const LilyPluginDesc corekey_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "bad-corekey",
    .kind = LILY_PLUGIN_NETDEV,
    .description = "Option named like a core key",
    .options = corekey_options,
    .init = corekey_init,
};

LILYVM_PLUGIN_DEFINE(corekey_desc)
