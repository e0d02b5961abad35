/*
 * A stand-in for the LilyVM core for device tests that run before (or
 * without) the real one: dlopen, option parsing, and a LilyHost table that
 * records port regions, IRQ levels, timers on a manual clock and fd watches.
 */
#include "tests/devices/fakehost.h"

#include <dlfcn.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAKE_MAX_REGIONS 8
#define FAKE_MAX_LINES 16
#define FAKE_MAX_TIMERS 8
#define FAKE_MAX_WATCHES 8

struct LilyIrqLine {
    FakeHost *fh;
    unsigned line;
};

struct LilyTimer {
    FakeHost *fh;
    LilyTimerFn fn;
    void *opaque;
    bool armed, used;
    uint64_t deadline;
};

struct LilyWatch {
    FakeHost *fh;
    int fd;
    unsigned events;
    LilyWatchFn fn;
    void *opaque;
    bool used;
};

struct LilyInstance {
    FakeHost *fh;
};

typedef struct FakeRegion {
    uint16_t base;
    uint32_t len;
    const LilyIoOps *ops;
    void *opaque;
} FakeRegion;

struct FakeHost {
    void *dl;
    const LilyPluginDesc *desc;
    LilyHost host;
    LilyInstance inst;
    void *state;
    bool realized;
    LilyOptValue *values;

    FakeRegion regions[FAKE_MAX_REGIONS];
    unsigned nregions;
    struct LilyIrqLine lines[FAKE_MAX_LINES];
    int level[FAKE_MAX_LINES];
    unsigned rises[FAKE_MAX_LINES];
    struct LilyTimer timers[FAKE_MAX_TIMERS];
    struct LilyWatch watches[FAKE_MAX_WATCHES];
    uint64_t now;
    bool exited;
    int status;
    GHashTable *stats;
};

/* --- the host table -------------------------------------------------------- */

static const char *fh_instance_name(LilyInstance *inst)
{
    return "test0";
}

static void fh_log(LilyInstance *inst, LilyLogLevel level, const char *fmt, ...)
{
    va_list ap;
    if (level > LILY_LOG_WARN && !g_test_verbose())
        return;
    /* stderr: some tests redirect stdout, where the TAP goes. */
    fprintf(stderr, "# [plugin log %d] ", (int)level);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static bool fh_log_enabled(LilyInstance *inst, LilyLogLevel level)
{
    return true;
}

static gboolean fh_pio_register(LilyInstance *inst, uint16_t base, uint32_t len,
                                const LilyIoOps *ops, void *opaque, GError **error)
{
    FakeHost *fh = inst->fh;
    for (unsigned i = 0; i < fh->nregions; i++) {
        FakeRegion *r = &fh->regions[i];
        if (base < r->base + r->len && r->base < base + len) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                        "ports 0x%x-0x%x overlap 0x%x-0x%x", base, base + len - 1,
                        r->base, r->base + r->len - 1);
            return FALSE;
        }
    }
    g_assert_cmpuint(fh->nregions, <, FAKE_MAX_REGIONS);
    fh->regions[fh->nregions++] = (FakeRegion){ base, len, ops, opaque };
    return TRUE;
}

static LilyIrqLine *fh_irq_get(LilyInstance *inst, unsigned line, GError **error)
{
    FakeHost *fh = inst->fh;
    if (line >= FAKE_MAX_LINES) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "no IRQ line %u", line);
        return NULL;
    }
    fh->lines[line] = (struct LilyIrqLine){ fh, line };
    return &fh->lines[line];
}

static void fh_irq_set(LilyIrqLine *irq, bool level)
{
    FakeHost *fh = irq->fh;
    if (level && !fh->level[irq->line])
        fh->rises[irq->line]++;
    fh->level[irq->line] = level;
}

static uint64_t fh_clock_ns(LilyInstance *inst)
{
    return inst->fh->now;
}

static LilyTimer *fh_timer_new(LilyInstance *inst, LilyTimerFn fn, void *opaque)
{
    FakeHost *fh = inst->fh;
    for (unsigned i = 0; i < FAKE_MAX_TIMERS; i++) {
        if (!fh->timers[i].used) {
            fh->timers[i] = (struct LilyTimer){ fh, fn, opaque, false, true, 0 };
            return &fh->timers[i];
        }
    }
    g_assert_not_reached();
}

static void fh_timer_mod(LilyTimer *t, uint64_t deadline)
{
    t->armed = true;
    t->deadline = deadline;
}

static void fh_timer_del(LilyTimer *t)
{
    t->armed = false;
}

static void fh_timer_free(LilyTimer *t)
{
    t->used = false;
    t->armed = false;
}

static LilyWatch *fh_fd_watch(LilyInstance *inst, int fd, unsigned events,
                              LilyWatchFn fn, void *opaque)
{
    FakeHost *fh = inst->fh;
    for (unsigned i = 0; i < FAKE_MAX_WATCHES; i++) {
        if (!fh->watches[i].used) {
            fh->watches[i] = (struct LilyWatch){ fh, fd, events, fn, opaque, true };
            return &fh->watches[i];
        }
    }
    g_assert_not_reached();
}

