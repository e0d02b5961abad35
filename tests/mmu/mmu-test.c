/*
 * Tests of the mmu plugin as the CPU plugin sees it: build/plugins/mmu.so
 * loaded with dlopen under a fake host (a RAM buffer holding page tables, one
 * MMIO region), driven through its LilyMmuOps with a batch whose operations
 * are applied to a model of the guest process's mappings (and, in one test,
 * to real mappings of a memfd in this process).
 */
#define _GNU_SOURCE /* memfd_create */
#include <dlfcn.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <lilyvm/lilyvm.h>
#include <lilyvm/mmu.h>

#define PAGE 4096u
#define RAM_SIZE (16u << 20)
#define MMIO_LO 0xa0000u
#define MMIO_HI 0xc0000u
#define BATCH_CAP 64u
#define GUARD_KIND 0xdeadbeefu

#define CR0_PE 0x1u
#define CR0_WP 0x10000u
#define CR0_PG 0x80000000u
#define CR4_PSE 0x10u
#define CR4_PGE 0x80u
#define CR4_SMEP 0x100000u
#define CR0_ON (CR0_PE | CR0_WP | CR0_PG)

#define P 0x1u
#define W 0x2u
#define U 0x4u
#define A 0x20u
#define D 0x40u
#define PS 0x80u
#define G 0x100u

#define R_ LILY_MMU_PROT_READ
#define W_ LILY_MMU_PROT_WRITE
#define X_ LILY_MMU_PROT_EXEC
#define RX (R_ | X_)
#define RWX (R_ | W_ | X_)

#define ACC_R 0u
#define ACC_W LILY_MMU_ACC_WRITE
#define ACC_U LILY_MMU_ACC_USER
#define ACC_X LILY_MMU_ACC_EXEC

#define PD0 0x10000u  /* page directories */
#define PD1 0x11000u
#define PT_POOL 0x20000u /* page tables are taken from here up to MMIO_LO */

/* --- the fake host ------------------------------------------------------------ */

struct LilyInstance {
    int unused;
};

typedef struct Fixture {
    void *dl;
    const LilyPluginDesc *desc;
    const LilyMmuOps *ops;
    void *mmu;
    LilyInstance inst;
    uint8_t *ram;
    uint32_t pt_next;
    LilyMmuOp ops_buf[BATCH_CAP + 1]; /* last one is a guard */
    LilyMmuBatch batch;
    GHashTable *host; /* vpn -> mapping: the guest process's address space */
    uint32_t cr0, cr3, cr4;
    unsigned cpl;
    uint64_t ops_applied;
    uint64_t pages_unmapped, pages_protected; /* what one-op-per-page would cost */
    /* Real mappings (optional): RAM is a memfd, and every op is also done
     * on a 4 GiB reservation in this process, as the guest process would. */
    int memfd;
    uint8_t *real;
    uint64_t real_ns; /* time spent in the real ops' syscalls */
} Fixture;

/* Real mode for fixtures made while this is set. */
static bool fx_real;

static Fixture *cur; /* the fake host's callbacks find the RAM here */

static const char *fh_instance_name(LilyInstance *inst)
{
    return "mmu";
}

static void fh_log(LilyInstance *inst, LilyLogLevel level, const char *fmt, ...)
{
}

static bool fh_log_enabled(LilyInstance *inst, LilyLogLevel level)
{
    return false;
}

static uint8_t *fh_ram(LilyInstance *inst, uint64_t *size)
{
    *size = RAM_SIZE;
    return cur->ram;
}

static bool fh_mmio_claimed(LilyInstance *inst, uint64_t gpa)
{
    return gpa >= MMIO_LO && gpa < MMIO_HI;
}

static void fh_stat_add(LilyInstance *inst, const char *name, uint64_t delta)
{
}

static const LilyHost fake_host = {
    .size = sizeof(LilyHost),
    .abi_major = LILYVM_ABI_MAJOR,
    .abi_minor = LILYVM_ABI_MINOR,
    .instance_name = fh_instance_name,
    .log = fh_log,
    .log_enabled = fh_log_enabled,
    .ram = fh_ram,
    .mmio_claimed = fh_mmio_claimed,
    .stat_add = fh_stat_add,
};

