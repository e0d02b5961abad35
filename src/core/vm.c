/*
 * The VM object: ties the registry, the configuration, the bus, interrupt
 * lines, guest RAM, the kernel loader and the main loop together, and
 * creates the configured plugin instances in their start order.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "src/core/core.h"

G_DEFINE_QUARK(lily-core-error-quark, lily_core_error)

LilyVm *vm_new(void)
{
    LilyVm *vm = g_new0(LilyVm, 1);
    registry_init(&vm->reg);
    cfg_init(&vm->cfg);
    bus_init(&vm->bus);
    vm->ram.fd = -1;
    vm->mem_size = 32u << 20;
    vm->instances = g_ptr_array_new();
    vm->irq_lines = g_ptr_array_new_with_free_func(g_free);
    vm->netlinks = g_ptr_array_new_with_free_func((GDestroyNotify)net_link_free);
    loop_init(vm);
    return vm;
}

static void vm_instance_free(LilyInstance *inst)
{
    g_free(inst->name);
    g_free(inst->values);
    g_ptr_array_free(inst->arena, TRUE);
    g_hash_table_destroy(inst->stats_by_ptr);
    g_hash_table_destroy(inst->stats);
    g_free(inst);
}

void vm_stop(LilyVm *vm)
{
    /* Stop in the reverse order of creation: the CPU first, the MMU last. */
    for (guint i = vm->instances->len; i-- > 0;) {
        LilyInstance *inst = g_ptr_array_index(vm->instances, i);
        if (inst->initialised && inst->plugin->desc->fini)
            inst->plugin->desc->fini(inst->state);
        inst->initialised = false;
    }
}

void vm_free(LilyVm *vm)
{
    if (!vm)
        return;
    vm_stop(vm);
    loop_clear(vm);
    bool cpu_listed = false;
    for (guint i = 0; i < vm->instances->len; i++) {
        LilyInstance *inst = g_ptr_array_index(vm->instances, i);
        cpu_listed |= inst == vm->cpu;
        vm_instance_free(inst);
    }
    if (vm->cpu && !cpu_listed)
        vm_instance_free(vm->cpu);
    g_ptr_array_free(vm->instances, TRUE);
    g_ptr_array_free(vm->irq_lines, TRUE);
    g_ptr_array_free(vm->netlinks, TRUE);
    bus_clear(&vm->bus);
    guest_ram_destroy(&vm->ram);
    cfg_clear(&vm->cfg);
    registry_clear(&vm->reg);
    g_free(vm->kernel);
    g_free(vm->cmdline);
    g_free(vm);
}

Registry *vm_registry(LilyVm *vm)
{
    return &vm->reg;
}

gboolean vm_load_plugins(LilyVm *vm, GError **error)
{
    GPtrArray *dirs = registry_default_dirs();
    for (guint i = 0; i < dirs->len; i++)
        registry_scan_dir(&vm->reg, g_ptr_array_index(dirs, i), NULL);
    g_ptr_array_free(dirs, TRUE);
    return TRUE;
}

gboolean vm_configure_data(LilyVm *vm, const char *text, const char *filename, GError **error)
{
    if (vm->realized) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                    "%s: the machine is already running", filename);
        return FALSE;
    }
    return cfg_load_data(vm, text, filename, error);
}

#define VM_CONFIG_MAX (1 << 20)  /* a config file is text written by hand */

gboolean vm_configure_file(LilyVm *vm, const char *path, GError **error)
{
    /* Read with a bound: -c /dev/zero must not eat the memory. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG, "%s: %s", path,
                    g_strerror(errno));
        return FALSE;
    }
    GString *text = g_string_new(NULL);
    char buf[8192];
    gboolean ok = FALSE;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG, "%s: %s", path,
                        g_strerror(errno));
            goto out_free_text;
        }
        if (n == 0)
            break;
        if (text->len + (size_t)n > VM_CONFIG_MAX) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                        "%s: larger than %d bytes: not a LilyVM config file", path,
                        VM_CONFIG_MAX);
            goto out_free_text;
        }
        g_string_append_len(text, buf, n);
    }
    if (strlen(text->str) != text->len) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                    "%s: contains a NUL byte: not a text file", path);
        goto out_free_text;
    }
    ok = vm_configure_data(vm, text->str, path, error);
out_free_text:
    g_string_free(text, TRUE);
    close(fd);
    return ok;
}

gboolean vm_set_option(LilyVm *vm, const char *assignment, GError **error)
{
    if (vm->realized) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                    "--set %s: the machine is already running", assignment);
        return FALSE;
    }
    return cfg_set(vm, assignment, error);
}

static gboolean vm_load_kernel(LilyVm *vm, GError **error)
{
    GError *err = NULL;
    if (!loader_load_multiboot(&vm->ram, vm->kernel, vm->cmdline, &vm->boot, &err)) {
        /* The loader's messages usually start with the file name already. */
        if (g_str_has_prefix(err->message, vm->kernel))
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_KERNEL, "kernel %s",
                        err->message);
        else
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_KERNEL, "kernel %s: %s",
                        vm->kernel, err->message);
        g_error_free(err);
        return FALSE;
    }
    vm->booted = true;
    log_msg("loader", LILY_LOG_INFO, "loaded %s: entry 0x%x, image 0x%x-0x%x, info at 0x%x",
            vm->kernel, vm->boot.entry, vm->boot.image_start, vm->boot.image_end,
            vm->boot.ebx);
    return TRUE;
}

