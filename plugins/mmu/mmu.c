/*
 * The mmu plugin: shadow paging for IA-32 guests (shadow.c) behind the
 * LilyMmuOps table the CPU plugin calls, with its options and statistics.
 */
#include <lilyvm/lilyvm.h>
#include <lilyvm/mmu.h>

#include "plugins/mmu/shadow.h"

/* Order of the option table. */
enum {
    OPT_FAULT_AROUND,
    OPT_POPULATE,
    OPT_TABLES,
    OPT_MIN_VADDR,
};

#define MMU_MIN_VADDR_FILE "/proc/sys/vm/mmap_min_addr"
#define MMU_MIN_VADDR_FALLBACK 0x10000u /* what most distributions set */

static GQuark mmu_error_quark(void)
{
    return g_quark_from_string("lilyvm-mmu-error");
}

typedef struct MmuPlugin {
    Mmu mmu; /* first: the ops receive the plugin state as the Mmu */
    LilyInstance *inst;
    const LilyHost *host;
    MmuTable *tables;
    uint16_t *free_list;
    LilyTimer *stats_timer;
    LilyMmuStats pushed; /* what stat_add has been given so far */
    uint64_t pushed_remaps;
} MmuPlugin;

/* How often the counters go to host->stat_add (lilyvm --stats). */
#define MMU_STATS_PERIOD_NS 250000000ull

static bool mmu_plugin_mmio(void *ctx, uint64_t gpa)
{
    MmuPlugin *p = ctx;
    return p->host->mmio_claimed && p->host->mmio_claimed(p->inst, gpa);
}

/*
 * Hand the counters' growth to the core.  Done from a timer in the main loop
 * rather than on the fault path, which stays free of host calls.
 */
