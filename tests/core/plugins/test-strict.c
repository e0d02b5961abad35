/* test-strict: a device with a required option, for the core's config tests. */
#include <lilyvm/lilyvm.h>

static const LilyOption strict_options[] = {
    { "tag", LILY_OPT_STRING, NULL, 0, 0, NULL, "a required tag", LILY_OPT_F_REQUIRED, 0 },
    { NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0 },
};

static gboolean strict_init(LilyInstance *inst, const LilyHost *host, const LilyOptValue *v,
                            void **state, GError **error)
{
    *state = NULL;
    return TRUE;
}

static const LilyPluginDesc strict_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "test-strict",
    .kind = LILY_PLUGIN_DEVICE,
    .description = "Device with a required option, for the core tests",
    .options = strict_options,
    .init = strict_init,
};

LILYVM_PLUGIN_DEFINE(strict_desc)
