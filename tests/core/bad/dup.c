/* Built twice under two file names: the second copy is a duplicate name. */
#include <lilyvm/lilyvm.h>

static gboolean dup_init(LilyInstance *inst, const LilyHost *host, const LilyOptValue *v,
                         void **state, GError **error)
{
    return TRUE;
}

static const LilyPluginDesc dup_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "test-dup",
    .kind = LILY_PLUGIN_DEVICE,
    .description = "Same name in two files",
    .init = dup_init,
};

LILYVM_PLUGIN_DEFINE(dup_desc)