/* Take back what an instance registered: its regions, lines, timers, watches, ports. */
static void vm_instance_release(LilyVm *vm, LilyInstance *inst)
{
    bus_release_owner(&vm->bus, inst);
    irq_release_owner(vm, inst);
    loop_release_owner(vm, inst);
    net_release_owner(vm, inst);
}

gboolean vm_realize(LilyVm *vm, GError **error)
{
    if (vm->realized) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                    "the machine is already realized");
        return FALSE;
    }
    if (!cfg_resolve(vm, error))
        return FALSE;
    GError *err = NULL;
    if (!guest_ram_create(&vm->ram, vm->mem_size, &err)) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG, "%s", err->message);
        g_error_free(err);
        return FALSE;
    }
    vm->ram_ready = true;
    if (vm->kernel && !vm_load_kernel(vm, error))
        return FALSE;
    loop_start_clock(vm);
    for (guint i = 0; i < vm->instances->len; i++) {
        LilyInstance *inst = g_ptr_array_index(vm->instances, i);
        const LilyPluginDesc *d = inst->plugin->desc;
        void *state = NULL;
        if (!d->init(inst, hostapi_table(), inst->values, &state, &err)) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_INIT, "%s (plugin %s): %s",
                        inst->name, d->name,
                        err ? err->message : "init failed without saying why");
            g_clear_error(&err);
            /* Nothing may call into the failed instance's freed state later. */
            vm_instance_release(vm, inst);
            return FALSE;
        }
        if (err) {
            log_msg(inst->name, LILY_LOG_WARN, "init succeeded but left an error: %s",
                    err->message);
            g_clear_error(&err);
        }
        inst->state = state;
        inst->initialised = true;
        log_msg(inst->name, LILY_LOG_DEBUG, "initialised (plugin %s)", d->name);
    }
    vm->realized = true;
    if (log_category_enabled("config", LILY_LOG_INFO)) {
        char *summary = vm_summary(vm);
        log_msg("config", LILY_LOG_INFO, "%s", summary);
        g_free(summary);
    }
    return TRUE;
}

LilyInstance *vm_find_instance(LilyVm *vm, const char *name)
{
    for (guint i = 0; i < vm->instances->len; i++) {
        LilyInstance *inst = g_ptr_array_index(vm->instances, i);
        if (strcmp(inst->name, name) == 0)
            return inst;
    }
    return NULL;
}

/* A counter found through the caller's name pointer (stats_by_ptr). */
typedef struct VmStatRef {
    const char *key;  /* owned by inst->stats */
    uint64_t *ctr;
} VmStatRef;

void vm_stat_add(LilyInstance *inst, const char *name, uint64_t delta)
{
    if (!inst || !name)
        return;
    /*
     * Plugins count on hot paths with string literals: look the pointer up
     * first, the text only when this pointer is new.
     */
    VmStatRef *ref = g_hash_table_lookup(inst->stats_by_ptr, name);
    /* The text is compared too: a freed name's pointer may come back as another name. */
    if (G_LIKELY(ref && strcmp(ref->key, name) == 0)) {
        *ref->ctr += delta;
        return;
    }
    gpointer key = NULL, value = NULL;
    if (!g_hash_table_lookup_extended(inst->stats, name, &key, &value)) {
        if (g_hash_table_size(inst->stats) >= 1024)
            return;  /* a runaway plugin must not grow the table forever */
        key = g_strdup(name);
        value = g_new0(uint64_t, 1);
        g_hash_table_insert(inst->stats, key, value);
    }
    if (ref) {
        ref->key = key;
        ref->ctr = value;
    } else if (g_hash_table_size(inst->stats_by_ptr) < 4096) {
        ref = g_new(VmStatRef, 1);
        ref->key = key;
        ref->ctr = value;
        g_hash_table_insert(inst->stats_by_ptr, (gpointer)name, ref);
    }
    *(uint64_t *)value += delta;
}