static void fh_fd_watch_update(LilyWatch *w, unsigned events)
{
    g_assert_true(w->used);
    w->events = events;
}

static void fh_fd_watch_remove(LilyWatch *w)
{
    g_assert_true(w->used);
    w->used = false;
}

static void fh_vm_exit(LilyInstance *inst, int status)
{
    inst->fh->exited = true;
    inst->fh->status = status;
}

static void fh_vm_fail(LilyInstance *inst, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "# vm_fail: %s\n", msg);
    g_free(msg);
    inst->fh->exited = true;
    inst->fh->status = 124;
}

static void fh_stat_add(LilyInstance *inst, const char *name, uint64_t delta)
{
    GHashTable *stats = inst->fh->stats;
    uint64_t *v = g_hash_table_lookup(stats, name);
    if (!v) {
        v = g_new0(uint64_t, 1);
        g_hash_table_insert(stats, g_strdup(name), v);
    }
    *v += delta;
}

/* --- options --------------------------------------------------------------- */

static gboolean fh_parse_value(const LilyOption *opt, const char *text,
                               LilyOptValue *v, GError **error)
{
    char *end = NULL;

    v->present = true;
    v->s = text;
    switch (opt->type) {
    case LILY_OPT_INT:
    case LILY_OPT_SIZE:
        v->i = strtoll(text, &end, 0);
        if (opt->type == LILY_OPT_SIZE && end && *end) {
            int shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : -1;
            if (shift >= 0) {
                v->i <<= shift;
                end++;
            }
        }
        if (end == text || *end) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "%s = %s: not a number", opt->name, text);
            return FALSE;
        }
        if ((opt->min || opt->max) && (v->i < opt->min || v->i > opt->max)) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "%s = %s: out of range", opt->name, text);
            return FALSE;
        }
        return TRUE;
    case LILY_OPT_BOOL:
        v->i = !strcmp(text, "true") || !strcmp(text, "yes") ||
               !strcmp(text, "on") || !strcmp(text, "1");
        return TRUE;
    case LILY_OPT_ENUM:
        for (int i = 0; opt->enum_values[i]; i++) {
            if (!strcmp(opt->enum_values[i], text)) {
                v->i = i;
                return TRUE;
            }
        }
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s = %s: not one of the accepted values", opt->name, text);
        return FALSE;
    default:
        return TRUE;
    }
}

gboolean fake_host_realize(FakeHost *fh, const char *const *settings, GError **error)
{
    const LilyOption *opts = fh->desc->options;
    size_t n = 0;

    while (opts[n].name)
        n++;
    fh->values = g_new0(LilyOptValue, n + 1);
    for (size_t i = 0; i < n; i++) {
        if (opts[i].def && !fh_parse_value(&opts[i], opts[i].def, &fh->values[i], error))
            return FALSE;
    }
    for (size_t k = 0; settings && settings[k]; k++) {
        const char *eq = strchr(settings[k], '=');
        g_assert_nonnull(eq);
        size_t i;
        for (i = 0; i < n; i++) {
            if (strlen(opts[i].name) == (size_t)(eq - settings[k]) &&
                !strncmp(opts[i].name, settings[k], (size_t)(eq - settings[k])))
                break;
        }
        if (i == n) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "unknown option in '%s'", settings[k]);
            return FALSE;
        }
        memset(&fh->values[i], 0, sizeof fh->values[i]);
        if (!fh_parse_value(&opts[i], eq + 1, &fh->values[i], error))
            return FALSE;
        fh->values[i].set = true;
    }
    if (!fh->desc->init(&fh->inst, &fh->host, fh->values, &fh->state, error))
        return FALSE;
    fh->realized = true;
    return TRUE;
}

void fake_host_unrealize(FakeHost *fh)
{
    if (fh->realized)
        fh->desc->fini(fh->state);
    fh->realized = false;
}

/* --- construction ---------------------------------------------------------- */

FakeHost *fake_host_new(const char *plugin_name)
{
    FakeHost *fh = g_new0(FakeHost, 1);
    char *exe = g_file_read_link("/proc/self/exe", NULL);
    g_assert_nonnull(exe);
    /* build/tests/devices/X -> build/plugins/NAME.so */
    char *dir = g_path_get_dirname(exe);
    char *path = g_strdup_printf("%s/../../plugins/%s.so", dir, plugin_name);

    fh->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!fh->dl)
        g_error("dlopen %s: %s", path, dlerror());
    LilyPluginEntryFn entry = (LilyPluginEntryFn)dlsym(fh->dl, LILYVM_PLUGIN_ENTRY_SYMBOL);
    g_assert_nonnull(entry);
    fh->desc = entry();
    g_free(path);
    g_free(dir);
    g_free(exe);

    fh->inst.fh = fh;
    fh->stats = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    LilyHost *h = &fh->host;
    h->size = sizeof *h;
    h->abi_major = LILYVM_ABI_MAJOR;
    h->abi_minor = LILYVM_ABI_MINOR;
    h->instance_name = fh_instance_name;
    h->log = fh_log;
    h->log_enabled = fh_log_enabled;
    h->pio_register = fh_pio_register;
    h->irq_get = fh_irq_get;
    h->irq_set = fh_irq_set;
    h->clock_ns = fh_clock_ns;
    h->timer_new = fh_timer_new;
    h->timer_mod = fh_timer_mod;
    h->timer_del = fh_timer_del;
    h->timer_free = fh_timer_free;
    h->fd_watch = fh_fd_watch;
    h->fd_watch_update = fh_fd_watch_update;
    h->fd_watch_remove = fh_fd_watch_remove;
    h->vm_exit = fh_vm_exit;
    h->vm_fail = fh_vm_fail;
    h->stat_add = fh_stat_add;
    return fh;
}

