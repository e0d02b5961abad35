/*
 * Shadow paging core of the mmu plugin: the guest's 2-level IA-32 page tables
 * (4 KiB pages, 4 MiB PSE pages, no PAE) turned into mappings of guest RAM in
 * the guest process, under x86 TLB rules.
 *
 * DOC: Theory of operation
 *
 * The guest process plays the TLB.  A page is mapped there only after a
 * fault on it (a "fill"), with the permissions the guest's tables grant in
 * the current privilege mode, and stays until the guest does something that
 * would invalidate a TLB entry (invlpg, a CR3 load for non-global pages, a
 * change of CR0.PG/WP or CR4.PSE/PGE/SMEP for everything).
 *
 * What is mapped is remembered in a bounded set of MmuTable: one per 4 MiB
 * slot in use, one word per page (MMU_E_*): the guest-physical frame, the
 * host protection for kernel mode and for user mode, the global and
 * large-page flags.  When no table is free everything is flushed.
 *
 * Accessed/Dirty: a fill sets A in the entries it used.  A page the guest
 * may write is mapped read-only until D is set in its leaf entry: the first
 * write faults, sets D and upgrades the mapping.  Fault-around maps present
 * neighbours of the same page table in the same operations and sets A only
 * in the PTEs of the pages it actually maps (an x86 CPU may fill its TLB
 * speculatively and set A for it); it never sets D.
 *
 * Kernel/user: an entry whose two protections differ is "sensitive"
 * (supervisor pages, and with CR0.WP=0 or CR4.SMEP some user pages).  The
 * host protection of every mapping always matches the current mode; set_cpl
 * re-protects the sensitive pages in address order, coalescing runs.
 *
 * Operations are built in the caller's batch beyond batch->n and published
 * (batch->n moved) only when all of them fit; state changes (tables, guest
 * A/D bits) happen after that, so LILY_MMU_BATCH_FULL leaves nothing half
 * done.
 */
#include "plugins/mmu/shadow.h"

#include <string.h>

/* Bits of a table entry.  prot values are LILY_MMU_PROT_*. */
#define MMU_E_VALID 0x001u
#define MMU_E_KPROT_SHIFT 1
#define MMU_E_UPROT_SHIFT 4
#define MMU_E_PROT_MASK 0x7u
#define MMU_E_GLOBAL 0x080u
#define MMU_E_LARGE 0x100u
#define MMU_E_FRAME 0xfffff000u

#define PROT_RX (LILY_MMU_PROT_READ | LILY_MMU_PROT_EXEC)
#define PROT_RWX (PROT_RX | LILY_MMU_PROT_WRITE)

#define MMU_SLOT_SIZE (MMU_SLOT_PAGES * MMU_PAGE_SIZE)
#define MMU_OP_LEN_MAX 0xfffff000u /* largest page-aligned uint32 length */

static inline uint32_t e_kprot(uint32_t e)
{
    return (e >> MMU_E_KPROT_SHIFT) & MMU_E_PROT_MASK;
}

static inline uint32_t e_uprot(uint32_t e)
{
    return (e >> MMU_E_UPROT_SHIFT) & MMU_E_PROT_MASK;
}

static inline bool e_sensitive(uint32_t e)
{
    return (e & MMU_E_VALID) && e_kprot(e) != e_uprot(e);
}

static inline uint32_t e_make(uint32_t frame, uint32_t kprot, uint32_t uprot, uint32_t flags)
{
    return (frame & MMU_E_FRAME) | kprot << MMU_E_KPROT_SHIFT |
           uprot << MMU_E_UPROT_SHIFT | flags | MMU_E_VALID;
}

static inline bool mmu_paging(const Mmu *m)
{
    return (m->cr0 & MMU_CR0_PG) != 0;
}

static inline bool mmu_user_mode(const Mmu *m)
{
    return m->cpl == 3;
}

/* The host protection of entry e in the current mode. */
static inline uint32_t e_prot_now(const Mmu *m, uint32_t e)
{
    return mmu_user_mode(m) ? e_uprot(e) : e_kprot(e);
}

/* --- the table of what is mapped -------------------------------------------- */

