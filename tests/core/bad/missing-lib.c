/* A plugin linked against a library that is not installed: dlopen fails. */
#include <lilyvm/lilyvm.h>

int lily_missing_function(void);

static gboolean missing_init(LilyInstance *inst, const LilyHost *host, const LilyOptValue *v,
                             void **state, GError **error)
{
    return lily_missing_function() == 0;
}

static const LilyPluginDesc missing_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "missing-lib",
    .kind = LILY_PLUGIN_DEVICE,
    .description = "Needs a library that does not exist",
    .init = missing_init,
};

LILYVM_PLUGIN_DEFINE(missing_desc)
