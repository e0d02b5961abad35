/*
 * Plugin registry: find plugin files, dlopen them, check their descriptors
 * against the ABI this core was built with, and index them by name.  Every
 * refusal says what the user can do about it.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include <lilyvm/mmu.h>
#include "src/core/core.h"

/* A descriptor must at least reach the end of the fields of ABI 1.0. */
#define REGISTRY_DESC_MIN_SIZE (offsetof(LilyPluginDesc, reserved))

void registry_init(Registry *reg)
{
    reg->plugins = g_ptr_array_new();
    reg->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    reg->failures = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    reg->dirs = g_ptr_array_new_with_free_func(g_free);
}

void registry_clear(Registry *reg)
{
    if (!reg->plugins)
        return;
    for (guint i = 0; i < reg->plugins->len; i++) {
        LilyPlugin *p = g_ptr_array_index(reg->plugins, i);
        if (p->handle)
            dlclose(p->handle);
        g_free(p->path);
        g_free(p);
    }
    g_ptr_array_free(reg->plugins, TRUE);
    g_hash_table_destroy(reg->by_name);
    g_hash_table_destroy(reg->failures);
    g_ptr_array_free(reg->dirs, TRUE);
    memset(reg, 0, sizeof *reg);
}

const char *registry_kind_name(LilyPluginKind kind)
{
    switch (kind) {
    case LILY_PLUGIN_DEVICE: return "device";
    case LILY_PLUGIN_NETDEV: return "netdev";
    case LILY_PLUGIN_CPU: return "cpu";
    case LILY_PLUGIN_MMU: return "mmu";
    case LILY_PLUGIN_IRQCHIP: return "irqchip";
    }
    return "unknown";
}

static bool registry_name_ok(const char *name)
{
    if (!name || !g_ascii_islower(name[0]))
        return false;
    for (const char *p = name; *p; p++) {
        if (!g_ascii_islower(*p) && !g_ascii_isdigit(*p) && *p != '-')
            return false;
    }
    return strlen(name) <= 64;
}

static bool registry_option_name_ok(const char *name)
{
    if (!name || !*name || !g_ascii_isalpha(name[0]))
        return false;
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_')
            return false;
    }
    return strlen(name) <= 64;
}

gboolean registry_check_options(const LilyOption *opts, const char *who, GError **error)
{
    if (!opts)
        return TRUE;
    OptArena *arena = g_ptr_array_new_with_free_func(g_free);
    gboolean ok = FALSE;
    size_t i;
    for (i = 0; opts[i].name; i++) {
        const LilyOption *o = &opts[i];
        if (i >= 256) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                        "%s: option table has no end (no entry with name NULL in 256)", who);
            goto out_free_arena;
        }
        if (!registry_option_name_ok(o->name)) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                        "%s: option %zu has an invalid name '%s' "
                        "(letters, digits, '-' and '_', starting with a letter)",
                        who, i, o->name);
            goto out_free_arena;
        }
        if (strcmp(o->name, "plugin") == 0) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                        "%s: option name 'plugin' is reserved for the core", who);
            goto out_free_arena;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(opts[j].name, o->name) == 0) {
                g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                            "%s: option '%s' appears twice in the option table", who, o->name);
                goto out_free_arena;
            }
        }
        if (o->type < LILY_OPT_INT || o->type > LILY_OPT_HOSTFWD) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                        "%s: option '%s' has unknown type %d", who, o->name, (int)o->type);
            goto out_free_arena;
        }
        if (o->type == LILY_OPT_ENUM && (!o->enum_values || !o->enum_values[0])) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                        "%s: enum option '%s' has no enum_values", who, o->name);
            goto out_free_arena;
        }
        if (o->min > o->max) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                        "%s: option '%s' has min %" G_GINT64_FORMAT " > max %" G_GINT64_FORMAT,
                        who, o->name, o->min, o->max);
            goto out_free_arena;
        }
        if (o->flags & ~(LILY_OPT_F_REQUIRED | LILY_OPT_F_LIST)) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                        "%s: option '%s' has unknown flags 0x%x", who, o->name, o->flags);
            goto out_free_arena;
        }
        if ((o->flags & LILY_OPT_F_REQUIRED) && o->def) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                        "%s: option '%s' is required and yet has a default '%s'",
                        who, o->name, o->def);
            goto out_free_arena;
        }
        if (o->def) {
            LilyOptValue v;
            char *reason = NULL;
            if (!opt_parse(o, o->def, &v, arena, &reason)) {
                g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                            "%s: option '%s' has an invalid default '%s' (%s)",
                            who, o->name, o->def, reason);
                g_free(reason);
                goto out_free_arena;
            }
        }
    }
    ok = TRUE;
out_free_arena:
    g_ptr_array_free(arena, TRUE);
    return ok;
}