void mmu_setup(Mmu *m, uint8_t *ram, uint64_t ram_size, MmuTable *tables,
               uint16_t *free_list, uint32_t n_tables, MmuMmioFn mmio, void *mmio_ctx)
{
    memset(m, 0, sizeof(*m));
    m->ram = ram;
    m->ram_size = ram_size;
    m->mmio = mmio;
    m->mmio_ctx = mmio_ctx;
    m->fault_around = 16;
    m->populate = true;
    m->tables = tables;
    m->free_list = free_list;
    m->n_tables = n_tables;
    for (uint32_t i = 0; i < MMU_SLOTS; i++)
        m->dir[i] = MMU_NO_TABLE;
    /* Lowest index handed out first. */
    for (uint32_t i = 0; i < n_tables; i++)
        free_list[i] = (uint16_t)(n_tables - 1 - i);
    m->n_free = n_tables;
    memset(tables, 0, sizeof(*tables) * n_tables);
}

static MmuTable *table_of(const Mmu *m, uint32_t slot)
{
    uint16_t t = m->dir[slot];
    return t == MMU_NO_TABLE ? NULL : &m->tables[t];
}

/* The table for slot, taken from the free list if needed; NULL if none left. */
static MmuTable *table_get(Mmu *m, uint32_t slot)
{
    MmuTable *t = table_of(m, slot);
    if (t || m->n_free == 0)
        return t;
    uint16_t i = m->free_list[--m->n_free];
    m->dir[slot] = i;
    return &m->tables[i];
}

static void table_release(Mmu *m, uint32_t slot)
{
    uint16_t i = m->dir[slot];
    MmuTable *t = &m->tables[i];
    memset(t, 0, sizeof(*t));
    m->dir[slot] = MMU_NO_TABLE;
    m->free_list[m->n_free++] = i;
}

/* Replace one entry, keeping every counter right. */
static void entry_set(Mmu *m, MmuTable *t, uint32_t idx, uint32_t e)
{
    uint32_t old = t->entry[idx];
    if (old & MMU_E_VALID) {
        t->n_mapped--;
        m->total_mapped--;
        if (e_sensitive(old)) {
            t->n_sensitive--;
            m->total_sensitive--;
        }
        if (old & MMU_E_GLOBAL) {
            t->n_global--;
            m->total_global--;
        }
        if (old & MMU_E_LARGE) {
            t->n_large--;
            m->total_large--;
        }
    }
    t->entry[idx] = e;
    if (e & MMU_E_VALID) {
        t->n_mapped++;
        m->total_mapped++;
        if (e_sensitive(e)) {
            t->n_sensitive++;
            m->total_sensitive++;
        }
        if (e & MMU_E_GLOBAL) {
            t->n_global++;
            m->total_global++;
        }
        if (e & MMU_E_LARGE) {
            t->n_large++;
            m->total_large++;
        }
    }
}

/* Forget every entry of pages in [lo, hi) (page numbers); free empty tables. */
static void forget_pages(Mmu *m, uint64_t lo, uint64_t hi, bool keep_global)
{
    for (uint32_t slot = (uint32_t)(lo / MMU_SLOT_PAGES); slot < MMU_SLOTS; slot++) {
        uint64_t base = (uint64_t)slot * MMU_SLOT_PAGES;
        if (base >= hi)
            break;
        MmuTable *t = table_of(m, slot);
        if (!t)
            continue;
        for (uint32_t i = 0; i < MMU_SLOT_PAGES && t->n_mapped; i++) {
            uint64_t page = base + i;
            uint32_t e = t->entry[i];
            if (page < lo || page >= hi || !(e & MMU_E_VALID))
                continue;
            if (keep_global && (e & MMU_E_GLOBAL))
                continue;
            entry_set(m, t, i, 0);
        }
        if (t->n_mapped == 0)
            table_release(m, slot);
    }
}

/* First/last mapped page index of a table (tables in use are never empty). */
static uint32_t table_first(const MmuTable *t)
{
    uint32_t i = 0;
    while (!(t->entry[i] & MMU_E_VALID))
        i++;
    return i;
}

static uint32_t table_last(const MmuTable *t)
{
    uint32_t i = MMU_SLOT_PAGES - 1;
    while (!(t->entry[i] & MMU_E_VALID))
        i--;
    return i;
}

/* --- emitting operations ---------------------------------------------------- */

/*
 * Operations are written into batch->ops[batch->n ...] and coalesced with
 * the previous one when they continue it; em_commit() publishes them all, or
 * none when the batch was too small.
 */
typedef struct Emitter {
    LilyMmuBatch *b;
    uint32_t n;
    bool full, open;
    LilyMmuOp cur;
} Emitter;

static void em_begin(Emitter *e, LilyMmuBatch *b)
{
    e->b = b;
    e->n = b->n;
    e->full = false;
    e->open = false;
}

static void em_close(Emitter *e)
{
    if (!e->open)
        return;
    e->open = false;
    if (e->n >= e->b->max) {
        e->full = true;
        return;
    }
    e->b->ops[e->n++] = e->cur;
}

