/* A plugin whose option table is unusable (a default outside its range). */
#include <lilyvm/lilyvm.h>

static const LilyOption badopt_options[] = {
    { "irq", LILY_OPT_INT, "99", 0, 15, NULL, "interrupt line", 0, 0 },
    { NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0 },
};

static gboolean badopt_init(LilyInstance *inst, const LilyHost *host, const LilyOptValue *v,
                            void **state, GError **error)
{
    return TRUE;
}

static const LilyPluginDesc badopt_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "bad-options",
    .kind = LILY_PLUGIN_DEVICE,
    .description = "Default outside the option's range",
    .options = badopt_options,
    .init = badopt_init,
};

LILYVM_PLUGIN_DEFINE(badopt_desc)