/* Check everything the core will rely on before the plugin is used. */
static gboolean registry_check_desc(const LilyPluginDesc *d, const char *path, GError **error)
{
    if (!d) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                    "%s: %s() returned NULL", path, LILYVM_PLUGIN_ENTRY_SYMBOL);
        return FALSE;
    }
    if (d->abi_major != LILYVM_ABI_MAJOR) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                    "%s: plugin ABI %u.%u is incompatible with this LilyVM's ABI %u.%u "
                    "(the major versions differ): rebuild the plugin against these headers",
                    path, d->abi_major, d->abi_minor, LILYVM_ABI_MAJOR, LILYVM_ABI_MINOR);
        return FALSE;
    }
    if (d->abi_minor > LILYVM_ABI_MINOR) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                    "%s: plugin ABI %u.%u is newer than this LilyVM's ABI %u.%u: "
                    "use a newer LilyVM or rebuild the plugin against these headers",
                    path, d->abi_major, d->abi_minor, LILYVM_ABI_MAJOR, LILYVM_ABI_MINOR);
        return FALSE;
    }
    if (d->size < REGISTRY_DESC_MIN_SIZE || d->size > sizeof(LilyPluginDesc)) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                    "%s: descriptor size %u does not match ABI %u.%u (expected %zu..%zu): "
                    "the plugin was built against different headers",
                    path, d->size, d->abi_major, d->abi_minor,
                    (size_t)REGISTRY_DESC_MIN_SIZE, sizeof(LilyPluginDesc));
        return FALSE;
    }
    if (!registry_name_ok(d->name)) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                    "%s: invalid plugin name '%s' (lower-case letters, digits and '-', "
                    "starting with a letter, at most 64 characters)",
                    path, d->name ? d->name : "(null)");
        return FALSE;
    }
    if (d->kind < LILY_PLUGIN_DEVICE || d->kind > LILY_PLUGIN_IRQCHIP) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                    "%s: plugin '%s' has unknown kind %d (device, netdev, cpu, mmu, irqchip)",
                    path, d->name, (int)d->kind);
        return FALSE;
    }
    if (!d->description || strchr(d->description, '\n')) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                    "%s: plugin '%s' needs a one-line description", path, d->name);
        return FALSE;
    }
    if (!d->init) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                    "%s: plugin '%s' has no init function", path, d->name);
        return FALSE;
    }
    if (d->kind == LILY_PLUGIN_MMU) {
        /* The CPU calls fault() and translate() through this table. */
        const LilyMmuOps *ops = d->kind_ops;
        size_t need = offsetof(LilyMmuOps, translate) + sizeof ops->translate;
        if (!ops || ops->size < need || !ops->fault || !ops->translate) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                        "%s: MMU plugin '%s' needs kind_ops pointing to a LilyMmuOps "
                        "(lilyvm/mmu.h) with size, fault and translate set", path, d->name);
            return FALSE;
        }
    }
    char *who = g_strdup_printf("%s: plugin '%s'", path, d->name);
    gboolean ok = registry_check_options(d->options, who, error);
    /* Keys the core owns in the plugin's config group would hide the plugin's own. */
    const LilyOption *core = d->kind == LILY_PLUGIN_NETDEV ? cfg_netdev_core_options()
                             : (d->kind == LILY_PLUGIN_CPU || d->kind == LILY_PLUGIN_MMU)
                                 ? cfg_machine_core_options()
                                 : NULL;
    for (size_t i = 0; ok && core && d->options && d->options[i].name; i++) {
        if (opt_find(core, d->options[i].name, NULL)) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                        "%s: option '%s' is a key the core owns in the plugin's config "
                        "group; rename it", who, d->options[i].name);
            ok = FALSE;
        }
    }
    g_free(who);
    return ok;
}

static char *registry_basename_noext(const char *path)
{
    char *base = g_path_get_basename(path);
    if (g_str_has_suffix(base, ".so"))
        base[strlen(base) - 3] = '\0';
    return base;
}

static void registry_note_failure(Registry *reg, const char *path, const char *msg)
{
    g_hash_table_replace(reg->failures, registry_basename_noext(path), g_strdup(msg));
}

gboolean registry_load_file(Registry *reg, const char *path, GError **error)
{
    GError *err = NULL;
    /* dlerror() names a missing library itself; ldd shows the whole chain. */
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        g_set_error(&err, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                    "cannot load plugin %s: %s (run 'ldd %s' to check its dependencies)",
                    path, why ? why : "unknown dlopen error", path);
        goto out_note_failure;
    }
    dlerror();
    LilyPluginEntryFn entry = (LilyPluginEntryFn)dlsym(handle, LILYVM_PLUGIN_ENTRY_SYMBOL);
    if (!entry) {
        g_set_error(&err, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                    "%s is not a LilyVM plugin: it has no '%s' symbol "
                    "(define one with LILYVM_PLUGIN_DEFINE)",
                    path, LILYVM_PLUGIN_ENTRY_SYMBOL);
        goto out_close;
    }
    const LilyPluginDesc *desc = entry();
    if (!registry_check_desc(desc, path, &err))
        goto out_close;
    const LilyPlugin *other = g_hash_table_lookup(reg->by_name, desc->name);
    if (other) {
        g_set_error(&err, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                    "duplicate plugin name '%s': %s and %s both provide it; "
                    "keeping %s", desc->name, other->path, path, other->path);
        goto out_close;
    }
    LilyPlugin *p = g_new0(LilyPlugin, 1);
    p->desc = desc;
    p->path = g_strdup(path);
    p->handle = handle;
    g_ptr_array_add(reg->plugins, p);
    g_hash_table_insert(reg->by_name, (gpointer)desc->name, p);
    log_msg("registry", LILY_LOG_DEBUG, "loaded %s (%s) from %s", desc->name,
            registry_kind_name(desc->kind), path);
    return TRUE;