static bool em_continues(const Emitter *e, uint32_t kind, uint32_t prot, uint32_t vaddr,
                         uint64_t len, uint64_t gpa)
{
    const LilyMmuOp *c = &e->cur;
    if (!e->open || c->kind != kind || (uint64_t)c->vaddr + c->len != vaddr ||
        (uint64_t)c->len + len > MMU_OP_LEN_MAX)
        return false;
    if (kind == LILY_MMU_OP_UNMAP)
        return true;
    if (c->prot != prot)
        return false;
    return kind == LILY_MMU_OP_PROTECT || c->gpa + c->len == gpa;
}

/* Append [vaddr, vaddr+len) (len <= 4 GiB - vaddr), split if it does not fit a uint32. */
static void em_op(Emitter *e, uint32_t kind, uint32_t prot, uint32_t vaddr, uint64_t len,
                  uint64_t gpa)
{
    while (len) {
        uint64_t chunk = len > MMU_OP_LEN_MAX ? MMU_OP_LEN_MAX : len;
        if (em_continues(e, kind, prot, vaddr, chunk, gpa)) {
            e->cur.len += (uint32_t)chunk;
        } else {
            em_close(e);
            e->cur = (LilyMmuOp){ .kind = kind, .prot = prot, .vaddr = vaddr,
                                  .len = (uint32_t)chunk,
                                  .gpa = kind == LILY_MMU_OP_UNMAP ||
                                                 kind == LILY_MMU_OP_PROTECT ? 0 : gpa };
            e->open = true;
        }
        vaddr += (uint32_t)chunk;
        gpa += chunk;
        len -= chunk;
    }
}

static bool em_commit(Emitter *e, Mmu *m)
{
    em_close(e);
    if (e->full)
        return false;
    for (uint32_t i = e->b->n; i < e->n; i++) {
        switch (e->b->ops[i].kind) {
        case LILY_MMU_OP_UNMAP:
            m->stats.ops_unmap++;
            break;
        case LILY_MMU_OP_PROTECT:
            m->stats.ops_protect++;
            break;
        default:
            m->stats.ops_map++;
            break;
        }
    }
    e->b->n = e->n;
    return true;
}

/* --- flushes ------------------------------------------------------------------ */

/*
 * Unmap spans: mapped ranges in ascending order, merged across holes.  One
 * munmap over a hole costs little more than over the pages alone (about
 * 2.5 us per GiB of hole against 5 us per call, measured here), so holes up
 * to MMU_SPAN_MAX_HOLE are swallowed and larger ones split the span.
 */
#define MMU_SPAN_MAX_HOLE_PAGES ((1u << 30) / MMU_PAGE_SIZE)

typedef struct Span {
    bool open;
    uint64_t lo, hi; /* page numbers */
} Span;

static void span_close(Emitter *e, Span *s)
{
    if (s->open)
        em_op(e, LILY_MMU_OP_UNMAP, 0, (uint32_t)(s->lo * MMU_PAGE_SIZE),
              (s->hi - s->lo) * MMU_PAGE_SIZE, 0);
    s->open = false;
}

static void span_add(Emitter *e, Span *s, uint64_t lo, uint64_t hi)
{
    if (s->open && lo - s->hi <= MMU_SPAN_MAX_HOLE_PAGES) {
        s->hi = hi;
        return;
    }
    span_close(e, s);
    *s = (Span){ .open = true, .lo = lo, .hi = hi };
}

/*
 * flush_all() - Unmap and forget everything: one UNMAP per span (see Span),
 * or when those do not fit one UNMAP from the lowest to the highest mapped
 * page (nothing but the MMU's mappings lives below 4 GiB).
 * Return: false (nothing changed) if the batch has no room at all.
 */
static bool flush_all(Mmu *m, LilyMmuBatch *b)
{
    if (m->total_mapped == 0) {
        m->flush_pending = false;
        return true;
    }
    Emitter e;
    Span sp = { 0 };
    em_begin(&e, b);
    for (uint32_t slot = 0; slot < MMU_SLOTS; slot++) {
        const MmuTable *t = table_of(m, slot);
        if (t && t->n_mapped) {
            uint64_t base = (uint64_t)slot * MMU_SLOT_PAGES;
            span_add(&e, &sp, base + table_first(t), base + table_last(t) + 1);
        }
    }
    uint64_t lo = 0, hi = sp.hi;
    span_close(&e, &sp);
    if (!em_commit(&e, m)) {
        for (uint32_t slot = 0; slot < MMU_SLOTS; slot++) {
            const MmuTable *t = table_of(m, slot);
            if (t && t->n_mapped) {
                lo = (uint64_t)slot * MMU_SLOT_PAGES + table_first(t);
                break;
            }
        }
        em_begin(&e, b);
        em_op(&e, LILY_MMU_OP_UNMAP, 0, (uint32_t)(lo * MMU_PAGE_SIZE),
              (hi - lo) * MMU_PAGE_SIZE, 0);
        if (!em_commit(&e, m)) {
            m->flush_pending = true;
            return false;
        }
    }
    for (uint32_t slot = 0; slot < MMU_SLOTS; slot++)
        if (table_of(m, slot))
            table_release(m, slot);
    m->total_mapped = m->total_sensitive = m->total_global = m->total_large = 0;
    m->flush_pending = false;
    m->stats.flushes++;
    return true;
}