static void mmu_plugin_push_stats(MmuPlugin *p)
{
    const LilyMmuStats *s = &p->mmu.stats;
    LilyMmuStats *o = &p->pushed;
#define MMU_PUSH(field)                                                    \
    if (s->field != o->field) {                                            \
        p->host->stat_add(p->inst, #field, s->field - o->field);          \
        o->field = s->field;                                               \
    }
    MMU_PUSH(faults);
    MMU_PUSH(guest_faults);
    MMU_PUSH(ops_map);
    MMU_PUSH(ops_unmap);
    MMU_PUSH(ops_protect);
    MMU_PUSH(flushes);
#undef MMU_PUSH
    if (p->mmu.remaps != p->pushed_remaps) {
        p->host->stat_add(p->inst, "remaps", p->mmu.remaps - p->pushed_remaps);
        p->pushed_remaps = p->mmu.remaps;
    }
}

static void mmu_plugin_stats_tick(void *opaque)
{
    MmuPlugin *p = opaque;
    mmu_plugin_push_stats(p);
    p->host->timer_mod(p->stats_timer, p->host->clock_ns(p->inst) + MMU_STATS_PERIOD_NS);
}

static void mmu_op_reset(void *mmu, LilyMmuBatch *batch)
{
    mmu_reset(mmu, batch);
}

static void mmu_op_set_control(void *mmu, uint32_t cr0, uint32_t cr3, uint32_t cr4,
                               LilyMmuBatch *batch)
{
    mmu_set_control(mmu, cr0, cr3, cr4, batch);
}

static void mmu_op_invlpg(void *mmu, uint32_t vaddr, LilyMmuBatch *batch)
{
    mmu_invlpg(mmu, vaddr, batch);
}

static void mmu_op_set_cpl(void *mmu, unsigned cpl, LilyMmuBatch *batch)
{
    mmu_set_cpl(mmu, cpl, batch);
}

static LilyMmuResult mmu_op_fault(void *mmu, uint32_t vaddr, uint32_t access,
                                  LilyMmuBatch *batch, uint32_t *pf_error, uint64_t *gpa)
{
    return mmu_fault(mmu, vaddr, access, batch, pf_error, gpa);
}

static LilyMmuResult mmu_op_translate(void *mmu, uint32_t vaddr, uint32_t access,
                                      uint64_t *gpa, uint32_t *pf_error)
{
    return mmu_translate(mmu, vaddr, access, gpa, pf_error);
}

static void mmu_op_get_stats(void *mmu, LilyMmuStats *stats)
{
    *stats = ((Mmu *)mmu)->stats;
}

static const LilyMmuOps mmu_ops = {
    .size = sizeof(LilyMmuOps),
    .reset = mmu_op_reset,
    .set_control = mmu_op_set_control,
    .invlpg = mmu_op_invlpg,
    .set_cpl = mmu_op_set_cpl,
    .fault = mmu_op_fault,
    .translate = mmu_op_translate,
    .get_stats = mmu_op_get_stats,
};

static gboolean mmu_plugin_init(LilyInstance *inst, const LilyHost *host,
                                const LilyOptValue *values, void **state, GError **error)
{
    uint64_t ram_size = 0;
    uint8_t *ram = host->ram ? host->ram(inst, &ram_size) : NULL;
    int64_t around = values[OPT_FAULT_AROUND].i;

    if (!ram || ram_size < MMU_PAGE_SIZE) {
        g_set_error(error, mmu_error_quark(), 0,
                    "the VM has no guest RAM to map (configure [machine] memory)");
        return FALSE;
    }
    if (ram_size > ((uint64_t)1 << 32)) {
        g_set_error(error, mmu_error_quark(), 0,
                    "%" G_GUINT64_FORMAT " bytes of RAM, but IA-32 paging "
                    "without PAE reaches at most 4G", ram_size);
        return FALSE;
    }
    if (around < 1 || around > MMU_FAULT_AROUND_MAX || (around & (around - 1))) {
        g_set_error(error, mmu_error_quark(), 0,
                    "mmu_fault_around = %" G_GINT64_FORMAT ": must be a power "
                    "of two from 1 (off) to %u pages", around, MMU_FAULT_AROUND_MAX);
        return FALSE;
    }

    uint64_t min_vaddr = MMU_MIN_VADDR_FALLBACK;
    if (values[OPT_MIN_VADDR].present) {
        min_vaddr = (uint64_t)values[OPT_MIN_VADDR].i;
    } else {
        g_autofree char *text = NULL;
        if (g_file_get_contents(MMU_MIN_VADDR_FILE, &text, NULL, NULL))
            min_vaddr = g_ascii_strtoull(text, NULL, 10);
        else
            host->log(inst, LILY_LOG_WARN, "cannot read %s: assuming pages below "
                      "0x%x cannot be mapped", MMU_MIN_VADDR_FILE, MMU_MIN_VADDR_FALLBACK);
    }
    if (min_vaddr > 0x10000000u) {
        g_set_error(error, mmu_error_quark(), 0,
                    "lowest mappable address 0x%" G_GINT64_MODIFIER "x is above "
                    "256M (set mmu_min_vaddr, or lower vm.mmap_min_addr)", min_vaddr);
        return FALSE;
    }

    MmuPlugin *p = g_new0(MmuPlugin, 1);
    uint32_t n_tables = (uint32_t)values[OPT_TABLES].i;
    p->inst = inst;
    p->host = host;
    p->tables = g_new(MmuTable, n_tables);
    p->free_list = g_new(uint16_t, n_tables);
    mmu_setup(&p->mmu, ram, ram_size, p->tables, p->free_list, n_tables,
              mmu_plugin_mmio, p);
    p->mmu.fault_around = (uint32_t)around;
    p->mmu.populate = values[OPT_POPULATE].i != 0;
    p->mmu.min_vaddr = (uint32_t)((min_vaddr + MMU_PAGE_SIZE - 1) & ~(uint64_t)(MMU_PAGE_SIZE - 1));
    if (p->mmu.min_vaddr)
        host->log(inst, LILY_LOG_DEBUG, "guest pages below 0x%x are emulated, not mapped",
                  p->mmu.min_vaddr);
    if (host->stat_add && host->timer_new && host->clock_ns) {
        p->stats_timer = host->timer_new(inst, mmu_plugin_stats_tick, p);
        host->timer_mod(p->stats_timer, host->clock_ns(inst) + MMU_STATS_PERIOD_NS);
    }
    *state = p;
    return TRUE;
}

static void mmu_plugin_fini(void *state)
{
    MmuPlugin *p = state;

    if (p->stats_timer) {
        p->host->timer_del(p->stats_timer);
        p->host->timer_free(p->stats_timer);
    }
    g_free(p->tables);
    g_free(p->free_list);
    g_free(p);
}

/* [machine] keys: they share the group with the core's and the CPU's. */
static const LilyOption mmu_options[] = {
    [OPT_FAULT_AROUND] = {
        .name = "mmu_fault_around", .type = LILY_OPT_INT, .def = "16",
        .min = 1, .max = MMU_FAULT_AROUND_MAX,
        .help = "a fault on a 4 KiB page also maps the present neighbours in its "
                "aligned window of this many pages (power of two; 1: off)" },
    [OPT_POPULATE] = {
        .name = "mmu_populate", .type = LILY_OPT_BOOL, .def = "true",
        .help = "map 4 KiB fills with MAP_POPULATE (no host minor fault on first "
                "touch); 4 MiB pages are mapped without it" },
    [OPT_TABLES] = {
        .name = "mmu_tables", .type = LILY_OPT_INT, .def = "256",
        .min = 1, .max = MMU_MAX_TABLES,
        .help = "shadow tables, 4 KiB each, one per 4 MiB of guest-virtual space "
                "in use; when all are taken every mapping is flushed" },
    [OPT_MIN_VADDR] = {
        .name = "mmu_min_vaddr", .type = LILY_OPT_SIZE, .def = NULL,
        .min = 0, .max = 0x10000000,
        .help = "guest-virtual pages below this address are never mapped (their "
                "accesses are emulated); default: the host's vm.mmap_min_addr" },
    { .name = NULL },
};

static const LilyPluginDesc mmu_desc = {
    LILYVM_PLUGIN_STAMP,
    .name = "mmu",
    .kind = LILY_PLUGIN_MMU,
    .description = "IA-32 shadow paging onto guest-process mappings",
    .options = mmu_options,
    .init = mmu_plugin_init,
    .fini = mmu_plugin_fini,
    .kind_ops = &mmu_ops,
};

LILYVM_PLUGIN_DEFINE(mmu_desc)
