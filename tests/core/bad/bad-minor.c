/* A plugin built for a newer ABI minor than the core knows: the registry refuses it. */
#include <lilyvm/lilyvm.h>

static gboolean bad_init(LilyInstance *inst, const LilyHost *host, const LilyOptValue *v,
                         void **state, GError **error)
{
    return TRUE;
}

static const LilyPluginDesc bad_desc = {
    .abi_major = LILYVM_ABI_MAJOR,
    .abi_minor = LILYVM_ABI_MINOR + 1,
    .size = sizeof(LilyPluginDesc),
    .name = "bad-minor",
    .kind = LILY_PLUGIN_DEVICE,
    .description = "Newer ABI minor",
    .init = bad_init,
};

LILYVM_PLUGIN_DEFINE(bad_desc)