/*
 * flush_nonglobal() - What a CR3 load does: unmap every non-global page.
 * Spans (holes included) end at each global page.
 */
static void flush_nonglobal(Mmu *m, LilyMmuBatch *b)
{
    if (m->total_global == 0) {
        flush_all(m, b);
        return;
    }
    if (m->total_global == m->total_mapped)
        return;
    Emitter e;
    Span sp = { 0 };
    em_begin(&e, b);
    for (uint32_t slot = 0; slot < MMU_SLOTS; slot++) {
        const MmuTable *t = table_of(m, slot);
        if (!t || t->n_mapped == 0)
            continue;
        uint64_t base = (uint64_t)slot * MMU_SLOT_PAGES;
        if (t->n_global == 0) {
            span_add(&e, &sp, base + table_first(t), base + table_last(t) + 1);
            continue;
        }
        for (uint32_t i = 0; i < MMU_SLOT_PAGES; i++) {
            uint32_t en = t->entry[i];
            if (!(en & MMU_E_VALID))
                continue;
            if (en & MMU_E_GLOBAL)
                span_close(&e, &sp);
            else
                span_add(&e, &sp, base + i, base + i + 1);
        }
    }
    span_close(&e, &sp);
    if (!em_commit(&e, m)) {
        flush_all(m, b); /* coarser, but always fits the reserve */
        return;
    }
    forget_pages(m, 0, (uint64_t)MMU_SLOTS * MMU_SLOT_PAGES, true);
    m->stats.flushes++;
}

/* Room first for a flush a previous call could not queue. */
static bool catch_up(Mmu *m, LilyMmuBatch *b)
{
    return !m->flush_pending || flush_all(m, b);
}

void mmu_reset(Mmu *m, LilyMmuBatch *batch)
{
    flush_all(m, batch);
}

void mmu_set_control(Mmu *m, uint32_t cr0, uint32_t cr3, uint32_t cr4, LilyMmuBatch *batch)
{
    const uint32_t cr0_all = MMU_CR0_PG | MMU_CR0_WP;
    const uint32_t cr4_all = MMU_CR4_PSE | MMU_CR4_PGE | MMU_CR4_PAE | MMU_CR4_SMEP;
    bool everything = ((cr0 ^ m->cr0) & cr0_all) || ((cr4 ^ m->cr4) & cr4_all);
    /* The interface passes all three registers: a call that changes none
     * of them is a CR3 reload with the same value, which flushes too. */
    bool cr3_load = cr3 != m->cr3 || (cr0 == m->cr0 && cr4 == m->cr4);

    m->cr0 = cr0;
    m->cr3 = cr3;
    m->cr4 = cr4;
    if (!catch_up(m, batch))
        return;
    if (everything)
        flush_all(m, batch);
    else if (cr3_load && mmu_paging(m))
        flush_nonglobal(m, batch);
}

void mmu_invlpg(Mmu *m, uint32_t vaddr, LilyMmuBatch *batch)
{
    if (!catch_up(m, batch) || !mmu_paging(m))
        return;
    uint32_t slot = vaddr / MMU_SLOT_SIZE, idx = (vaddr / MMU_PAGE_SIZE) % MMU_SLOT_PAGES;
    MmuTable *t = table_of(m, slot);
    if (!t || t->n_mapped == 0)
        return;
    Emitter e;
    em_begin(&e, batch);
    if (t->n_large) {
        /* A 4 MiB TLB entry covers the slot: drop all of it. */
        uint64_t base = (uint64_t)slot * MMU_SLOT_PAGES;
        uint64_t lo = base + table_first(t), hi = base + table_last(t) + 1;
        em_op(&e, LILY_MMU_OP_UNMAP, 0, (uint32_t)(lo * MMU_PAGE_SIZE),
              (hi - lo) * MMU_PAGE_SIZE, 0);
        if (em_commit(&e, m))
            forget_pages(m, lo, hi, false);
        else
            flush_all(m, batch);
        return;
    }
    if (!(t->entry[idx] & MMU_E_VALID))
        return;
    em_op(&e, LILY_MMU_OP_UNMAP, 0, vaddr & ~(MMU_PAGE_SIZE - 1), MMU_PAGE_SIZE, 0);
    if (!em_commit(&e, m)) {
        flush_all(m, batch);
        return;
    }
    entry_set(m, t, idx, 0);
    if (t->n_mapped == 0)
        table_release(m, slot);
}