out_close:
    /* dlopen counts references: a file also loaded under another path stays mapped. */
    dlclose(handle);
out_note_failure:
    registry_note_failure(reg, path, err->message);
    g_propagate_error(error, err);
    return FALSE;
}

static int registry_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void registry_scan_dir(Registry *reg, const char *dir, GPtrArray *warnings)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    g_ptr_array_add(reg->dirs, g_strdup(dir));
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] != '.' && g_str_has_suffix(de->d_name, ".so"))
            g_ptr_array_add(names, g_strdup(de->d_name));
    }
    closedir(d);
    /* Sorted so that a duplicate is always reported the same way. */
    qsort(names->pdata, names->len, sizeof(char *), registry_cmp_str);
    for (guint i = 0; i < names->len; i++) {
        char *path = g_build_filename(dir, g_ptr_array_index(names, i), NULL);
        GError *err = NULL;
        if (!registry_load_file(reg, path, &err)) {
            if (warnings)
                g_ptr_array_add(warnings, g_strdup(err->message));
            else
                log_msg("registry", LILY_LOG_WARN, "%s (skipped)", err->message);
            g_error_free(err);
        }
        g_free(path);
    }
    g_ptr_array_free(names, TRUE);
}

static void registry_add_dir(GPtrArray *dirs, const char *dir)
{
    char *real = realpath(dir, NULL);
    if (!real)
        return;
    for (guint i = 0; i < dirs->len; i++) {
        if (strcmp(g_ptr_array_index(dirs, i), real) == 0) {
            free(real);
            return;
        }
    }
    g_ptr_array_add(dirs, g_strdup(real));
    free(real);
}

GPtrArray *registry_dirs_for_exe(const char *exe)
{
    GPtrArray *dirs = g_ptr_array_new_with_free_func(g_free);
    if (exe) {
        char *exedir = g_path_get_dirname(exe);
        /* Uninstalled: build/lilyvm sits next to build/plugins/. */
        char *dir = g_build_filename(exedir, "plugins", NULL);
        registry_add_dir(dirs, dir);
        g_free(dir);
#ifdef LILYVM_BUILD_DIR
        /* Test programs deeper in the build tree use the same plugins. */
        if (g_str_has_prefix(exe, LILYVM_BUILD_DIR "/"))
            registry_add_dir(dirs, LILYVM_BUILD_DIR "/plugins");
#endif
        /* Installed at a PREFIX given to make install (or moved as a whole):
         * PREFIX/bin/lilyvm finds PREFIX/lib/lilyvm/plugins. */
        dir = g_build_filename(exedir, "..", "lib", "lilyvm", "plugins", NULL);
        registry_add_dir(dirs, dir);
        g_free(dir);
        g_free(exedir);
    }
    registry_add_dir(dirs, LILYVM_PLUGINDIR);
    const char *env = g_getenv("LILYVM_PLUGIN_PATH");
    if (env) {
        char **parts = g_strsplit(env, ":", -1);
        for (char **p = parts; *p; p++) {
            if (**p)
                registry_add_dir(dirs, *p);
        }
        g_strfreev(parts);
    }
    return dirs;
}

GPtrArray *registry_default_dirs(void)
{
    char *exe = g_file_read_link("/proc/self/exe", NULL);
    GPtrArray *dirs = registry_dirs_for_exe(exe);
    g_free(exe);
    return dirs;
}

const LilyPlugin *registry_find(const Registry *reg, const char *name)
{
    return g_hash_table_lookup(reg->by_name, name);
}

const char *registry_failure(const Registry *reg, const char *name)
{
    return g_hash_table_lookup(reg->failures, name);
}

char *registry_names(const Registry *reg, LilyPluginKind kind)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < reg->plugins->len; i++) {
        const LilyPlugin *p = g_ptr_array_index(reg->plugins, i);
        /* An interrupt controller is a device too: it goes in [device] groups. */
        bool fits = !kind || p->desc->kind == kind ||
                    (kind == LILY_PLUGIN_DEVICE && p->desc->kind == LILY_PLUGIN_IRQCHIP);
        if (!fits)
            continue;
        g_string_append_printf(s, "%s%s", s->len ? ", " : "", p->desc->name);
    }
    if (!s->len)
        g_string_append(s, "none");
    return g_string_free(s, FALSE);
}