static const LilyPluginDesc *load_mmu(void **dl)
{
    *dl = dlopen(MMU_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    if (!*dl)
        g_error("cannot load %s: %s", MMU_PLUGIN_PATH, dlerror());
    LilyPluginEntryFn entry = (LilyPluginEntryFn)dlsym(*dl, LILYVM_PLUGIN_ENTRY_SYMBOL);
    g_assert_nonnull(entry);
    return entry();
}

/* Option values as the core gives them: defaults, then "name", "value" pairs. */
static LilyOptValue *option_values(const LilyPluginDesc *desc, const char *const *over)
{
    size_t n = 0;
    while (desc->options[n].name)
        n++;
    LilyOptValue *v = g_new0(LilyOptValue, n + 1);
    for (size_t i = 0; i < n; i++) {
        const LilyOption *o = &desc->options[i];
        const char *s = o->def;
        for (const char *const *p = over; p && *p; p += 2)
            if (strcmp(p[0], o->name) == 0) {
                s = p[1];
                v[i].set = true;
            }
        if (!s)
            continue;
        v[i].present = true;
        v[i].s = s;
        if (o->type == LILY_OPT_BOOL)
            v[i].i = strcmp(s, "true") == 0;
        else
            v[i].i = g_ascii_strtoll(s, NULL, 0);
    }
    return v;
}

static Fixture *fx_new_with(const char *const *over)
{
    Fixture *f = g_new0(Fixture, 1);
    cur = f;
    f->memfd = -1;
    if (fx_real) {
        f->memfd = memfd_create("mmu-test-ram", MFD_CLOEXEC);
        g_assert_cmpint(f->memfd, >=, 0);
        g_assert_cmpint(ftruncate(f->memfd, RAM_SIZE), ==, 0);
        f->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
        g_assert_true(f->ram != MAP_FAILED);
        f->real = mmap(NULL, (size_t)1 << 32, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        g_assert_true(f->real != MAP_FAILED);
    } else {
        f->ram = g_malloc0(RAM_SIZE);
    }
    f->pt_next = PT_POOL;
    f->desc = load_mmu(&f->dl);
    f->ops = f->desc->kind_ops;
    f->host = g_hash_table_new(g_direct_hash, g_direct_equal);
    /* The host's vm.mmap_min_addr varies: pin it (overrides come later and win). */
    const char *all[16] = { "mmu_min_vaddr", "0x1000" };
    size_t n = 2;
    for (const char *const *p = over; p && *p && n + 2 < G_N_ELEMENTS(all); p += 2) {
        all[n++] = p[0];
        all[n++] = p[1];
    }
    g_autofree LilyOptValue *v = option_values(f->desc, all);
    GError *err = NULL;
    gboolean ok = f->desc->init(&f->inst, &fake_host, v, &f->mmu, &err);
    g_assert_no_error(err);
    g_assert_true(ok);
    f->batch.ops = f->ops_buf;
    f->batch.max = BATCH_CAP;
    f->ops_buf[BATCH_CAP].kind = GUARD_KIND;
    return f;
}

static Fixture *fx_new(void)
{
    return fx_new_with(NULL);
}

static void fx_free(Fixture *f)
{
    f->desc->fini(f->mmu);
    g_hash_table_destroy(f->host);
    if (f->real) {
        munmap(f->real, (size_t)1 << 32);
        munmap(f->ram, RAM_SIZE);
        close(f->memfd);
    } else {
        g_free(f->ram);
    }
    dlclose(f->dl);
    g_free(f);
    cur = NULL;
}

/* --- the model of the guest process's mappings ----------------------------- */

#define HP_VALID 0x8u /* host entry: gpa page | HP_VALID | prot */

static bool mmio_page(uint64_t gpa)
{
    return fh_mmio_claimed(NULL, gpa);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One op on the reservation, with the syscalls the guest process's stub uses. */
static void real_op(Fixture *f, const LilyMmuOp *op)
{
    void *at = f->real + op->vaddr;
    void *r;
    uint64_t t0 = now_ns();
    switch (op->kind) {
    case LILY_MMU_OP_MAP:
    case LILY_MMU_OP_MAP_POPULATE:
        r = mmap(at, op->len, (int)op->prot, MAP_SHARED | MAP_FIXED |
                 (op->kind == LILY_MMU_OP_MAP_POPULATE ? MAP_POPULATE : 0),
                 f->memfd, (off_t)op->gpa);
        g_assert_true(r == at);
        break;
    case LILY_MMU_OP_UNMAP:
        g_assert_cmpint(munmap(at, op->len), ==, 0);
        /* Cover the hole in the reservation again (not counted as op time:
         * the guest process has no reservation). */
        f->real_ns += now_ns() - t0;
        r = mmap(at, op->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
                 MAP_NORESERVE, -1, 0);
        g_assert_true(r == at);
        return;
    case LILY_MMU_OP_PROTECT:
        g_assert_cmpint(mprotect(at, op->len, (int)op->prot), ==, 0);
        break;
    }
    f->real_ns += now_ns() - t0;
}

/* Through the real mapping, va's page holds gpa's page. */
static void real_check(Fixture *f, uint32_t va, uint64_t gpa)
{
    if (f->real)
        g_assert_cmpint(memcmp(f->real + (va & ~0xfffu), f->ram + (gpa & ~0xfffull), PAGE),
                        ==, 0);
}

/* Apply (and check) what the MMU queued, as the guest process would. */
static void apply(Fixture *f)
{
    LilyMmuBatch *b = &f->batch;
    g_assert_cmpuint(b->n, <=, b->max);
    g_assert_cmphex(f->ops_buf[BATCH_CAP].kind, ==, GUARD_KIND);
    for (uint32_t i = 0; i < b->n; i++) {
        const LilyMmuOp *op = &b->ops[i];
        g_assert_cmphex(op->vaddr % PAGE, ==, 0);
        g_assert_cmphex(op->len % PAGE, ==, 0);
        g_assert_cmpuint(op->len, >, 0);
        g_assert_cmpuint((uint64_t)op->vaddr + op->len, <=, (uint64_t)1 << 32);
        g_assert_cmphex(op->prot & ~(uint32_t)RWX, ==, 0);
        uint32_t first = op->vaddr / PAGE, count = op->len / PAGE;
        if (f->real)
            real_op(f, op);
        switch (op->kind) {
        case LILY_MMU_OP_MAP:
        case LILY_MMU_OP_MAP_POPULATE:
            g_assert_cmphex(op->gpa % PAGE, ==, 0);
            g_assert_cmpuint(op->gpa + op->len, <=, RAM_SIZE); /* never beyond RAM */
            for (uint32_t k = 0; k < count; k++) {
                g_assert_false(mmio_page(op->gpa + (uint64_t)k * PAGE)); /* never MMIO */
                g_hash_table_insert(f->host, GUINT_TO_POINTER(first + k),
                                    GUINT_TO_POINTER((uint32_t)(op->gpa + k * PAGE) |
                                                     HP_VALID | op->prot));
            }
            break;
        case LILY_MMU_OP_PROTECT:
            f->pages_protected += count;
            for (uint32_t k = 0; k < count; k++) {
                gpointer v = g_hash_table_lookup(f->host, GUINT_TO_POINTER(first + k));
                g_assert_nonnull(v); /* mprotect fails on holes */
                uint32_t e = GPOINTER_TO_UINT(v);
                g_hash_table_insert(f->host, GUINT_TO_POINTER(first + k),
                                    GUINT_TO_POINTER((e & ~(uint32_t)RWX) | op->prot));
            }
            break;
        case LILY_MMU_OP_UNMAP:
            f->pages_unmapped += g_hash_table_size(f->host);
            if (count > g_hash_table_size(f->host)) {
                GHashTableIter it;
                gpointer k;
                g_hash_table_iter_init(&it, f->host);
                while (g_hash_table_iter_next(&it, &k, NULL))
                    if (GPOINTER_TO_UINT(k) >= first && GPOINTER_TO_UINT(k) - first < count)
                        g_hash_table_iter_remove(&it);
            } else {
                for (uint32_t k = 0; k < count; k++)
                    g_hash_table_remove(f->host, GUINT_TO_POINTER(first + k));
            }
            f->pages_unmapped -= g_hash_table_size(f->host);
            break;
        default:
            g_assert_not_reached();
        }
    }
    f->ops_applied += b->n;
    b->n = 0;
    b->max = BATCH_CAP;
}

/* The host mapping of vaddr's page: 0 if none, else gpa page | HP_VALID | prot. */
static uint32_t host_at(Fixture *f, uint32_t vaddr)
{
    return GPOINTER_TO_UINT(g_hash_table_lookup(f->host, GUINT_TO_POINTER(vaddr / PAGE)));
}

static uint32_t host_prot(Fixture *f, uint32_t vaddr)
{
    return host_at(f, vaddr) & RWX;
}

/* --- guest page tables in the RAM buffer ------------------------------------ */

static uint32_t rd32(Fixture *f, uint32_t gpa)
{
    uint32_t v;
    memcpy(&v, f->ram + gpa, 4);
    return v;
}

static void wr32(Fixture *f, uint32_t gpa, uint32_t v)
{
    memcpy(f->ram + gpa, &v, 4);
}

static uint32_t pde_addr(uint32_t pd, uint32_t va)
{
    return pd + (va >> 22) * 4;
}

/* Address of the PTE of va under pd, creating the page table (PDE flags pde_fl). */
static uint32_t pte_addr_mk(Fixture *f, uint32_t pd, uint32_t va, uint32_t pde_fl)
{
    uint32_t pde = rd32(f, pde_addr(pd, va));
    if (!(pde & P) || (pde & PS)) {
        g_assert_cmpuint(f->pt_next, <, MMIO_LO);
        pde = f->pt_next | pde_fl | P;
        memset(f->ram + f->pt_next, 0, PAGE);
        f->pt_next += PAGE;
        wr32(f, pde_addr(pd, va), pde);
    }
    return (pde & ~0xfffu) + ((va >> 12) & 0x3ffu) * 4;
}

static void set_pte(Fixture *f, uint32_t pd, uint32_t va, uint32_t pte)
{
    wr32(f, pte_addr_mk(f, pd, va, P | W | U), pte);
}

static uint32_t get_pte(Fixture *f, uint32_t pd, uint32_t va)
{
    uint32_t pde = rd32(f, pde_addr(pd, va));
    return rd32(f, (pde & ~0xfffu) + ((va >> 12) & 0x3ffu) * 4);
}

static void set_pde_large(Fixture *f, uint32_t pd, uint32_t va, uint32_t pde)
{
    wr32(f, pde_addr(pd, va), pde | PS);
}

/* --- driving the MMU ------------------------------------------------------------- */

static void ctl(Fixture *f, uint32_t cr0, uint32_t cr3, uint32_t cr4)
{
    f->cr0 = cr0;
    f->cr3 = cr3;
    f->cr4 = cr4;
    f->ops->set_control(f->mmu, cr0, cr3, cr4, &f->batch);
    apply(f);
}

static void cpl(Fixture *f, unsigned level)
{
    f->cpl = level;
    f->ops->set_cpl(f->mmu, level, &f->batch);
    apply(f);
}

static void invlpg(Fixture *f, uint32_t va)
{
    f->ops->invlpg(f->mmu, va, &f->batch);
    apply(f);
}

static LilyMmuResult fault(Fixture *f, uint32_t va, uint32_t acc, uint32_t *err, uint64_t *gpa)
{
    uint32_t e = 0xffffffffu;
    uint64_t g = ~0ull;
    LilyMmuResult r = f->ops->fault(f->mmu, va, acc, &f->batch, &e, &g);
    if (err)
        *err = e;
    if (gpa)
        *gpa = g;
    return r;
}

static LilyMmuStats stats(Fixture *f)
{
    LilyMmuStats s;
    f->ops->get_stats(f->mmu, &s);
    return s;
}

static uint32_t access_prot(uint32_t acc)
{
    return (acc & ACC_W) ? W_ : (acc & ACC_X) ? X_ : R_;
}

/*
 * An access by the guest: it goes through if the host mapping allows it,
 * otherwise the guest process faults and the CPU plugin asks the MMU
 * (retrying after BATCH_FULL).  Returns the MMU's answer (OK when no fault
 * was needed) and the gpa the access reached.
 */
static LilyMmuResult touch(Fixture *f, uint32_t va, uint32_t acc, uint32_t *err, uint64_t *gpa)
{
    if (f->cpl == 3)
        acc |= ACC_U;
    for (int round = 0; round < 4; round++) {
        uint32_t h = host_at(f, va);
        if (h && (h & access_prot(acc))) {
            if (gpa)
                *gpa = (h & ~0xfffu) | (va & 0xfffu);
            if (f->real && (h & R_)) /* populate the host page as the guest would */
                (void)*(volatile uint8_t *)(f->real + va);
            return LILY_MMU_OK;
        }
        LilyMmuResult r = fault(f, va, acc, err, gpa);
        apply(f);
        if (r != LILY_MMU_OK && r != LILY_MMU_BATCH_FULL)
            return r;
    }
    g_assert_not_reached();
}

/* --- tests -------------------------------------------------------------------- */

static void test_descriptor(void)
{
    void *dl;
    const LilyPluginDesc *d = load_mmu(&dl);
    g_assert_cmpstr(d->name, ==, "mmu");
    g_assert_cmpint(d->kind, ==, LILY_PLUGIN_MMU);
    g_assert_cmpuint(d->abi_major, ==, LILYVM_ABI_MAJOR);
    g_assert_nonnull(d->kind_ops);
    const LilyMmuOps *ops = d->kind_ops;
    g_assert_cmpuint(ops->size, ==, sizeof(LilyMmuOps));
    g_assert_nonnull(ops->fault);
    g_assert_nonnull(ops->get_stats);
    dlclose(dl);
}

static void test_bad_option(void)
{
    Fixture f0 = { 0 };
    cur = &f0;
    f0.ram = g_malloc0(RAM_SIZE);
    const LilyPluginDesc *d = load_mmu(&f0.dl);
    static const char *const over[] = { "mmu_fault_around", "12", NULL };
    g_autofree LilyOptValue *v = option_values(d, over);
    void *state = NULL;
    GError *err = NULL;
    g_assert_false(d->init(&f0.inst, &fake_host, v, &state, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "mmu_fault_around = 12"));
    g_assert_nonnull(strstr(err->message, "power of two"));
    g_error_free(err);
    dlclose(f0.dl);
    g_free(f0.ram);
    cur = NULL;
}

static void test_paging_off_identity(void)
{
    Fixture *f = fx_new();
    uint64_t gpa;
    uint32_t err;
    g_assert_cmpint(fault(f, 0x123456, ACC_W, &err, &gpa), ==, LILY_MMU_OK);
    g_assert_cmphex(gpa, ==, 0x123456);
    /* The whole 4 MiB slot in one or two maps (split at the MMIO hole). */
    g_assert_cmpuint(f->batch.n, ==, 2);
    g_assert_cmpuint(f->batch.ops[0].kind, ==, LILY_MMU_OP_MAP);
    g_assert_cmphex(f->batch.ops[0].vaddr, ==, 0x1000); /* not below mmap_min_addr */
    g_assert_cmphex(f->batch.ops[0].gpa, ==, 0x1000);
    g_assert_cmphex(f->batch.ops[0].len, ==, MMIO_LO - 0x1000);
    g_assert_cmphex(f->batch.ops[1].vaddr, ==, MMIO_HI);
    g_assert_cmphex(f->batch.ops[1].gpa, ==, MMIO_HI);
    g_assert_cmphex(f->batch.ops[1].len, ==, 0x400000 - MMIO_HI);
    apply(f);
    g_assert_cmphex(host_at(f, 0x123000), ==, 0x123000 | HP_VALID | RWX);
    g_assert_cmphex(host_at(f, MMIO_LO), ==, 0);
    /* User mode reaches everything too: there is no paging. */
    cpl(f, 3);
    g_assert_cmpuint(f->ops_applied, ==, 2);
    g_assert_cmpint(fault(f, 0xb8010, ACC_W | ACC_U, &err, &gpa), ==, LILY_MMU_MMIO);
    g_assert_cmphex(gpa, ==, 0xb8010);
    g_assert_cmpint(fault(f, RAM_SIZE + 0x10, ACC_R, &err, &gpa), ==, LILY_MMU_BAD_GPA);
    g_assert_cmphex(gpa, ==, RAM_SIZE + 0x10);
    g_assert_cmpint(fault(f, 0x10, ACC_R, &err, &gpa), ==, LILY_MMU_EMULATE);
    g_assert_cmphex(gpa, ==, 0x10);
    g_assert_cmpuint(f->batch.n, ==, 0);
    fx_free(f);
}

/* Paging on with PD0, PSE and PGE, CPL 0. */
static Fixture *fx_paging(const char *const *over)
{
    Fixture *f = fx_new_with(over);
    ctl(f, CR0_ON, PD0, CR4_PSE | CR4_PGE);
    return f;
}

static void test_4k_prot(void)
{
    static const char *const no_around[] = { "mmu_fault_around", "1", NULL };
    Fixture *f = fx_paging(no_around);
    uint64_t gpa;
    uint32_t err;
    set_pte(f, PD0, 0x00400000, 0x00300000 | P);          /* kernel read-only */
    set_pte(f, PD0, 0x00401000, 0x00301000 | P | W | D);  /* kernel writable, dirty */
    set_pte(f, PD0, 0x00402000, 0x00302000 | P | W | U | D);
    g_assert_cmpint(fault(f, 0x00400abc, ACC_R, &err, &gpa), ==, LILY_MMU_OK);
    g_assert_cmphex(gpa, ==, 0x00300abc);
    g_assert_cmpuint(f->batch.n, ==, 1);
    g_assert_cmpuint(f->batch.ops[0].kind, ==, LILY_MMU_OP_MAP_POPULATE);
    g_assert_cmphex(f->batch.ops[0].vaddr, ==, 0x00400000);
    g_assert_cmphex(f->batch.ops[0].len, ==, PAGE);
    g_assert_cmphex(f->batch.ops[0].gpa, ==, 0x00300000);
    g_assert_cmphex(f->batch.ops[0].prot, ==, RX);
    apply(f);
    g_assert_cmpint(touch(f, 0x00401000, ACC_R, &err, &gpa), ==, LILY_MMU_OK);
    g_assert_cmphex(host_prot(f, 0x00401000), ==, RWX);
    g_assert_cmpint(touch(f, 0x00402000, ACC_R, &err, &gpa), ==, LILY_MMU_OK);
    g_assert_cmphex(host_prot(f, 0x00402000), ==, RWX);
    g_assert_cmphex(gpa, ==, 0x00302000);
    fx_free(f);
}

static void test_4m_pse(void)
{
    Fixture *f = fx_paging(NULL);
    uint64_t gpa;
    uint32_t err;
    set_pde_large(f, PD0, 0xc0000000, 0x00800000 | P | W | G);
    g_assert_cmpint(fault(f, 0xc0001234, ACC_R, &err, &gpa), ==, LILY_MMU_OK);
    g_assert_cmphex(gpa, ==, 0x00801234);
    g_assert_cmpuint(f->batch.n, ==, 1);
    g_assert_cmpuint(f->batch.ops[0].kind, ==, LILY_MMU_OP_MAP);
    g_assert_cmphex(f->batch.ops[0].vaddr, ==, 0xc0000000);
    g_assert_cmphex(f->batch.ops[0].len, ==, 0x400000);
    g_assert_cmphex(f->batch.ops[0].gpa, ==, 0x00800000);
    g_assert_cmphex(f->batch.ops[0].prot, ==, RX); /* D clear: read-only */
    apply(f);
    g_assert_cmphex(rd32(f, pde_addr(PD0, 0xc0000000)) & (A | D), ==, A);
    /* The first write anywhere in it sets D in the PDE and upgrades all. */
    g_assert_cmpint(fault(f, 0xc03ff000, ACC_W, &err, &gpa), ==, LILY_MMU_OK);
    g_assert_cmpuint(f->batch.n, ==, 1);
    g_assert_cmpuint(f->batch.ops[0].kind, ==, LILY_MMU_OP_PROTECT);
    g_assert_cmphex(f->batch.ops[0].len, ==, 0x400000);
    g_assert_cmphex(f->batch.ops[0].prot, ==, RWX);
    apply(f);
    g_assert_cmphex(rd32(f, pde_addr(PD0, 0xc0000000)) & (A | D), ==, A | D);
    /* Without CR4.PSE the PS bit means nothing: the PDE points to a table. */
    ctl(f, CR0_ON, PD0, CR4_PGE);
    g_assert_cmpuint(host_at(f, 0xc0000000), ==, 0);
    fx_free(f);
}

static void test_not_present_error_codes(void)
{
    Fixture *f = fx_paging(NULL);
    uint32_t err;
    set_pte(f, PD0, 0x08048000, 0); /* table present, page not */
    static const struct {
        uint32_t va, acc, err;
    } cases[] = {
        { 0x08048000, ACC_R, 0x0 },
        { 0x08048000, ACC_W, 0x2 },
        { 0x08048000, ACC_R | ACC_U, 0x4 },
        { 0x08048000, ACC_W | ACC_U, 0x6 },
        { 0x08048000, ACC_X | ACC_U, 0x4 }, /* I only with SMEP (no NX without PAE) */
        { 0x40000000, ACC_R, 0x0 },         /* PDE not present */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_assert_cmpint(fault(f, cases[i].va, cases[i].acc, &err, NULL), ==,
                        LILY_MMU_GUEST_FAULT);
        g_assert_cmphex(err, ==, cases[i].err);
    }
    ctl(f, CR0_ON, PD0, CR4_PSE | CR4_PGE | CR4_SMEP);
    g_assert_cmpint(fault(f, 0x08048000, ACC_X | ACC_U, &err, NULL), ==, LILY_MMU_GUEST_FAULT);
    g_assert_cmphex(err, ==, 0x14);
    /* SMEP: the kernel may not run user pages (P | I). */
    set_pte(f, PD0, 0x08049000, 0x00200000 | P | U);
    g_assert_cmpint(fault(f, 0x08049000, ACC_X, &err, NULL), ==, LILY_MMU_GUEST_FAULT);
    g_assert_cmphex(err, ==, 0x11);
    /* Reserved bits of a 4 MiB PDE (physical address above 4 GiB). */
    set_pde_large(f, PD0, 0x80000000, 0x00400000 | 0x2000 | P);
    g_assert_cmpint(fault(f, 0x80000000, ACC_R, &err, NULL), ==, LILY_MMU_GUEST_FAULT);
    g_assert_cmphex(err, ==, 0x9);
    g_assert_cmpuint(f->batch.n, ==, 0);
    g_assert_cmpuint(stats(f).guest_faults, ==, 9);
    fx_free(f);
}

static void test_user_supervisor(void)
{
    Fixture *f = fx_paging(NULL);
    uint32_t err;
    set_pte(f, PD0, 0x00400000, 0x00300000 | P | W | D);       /* supervisor */
    set_pte(f, PD0, 0x00401000, 0x00301000 | P | W | U | D);   /* user */
    wr32(f, pde_addr(PD0, 0x00800000), 0);
    set_pte(f, PD0, 0x00800000, 0x00302000 | P | W | U | D);
    wr32(f, pde_addr(PD0, 0x00800000), rd32(f, pde_addr(PD0, 0x00800000)) & ~U); /* PDE U=0 */
    cpl(f, 3);
    g_assert_cmpint(touch(f, 0x00400000, ACC_R, &err, NULL), ==, LILY_MMU_GUEST_FAULT);
    g_assert_cmphex(err, ==, 0x5);
    g_assert_cmpint(touch(f, 0x00400000, ACC_W, &err, NULL), ==, LILY_MMU_GUEST_FAULT);
    g_assert_cmphex(err, ==, 0x7);
    g_assert_cmpint(touch(f, 0x00800000, ACC_R, &err, NULL), ==, LILY_MMU_GUEST_FAULT);
    g_assert_cmphex(err, ==, 0x5); /* U clear in the PDE is enough */
    g_assert_cmpint(touch(f, 0x00401000, ACC_W, &err, NULL), ==, LILY_MMU_OK);
    /* Fault-around in user mode left the supervisor neighbour alone. */
    g_assert_cmphex(host_at(f, 0x00400000), ==, 0);
    g_assert_cmphex(host_prot(f, 0x00401000), ==, RWX);
    fx_free(f);
}

static void test_read_only_and_wp(void)
{
    static const char *const no_around[] = { "mmu_fault_around", "1", NULL };
    Fixture *f = fx_paging(no_around);
    uint32_t err;
    set_pte(f, PD0, 0x00400000, 0x00300000 | P | U | D); /* user read-only */
    set_pte(f, PD0, 0x00401000, 0x00301000 | P);         /* supervisor read-only */
    g_assert_cmpint(touch(f, 0x00400000, ACC_W, &err, NULL), ==, LILY_MMU_GUEST_FAULT);
    g_assert_cmphex(err, ==, 0x3);
    g_assert_cmpint(touch(f, 0x00401000, ACC_W, &err, NULL), ==, LILY_MMU_GUEST_FAULT);
    g_assert_cmphex(err, ==, 0x3);
    /* WP=0: supervisor writes go through read-only pages (and set D). */
    ctl(f, CR0_ON & ~CR0_WP, PD0, CR4_PSE | CR4_PGE);
    g_assert_cmpint(touch(f, 0x00400000, ACC_W, &err, NULL), ==, LILY_MMU_OK);
    g_assert_cmphex(host_prot(f, 0x00400000), ==, RWX);
    g_assert_cmpint(touch(f, 0x00401000, ACC_W, &err, NULL), ==, LILY_MMU_OK);
    g_assert_cmphex(get_pte(f, PD0, 0x00401000) & (A | D), ==, A | D);
    /* ... but user mode must see them read-only / not at all. */
    cpl(f, 3);
    g_assert_cmphex(host_prot(f, 0x00400000), ==, RX);
    g_assert_cmphex(host_prot(f, 0x00401000), ==, 0);
    g_assert_cmpint(touch(f, 0x00400000, ACC_W, &err, NULL), ==, LILY_MMU_GUEST_FAULT);
    g_assert_cmphex(err, ==, 0x7);
    cpl(f, 0);
    g_assert_cmphex(host_prot(f, 0x00400000), ==, RWX);
    g_assert_cmphex(host_prot(f, 0x00401000), ==, RWX);
    fx_free(f);
}

static void test_accessed_dirty(void)
{
    static const char *const no_around[] = { "mmu_fault_around", "1", NULL };
    Fixture *f = fx_paging(no_around);
    uint32_t err;
    set_pte(f, PD0, 0x00400000, 0x00300000 | P | W | U);
    wr32(f, pde_addr(PD0, 0x00400000), rd32(f, pde_addr(PD0, 0x00400000)) & ~A);
    g_assert_cmpint(touch(f, 0x00400010, ACC_R, &err, NULL), ==, LILY_MMU_OK);
    g_assert_cmphex(get_pte(f, PD0, 0x00400000) & (A | D), ==, A);
    g_assert_cmphex(rd32(f, pde_addr(PD0, 0x00400000)) & A, ==, A);
    g_assert_cmphex(host_prot(f, 0x00400000), ==, RX); /* writable, but clean */
    LilyMmuStats s0 = stats(f);
    g_assert_cmpint(fault(f, 0x00400010, ACC_W, &err, NULL), ==, LILY_MMU_OK);
    g_assert_cmpuint(f->batch.n, ==, 1);
    g_assert_cmpuint(f->batch.ops[0].kind, ==, LILY_MMU_OP_PROTECT);
    g_assert_cmphex(f->batch.ops[0].prot, ==, RWX);
    apply(f);
    g_assert_cmphex(get_pte(f, PD0, 0x00400000) & (A | D), ==, A | D);
    LilyMmuStats s1 = stats(f);
    g_assert_cmpuint(s1.ops_protect - s0.ops_protect, ==, 1);
    g_assert_cmpuint(s1.ops_map - s0.ops_map, ==, 0);
    /* translate() sets the bits too, and queues nothing. */
    set_pte(f, PD0, 0x00401000, 0x00301000 | P | W);
    uint64_t gpa;
    g_assert_cmpint(f->ops->translate(f->mmu, 0x00401ffc, ACC_W, &gpa, &err), ==, LILY_MMU_OK);
    g_assert_cmphex(gpa, ==, 0x00301ffc);
    g_assert_cmphex(get_pte(f, PD0, 0x00401000) & (A | D), ==, A | D);
    g_assert_cmpuint(f->batch.n, ==, 0);
    fx_free(f);
}

static void test_fault_around(void)
{
    Fixture *f = fx_paging(NULL); /* default window: 16 pages */
    uint32_t err;
    for (uint32_t i = 0; i < 16; i++)
        if (i != 5)
            set_pte(f, PD0, 0x08040000 + i * PAGE, (0x00500000 + i * PAGE) | P | U | A);
    /* (A window-aligned base.)  A hole at 5, a page of another frame at 9. */
    set_pte(f, PD0, 0x08040000 + 9 * PAGE, 0x00700000 | P | U);
    set_pte(f, PD0, 0x08040000 + 10 * PAGE, 0x0050a000 | P | U | W); /* clean: RO */
    g_assert_cmpint(fault(f, 0x08040000 + 2 * PAGE, ACC_R | ACC_U, &err, NULL), ==, LILY_MMU_OK);
    /* Runs: 0-4, 6-8, 9, 10 (same prot RX: contiguous gpa decides), 11-15 */
    g_assert_cmpuint(f->batch.n, ==, 4);
    g_assert_cmphex(f->batch.ops[0].len, ==, 5 * PAGE);
    g_assert_cmphex(f->batch.ops[1].vaddr, ==, 0x08040000 + 6 * PAGE);
    g_assert_cmphex(f->batch.ops[1].len, ==, 3 * PAGE);
    g_assert_cmphex(f->batch.ops[2].gpa, ==, 0x00700000);
    g_assert_cmphex(f->batch.ops[3].vaddr, ==, 0x08040000 + 10 * PAGE);
    g_assert_cmphex(f->batch.ops[3].len, ==, 6 * PAGE);
    apply(f);
    /* A was set on the neighbour that did not have it, D on none. */
    g_assert_cmphex(get_pte(f, PD0, 0x08040000 + 9 * PAGE) & (A | D), ==, A);
    g_assert_cmphex(get_pte(f, PD0, 0x08040000 + 10 * PAGE) & (A | D), ==, A);
    g_assert_cmphex(host_prot(f, 0x08040000 + 10 * PAGE), ==, RX);
    g_assert_cmphex(host_at(f, 0x08040000 + 5 * PAGE), ==, 0);
    g_assert_cmpuint(g_hash_table_size(f->host), ==, 15);
    fx_free(f);
}

static void test_invlpg(void)
{
    Fixture *f = fx_paging(NULL);
    uint32_t err;
    set_pte(f, PD0, 0x08048000, 0x00500000 | P | U);
    set_pte(f, PD0, 0x08049000, 0x00501000 | P | U);
    g_assert_cmpint(touch(f, 0x08048000, ACC_R, &err, NULL), ==, LILY_MMU_OK);
    g_assert_cmphex(host_at(f, 0x08049000), !=, 0);
    f->ops->invlpg(f->mmu, 0x08048123, &f->batch);
    g_assert_cmpuint(f->batch.n, ==, 1);
    g_assert_cmpuint(f->batch.ops[0].kind, ==, LILY_MMU_OP_UNMAP);
    g_assert_cmphex(f->batch.ops[0].vaddr, ==, 0x08048000);
    g_assert_cmphex(f->batch.ops[0].len, ==, PAGE);
    apply(f);
    g_assert_cmphex(host_at(f, 0x08048000), ==, 0);
    g_assert_cmphex(host_at(f, 0x08049000), !=, 0);
    /* The guest's change is seen on the next access. */
    set_pte(f, PD0, 0x08048000, 0x00600000 | P | U);
    uint64_t gpa;
    g_assert_cmpint(touch(f, 0x08048004, ACC_R, &err, &gpa), ==, LILY_MMU_OK);
    g_assert_cmphex(gpa, ==, 0x00600004);
    /* invlpg anywhere in a 4 MiB page drops all of it. */
    set_pde_large(f, PD0, 0xc0000000, 0x00800000 | P | W);
    g_assert_cmpint(touch(f, 0xc0000000, ACC_R, &err, NULL), ==, LILY_MMU_OK);
    f->ops->invlpg(f->mmu, 0xc0123000, &f->batch);
    g_assert_cmpuint(f->batch.n, ==, 1);
    g_assert_cmpuint(f->batch.ops[0].kind, ==, LILY_MMU_OP_UNMAP);
    g_assert_cmphex(f->batch.ops[0].vaddr, ==, 0xc0000000);
    g_assert_cmphex(f->batch.ops[0].len, ==, 0x400000);
    apply(f);
    /* A page that is not mapped costs nothing. */
    invlpg(f, 0x50000000);
    g_assert_cmpuint(stats(f).ops_unmap, ==, 2);
    fx_free(f);
}

static void test_cr3_keeps_global(void)
{
    Fixture *f = fx_paging(NULL);
    uint32_t err;
    set_pde_large(f, PD0, 0xc0000000, 0x00800000 | P | W | G);
    set_pte(f, PD0, 0xc0400000, 0x00c00000 | P | W | G);
    set_pte(f, PD0, 0x08048000, 0x00500000 | P | U);
    set_pte(f, PD0, 0xbfffe000, 0x00501000 | P | U | W);
    for (const uint32_t *va = (const uint32_t[]){ 0xc0000000, 0xc0400000, 0x08048000,
                                                  0xbfffe000, 0 }; *va; va++)
        g_assert_cmpint(touch(f, *va, ACC_R, &err, NULL), ==, LILY_MMU_OK);
    /* Another address space with the same kernel half. */
    memcpy(f->ram + PD1 + 0xc00, f->ram + PD0 + 0xc00, 0x400);
    f->ops->set_control(f->mmu, CR0_ON, PD1, CR4_PSE | CR4_PGE, &f->batch);
    /* Spans below the kernel, split at the 3 GiB hole (dearer than a call). */
    g_assert_cmpuint(f->batch.n, ==, 2);
    g_assert_cmpuint(f->batch.ops[0].kind, ==, LILY_MMU_OP_UNMAP);
    g_assert_cmphex(f->batch.ops[0].vaddr, ==, 0x08048000);
    g_assert_cmphex(f->batch.ops[0].len, ==, PAGE);
    g_assert_cmpuint(f->batch.ops[1].kind, ==, LILY_MMU_OP_UNMAP);
    g_assert_cmphex(f->batch.ops[1].vaddr, ==, 0xbfffe000);
    g_assert_cmphex(f->batch.ops[1].len, ==, PAGE);
    apply(f);
    g_assert_cmphex(host_at(f, 0x08048000), ==, 0);
    g_assert_cmphex(host_at(f, 0xbfffe000), ==, 0);
    g_assert_cmphex(host_at(f, 0xc0000000), !=, 0);
    g_assert_cmphex(host_at(f, 0xc0400000), !=, 0);
    /* Smaller holes are swallowed: one span for pages 256 MiB apart. */
    set_pte(f, PD1, 0x08048000, 0x00500000 | P | U);
    set_pte(f, PD1, 0x18048000, 0x00501000 | P | U);
    g_assert_cmpint(touch(f, 0x08048000, ACC_R, &err, NULL), ==, LILY_MMU_OK);
    g_assert_cmpint(touch(f, 0x18048000, ACC_R, &err, NULL), ==, LILY_MMU_OK);
    f->ops->set_control(f->mmu, CR0_ON, PD1, CR4_PSE | CR4_PGE, &f->batch);
    g_assert_cmpuint(f->batch.n, ==, 1);
    g_assert_cmphex(f->batch.ops[0].vaddr, ==, 0x08048000);
    g_assert_cmphex(f->batch.ops[0].len, ==, 0x10000000 + PAGE);
    apply(f);
    /* Reloading CR3 with the same value flushes too (only non-global). */
    set_pte(f, PD1, 0x08048000, 0x00500000 | P | U);
    g_assert_cmpint(touch(f, 0x08048000, ACC_R, &err, NULL), ==, LILY_MMU_OK);
    ctl(f, CR0_ON, PD1, CR4_PSE | CR4_PGE);
    g_assert_cmphex(host_at(f, 0x08048000), ==, 0);
    g_assert_cmphex(host_at(f, 0xc0400000), !=, 0);
    /* A CR0 write that changes only TS flushes nothing. */
    g_assert_cmpint(touch(f, 0x08048000, ACC_R, &err, NULL), ==, LILY_MMU_OK);
    f->ops->set_control(f->mmu, CR0_ON | 0x8, PD1, CR4_PSE | CR4_PGE, &f->batch);
    g_assert_cmpuint(f->batch.n, ==, 0);
    fx_free(f);
}

static void test_cr4_cr0_flush_all(void)
{
    Fixture *f = fx_paging(NULL);
    uint32_t err;
    set_pde_large(f, PD0, 0xc0000000, 0x00800000 | P | W | G);
    set_pte(f, PD0, 0x08048000, 0x00500000 | P | U);
    uint32_t cr4 = CR4_PSE | CR4_PGE;
    static const uint32_t changes[][2] = {
        { CR0_ON, CR4_PSE },                    /* PGE off */
        { CR0_ON, CR4_PSE | CR4_PGE },          /* PGE on */
        { CR0_ON & ~CR0_WP, CR4_PSE | CR4_PGE }, /* WP off */
        { CR0_ON, 0 },                          /* PSE off */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(changes); i++) {
        g_assert_cmpint(touch(f, 0x08048000, ACC_R, &err, NULL), ==, LILY_MMU_OK);
        if (cr4 & CR4_PSE)
            g_assert_cmpint(touch(f, 0xc0000000, ACC_R, &err, NULL), ==, LILY_MMU_OK);
        uint64_t flushes = stats(f).flushes;
        ctl(f, changes[i][0], PD0, changes[i][1]);
        cr4 = changes[i][1];
        g_assert_cmpuint(g_hash_table_size(f->host), ==, 0);
        g_assert_cmpuint(stats(f).flushes, ==, flushes + 1);
    }
    /* Paging off: identity again, from the same RAM. */
    g_assert_cmpint(touch(f, 0x08048000, ACC_R, &err, NULL), ==, LILY_MMU_OK);
    ctl(f, CR0_PE, PD0, 0);
    g_assert_cmpuint(g_hash_table_size(f->host), ==, 0);
    uint64_t gpa;
    g_assert_cmpint(touch(f, 0x00500010, ACC_R, &err, &gpa), ==, LILY_MMU_OK);
    g_assert_cmphex(gpa, ==, 0x00500010);
    fx_free(f);
}

static void test_mmio_and_bad_gpa(void)
{
    Fixture *f = fx_paging(NULL);
    uint32_t err;
    uint64_t gpa;
    set_pte(f, PD0, 0xd0000000, 0x000b8000 | P | W);
    set_pte(f, PD0, 0xd0001000, 0x00400000 | P | W);
    set_pte(f, PD0, 0xd0002000, (RAM_SIZE + 0x10000) | P | W);
    g_assert_cmpint(fault(f, 0xd0000123, ACC_W, &err, &gpa), ==, LILY_MMU_MMIO);
    g_assert_cmphex(gpa, ==, 0x000b8123);
    g_assert_cmpuint(f->batch.n, ==, 0);
    g_assert_cmphex(get_pte(f, PD0, 0xd0000000) & (A | D), ==, A | D);
    g_assert_cmpint(fault(f, 0xd0002008, ACC_R, &err, &gpa), ==, LILY_MMU_BAD_GPA);
    g_assert_cmphex(gpa, ==, RAM_SIZE + 0x10008);
    g_assert_cmpuint(f->batch.n, ==, 0);
    /* Fault-around maps the RAM neighbour only. */
    g_assert_cmpint(touch(f, 0xd0001000, ACC_R, &err, &gpa), ==, LILY_MMU_OK);
    g_assert_cmpuint(g_hash_table_size(f->host), ==, 1);
    /* A 4 MiB page over the MMIO hole is mapped around it. */
    set_pde_large(f, PD0, 0x00000000, 0x00000000 | P | W | D);
    g_assert_cmpint(touch(f, 0x1000, ACC_W, &err, &gpa), ==, LILY_MMU_OK);
    g_assert_cmphex(host_at(f, MMIO_LO), ==, 0);
    g_assert_cmphex(host_at(f, MMIO_HI - PAGE), ==, 0);
    g_assert_cmphex(host_at(f, MMIO_HI), ==, MMIO_HI | HP_VALID | RWX);
    g_assert_cmpint(touch(f, MMIO_LO + 8, ACC_R, &err, &gpa), ==, LILY_MMU_MMIO);
    g_assert_cmphex(gpa, ==, MMIO_LO + 8);
    /* A 4 MiB page beyond RAM: BAD_GPA, nothing mapped. */
    set_pde_large(f, PD0, 0x40000000, 0x40000000 | P | W);
    g_assert_cmpint(fault(f, 0x40000000, ACC_R, &err, &gpa), ==, LILY_MMU_BAD_GPA);
    g_assert_cmpuint(f->batch.n, ==, 0);
    fx_free(f);
}

/* Pages below vm.mmap_min_addr cannot be mapped: their accesses are emulated. */
static void test_low_pages_emulated(void)
{
    static const char *const low[] = { "mmu_min_vaddr", "0x10000", NULL };
    Fixture *f = fx_paging(low);
    uint32_t err;
    uint64_t gpa;
    for (uint32_t i = 0; i < 32; i++)
        set_pte(f, PD0, i * PAGE, (0x00500000 + i * PAGE) | P | W | U);
    g_assert_cmpint(fault(f, 0x0000f123, ACC_W, &err, &gpa), ==, LILY_MMU_EMULATE);
    g_assert_cmphex(gpa, ==, 0x0050f123);
    g_assert_cmpuint(f->batch.n, ==, 0);
    g_assert_cmphex(get_pte(f, PD0, 0x0000f000) & (A | D), ==, A | D);
    /* Fault-around from above stops at the limit. */
    g_assert_cmpint(touch(f, 0x00010000, ACC_R, &err, &gpa), ==, LILY_MMU_OK);
    g_assert_cmpuint(g_hash_table_size(f->host), ==, 16);
    g_assert_cmphex(host_at(f, 0x0000f000), ==, 0);
    /* Not-present and protection faults still come first. */
    set_pte(f, PD0, 0x00001000, 0);
    g_assert_cmpint(fault(f, 0x00001000, ACC_R, &err, &gpa), ==, LILY_MMU_GUEST_FAULT);
    /* A 4 MiB page over the limit is mapped above it. */
    set_pde_large(f, PD0, 0, 0x00400000 | P | W);
    invlpg(f, 0);
    g_assert_cmpint(fault(f, 0x00020000, ACC_R, &err, &gpa), ==, LILY_MMU_OK);
    g_assert_cmpuint(f->batch.n, ==, 1);
    g_assert_cmphex(f->batch.ops[0].vaddr, ==, 0x10000);
    g_assert_cmphex(f->batch.ops[0].gpa, ==, 0x00410000);
    apply(f);
    fx_free(f);
}

/* The transport stops at the first failing op: later faults map again. */
static void test_lost_mapping_remapped(void)
{
    Fixture *f = fx_paging(NULL);
    uint32_t err;
    set_pte(f, PD0, 0x08048000, 0x00500000 | P | U | W | D);
    set_pde_large(f, PD0, 0xc0000000, 0x00800000 | P | W | D);
    g_assert_cmpint(touch(f, 0x08048000, ACC_W, &err, NULL), ==, LILY_MMU_OK);
    g_assert_cmpint(touch(f, 0xc0000000, ACC_W, &err, NULL), ==, LILY_MMU_OK);
    g_hash_table_remove_all(f->host); /* as if the ops had failed */
    for (const uint32_t *va = (const uint32_t[]){ 0x08048000, 0xc0001000, 0 }; *va; va++) {
        g_assert_cmpint(fault(f, *va, ACC_W, &err, NULL), ==, LILY_MMU_OK);
        g_assert_cmpuint(f->batch.n, ==, 1);
        g_assert_cmpuint(f->batch.ops[0].vaddr, ==, *va);
        g_assert_cmphex(f->batch.ops[0].prot, ==, RWX);
        apply(f);
    }
    fx_free(f);
}

static void test_batch_full(void)
{
    Fixture *f = fx_paging(NULL);
    uint32_t err;
    for (uint32_t i = 0; i < 16; i += 2) /* 8 runs: every other page */
        set_pte(f, PD0, 0x08040000 + i * PAGE, (0x00500000 + i * PAGE) | P | U);
    f->batch.max = 0;
    g_assert_cmpint(fault(f, 0x08040000, ACC_R, &err, NULL), ==, LILY_MMU_BATCH_FULL);
    g_assert_cmpuint(f->batch.n, ==, 0);
    g_assert_cmphex(get_pte(f, PD0, 0x08040000) & A, ==, 0); /* nothing changed */
    /* Room for 3 of 8 runs: the faulting page alone, A on it alone. */
    f->batch.max = 3;
    g_assert_cmpint(fault(f, 0x08040000 + 4 * PAGE, ACC_R, &err, NULL), ==, LILY_MMU_OK);
    g_assert_cmpuint(f->batch.n, ==, 1);
    g_assert_cmphex(f->batch.ops[0].vaddr, ==, 0x08040000 + 4 * PAGE);
    g_assert_cmphex(get_pte(f, PD0, 0x08040000) & A, ==, 0);
    g_assert_cmphex(f->ops_buf[3].kind, !=, LILY_MMU_OP_MAP_POPULATE);
    apply(f);
    /* Enough room: the rest of the window. */
    g_assert_cmpint(fault(f, 0x08040000, ACC_R, &err, NULL), ==, LILY_MMU_OK);
    g_assert_cmpuint(f->batch.n, ==, 7);
    apply(f);
    g_assert_cmpuint(g_hash_table_size(f->host), ==, 8);
    /* A flush whose exact ops do not fit falls back to one span. */
    set_pde_large(f, PD0, 0xc0000000, 0x00800000 | P | W | G);
    g_assert_cmpint(touch(f, 0xc0000000, ACC_R, &err, NULL), ==, LILY_MMU_OK);
    f->batch.max = LILY_MMU_BATCH_RESERVE;
    cpl(f, 3);
    g_assert_cmphex(host_prot(f, 0xc0000000), ==, 0);
    f->batch.max = 1;
    f->ops->set_control(f->mmu, CR0_ON, PD0, CR4_PSE, &f->batch);
    g_assert_cmpuint(f->batch.n, ==, 1);
    apply(f);
    g_assert_cmpuint(g_hash_table_size(f->host), ==, 0);
    fx_free(f);
}

static void test_cpl_hides_supervisor(void)
{
    Fixture *f = fx_paging(NULL);
    uint32_t err;
    set_pde_large(f, PD0, 0xc0000000, 0x00800000 | P | W | G | D);
    for (uint32_t i = 0; i < 4; i++)
        set_pte(f, PD0, 0xc0400000 + i * PAGE, (0x00c00000 + i * PAGE) | P | W | G | (i < 2 ? D : 0));
    set_pte(f, PD0, 0x08048000, 0x00500000 | P | U | W | D);
    g_assert_cmpint(touch(f, 0xc0000000, ACC_W, &err, NULL), ==, LILY_MMU_OK);
    g_assert_cmpint(touch(f, 0xc0400000, ACC_R, &err, NULL), ==, LILY_MMU_OK);
    g_assert_cmpint(touch(f, 0x08048000, ACC_W, &err, NULL), ==, LILY_MMU_OK);
    LilyMmuStats s0 = stats(f);
    f->ops->set_cpl(f->mmu, 3, &f->batch);
    /* One op per run of contiguous supervisor pages with the same target. */
    g_assert_cmpuint(f->batch.n, ==, 1);
    g_assert_cmpuint(f->batch.ops[0].kind, ==, LILY_MMU_OP_PROTECT);
    g_assert_cmphex(f->batch.ops[0].vaddr, ==, 0xc0000000);
    g_assert_cmphex(f->batch.ops[0].len, ==, 0x400000 + 4 * PAGE);
    g_assert_cmphex(f->batch.ops[0].prot, ==, 0);
    apply(f);
    f->cpl = 3;
    g_assert_cmpint(touch(f, 0xc0000000, ACC_R, &err, NULL), ==, LILY_MMU_GUEST_FAULT);
    g_assert_cmphex(err, ==, 0x5);
    g_assert_cmpint(touch(f, 0x08048000, ACC_W, &err, NULL), ==, LILY_MMU_OK);
    f->ops->set_cpl(f->mmu, 0, &f->batch);
    /* Back: RWX for the dirty pages, RX for the clean ones. */
    g_assert_cmpuint(f->batch.n, ==, 2);
    g_assert_cmphex(f->batch.ops[0].len, ==, 0x400000 + 2 * PAGE);
    g_assert_cmphex(f->batch.ops[0].prot, ==, RWX);
    g_assert_cmphex(f->batch.ops[1].vaddr, ==, 0xc0402000);
    g_assert_cmphex(f->batch.ops[1].prot, ==, RX);
    apply(f);
    f->cpl = 0;
    g_assert_cmpint(touch(f, 0xc0000000, ACC_W, &err, NULL), ==, LILY_MMU_OK);
    LilyMmuStats s1 = stats(f);
    g_assert_cmpuint(s1.ops_protect - s0.ops_protect, ==, 3);
    g_assert_cmpuint(s1.faults, ==, s0.faults + 1); /* the user's failed read */
    /* Same level again: nothing to do. */
    cpl(f, 0);
    g_assert_cmpuint(stats(f).ops_protect, ==, s1.ops_protect);
    fx_free(f);
}

static void test_tables_full(void)
{
    static const char *const one[] = { "mmu_tables", "1", NULL };
    Fixture *f = fx_paging(one);
    uint32_t err;
    set_pte(f, PD0, 0x08048000, 0x00500000 | P | U);
    set_pte(f, PD0, 0x10000000, 0x00501000 | P | U);
    g_assert_cmpint(touch(f, 0x08048000, ACC_R, &err, NULL), ==, LILY_MMU_OK);
    uint64_t flushes = stats(f).flushes;
    g_assert_cmpint(fault(f, 0x10000000, ACC_R, &err, NULL), ==, LILY_MMU_OK);
    g_assert_cmpuint(f->batch.n, ==, 2);
    g_assert_cmpuint(f->batch.ops[0].kind, ==, LILY_MMU_OP_UNMAP);
    g_assert_cmpuint(f->batch.ops[1].kind, ==, LILY_MMU_OP_MAP_POPULATE);
    apply(f);
    g_assert_cmpuint(stats(f).flushes, ==, flushes + 1);
    g_assert_cmphex(host_at(f, 0x08048000), ==, 0);
    g_assert_cmphex(host_at(f, 0x10000000), !=, 0);
    fx_free(f);
}

static void test_small_page_bound(void)
{
    /* Whole tables per fault, so that the bound is reached quickly. */
    static const char *const wide[] = { "mmu_fault_around", "1024", NULL };
    Fixture *f = fx_paging(wide);
    uint32_t err;
    uint64_t flushes = stats(f).flushes;
    for (uint32_t t = 0; t < 33; t++) {
        uint32_t va = 0x10000000u + t * 0x400000u;
        for (uint32_t i = 0; i < 1024; i++) /* frames may alias: only the count matters */
            set_pte(f, PD0, va + i * PAGE, (0x00400000 + ((i + t) % 1024) * PAGE) | P | W | A);
        g_assert_cmpint(touch(f, va, ACC_R, &err, NULL), ==, LILY_MMU_OK);
        g_assert_cmpuint(g_hash_table_size(f->host), <=, 32768);
    }
    /* 32 tables' worth fit; the 33rd flushed first. */
    g_assert_cmpuint(stats(f).flushes, ==, flushes + 1);
    g_assert_cmpuint(g_hash_table_size(f->host), ==, 1024);
    fx_free(f);
}

/* --- a context-switch workload ----------------------------------------------- */

#define WL_PROCS 4
#define WL_ROUNDS 50

typedef struct Workload {
    uint64_t faults, switches, transitions;
    uint64_t ops_fault, ops_switch, ops_cpl, pages;
    uint64_t pages_switch, pages_cpl; /* pages those ops covered */
    uint64_t ns_fault, ns_switch, ns_cpl; /* real mode: time in the ops' syscalls */
    uint64_t min_switch, min_to_user, min_to_kernel; /* the same, least per event */
} Workload;

static uint64_t ops_total(Fixture *f)
{
    LilyMmuStats s = stats(f);
    return s.ops_map + s.ops_unmap + s.ops_protect;
}

/*
 * WL_PROCS processes share a kernel (a global 4 MiB page and global 4 KiB
 * pages) and each has code, data, heap and stack pages.  Each round switches
 * to the next process, which makes a few system calls.
 */
static Workload run_workload(const char *const *over)
{
    Fixture *f = fx_new_with(over);
    Workload wl = { .min_switch = UINT64_MAX, .min_to_user = UINT64_MAX,
                    .min_to_kernel = UINT64_MAX };
    uint32_t err;
    uint32_t frame = 0x01000000 / 2;
    set_pde_large(f, PD0, 0xc0000000, 0x00400000 | P | W | G | A | D);
    for (uint32_t i = 0; i < 64; i++)
        set_pte(f, PD0, 0xc0400000 + i * PAGE, (0x00200000 + i * PAGE) | P | W | G | A | D);
    static const struct {
        uint32_t va, pages, flags;
    } areas[] = {
        { 0x08048000, 24, P | U | A },        /* code */
        { 0x08060000, 16, P | U | W | A | D }, /* data */
        { 0x08100000, 32, P | U | W | A | D }, /* heap */
        { 0xbfff8000, 8, P | U | W | A | D },  /* stack */
    };
    for (uint32_t p = 0; p < WL_PROCS; p++) {
        uint32_t pd = 0x12000 + p * PAGE;
        memcpy(f->ram + pd + 0xc00, f->ram + PD0 + 0xc00, 0x400);
        for (size_t a = 0; a < G_N_ELEMENTS(areas); a++)
            for (uint32_t i = 0; i < areas[a].pages; i++) {
                set_pte(f, pd, areas[a].va + i * PAGE, frame | areas[a].flags);
                frame += PAGE;
            }
    }
    ctl(f, CR0_ON, 0x12000, CR4_PSE | CR4_PGE);
    for (uint32_t round = 0; round < WL_ROUNDS; round++) {
        uint32_t pd = 0x12000 + (round % WL_PROCS) * PAGE;
        uint64_t before = ops_total(f), unmapped = f->pages_unmapped, ns = f->real_ns;
        ctl(f, CR0_ON, pd, CR4_PSE | CR4_PGE);
        wl.ops_switch += ops_total(f) - before;
        wl.ns_switch += f->real_ns - ns;
        if (ops_total(f) != before)
            wl.min_switch = MIN(wl.min_switch, f->real_ns - ns);
        wl.pages_switch += f->pages_unmapped - unmapped;
        wl.switches++;
        for (int sc = 0; sc < 3; sc++) {
            before = ops_total(f);
            uint64_t protected = f->pages_protected;
            ns = f->real_ns;
            cpl(f, 3);
            wl.ns_cpl += f->real_ns - ns;
            if (ops_total(f) != before)
                wl.min_to_user = MIN(wl.min_to_user, f->real_ns - ns);
            wl.ops_cpl += ops_total(f) - before;
            wl.pages_cpl += f->pages_protected - protected;
            wl.transitions++;
            for (size_t a = 0; a < G_N_ELEMENTS(areas); a++)
                for (uint32_t i = 0; i < areas[a].pages; i += 1 + (uint32_t)sc) {
                    uint64_t fb = stats(f).faults;
                    before = ops_total(f);
                    ns = f->real_ns;
                    uint32_t acc = (areas[a].flags & W) && (i & 1) ? ACC_W : ACC_R;
                    g_assert_cmpint(touch(f, areas[a].va + i * PAGE, acc, &err, NULL), ==,
                                    LILY_MMU_OK);
                    wl.faults += stats(f).faults - fb;
                    wl.ops_fault += ops_total(f) - before;
                    wl.ns_fault += f->real_ns - ns;
                    wl.pages++;
                }
            before = ops_total(f);
            protected = f->pages_protected;
            ns = f->real_ns;
            cpl(f, 0);
            wl.ns_cpl += f->real_ns - ns;
            if (ops_total(f) != before)
                wl.min_to_kernel = MIN(wl.min_to_kernel, f->real_ns - ns);
            wl.ops_cpl += ops_total(f) - before;
            wl.pages_cpl += f->pages_protected - protected;
            wl.transitions++;
            for (uint32_t i = 0; i < 64; i += 4) {
                uint64_t fb = stats(f).faults;
                before = ops_total(f);
                ns = f->real_ns;
                g_assert_cmpint(touch(f, 0xc0400000 + i * PAGE, ACC_W, &err, NULL), ==,
                                LILY_MMU_OK);
                g_assert_cmpint(touch(f, 0xc0000000 + i * 0x10000, ACC_W, &err, NULL), ==,
                                LILY_MMU_OK);
                wl.faults += stats(f).faults - fb;
                wl.ops_fault += ops_total(f) - before;
                wl.ns_fault += f->real_ns - ns;
            }
        }
    }
    fx_free(f);
    return wl;
}

static void report_workload(const char *name, const Workload *wl)
{
    g_test_message("%-32s faults %5" PRIu64 "  ops/fault %.2f  ops/switch %.2f "
                   "(pages %.0f)  ops/transition %.2f (pages %.0f)", name, wl->faults,
                   wl->faults ? (double)wl->ops_fault / (double)wl->faults : 0.0,
                   (double)wl->ops_switch / (double)wl->switches,
                   (double)wl->pages_switch / (double)wl->switches,
                   (double)wl->ops_cpl / (double)wl->transitions,
                   (double)wl->pages_cpl / (double)wl->transitions);
}

static void test_workload_context_switch(void)
{
    static const char *const plain[] = { "mmu_fault_around", "1", NULL };
    Workload base = run_workload(plain);
    Workload def = run_workload(NULL);
    static const char *const wide[] = { "mmu_fault_around", "64", NULL };
    Workload w64 = run_workload(wide);
    report_workload("fault-around off (1 page/fault)", &base);
    report_workload("fault-around 16 (default)", &def);
    report_workload("fault-around 64", &w64);
    g_test_message("(%u processes, %u switches, 3 system calls each; \"pages\": what "
                   "one op per page would have cost)", WL_PROCS, WL_ROUNDS);
    /* Fault-around saves faults; no design here needs more than one op
     * per fault or a handful per switch. */
    g_assert_cmpuint(def.faults, <, base.faults);
    g_assert_cmpuint(w64.faults, <=, def.faults);
    g_assert_cmpuint(def.ops_switch, <=, 2 * def.switches);
    g_assert_cmpuint(def.ops_cpl, <=, 2 * def.transitions);
}

/*
 * The same workload with every op done for real (mmap/munmap/mprotect of a
 * memfd in this process, pages read through the mappings): the host time of
 * the syscalls per event.  Printed, never asserted.
 */
static void test_workload_real_syscalls(void)
{
    static const char *const plain[] = { "mmu_fault_around", "1", NULL };
    fx_real = true;
    Workload base = run_workload(plain);
    Workload def = run_workload(NULL);
    fx_real = false;
    const struct {
        const char *name;
        const Workload *wl;
    } rows[] = { { "fault-around off", &base }, { "fault-around 16 (default)", &def } };
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        const Workload *wl = rows[i].wl;
        g_test_message("%-26s syscall time, mean (least): %.1f us/fault, %.1f (%.1f) "
                       "us/switch, %.1f (%.1f to user, %.1f to kernel) us/transition",
                       rows[i].name,
                       (double)wl->ns_fault / 1000.0 / (double)MAX(wl->faults, 1),
                       (double)wl->ns_switch / 1000.0 / (double)wl->switches,
                       (double)wl->min_switch / 1000.0,
                       (double)wl->ns_cpl / 1000.0 / (double)wl->transitions,
                       (double)wl->min_to_user / 1000.0, (double)wl->min_to_kernel / 1000.0);
    }
    g_assert_cmpuint(def.faults, ==, run_workload(NULL).faults); /* real or not: same ops */
}

/* --- model check against a reference walker -------------------------------- */

typedef struct Ref {
    LilyMmuResult r;
    uint32_t err;
    uint64_t gpa;
    uint32_t pde_gpa, leaf_gpa; /* leaf == PDE for a 4 MiB page */
} Ref;

#define MODEL_MIN_VADDR 0x1000u /* as the fixture pins mmu_min_vaddr */

/* The IA-32 (no PAE) walk, written from the manual, with no side effects. */
static Ref ref_walk(Fixture *f, uint32_t va, uint32_t acc)
{
    Ref r = { .r = LILY_MMU_OK };
    bool user = acc & ACC_U, write = acc & ACC_W, fetch = acc & ACC_X;
    bool smep = f->cr4 & CR4_SMEP;
    uint32_t base = (write ? 2u : 0u) | (user ? 4u : 0u) | (fetch && smep ? 0x10u : 0u);
    uint64_t frame;
    if (!(f->cr0 & CR0_PG)) {
        frame = va & ~0xfffu;
    } else {
        r.pde_gpa = (f->cr3 & ~0xfffu) + (va >> 22) * 4;
        uint32_t pde = rd32(f, r.pde_gpa), us, rw;
        if (!(pde & P)) {
            r.r = LILY_MMU_GUEST_FAULT;
            r.err = base;
            return r;
        }
        if ((f->cr4 & CR4_PSE) && (pde & PS)) {
            if (pde & 0x003fe000u) {
                r.r = LILY_MMU_GUEST_FAULT;
                r.err = base | 1 | 8;
                return r;
            }
            frame = (pde & 0xffc00000u) + (va & 0x003ff000u);
            us = pde & U;
            rw = pde & W;
            r.leaf_gpa = r.pde_gpa;
        } else {
            r.leaf_gpa = (pde & ~0xfffu) + ((va >> 12) & 0x3ffu) * 4;
            if (r.leaf_gpa >= RAM_SIZE) { /* the page table is not RAM */
                r.r = LILY_MMU_BAD_GPA;
                r.gpa = r.leaf_gpa;
                return r;
            }
            uint32_t pte = rd32(f, r.leaf_gpa);
            if (!(pte & P)) {
                r.r = LILY_MMU_GUEST_FAULT;
                r.err = base;
                return r;
            }
            frame = pte & ~0xfffu;
            us = pde & pte & U;
            rw = pde & pte & W;
        }
        if ((user && !us) || (write && !rw && (user || (f->cr0 & CR0_WP))) ||
            (fetch && !user && smep && us)) {
            r.r = LILY_MMU_GUEST_FAULT;
            r.err = base | 1;
            return r;
        }
    }
    r.gpa = frame | (va & 0xfffu);
    if (mmio_page(frame))
        r.r = LILY_MMU_MMIO;
    else if (frame + PAGE > RAM_SIZE)
        r.r = LILY_MMU_BAD_GPA;
    else if (va < MODEL_MIN_VADDR)
        r.r = LILY_MMU_EMULATE;
    return r;
}

/* A and (for writes) D are where the hardware would have put them. */
static void check_ad(Fixture *f, const Ref *ref, bool write)
{
    if (!(f->cr0 & CR0_PG))
        return;
    g_assert_cmphex(rd32(f, ref->pde_gpa) & A, ==, A);
    g_assert_cmphex(rd32(f, ref->leaf_gpa) & A, ==, A);
    if (write)
        g_assert_cmphex(rd32(f, ref->leaf_gpa) & D, ==, D);
}

/* Every host mapping grants no more than the guest's tables in this mode. */
static void check_all_mappings(Fixture *f)
{
    GHashTableIter it;
    gpointer k, v;
    uint32_t mode = f->cpl == 3 ? ACC_U : 0;
    g_hash_table_iter_init(&it, f->host);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        uint32_t va = GPOINTER_TO_UINT(k) * PAGE, h = GPOINTER_TO_UINT(v);
        if (!(h & RWX))
            continue;
        Ref ref = ref_walk(f, va, mode);
        if (ref.r != LILY_MMU_OK || ref.gpa != (h & ~0xfffu))
            g_error("0x%08x mapped to 0x%08x prot %u in CPL %u, but the guest says "
                    "result %d gpa 0x%" PRIx64, va, h & ~0xfffu, h & RWX, f->cpl, ref.r,
                    ref.gpa);
        check_ad(f, &ref, false);
        if (h & W_) {
            ref = ref_walk(f, va, mode | ACC_W);
            g_assert_cmpint(ref.r, ==, LILY_MMU_OK);
            check_ad(f, &ref, true);
        }
        if (h & X_) {
            ref = ref_walk(f, va, mode | ACC_X);
            g_assert_cmpint(ref.r, ==, LILY_MMU_OK);
        }
    }
}

static uint32_t rnd_frame(GRand *rng)
{
    switch (g_rand_int_range(rng, 0, 8)) {
    case 0:
        return MMIO_LO + (uint32_t)g_rand_int_range(rng, 0, 32) * PAGE;
    case 1:
        return RAM_SIZE + (uint32_t)g_rand_int_range(rng, 0, 4) * PAGE;
    default:
        return 0x00400000u + (uint32_t)g_rand_int_range(rng, 0, 4096) * PAGE;
    }
}

static uint32_t rnd_pte(GRand *rng)
{
    uint32_t bits = g_rand_int(rng) & (W | U | A | D | G);
    return rnd_frame(rng) | bits | (g_rand_int_range(rng, 0, 10) ? P : 0);
}

/* The virtual slots the model test uses, and their page tables. */
static const uint32_t model_slots[] = { 0x000, 0x001, 0x020, 0x300, 0x301, 0x3fe };

static uint32_t model_va(GRand *rng)
{
    uint32_t slot = model_slots[g_rand_int_range(rng, 0, G_N_ELEMENTS(model_slots))];
    /* Mostly a small window per slot, so that pages get reused. */
    uint32_t page = (uint32_t)g_rand_int_range(rng, 0, 64);
    if (g_rand_int_range(rng, 0, 8) == 0)
        page = (uint32_t)g_rand_int_range(rng, 0, 1024);
    return slot << 22 | page << 12 | (uint32_t)g_rand_int_range(rng, 0, 4096);
}

static void model_pde(Fixture *f, GRand *rng, uint32_t slot, uint32_t table)
{
    uint32_t pde;
    if (g_rand_int_range(rng, 0, 4) == 0) {
        uint32_t frame = (uint32_t)g_rand_int_range(rng, 0, 6) << 22; /* 0 holds MMIO */
        pde = frame | PS | (g_rand_int(rng) & (W | U | A | D | G));
        if (g_rand_int_range(rng, 0, 20) == 0)
            pde |= 0x2000; /* reserved */
    } else {
        pde = table | (g_rand_int(rng) & (W | U | A));
    }
    if (g_rand_int_range(rng, 0, 10))
        pde |= P;
    wr32(f, PD0 + slot * 4, pde);
}

/* What the model test's accesses came to, over all seeds. */
static uint64_t model_outcomes[7]; /* by LilyMmuResult; [6]: no fault needed */

static void model_step_access(Fixture *f, GRand *rng)
{
    static const uint32_t accs[] = { ACC_R, ACC_W, ACC_X };
    uint32_t va = model_va(rng), acc = accs[g_rand_int_range(rng, 0, 3)];
    if (f->cpl == 3)
        acc |= ACC_U;
    Ref ref = ref_walk(f, va, acc);
    uint32_t h = host_at(f, va);
    if (h && (h & access_prot(acc))) {
        /* No fault: the mapping must agree with the guest's tables. */
        g_assert_cmpint(ref.r, ==, LILY_MMU_OK);
        g_assert_cmphex(ref.gpa, ==, (h & ~0xfffu) | (va & 0xfffu));
        check_ad(f, &ref, acc & ACC_W);
        model_outcomes[6]++;
        real_check(f, va, ref.gpa);
        return;
    }
    uint32_t err = 0;
    uint64_t gpa = 0;
    f->batch.max = (uint32_t)g_rand_int_range(rng, 0, 12);
    LilyMmuResult r = fault(f, va, acc, &err, &gpa);
    if (r == LILY_MMU_BATCH_FULL) {
        apply(f);
        r = fault(f, va, acc, &err, &gpa);
    }
    g_assert_cmpint(r, ==, ref.r);
    if (r == LILY_MMU_GUEST_FAULT)
        g_assert_cmphex(err, ==, ref.err);
    else
        g_assert_cmphex(gpa, ==, ref.gpa);
    model_outcomes[r]++;
    apply(f);
    if (r == LILY_MMU_OK || r == LILY_MMU_MMIO || r == LILY_MMU_EMULATE)
        check_ad(f, &ref, acc & ACC_W);
    if (r == LILY_MMU_OK) {
        real_check(f, va, ref.gpa);
        h = host_at(f, va);
        g_assert_cmphex(h & access_prot(acc), !=, 0);
        g_assert_cmphex(h & ~0xfffu, ==, ref.gpa & ~0xfffu);
    }
}

static void model_run(uint32_t seed)
{
    Fixture *f = fx_new();
    GRand *rng = g_rand_new_with_seed(seed);
    if (f->real) {
        /* Distinct contents everywhere, so that a wrong frame shows. */
        for (uint32_t i = 0; i < RAM_SIZE / 4; i++)
            ((uint32_t *)f->ram)[i] = g_rand_int(rng);
        memset(f->ram + PD0, 0, PAGE);
    }
    uint32_t tables[G_N_ELEMENTS(model_slots)];
    for (size_t s = 0; s < G_N_ELEMENTS(model_slots); s++) {
        tables[s] = f->pt_next;
        f->pt_next += PAGE;
        for (uint32_t i = 0; i < 1024; i++)
            wr32(f, tables[s] + i * 4, rnd_pte(rng));
        model_pde(f, rng, model_slots[s], tables[s]);
    }
    uint32_t cr0 = CR0_PE | CR0_PG | (g_rand_boolean(rng) ? CR0_WP : 0);
    uint32_t cr4 = (g_rand_boolean(rng) ? CR4_PSE : 0) | (g_rand_boolean(rng) ? CR4_PGE : 0) |
                   (g_rand_int_range(rng, 0, 4) == 0 ? CR4_SMEP : 0);
    if (g_rand_int_range(rng, 0, 8) == 0)
        cr0 &= ~CR0_PG;
    ctl(f, cr0, PD0, cr4);
    for (int step = 0; step < 3000; step++) {
        int what = g_rand_int_range(rng, 0, 1000);
        f->batch.max = LILY_MMU_BATCH_RESERVE + (uint32_t)g_rand_int_range(rng, 0, 8);
        if (what < 800) {
            model_step_access(f, rng);
        } else if (what < 880) {
            cpl(f, f->cpl == 3 ? 0 : 3);
        } else if (what < 930) {
            /* Change one PTE, A/D included, then invlpg it. */
            size_t s = (size_t)g_rand_int_range(rng, 0, G_N_ELEMENTS(model_slots));
            uint32_t page = (uint32_t)g_rand_int_range(rng, 0, 64);
            wr32(f, tables[s] + page * 4, rnd_pte(rng));
            invlpg(f, model_slots[s] << 22 | page << 12);
        } else if (what < 950) {
            /* Change a PDE: invalidate through a PGE toggle (everything). */
            size_t s = (size_t)g_rand_int_range(rng, 0, G_N_ELEMENTS(model_slots));
            model_pde(f, rng, model_slots[s], tables[s]);
            ctl(f, f->cr0, f->cr3, f->cr4 ^ CR4_PGE);
            f->batch.max = LILY_MMU_BATCH_RESERVE;
            ctl(f, f->cr0, f->cr3, f->cr4 ^ CR4_PGE);
        } else if (what < 970) {
            /* Clear A/D of a non-global PTE, then reload CR3 (same value). */
            size_t s = (size_t)g_rand_int_range(rng, 0, G_N_ELEMENTS(model_slots));
            uint32_t page = (uint32_t)g_rand_int_range(rng, 0, 64);
            uint32_t pte = rd32(f, tables[s] + page * 4);
            if (!(pte & G)) /* a global page would need an invlpg */
                wr32(f, tables[s] + page * 4, pte & ~(A | D));
            ctl(f, f->cr0, f->cr3, f->cr4);
        } else if (what < 990) {
            uint32_t va = model_va(rng), err = 0;
            uint32_t acc = (g_rand_boolean(rng) ? ACC_W : 0) | (f->cpl == 3 ? ACC_U : 0);
            uint64_t gpa = 0;
            Ref ref = ref_walk(f, va, acc);
            LilyMmuResult r = f->ops->translate(f->mmu, va, acc, &gpa, &err);
            if (ref.r == LILY_MMU_EMULATE) /* translate() maps nothing: plain RAM */
                ref.r = LILY_MMU_OK;
            g_assert_cmpint(r, ==, ref.r);
            if (r == LILY_MMU_GUEST_FAULT)
                g_assert_cmphex(err, ==, ref.err);
            else
                g_assert_cmphex(gpa, ==, ref.gpa);
            if (r == LILY_MMU_OK)
                check_ad(f, &ref, acc & ACC_W);
        } else if (what < 995) {
            ctl(f, f->cr0 ^ CR0_WP, f->cr3, f->cr4);
        } else {
            f->ops->reset(f->mmu, &f->batch);
            apply(f);
            g_assert_cmpuint(g_hash_table_size(f->host), ==, 0);
        }
        if (step % 8 == 0)
            check_all_mappings(f);
    }
    check_all_mappings(f);
    g_rand_free(rng);
    fx_free(f);
}

/* The same with real mappings: the kernel takes every op, contents agree. */
static void test_model_real(void)
{
    fx_real = true;
    for (uint32_t seed = 100; seed < 104; seed++)
        model_run(seed);
    fx_real = false;
}

static void test_model_random(void)
{
    for (uint32_t seed = 1; seed <= 16; seed++)
        model_run(seed);
    g_test_message("accesses: %" PRIu64 " without fault, %" PRIu64 " filled, %" PRIu64
                   " guest faults, %" PRIu64 " MMIO, %" PRIu64 " bad gpa, %" PRIu64
                   " emulated (low pages)",
                   model_outcomes[6], model_outcomes[LILY_MMU_OK],
                   model_outcomes[LILY_MMU_GUEST_FAULT], model_outcomes[LILY_MMU_MMIO],
                   model_outcomes[LILY_MMU_BAD_GPA], model_outcomes[LILY_MMU_EMULATE]);
    g_assert_cmpuint(model_outcomes[6], >, 0);
    g_assert_cmpuint(model_outcomes[LILY_MMU_OK], >, 0);
    g_assert_cmpuint(model_outcomes[LILY_MMU_GUEST_FAULT], >, 0);
    g_assert_cmpuint(model_outcomes[LILY_MMU_MMIO], >, 0);
    g_assert_cmpuint(model_outcomes[LILY_MMU_BAD_GPA], >, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/mmu/plugin/descriptor", test_descriptor);
    g_test_add_func("/mmu/plugin/bad-option", test_bad_option);
    g_test_add_func("/mmu/paging-off/identity", test_paging_off_identity);
    g_test_add_func("/mmu/map/4k-prot", test_4k_prot);
    g_test_add_func("/mmu/map/4m-pse", test_4m_pse);
    g_test_add_func("/mmu/fault/not-present-error-codes", test_not_present_error_codes);
    g_test_add_func("/mmu/fault/user-supervisor", test_user_supervisor);
    g_test_add_func("/mmu/fault/read-only-and-wp", test_read_only_and_wp);
    g_test_add_func("/mmu/ad/accessed-dirty", test_accessed_dirty);
    g_test_add_func("/mmu/map/fault-around", test_fault_around);
    g_test_add_func("/mmu/flush/invlpg", test_invlpg);
    g_test_add_func("/mmu/flush/cr3-keeps-global", test_cr3_keeps_global);
    g_test_add_func("/mmu/flush/cr4-cr0-all", test_cr4_cr0_flush_all);
    g_test_add_func("/mmu/gpa/mmio-and-bad", test_mmio_and_bad_gpa);
    g_test_add_func("/mmu/gpa/low-pages-emulated", test_low_pages_emulated);
    g_test_add_func("/mmu/fault/lost-mapping-remapped", test_lost_mapping_remapped);
    g_test_add_func("/mmu/batch/full", test_batch_full);
    g_test_add_func("/mmu/cpl/hide-restore-supervisor", test_cpl_hides_supervisor);
    g_test_add_func("/mmu/tables/full-flushes", test_tables_full);
    g_test_add_func("/mmu/tables/small-page-bound", test_small_page_bound);
    g_test_add_func("/mmu/workload/context-switch", test_workload_context_switch);
    g_test_add_func("/mmu/workload/real-syscalls", test_workload_real_syscalls);
    g_test_add_func("/mmu/model/random", test_model_random);
    g_test_add_func("/mmu/model/real-mappings", test_model_real);
    return g_test_run();
}