/*
 * set_cpl: re-protect every sensitive page for the new mode, coalescing
 * runs of contiguous pages with the same target protection.  If that does
 * not fit, unmap the span of sensitive pages instead (refilled on demand).
 */
void mmu_set_cpl(Mmu *m, unsigned cpl, LilyMmuBatch *batch)
{
    bool was_user = mmu_user_mode(m);
    m->cpl = cpl == 3 ? 3 : cpl;
    if (!catch_up(m, batch) || was_user == mmu_user_mode(m) || m->total_sensitive == 0)
        return;
    Emitter e;
    em_begin(&e, batch);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint32_t slot = 0; slot < MMU_SLOTS; slot++) {
        const MmuTable *t = table_of(m, slot);
        if (!t || t->n_sensitive == 0)
            continue;
        for (uint32_t i = 0; i < MMU_SLOT_PAGES; i++) {
            uint32_t en = t->entry[i];
            if (!e_sensitive(en))
                continue;
            uint64_t page = (uint64_t)slot * MMU_SLOT_PAGES + i;
            if (page < lo)
                lo = page;
            hi = page + 1;
            em_op(&e, LILY_MMU_OP_PROTECT, e_prot_now(m, en),
                  (uint32_t)(page * MMU_PAGE_SIZE), MMU_PAGE_SIZE, 0);
        }
    }
    if (em_commit(&e, m))
        return;
    em_begin(&e, batch);
    em_op(&e, LILY_MMU_OP_UNMAP, 0, (uint32_t)(lo * MMU_PAGE_SIZE),
          (hi - lo) * MMU_PAGE_SIZE, 0);
    if (em_commit(&e, m))
        forget_pages(m, lo, hi, false);
    else
        m->flush_pending = true; /* no room at all: see LILY_MMU_BATCH_RESERVE */
}

/* --- the walk -------------------------------------------------------------- */

typedef enum WalkResult {
    WALK_OK,
    WALK_FAULT,     /* w->pf_error */
    WALK_BAD_TABLE, /* a paging structure is outside RAM: w->gpa */
} WalkResult;

typedef struct MmuWalk {
    uint64_t gpa;       /* the translated address (with offset) */
    uint32_t frame;     /* the 4 KiB frame of gpa */
    uint32_t pde_gpa, pte_gpa;
    uint32_t pde, pte;
    bool large, user, writable, global, dirty;
    uint32_t pf_error;
} MmuWalk;

static uint32_t *ram_word(const Mmu *m, uint64_t gpa)
{
    if (gpa + 4 > m->ram_size || (gpa & 3))
        return NULL;
    return (uint32_t *)(m->ram + gpa);
}

static uint32_t ram_load(const Mmu *m, uint64_t gpa)
{
    return __atomic_load_n(ram_word(m, gpa), __ATOMIC_RELAXED);
}

static void ram_set_bits(const Mmu *m, uint64_t gpa, uint32_t bits)
{
    uint32_t *p = ram_word(m, gpa);
    if ((__atomic_load_n(p, __ATOMIC_RELAXED) & bits) != bits)
        __atomic_fetch_or(p, bits, __ATOMIC_RELAXED);
}

/* The PTE of page idx in the table that pde points to (its address). */
static uint32_t pte_addr(uint32_t pde, uint32_t idx)
{
    return (pde & 0xfffff000u) + idx * 4;
}

/*
 * walk() - Translate vaddr as the guest's tables say, without side effects.
 * @access: LILY_MMU_ACC_* of the access to check
 */