void fake_host_free(FakeHost *fh)
{
    fake_host_unrealize(fh);
    for (unsigned i = 0; i < FAKE_MAX_WATCHES; i++)
        g_assert_false(fh->watches[i].used); /* fini removed every watch */
    g_hash_table_destroy(fh->stats);
    g_free(fh->values);
    /* The plugin's atexit hooks (console terminal restore) stay valid. */
    dlclose(fh->dl);
    g_free(fh);
}

const LilyPluginDesc *fake_host_desc(FakeHost *fh)
{
    return fh->desc;
}

/* --- driving ----------------------------------------------------------------- */

static FakeRegion *fh_region(FakeHost *fh, uint16_t port)
{
    for (unsigned i = 0; i < fh->nregions; i++) {
        FakeRegion *r = &fh->regions[i];
        if (port >= r->base && port < r->base + r->len)
            return r;
    }
    return NULL;
}

uint32_t fake_pio_read(FakeHost *fh, uint16_t port, unsigned size)
{
    FakeRegion *r = fh_region(fh, port);
    if (!r)
        return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    return r->ops->read(r->opaque, port - r->base, size);
}

void fake_pio_write(FakeHost *fh, uint16_t port, unsigned size, uint32_t value)
{
    FakeRegion *r = fh_region(fh, port);
    if (r)
        r->ops->write(r->opaque, port - r->base, size, value);
}

void fake_pio_write_rep(FakeHost *fh, uint16_t port, unsigned size,
                        const void *buf, uint32_t count)
{
    FakeRegion *r = fh_region(fh, port);
    g_assert_nonnull(r);
    g_assert_nonnull(r->ops->write_rep);
    r->ops->write_rep(r->opaque, port - r->base, size, buf, count);
}

int fake_irq_level(FakeHost *fh, unsigned line)
{
    return fh->level[line];
}

unsigned fake_irq_rises(FakeHost *fh, unsigned line)
{
    return fh->rises[line];
}

void fake_clock_advance(FakeHost *fh, uint64_t ns)
{
    fh->now += ns;
    for (unsigned i = 0; i < FAKE_MAX_TIMERS; i++) {
        struct LilyTimer *t = &fh->timers[i];
        if (t->used && t->armed && t->deadline <= fh->now) {
            t->armed = false;
            t->fn(t->opaque);
        }
    }
}

void fake_host_poll(FakeHost *fh, int timeout_ms)
{
    /* Dispatch until nothing is ready, waiting timeout_ms on the first round. */
    for (int round = 0; round < 1000; round++) {
        struct pollfd pfd[FAKE_MAX_WATCHES];
        struct LilyWatch *w[FAKE_MAX_WATCHES];
        nfds_t n = 0;
        for (unsigned i = 0; i < FAKE_MAX_WATCHES; i++) {
            if (fh->watches[i].used && fh->watches[i].events) {
                w[n] = &fh->watches[i];
                pfd[n].fd = fh->watches[i].fd;
                pfd[n].events = (short)fh->watches[i].events; /* same values as POLL* */
                pfd[n].revents = 0;
                n++;
            }
        }
        if (n == 0 || poll(pfd, n, round == 0 ? timeout_ms : 0) <= 0)
            return;
        for (nfds_t i = 0; i < n; i++) {
            if (!pfd[i].revents || !w[i]->used || w[i]->fd != pfd[i].fd)
                continue;
            if (!w[i]->fn(pfd[i].fd, (unsigned)pfd[i].revents, w[i]->opaque))
                w[i]->used = false;
        }
    }
}

gboolean fake_host_exited(FakeHost *fh, int *status)
{
    if (fh->exited && status)
        *status = fh->status;
    return fh->exited;
}

uint64_t fake_host_stat(FakeHost *fh, const char *name)
{
    uint64_t *v = g_hash_table_lookup(fh->stats, name);
    return v ? *v : 0;
}

unsigned fake_host_watch_count(FakeHost *fh)
{
    unsigned n = 0;
    for (unsigned i = 0; i < FAKE_MAX_WATCHES; i++)
        n += fh->watches[i].used;
    return n;
}
