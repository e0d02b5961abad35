/* A plugin built for a future, incompatible ABI major: the registry refuses it. */
#include <lilyvm/lilyvm.h>

static gboolean bad_init(LilyInstance *inst, const LilyHost *host, const LilyOptValue *v,
                         void **state, GError **error)
{
    return TRUE;
}

static const LilyPluginDesc bad_desc = {
    .abi_major = LILYVM_ABI_MAJOR + 1,
    .abi_minor = 0,
    .size = sizeof(LilyPluginDesc),
    .name = "bad-major",
    .kind = LILY_PLUGIN_DEVICE,
    .description = "Wrong ABI major",
    .init = bad_init,
};

LILYVM_PLUGIN_DEFINE(bad_desc)