static WalkResult walk(const Mmu *m, uint32_t vaddr, uint32_t access, MmuWalk *w)
{
    bool user = access & LILY_MMU_ACC_USER, write = access & LILY_MMU_ACC_WRITE;
    bool fetch = access & LILY_MMU_ACC_EXEC;
    bool smep = m->cr4 & MMU_CR4_SMEP;
    uint32_t err = (write ? MMU_PF_W : 0) | (user ? MMU_PF_U : 0) |
                   (fetch && smep ? MMU_PF_I : 0);

    memset(w, 0, sizeof(*w));
    if (!mmu_paging(m)) {
        w->gpa = vaddr;
        w->frame = vaddr & 0xfffff000u;
        w->large = w->user = w->writable = w->dirty = true;
        return WALK_OK;
    }
    w->pde_gpa = (m->cr3 & 0xfffff000u) + (vaddr >> 22) * 4;
    if (!ram_word(m, w->pde_gpa)) {
        w->gpa = w->pde_gpa;
        return WALK_BAD_TABLE;
    }
    w->pde = ram_load(m, w->pde_gpa);
    if (!(w->pde & MMU_PTE_P)) {
        w->pf_error = err;
        return WALK_FAULT;
    }
    uint32_t leaf;
    if ((m->cr4 & MMU_CR4_PSE) && (w->pde & MMU_PDE_PS)) {
        /* Bits 21:13 would be physical bits above 4 GiB (PSE-36): refused. */
        if (w->pde & 0x003fe000u) {
            w->pf_error = err | MMU_PF_P | MMU_PF_RSVD;
            return WALK_FAULT;
        }
        w->large = true;
        leaf = w->pde;
        w->gpa = (w->pde & 0xffc00000u) | (vaddr & 0x003fffffu);
        w->user = w->pde & MMU_PTE_U;
        w->writable = w->pde & MMU_PTE_W;
    } else {
        w->pte_gpa = pte_addr(w->pde, (vaddr >> 12) & 0x3ff);
        if (!ram_word(m, w->pte_gpa)) {
            w->gpa = w->pte_gpa;
            return WALK_BAD_TABLE;
        }
        w->pte = ram_load(m, w->pte_gpa);
        if (!(w->pte & MMU_PTE_P)) {
            w->pf_error = err;
            return WALK_FAULT;
        }
        leaf = w->pte;
        w->gpa = (w->pte & 0xfffff000u) | (vaddr & 0xfffu);
        w->user = (w->pde & w->pte & MMU_PTE_U) != 0;
        w->writable = (w->pde & w->pte & MMU_PTE_W) != 0;
    }
    w->frame = (uint32_t)w->gpa & 0xfffff000u;
    w->global = (m->cr4 & MMU_CR4_PGE) && (leaf & MMU_PTE_G);
    w->dirty = leaf & MMU_PTE_D;

    bool denied = (user && !w->user) ||
                  (write && !w->writable && (user || (m->cr0 & MMU_CR0_WP))) ||
                  (fetch && !user && smep && w->user);
    if (denied) {
        w->pf_error = err | MMU_PF_P;
        return WALK_FAULT;
    }
    return WALK_OK;
}

/* Set A (and D for a write) in the entries a successful walk used. */
static void walk_set_ad(const Mmu *m, const MmuWalk *w, bool write)
{
    if (!mmu_paging(m))
        return;
    if (w->large) {
        ram_set_bits(m, w->pde_gpa, MMU_PTE_A | (write ? MMU_PTE_D : 0));
        return;
    }
    ram_set_bits(m, w->pde_gpa, MMU_PTE_A);
    ram_set_bits(m, w->pte_gpa, MMU_PTE_A | (write ? MMU_PTE_D : 0));
}

/*
 * The entry a fill gives a page: read+exec where the mode may read (no exec
 * for user pages in kernel mode under SMEP), write only once D is set.
 */
static uint32_t fill_entry(const Mmu *m, const MmuWalk *w, uint32_t frame, bool dirty)
{
    if (!mmu_paging(m))
        return e_make(frame, PROT_RWX, PROT_RWX, MMU_E_LARGE);
    uint32_t kprot = (m->cr4 & MMU_CR4_SMEP) && w->user ? LILY_MMU_PROT_READ : PROT_RX;
    if (dirty && (w->writable || !(m->cr0 & MMU_CR0_WP)))
        kprot |= LILY_MMU_PROT_WRITE;
    uint32_t uprot = 0;
    if (w->user)
        uprot = PROT_RX | (dirty && w->writable ? LILY_MMU_PROT_WRITE : 0);
    return e_make(frame, kprot, uprot,
                  (w->global ? MMU_E_GLOBAL : 0) | (w->large ? MMU_E_LARGE : 0));
}

static bool frame_is_ram(const Mmu *m, uint64_t frame)
{
    return frame + MMU_PAGE_SIZE <= m->ram_size && !m->mmio(m->mmio_ctx, frame);
}

static inline uint32_t slot_of(uint32_t vaddr)
{
    return vaddr / MMU_SLOT_SIZE;
}

