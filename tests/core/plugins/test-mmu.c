/*
 * test-mmu: an MMU plugin that translates nothing, for the core tests: it
 * has a [machine] option of its own and a LilyMmuOps table the CPU can find.
 */
#include <lilyvm/lilyvm.h>
#include <lilyvm/mmu.h>

/* Nothing is ever mapped: every access is a guest page fault. */
static LilyMmuResult mmu_fault(void *mmu, uint32_t vaddr, uint32_t access, LilyMmuBatch *batch,
                               uint32_t *pf_error, uint64_t *gpa)
{
    *pf_error = access;
    return LILY_MMU_GUEST_FAULT;
}

static LilyMmuResult mmu_translate(void *mmu, uint32_t vaddr, uint32_t access, uint64_t *gpa,
                                   uint32_t *pf_error)
{
    *pf_error = access;
    return LILY_MMU_GUEST_FAULT;
}

static const LilyMmuOps mmu_ops = {
    .size = sizeof(LilyMmuOps),
    .fault = mmu_fault,
    .translate = mmu_translate,
};

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