static gint vm_cmp_lines(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void vm_print_stats(LilyVm *vm, FILE *out)
{
    GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
    const CoreStats *s = &vm->stats;
#define CORE_STAT(field) \
    g_ptr_array_add(lines, g_strdup_printf("core.%-28s %" G_GUINT64_FORMAT, #field, s->field))
    CORE_STAT(pio_reads);
    CORE_STAT(pio_writes);
    CORE_STAT(pio_unclaimed);
    CORE_STAT(mmio_reads);
    CORE_STAT(mmio_writes);
    CORE_STAT(mmio_unclaimed);
    CORE_STAT(irq_raises);
    CORE_STAT(timers_fired);
#undef CORE_STAT
    for (guint i = 0; i < vm->netlinks->len; i++) {
        NetLink *l = g_ptr_array_index(vm->netlinks, i);
        g_ptr_array_add(lines, g_strdup_printf("%s.%-*s %" G_GUINT64_FORMAT, l->name,
                                               (int)MAX(0, 32 - (int)strlen(l->name)),
                                               "frames", l->frames));
        g_ptr_array_add(lines, g_strdup_printf("%s.%-*s %" G_GUINT64_FORMAT, l->name,
                                               (int)MAX(0, 32 - (int)strlen(l->name)),
                                               "bytes", l->bytes));
        g_ptr_array_add(lines, g_strdup_printf("%s.%-*s %" G_GUINT64_FORMAT, l->name,
                                               (int)MAX(0, 32 - (int)strlen(l->name)),
                                               "dropped", l->dropped));
    }
    for (guint i = 0; i < vm->instances->len; i++) {
        LilyInstance *inst = g_ptr_array_index(vm->instances, i);
        /* Bus accesses per instance, summed over its regions. */
        uint64_t reads = 0, writes = 0;
        bool has_regions = false;
        GArray *spaces[] = { vm->bus.pio, vm->bus.mmio };
        for (int sp = 0; sp < 2; sp++) {
            for (guint j = 0; j < spaces[sp]->len; j++) {
                BusRegion *r = &g_array_index(spaces[sp], BusRegion, j);
                if (r->owner != inst)
                    continue;
                has_regions = true;
                reads += r->reads;
                writes += r->writes;
            }
        }
        if (has_regions) {
            char *name = g_strdup_printf("%s.bus_reads", inst->name);
            g_ptr_array_add(lines, g_strdup_printf("%-33s %" G_GUINT64_FORMAT, name, reads));
            g_free(name);
            name = g_strdup_printf("%s.bus_writes", inst->name);
            g_ptr_array_add(lines, g_strdup_printf("%-33s %" G_GUINT64_FORMAT, name, writes));
            g_free(name);
        }
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, inst->stats);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            char *name = g_strdup_printf("%s.%s", inst->name, (char *)k);
            g_ptr_array_add(lines, g_strdup_printf("%-33s %" G_GUINT64_FORMAT, name,
                                                   *(uint64_t *)v));
            g_free(name);
        }
    }
    g_ptr_array_sort(lines, vm_cmp_lines);
    fprintf(out, "lilyvm statistics:\n");
    for (guint i = 0; i < lines->len; i++)
        fprintf(out, "  %s\n", (char *)g_ptr_array_index(lines, i));
    g_ptr_array_free(lines, TRUE);
}

char *vm_summary(LilyVm *vm)
{
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "The machine has %" G_GUINT64_FORMAT " MiB of RAM",
                           vm->ram.size >> 20);
    if (vm->booted)
        g_string_append_printf(s, "; kernel %s is loaded (entry 0x%x, image 0x%x-0x%x, "
                               "Multiboot info at 0x%x)", vm->kernel, vm->boot.entry,
                               vm->boot.image_start, vm->boot.image_end, vm->boot.ebx);
    g_string_append(s, "; instances:");
    for (guint i = 0; i < vm->instances->len; i++) {
        LilyInstance *inst = g_ptr_array_index(vm->instances, i);
        g_string_append_printf(s, "%s %s (%s)", i ? "," : "", inst->name,
                               inst->plugin->desc->name);
    }
    if (!vm->instances->len)
        g_string_append(s, " none");
    g_string_append(s, "; ports claimed:");
    for (guint i = 0; i < vm->bus.pio->len; i++) {
        BusRegion *r = &g_array_index(vm->bus.pio, BusRegion, i);
        g_string_append_printf(s, "%s 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER "x (%s)",
                               i ? "," : "", r->base, r->base + r->len - 1,
                               r->owner ? r->owner->name : "core");
    }
    if (!vm->bus.pio->len)
        g_string_append(s, " none");
    g_string_append(s, ".");
    return g_string_free(s, FALSE);
}