/* Can page idx of slot be mapped in the guest process at all? */
static inline bool vaddr_mappable(const Mmu *m, uint32_t slot, uint32_t idx)
{
    return (uint64_t)slot * MMU_SLOT_SIZE + (uint64_t)idx * MMU_PAGE_SIZE >= m->min_vaddr;
}

/* --- faults ------------------------------------------------------------------ */

/*
 * Queue the ops of a plan (ascending pages of slot); false if they do not
 * fit.  remap is the page that faulted although its entry says the access
 * is allowed: the guest process lost that mapping (an op that failed, as the
 * transport stops at the first failing op), so it is mapped again.
 */
static bool plan_emit(Mmu *m, const MmuTable *t, uint32_t slot, uint32_t n, uint32_t map_kind,
                      uint32_t remap, LilyMmuBatch *b)
{
    Emitter e;
    em_begin(&e, b);
    for (uint32_t i = 0; i < n; i++) {
        const MmuPlanStep *s = &m->plan[i];
        uint32_t old = t && s->idx != remap ? t->entry[s->idx] : 0;
        uint32_t vaddr = slot * MMU_SLOT_SIZE + s->idx * MMU_PAGE_SIZE;
        uint32_t prot = e_prot_now(m, s->entry);
        if ((old & MMU_E_VALID) && (old & MMU_E_FRAME) == (s->entry & MMU_E_FRAME)) {
            if (e_prot_now(m, old) != prot)
                em_op(&e, LILY_MMU_OP_PROTECT, prot, vaddr, MMU_PAGE_SIZE, 0);
        } else {
            em_op(&e, map_kind, prot, vaddr, MMU_PAGE_SIZE, s->entry & MMU_E_FRAME);
        }
    }
    return em_commit(&e, m);
}

/*
 * Plan for a 4 MiB page (or a 4 MiB slot with paging off): every page of it
 * that is RAM, not already mapped the same way.  Returns the step count.
 */
static uint32_t plan_large(Mmu *m, const MmuTable *t, const MmuWalk *w, uint32_t vaddr,
                           bool dirty)
{
    uint32_t n = 0;
    uint32_t base = w->frame - ((vaddr >> 12) & 0x3ffu) * MMU_PAGE_SIZE;
    for (uint32_t i = 0; i < MMU_SLOT_PAGES; i++) {
        uint64_t frame = (uint64_t)base + i * MMU_PAGE_SIZE;
        if (!frame_is_ram(m, frame) || !vaddr_mappable(m, slot_of(vaddr), i))
            continue;
        uint32_t en = fill_entry(m, w, (uint32_t)frame, dirty);
        if (t && t->entry[i] == en && i != ((vaddr >> 12) & 0x3ffu))
            continue;
        m->plan[n++] = (MmuPlanStep){ .idx = (uint16_t)i, .entry = en };
    }
    return n;
}

/*
 * Plan for a 4 KiB page: the page itself, and the present neighbours in its
 * aligned fault-around window that are not mapped yet and that the current
 * mode may read.
 */
static uint32_t plan_small(Mmu *m, const MmuTable *t, const MmuWalk *w, uint32_t vaddr,
                           bool dirty)
{
    uint32_t n = 0, me = (vaddr >> 12) & 0x3ffu;
    uint32_t lo = me & ~(m->fault_around - 1), hi = lo + m->fault_around;
    for (uint32_t i = lo; i < hi; i++) {
        if (i == me) {
            m->plan[n++] = (MmuPlanStep){ .idx = (uint16_t)i,
                                          .entry = fill_entry(m, w, w->frame, dirty) };
            continue;
        }
        if (t && (t->entry[i] & MMU_E_VALID))
            continue;
        uint32_t pte = ram_load(m, pte_addr(w->pde, i));
        if (!(pte & MMU_PTE_P))
            continue;
        MmuWalk nw = *w;
        nw.pte = pte;
        nw.frame = pte & 0xfffff000u;
        nw.user = (w->pde & pte & MMU_PTE_U) != 0;
        nw.writable = (w->pde & pte & MMU_PTE_W) != 0;
        nw.global = (m->cr4 & MMU_CR4_PGE) && (pte & MMU_PTE_G);
        if ((mmu_user_mode(m) && !nw.user) || !frame_is_ram(m, nw.frame) ||
            !vaddr_mappable(m, slot_of(vaddr), i))
            continue;
        m->plan[n++] = (MmuPlanStep){ .idx = (uint16_t)i, .set_accessed = 1,
                                      .entry = fill_entry(m, &nw, nw.frame,
                                                          (pte & MMU_PTE_D) != 0) };
    }
    return n;
}

