/*
 * test-mmu: an MMU plugin that translates nothing, for the core tests: it
 * has a [machine] option of its own and a kind_ops table the CPU can find.
 */
#include <lilyvm/lilyvm.h>

typedef struct TestMmuOps {
    int magic;
} TestMmuOps;

static const TestMmuOps mmu_ops = { 0x4d4d55 };

static const LilyOption mmu_options[] = {
    { "pse", LILY_OPT_BOOL, "on", 0, 0, NULL, "4 MiB pages", 0, 0 },
    { NULL, 0, NULL, 0, 0, NULL, NULL, 0, 0 },
};

static gboolean mmu_init(LilyInstance *inst, const LilyHost *host, const LilyOptValue *v,
                         void **state, GError **error)
{
    int *pse = g_new(int, 1);
    *pse = (int)v[0].i;
    *state = pse;
    return TRUE;
}

static void mmu_fini(void *state)
{
    g_free(state);
}

static const LilyPluginDesc mmu_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "test-mmu",
    .kind = LILY_PLUGIN_MMU,
    .description = "MMU that translates nothing, for the core tests",
    .options = mmu_options,
    .init = mmu_init,
    .fini = mmu_fini,
    .kind_ops = &mmu_ops,
};

LILYVM_PLUGIN_DEFINE(mmu_desc)
