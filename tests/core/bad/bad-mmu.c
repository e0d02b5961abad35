/* An MMU plugin without the LilyMmuOps table the CPU needs: refused. */
#include <lilyvm/lilyvm.h>

static gboolean badmmu_init(LilyInstance *inst, const LilyHost *host, const LilyOptValue *v,
                            void **state, GError **error)
{
    return TRUE;
}

static const LilyPluginDesc badmmu_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "bad-mmu",
    .kind = LILY_PLUGIN_MMU,
    .description = "MMU without kind_ops",
    .init = badmmu_init,
};

LILYVM_PLUGIN_DEFINE(badmmu_desc)