LilyMmuResult mmu_fault(Mmu *m, uint32_t vaddr, uint32_t access, LilyMmuBatch *batch,
                        uint32_t *pf_error, uint64_t *gpa)
{
    MmuWalk w;
    bool write = access & LILY_MMU_ACC_WRITE;

    m->stats.faults++;
    switch (walk(m, vaddr, access, &w)) {
    case WALK_FAULT:
        m->stats.guest_faults++;
        *pf_error = w.pf_error;
        return LILY_MMU_GUEST_FAULT;
    case WALK_BAD_TABLE:
        *gpa = w.gpa;
        return LILY_MMU_BAD_GPA;
    case WALK_OK:
        break;
    }
    *gpa = w.gpa;
    if (m->mmio(m->mmio_ctx, w.frame)) {
        walk_set_ad(m, &w, write);
        return LILY_MMU_MMIO;
    }
    if ((uint64_t)w.frame + MMU_PAGE_SIZE > m->ram_size)
        return LILY_MMU_BAD_GPA;
    if (!vaddr_mappable(m, slot_of(vaddr), (vaddr >> 12) & 0x3ffu)) {
        walk_set_ad(m, &w, write);
        return LILY_MMU_EMULATE;
    }
    if (!catch_up(m, batch))
        return LILY_MMU_BATCH_FULL;

    uint32_t slot = vaddr / MMU_SLOT_SIZE, me = (vaddr >> 12) & 0x3ffu;
    MmuTable *t = table_of(m, slot);
    bool small_full = !w.large && m->total_mapped - m->total_large + m->fault_around >
                                      MMU_MAX_SMALL_PAGES;
    if ((!t && m->n_free == 0) || small_full) {
        if (!flush_all(m, batch))
            return LILY_MMU_BATCH_FULL;
        t = NULL;
    }
    bool dirty = w.dirty || write;
    uint32_t map_kind = LILY_MMU_OP_MAP, n, remap = MMU_SLOT_PAGES;
    if (t && (t->entry[me] & MMU_E_VALID)) {
        uint32_t need = write ? LILY_MMU_PROT_WRITE
                        : (access & LILY_MMU_ACC_EXEC) ? LILY_MMU_PROT_EXEC
                                                       : LILY_MMU_PROT_READ;
        if (e_prot_now(m, t->entry[me]) & need) {
            remap = me;
            m->remaps++;
        }
    }
    if (w.large) {
        n = plan_large(m, t, &w, vaddr, dirty);
    } else {
        n = plan_small(m, t, &w, vaddr, dirty);
        if (m->populate)
            map_kind = LILY_MMU_OP_MAP_POPULATE;
    }
    if (!plan_emit(m, t, slot, n, map_kind, remap, batch)) {
        /* Not enough room for the whole fill: the faulting page alone. */
        m->plan[0] = (MmuPlanStep){ .idx = (uint16_t)me,
                                    .entry = fill_entry(m, &w, w.frame, dirty) };
        n = 1;
        if (!plan_emit(m, t, slot, n, map_kind, remap, batch))
            return LILY_MMU_BATCH_FULL;
    }

    walk_set_ad(m, &w, write);
    t = table_get(m, slot); /* cannot fail: a table is free or already there */
    for (uint32_t i = 0; i < n; i++) {
        const MmuPlanStep *s = &m->plan[i];
        if (s->set_accessed)
            ram_set_bits(m, pte_addr(w.pde, s->idx), MMU_PTE_A);
        entry_set(m, t, s->idx, s->entry);
    }
    return LILY_MMU_OK;
}

LilyMmuResult mmu_translate(Mmu *m, uint32_t vaddr, uint32_t access, uint64_t *gpa,
                            uint32_t *pf_error)
{
    MmuWalk w;
    switch (walk(m, vaddr, access, &w)) {
    case WALK_FAULT:
        *pf_error = w.pf_error;
        return LILY_MMU_GUEST_FAULT;
    case WALK_BAD_TABLE:
        *gpa = w.gpa;
        return LILY_MMU_BAD_GPA;
    case WALK_OK:
        break;
    }
    *gpa = w.gpa;
    if (m->mmio(m->mmio_ctx, w.frame)) {
        walk_set_ad(m, &w, access & LILY_MMU_ACC_WRITE);
        return LILY_MMU_MMIO;
    }
    if ((uint64_t)w.frame + MMU_PAGE_SIZE > m->ram_size)
        return LILY_MMU_BAD_GPA;
    walk_set_ad(m, &w, access & LILY_MMU_ACC_WRITE);
    return LILY_MMU_OK;
}
