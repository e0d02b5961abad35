/*
 * Machine configuration: read GKeyFile text ([machine], [device NAME],
 * [netdev NAME]), remember where every key came from (GKeyFile keeps no line
 * numbers, so the text is scanned here as well), apply --set overrides and
 * turn each group into typed option values for its plugin.
 */
#include <string.h>
#include "src/core/core.h"

#define CFG_MAX_GROUPS 1024
#define CFG_MAX_KEYS 256

/* Keys of [machine] that belong to the core itself. */
static const LilyOption cfg_machine_options[] = {
    { .name = "memory", .type = LILY_OPT_SIZE, .def = "32M",
      .min = 1 << 20, .max = (int64_t)3 << 30, .help = "guest RAM size" },
    { .name = "kernel", .type = LILY_OPT_STRING,
      .help = "Multiboot ELF32 kernel to load" },
    { .name = "cmdline", .type = LILY_OPT_STRING,
      .help = "kernel command line" },
    { .name = "cpu", .type = LILY_OPT_STRING,
      .help = "CPU plugin (default cpu-ia32 when present; none: no CPU)" },
    { .name = "mmu", .type = LILY_OPT_STRING,
      .help = "MMU plugin (default mmu or mmu-ia32 when present; none: no MMU)" },
    { 0 },
};

/* Keys of every [netdev NAME] that belong to the core. */
static const LilyOption cfg_netdev_options[] = {
    { .name = "pcap", .type = LILY_OPT_STRING,
      .help = "capture every frame crossing this netdev into a pcap file" },
    { 0 },
};

static void cfg_entry_free(gpointer p)
{
    CfgEntry *e = p;
    g_free(e->key);
    g_free(e->value);
    g_free(e->file);
    g_free(e);
}

static void cfg_group_free(gpointer p)
{
    CfgGroup *g = p;
    g_free(g->name);
    g_free(g->file);
    g_ptr_array_free(g->entries, TRUE);
    g_free(g);
}

void cfg_init(Config *cfg)
{
    cfg->groups = g_ptr_array_new_with_free_func(cfg_group_free);
}

void cfg_clear(Config *cfg)
{
    if (cfg->groups)
        g_ptr_array_free(cfg->groups, TRUE);
    cfg->groups = NULL;
}

static CfgGroup *cfg_group_new(Config *cfg, CfgGroupKind kind, const char *name,
                               const char *file, int line)
{
    CfgGroup *g = g_new0(CfgGroup, 1);
    g->kind = kind;
    g->name = g_strdup(name);
    g->file = g_strdup(file);
    g->line = line;
    g->entries = g_ptr_array_new_with_free_func(cfg_entry_free);
    if (kind == CFG_MACHINE)
        g_ptr_array_insert(cfg->groups, 0, g);
    else
        g_ptr_array_add(cfg->groups, g);
    return g;
}

CfgGroup *cfg_find_group(Config *cfg, const char *name)
{
    for (guint i = 0; i < cfg->groups->len; i++) {
        CfgGroup *g = g_ptr_array_index(cfg->groups, i);
        if (strcmp(g->name, name) == 0)
            return g;
    }
    return NULL;
}

CfgEntry *cfg_find_entry(CfgGroup *group, const char *key)
{
    for (guint i = 0; i < group->entries->len; i++) {
        CfgEntry *e = g_ptr_array_index(group->entries, i);
        if (strcmp(e->key, key) == 0)
            return e;
    }
    return NULL;
}

static void cfg_put(CfgGroup *g, const char *key, const char *value, const char *file,
                    int line)
{
    CfgEntry *e = cfg_find_entry(g, key);
    if (!e) {
        e = g_new0(CfgEntry, 1);
        e->key = g_strdup(key);
        g_ptr_array_add(g->entries, e);
    }
    g_free(e->value);
    g_free(e->file);
    e->value = g_strdup(value);
    e->file = g_strdup(file);
    e->line = line;
}

char *cfg_where(const CfgGroup *g, const CfgEntry *e)
{
    if (e)
        return e->file ? g_strdup_printf("%s:%d", e->file, e->line) : g_strdup("--set");
    if (g && g->file)
        return g_strdup_printf("%s:%d", g->file, g->line);
    return g_strdup("--set");
}

static const char *cfg_kind_word(CfgGroupKind kind)
{
    return kind == CFG_MACHINE ? "machine" : kind == CFG_DEVICE ? "device" : "netdev";
}

/* "[device serial0]" for messages. */
static char *cfg_group_label(const CfgGroup *g)
{
    if (g->kind == CFG_MACHINE)
        return g_strdup("[machine]");
    return g_strdup_printf("[%s %s]", cfg_kind_word(g->kind), g->name);
}

static bool cfg_instance_name_ok(const char *name)
{
    if (!g_ascii_isalpha(name[0]))
        return false;
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_')
            return false;
    }
    /* machine is the [machine] group; cpu and mmu are the instances it creates. */
    return strlen(name) <= 64 && strcmp(name, "machine") != 0 && strcmp(name, "cpu") != 0 &&
           strcmp(name, "mmu") != 0;
}

/* One line of the text as the scanner saw it. */
typedef struct CfgScanKey {
    char *group;
    char *key;
    int line;
} CfgScanKey;

typedef struct CfgScanGroup {
    char *name;
    int line;
} CfgScanGroup;

static void cfg_scan_key_clear(gpointer p)
{
    CfgScanKey *k = p;
    g_free(k->group);
    g_free(k->key);
}

static void cfg_scan_group_clear(gpointer p)
{
    g_free(((CfgScanGroup *)p)->name);
}

/*
 * Walk the text line by line the way GKeyFile reads it, so that every group
 * and key gets its line number and syntax errors can be pointed at.
 */
static gboolean cfg_scan(const char *text, const char *filename, GArray *groups,
                         GArray *keys, GError **error)
{
    char **lines = g_strsplit(text, "\n", -1);
    gboolean ok = FALSE;
    const char *group = NULL;
    for (int i = 0; lines[i]; i++) {
        int lineno = i + 1;
        char *l = g_strstrip(lines[i]);
        if (!*l || *l == '#')
            continue;
        if (*l == '[') {
            size_t n = strlen(l);
            if (l[n - 1] != ']' || n < 3) {
                g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                            "%s:%d: malformed group header '%s': expected [machine], "
                            "[device NAME] or [netdev NAME]", filename, lineno, l);
                goto out_free_lines;
            }
            /* Kept as written: GKeyFile does not trim group names either. */
            l[n - 1] = '\0';
            char *name = l + 1;
            for (guint j = 0; j < groups->len; j++) {
                CfgScanGroup *sg = &g_array_index(groups, CfgScanGroup, j);
                if (strcmp(sg->name, name) == 0) {
                    g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                                "%s:%d: group [%s] appears twice (first at line %d)",
                                filename, lineno, name, sg->line);
                    goto out_free_lines;
                }
            }
            if (groups->len >= CFG_MAX_GROUPS) {
                g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                            "%s:%d: more than %d groups", filename, lineno, CFG_MAX_GROUPS);
                goto out_free_lines;
            }
            CfgScanGroup sg = { g_strdup(name), lineno };
            g_array_append_val(groups, sg);
            group = sg.name;
            continue;
        }
        char *eq = strchr(l, '=');
        if (!eq) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                        "%s:%d: '%s' is neither 'key = value', a [group] header "
                        "nor a # comment", filename, lineno, l);
            goto out_free_lines;
        }
        if (!group) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                        "%s:%d: key '%s' comes before any [group] header",
                        filename, lineno, l);
            goto out_free_lines;
        }
        *eq = '\0';
        char *key = g_strstrip(l);
        if (!*key) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                        "%s:%d: a value with no key", filename, lineno);
            goto out_free_lines;
        }
        guint in_group = 0;
        for (guint j = 0; j < keys->len; j++) {
            CfgScanKey *sk = &g_array_index(keys, CfgScanKey, j);
            if (strcmp(sk->group, group) != 0)
                continue;
            in_group++;
            if (strcmp(sk->key, key) == 0) {
                g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                            "%s:%d: [%s] key '%s' is given twice (first at line %d)",
                            filename, lineno, group, key, sk->line);
                goto out_free_lines;
            }
        }
        if (in_group >= CFG_MAX_KEYS) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                        "%s:%d: [%s] has more than %d keys", filename, lineno, group,
                        CFG_MAX_KEYS);
            goto out_free_lines;
        }
        CfgScanKey sk = { g_strdup(group), g_strdup(key), lineno };
        g_array_append_val(keys, sk);
    }
    ok = TRUE;
out_free_lines:
    g_strfreev(lines);
    return ok;
}

/* Which plugin kinds a group accepts. */
static bool cfg_kind_fits(CfgGroupKind gk, LilyPluginKind pk)
{
    if (gk == CFG_DEVICE)
        return pk == LILY_PLUGIN_DEVICE || pk == LILY_PLUGIN_IRQCHIP;
    if (gk == CFG_NETDEV)
        return pk == LILY_PLUGIN_NETDEV;
    return false;
}

static char *cfg_known_keys(const LilyOption *a, const LilyOption *b, const LilyOption *c)
{
    GString *s = g_string_new(NULL);
    const LilyOption *tables[] = { a, b, c };
    for (int t = 0; t < 3; t++) {
        for (size_t i = 0; tables[t] && tables[t][i].name; i++)
            g_string_append_printf(s, "%s%s", s->len ? ", " : "", tables[t][i].name);
    }
    if (!s->len)
        g_string_append(s, "none");
    return g_string_free(s, FALSE);
}

/* Parse one entry against opt; the error names where, group, key, value. */
static gboolean cfg_parse_entry(const CfgGroup *g, const CfgEntry *e, const LilyOption *opt,
                                LilyOptValue *out, OptArena *arena, GError **error)
{
    char *reason = NULL;
    if (opt_parse(opt, e->value, out, arena, &reason)) {
        out->set = true;
        return TRUE;
    }
    char *where = cfg_where(g, e), *label = cfg_group_label(g);
    g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                "%s: %s %s = '%s': invalid %s value (%s)", where, label, e->key, e->value,
                opt_type_name(opt->type), reason);
    g_free(where);
    g_free(label);
    g_free(reason);
    return FALSE;
}

static char *cfg_no_plugin_message(LilyVm *vm, const char *name, LilyPluginKind kind)
{
    char *avail = registry_names(&vm->reg, kind);
    const char *failure = registry_failure(&vm->reg, name);
    char *msg;
    if (failure) {
        msg = g_strdup_printf("plugin '%s' failed to load: %s", name, failure);
    } else {
        GString *dirs = g_string_new(NULL);
        for (guint i = 0; i < vm->reg.dirs->len; i++)
            g_string_append_printf(dirs, "%s%s", i ? ", " : "",
                                   (char *)g_ptr_array_index(vm->reg.dirs, i));
        msg = g_strdup_printf("no plugin named '%s' (available %s plugins: %s; searched: %s)",
                              name, registry_kind_name(kind), avail,
                              dirs->len ? dirs->str : "no directory");
        g_string_free(dirs, TRUE);
    }
    g_free(avail);
    return msg;
}

/* The plugin a device or netdev group names, checked for existence and kind. */
static const LilyPlugin *cfg_group_plugin(LilyVm *vm, CfgGroup *g, GError **error)
{
    LilyPluginKind want = g->kind == CFG_NETDEV ? LILY_PLUGIN_NETDEV : LILY_PLUGIN_DEVICE;
    CfgEntry *pe = cfg_find_entry(g, "plugin");
    char *label = cfg_group_label(g);
    const LilyPlugin *p = NULL;
    if (!pe) {
        char *where = cfg_where(g, NULL), *avail = registry_names(&vm->reg, want);
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                    "%s: %s has no 'plugin = NAME' key (available %s plugins: %s)",
                    where, label, cfg_kind_word(g->kind), avail);
        g_free(where);
        g_free(avail);
        goto out_free_label;
    }
    p = registry_find(&vm->reg, pe->value);
    if (!p) {
        char *where = cfg_where(g, pe), *why = cfg_no_plugin_message(vm, pe->value, want);
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG, "%s: %s plugin = '%s': %s",
                    where, label, pe->value, why);
        g_free(where);
        g_free(why);
        goto out_free_label;
    }
    if (!cfg_kind_fits(g->kind, p->desc->kind)) {
        char *where = cfg_where(g, pe), *avail = registry_names(&vm->reg, want);
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                    "%s: %s plugin = '%s': it is a %s plugin, not a %s "
                    "(available %s plugins: %s)", where, label, pe->value,
                    registry_kind_name(p->desc->kind), cfg_kind_word(g->kind),
                    cfg_kind_word(g->kind), avail);
        g_free(where);
        g_free(avail);
        p = NULL;
    }
out_free_label:
    g_free(label);
    return p;
}

/*
 * Check one group as far as it can be checked now: its plugin, and every key
 * and value.  Keys of [machine] that belong to the CPU/MMU plugin are
 * checked by cfg_resolve once those are known.
 */
static gboolean cfg_check_group(LilyVm *vm, CfgGroup *g, GError **error)
{
    OptArena *arena = g_ptr_array_new_with_free_func(g_free);
    gboolean ok = FALSE;
    const LilyOption *table = NULL, *core = NULL;
    const LilyPlugin *p = NULL;
    if (g->kind == CFG_MACHINE) {
        core = cfg_machine_options;
    } else {
        p = cfg_group_plugin(vm, g, error);
        if (!p)
            goto out_free_arena;
        table = p->desc->options;
        core = g->kind == CFG_NETDEV ? cfg_netdev_options : NULL;
    }
    for (guint i = 0; i < g->entries->len; i++) {
        CfgEntry *e = g_ptr_array_index(g->entries, i);
        if (g->kind != CFG_MACHINE && strcmp(e->key, "plugin") == 0)
            continue;
        const LilyOption *opt = opt_find(core, e->key, NULL);
        if (!opt)
            opt = opt_find(table, e->key, NULL);
        if (!opt) {
            if (g->kind == CFG_MACHINE)
                continue;  /* maybe a CPU or MMU option: cfg_resolve decides */
            char *where = cfg_where(g, e), *label = cfg_group_label(g);
            char *known = cfg_known_keys((const LilyOption[]){ { .name = "plugin" }, { 0 } },
                                         core, table);
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                        "%s: %s unknown key '%s' = '%s' for plugin '%s' (known keys: %s)",
                        where, label, e->key, e->value, p->desc->name, known);
            g_free(where);
            g_free(label);
            g_free(known);
            goto out_free_arena;
        }
        LilyOptValue v;
        if (!cfg_parse_entry(g, e, opt, &v, arena, error))
            goto out_free_arena;
    }
    ok = TRUE;
out_free_arena:
    g_ptr_array_free(arena, TRUE);
    return ok;
}

static gboolean cfg_parse_group_name(const char *text, CfgGroupKind *kind, char **name)
{
    if (strcmp(text, "machine") == 0) {
        *kind = CFG_MACHINE;
        *name = g_strdup("machine");
        return TRUE;
    }
    const char *rest;
    if (g_str_has_prefix(text, "device ")) {
        *kind = CFG_DEVICE;
        rest = text + 7;
    } else if (g_str_has_prefix(text, "netdev ")) {
        *kind = CFG_NETDEV;
        rest = text + 7;
    } else {
        return FALSE;
    }
    while (*rest == ' ' || *rest == '\t')
        rest++;
    *name = g_strdup(rest);
    return TRUE;
}

gboolean cfg_load_data(LilyVm *vm, const char *text, const char *filename, GError **error)
{
    GArray *sgroups = g_array_new(FALSE, FALSE, sizeof(CfgScanGroup));
    GArray *skeys = g_array_new(FALSE, FALSE, sizeof(CfgScanKey));
    g_array_set_clear_func(sgroups, cfg_scan_group_clear);
    g_array_set_clear_func(skeys, cfg_scan_key_clear);
    GKeyFile *kf = g_key_file_new();
    GError *err = NULL;
    gboolean ok = FALSE;
    GPtrArray *added = g_ptr_array_new();

    if (!cfg_scan(text, filename, sgroups, skeys, error))
        goto out_free;
    if (!g_key_file_load_from_data(kf, text, (gsize)-1, G_KEY_FILE_NONE, &err)) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG, "%s: %s", filename,
                    err->message);
        g_error_free(err);
        goto out_free;
    }
    for (guint i = 0; i < sgroups->len; i++) {
        CfgScanGroup *sg = &g_array_index(sgroups, CfgScanGroup, i);
        CfgGroupKind kind;
        char *name = NULL;
        if (!cfg_parse_group_name(sg->name, &kind, &name)) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                        "%s:%d: unknown group [%s]: expected [machine], [device NAME] "
                        "or [netdev NAME]", filename, sg->line, sg->name);
            goto out_free;
        }
        if (kind != CFG_MACHINE && !cfg_instance_name_ok(name)) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                        "%s:%d: [%s]: invalid instance name '%s' (letters, digits, '-' "
                        "and '_', starting with a letter; not machine, cpu or mmu)",
                        filename, sg->line, sg->name, name);
            g_free(name);
            goto out_free;
        }
        CfgGroup *g = cfg_find_group(&vm->cfg, name);
        if (g && kind != CFG_MACHINE) {
            char *first = cfg_where(g, NULL);
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                        "%s:%d: [%s]: duplicate instance name '%s' (already used by "
                        "[%s %s] at %s)", filename, sg->line, sg->name, name,
                        cfg_kind_word(g->kind), g->name, first);
            g_free(first);
            g_free(name);
            goto out_free;
        }
        if (!g) {
            g = cfg_group_new(&vm->cfg, kind, name, filename, sg->line);
            g_ptr_array_add(added, g);
        }
        g_free(name);
        for (guint j = 0; j < skeys->len; j++) {
            CfgScanKey *sk = &g_array_index(skeys, CfgScanKey, j);
            if (strcmp(sk->group, sg->name) != 0)
                continue;
            char *value = g_key_file_get_string(kf, sg->name, sk->key, &err);
            if (!value) {
                g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                            "%s:%d: [%s] %s: %s", filename, sk->line, sg->name, sk->key,
                            err->message);
                g_clear_error(&err);
                goto out_free;
            }
            /* Trailing blanks are invisible in an editor: never part of a value. */
            g_strchomp(value);
            cfg_put(g, sk->key, value, filename, sk->line);
            g_free(value);
        }
        if (!cfg_check_group(vm, g, error))
            goto out_free;
    }
    ok = TRUE;
out_free:
    if (!ok) {
        /* Leave the configuration as it was before this text. */
        for (guint i = 0; i < added->len; i++)
            g_ptr_array_remove(vm->cfg.groups, g_ptr_array_index(added, i));
    }
    g_ptr_array_free(added, TRUE);
    g_key_file_free(kf);
    g_array_free(skeys, TRUE);
    g_array_free(sgroups, TRUE);
    return ok;
}

static char *cfg_instance_names(Config *cfg)
{
    GString *s = g_string_new("machine");
    for (guint i = 0; i < cfg->groups->len; i++) {
        CfgGroup *g = g_ptr_array_index(cfg->groups, i);
        if (g->kind != CFG_MACHINE)
            g_string_append_printf(s, ", %s", g->name);
    }
    return g_string_free(s, FALSE);
}

gboolean cfg_set(LilyVm *vm, const char *assignment, GError **error)
{
    const char *eq = strchr(assignment, '=');
    const char *dot = strchr(assignment, '.');
    if (!eq || !dot || dot > eq || dot == assignment || dot + 1 == eq) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                    "--set '%s': expected GROUP.KEY=VALUE, e.g. machine.memory=64M "
                    "or serial0.irq=4", assignment);
        return FALSE;
    }
    char *group = g_strndup(assignment, (gsize)(dot - assignment));
    char *key = g_strstrip(g_strndup(dot + 1, (gsize)(eq - dot - 1)));
    char *value = g_strstrip(g_strdup(eq + 1));
    gboolean ok = FALSE;
    CfgGroup *g = cfg_find_group(&vm->cfg, group);
    if (!g && strcmp(group, "machine") == 0)
        g = cfg_group_new(&vm->cfg, CFG_MACHINE, "machine", NULL, 0);
    if (!g) {
        char *names = cfg_instance_names(&vm->cfg);
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                    "--set %s.%s=%s: there is no group '%s' (groups: %s)", group, key,
                    value, group, names);
        g_free(names);
        goto out_free;
    }
    /* Keep the old entry so a refused value leaves the config unchanged. */
    CfgEntry *old = cfg_find_entry(g, key);
    CfgEntry saved = { 0 };
    if (old) {
        saved.value = g_strdup(old->value);
        saved.file = g_strdup(old->file);
        saved.line = old->line;
    }
    cfg_put(g, key, value, NULL, 0);
    ok = cfg_check_group(vm, g, error);
    if (!ok) {
        if (old) {
            CfgEntry *e = cfg_find_entry(g, key);
            g_free(e->value);
            g_free(e->file);
            e->value = saved.value;
            e->file = saved.file;
            e->line = saved.line;
        } else {
            g_ptr_array_remove(g->entries, cfg_find_entry(g, key));
        }
    } else {
        g_free(saved.value);
        g_free(saved.file);
    }
out_free:
    g_free(group);
    g_free(key);
    g_free(value);
    return ok;
}

/* Fill values[] for table from group entries matching its keys. */
static gboolean cfg_fill_values(CfgGroup *g, const LilyOption *table, LilyOptValue *values,
                                OptArena *arena, const char *plugin, GError **error)
{
    for (size_t i = 0; table && table[i].name; i++) {
        const LilyOption *opt = &table[i];
        CfgEntry *e = cfg_find_entry(g, opt->name);
        memset(&values[i], 0, sizeof values[i]);
        if (e) {
            if (!cfg_parse_entry(g, e, opt, &values[i], arena, error))
                return FALSE;
        } else if (opt->def) {
            char *reason = NULL;
            if (!opt_parse(opt, opt->def, &values[i], arena, &reason)) {
                g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_PLUGIN,
                            "plugin '%s': invalid default '%s' for '%s' (%s)", plugin,
                            opt->def, opt->name, reason);
                g_free(reason);
                return FALSE;
            }
        } else if (opt->flags & LILY_OPT_F_REQUIRED) {
            char *where = cfg_where(g, NULL), *label = cfg_group_label(g);
            char *accepted = opt_describe_accepted(opt);
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                        "%s: %s needs key '%s' for plugin '%s' (%s: %s)", where, label,
                        opt->name, plugin, opt->help ? opt->help : opt_type_name(opt->type),
                        accepted);
            g_free(where);
            g_free(label);
            g_free(accepted);
            return FALSE;
        }
    }
    return TRUE;
}

static LilyInstance *cfg_instance_new(LilyVm *vm, const char *name, const LilyPlugin *p,
                                      CfgGroup *g)
{
    LilyInstance *inst = g_new0(LilyInstance, 1);
    inst->vm = vm;
    inst->name = g_strdup(name);
    inst->plugin = p;
    inst->group = g;
    inst->arena = g_ptr_array_new_with_free_func(g_free);
    inst->values = g_new0(LilyOptValue, opt_count(p->desc->options) + 1);
    inst->stats = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    inst->stats_by_ptr = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    return inst;
}

/*
 * The plugin of kind for [machine] key (cpu/mmu): the one given, "none", or
 * by default the first of the preferred names that is present.
 */
static gboolean cfg_pick_machine_plugin(LilyVm *vm, CfgGroup *m, const char *key,
                                        LilyPluginKind kind, const char *const *preferred,
                                        const LilyPlugin **out, GError **error)
{
    CfgEntry *e = m ? cfg_find_entry(m, key) : NULL;
    *out = NULL;
    if (!e) {
        for (const char *const *name = preferred; *name; name++) {
            const LilyPlugin *p = registry_find(&vm->reg, *name);
            if (p && p->desc->kind == kind) {
                *out = p;
                break;
            }
        }
        return TRUE;
    }
    if (strcmp(e->value, "none") == 0)
        return TRUE;
    const LilyPlugin *p = registry_find(&vm->reg, e->value);
    char *where = cfg_where(m, e);
    if (!p) {
        char *why = cfg_no_plugin_message(vm, e->value, kind);
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                    "%s: [machine] %s = '%s': %s (or none)", where, key, e->value, why);
        g_free(why);
        g_free(where);
        return FALSE;
    }
    if (p->desc->kind != kind) {
        char *avail = registry_names(&vm->reg, kind);
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                    "%s: [machine] %s = '%s': it is a %s plugin, not a %s plugin "
                    "(available: %s, or none)", where, key, e->value,
                    registry_kind_name(p->desc->kind), registry_kind_name(kind), avail);
        g_free(avail);
        g_free(where);
        return FALSE;
    }
    g_free(where);
    *out = p;
    return TRUE;
}

static gboolean cfg_resolve_machine(LilyVm *vm, GError **error)
{
    CfgGroup *m = cfg_find_group(&vm->cfg, "machine");
    if (!m)
        m = cfg_group_new(&vm->cfg, CFG_MACHINE, "machine", NULL, 0);
    const LilyPlugin *cpu, *mmu;
    static const char *const cpu_default[] = { "cpu-ia32", NULL };
    static const char *const mmu_default[] = { "mmu", "mmu-ia32", NULL };
    if (!cfg_pick_machine_plugin(vm, m, "cpu", LILY_PLUGIN_CPU, cpu_default, &cpu, error) ||
        !cfg_pick_machine_plugin(vm, m, "mmu", LILY_PLUGIN_MMU, mmu_default, &mmu, error))
        return FALSE;
    const LilyOption *cpu_opts = cpu ? cpu->desc->options : NULL;
    const LilyOption *mmu_opts = mmu ? mmu->desc->options : NULL;

    /* Every key must belong to the core, the CPU or the MMU. */
    for (guint i = 0; i < m->entries->len; i++) {
        CfgEntry *e = g_ptr_array_index(m->entries, i);
        if (opt_find(cfg_machine_options, e->key, NULL) || opt_find(cpu_opts, e->key, NULL) ||
            opt_find(mmu_opts, e->key, NULL))
            continue;
        char *where = cfg_where(m, e);
        char *known = cfg_known_keys(cfg_machine_options, cpu_opts, mmu_opts);
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                    "%s: [machine] unknown key '%s' = '%s' (known keys: %s%s%s%s%s)", where,
                    e->key, e->value, known, cpu ? "; CPU plugin " : "",
                    cpu ? cpu->desc->name : "", mmu ? ", MMU plugin " : "",
                    mmu ? mmu->desc->name : "");
        g_free(where);
        g_free(known);
        return FALSE;
    }

    LilyOptValue core[G_N_ELEMENTS(cfg_machine_options)] = { { 0 } };
    OptArena *arena = g_ptr_array_new_with_free_func(g_free);
    if (!cfg_fill_values(m, cfg_machine_options, core, arena, "machine", error)) {
        g_ptr_array_free(arena, TRUE);
        return FALSE;
    }
    vm->mem_size = (uint64_t)core[0].i;
    g_free(vm->kernel);
    g_free(vm->cmdline);
    vm->kernel = NULL;
    if (core[1].present) {
        /* Relative to the current directory, else to the config file. */
        CfgEntry *ke = cfg_find_entry(m, "kernel");
        if (!g_path_is_absolute(core[1].s) && ke->file &&
            !g_file_test(core[1].s, G_FILE_TEST_EXISTS)) {
            char *dir = g_path_get_dirname(ke->file);
            char *alt = g_build_filename(dir, core[1].s, NULL);
            if (g_file_test(alt, G_FILE_TEST_EXISTS))
                vm->kernel = alt;
            else
                g_free(alt);
            g_free(dir);
        }
        if (!vm->kernel)
            vm->kernel = g_strdup(core[1].s);
    }
    vm->cmdline = core[2].present ? g_strdup(core[2].s) : NULL;
    g_ptr_array_free(arena, TRUE);

    if (mmu) {
        LilyInstance *inst = cfg_instance_new(vm, "mmu", mmu, m);
        g_ptr_array_add(vm->instances, inst);
        vm->mmu = inst;
        if (!cfg_fill_values(m, mmu_opts, inst->values, inst->arena, mmu->desc->name, error))
            return FALSE;
    }
    if (cpu) {
        LilyInstance *inst = cfg_instance_new(vm, "cpu", cpu, m);
        vm->cpu = inst;  /* added to vm->instances last: it starts last */
        if (!cfg_fill_values(m, cpu_opts, inst->values, inst->arena, cpu->desc->name, error))
            return FALSE;
    }
    return TRUE;
}

/*
 * Turn the configuration into instances (not yet initialised), in the order
 * they start: MMU, interrupt controllers, network backends, other devices,
 * CPU.
 */
gboolean cfg_resolve(LilyVm *vm, GError **error)
{
    if (!cfg_resolve_machine(vm, error))
        return FALSE;
    for (int pass = 0; pass < 3; pass++) {
        for (guint i = 0; i < vm->cfg.groups->len; i++) {
            CfgGroup *g = g_ptr_array_index(vm->cfg.groups, i);
            if (g->kind == CFG_MACHINE)
                continue;
            if (!cfg_check_group(vm, g, error))
                return FALSE;
            const LilyPlugin *p = cfg_group_plugin(vm, g, error);
            bool chip = p->desc->kind == LILY_PLUGIN_IRQCHIP;
            int want = chip ? 0 : g->kind == CFG_NETDEV ? 1 : 2;
            if (want != pass)
                continue;
            if (g->kind == CFG_NETDEV) {
                NetLink *link = net_link_new(vm, g->name);
                CfgEntry *pe = cfg_find_entry(g, "pcap");
                if (pe && !net_link_set_pcap(link, pe->value, error)) {
                    char *where = cfg_where(g, pe);
                    g_prefix_error(error, "%s: [netdev %s] pcap = '%s': ", where, g->name,
                                   pe->value);
                    g_free(where);
                    return FALSE;
                }
            }
            LilyInstance *inst = cfg_instance_new(vm, g->name, p, g);
            g_ptr_array_add(vm->instances, inst);
            if (!cfg_fill_values(g, p->desc->options, inst->values, inst->arena,
                                 p->desc->name, error))
                return FALSE;
        }
    }
    if (vm->cpu)
        g_ptr_array_add(vm->instances, vm->cpu);
    return TRUE;
}

/* Add key = value to the text if the plugin has that option. */
static void cfg_default_key(GString *s, const LilyPlugin *p, const char *key, const char *value)
{
    if (opt_find(p->desc->options, key, NULL))
        g_string_append_printf(s, "%s = %s\n", key, value);
}

char *cfg_default_machine_text(const Registry *reg)
{
    GString *s = g_string_new("[machine]\nmemory = 32M\n");
    const LilyPlugin *p;
    if ((p = registry_find(reg, "pic-i8259"))) {
        g_string_append(s, "\n[device pic]\nplugin = pic-i8259\n");
        cfg_default_key(s, p, "iobase-master", "0x20");
        cfg_default_key(s, p, "iobase-slave", "0xa0");
    }
    if ((p = registry_find(reg, "pit-i8254"))) {
        g_string_append(s, "\n[device pit]\nplugin = pit-i8254\n");
        cfg_default_key(s, p, "iobase", "0x40");
        cfg_default_key(s, p, "irq", "0");
    }
    if ((p = registry_find(reg, "console"))) {
        g_string_append(s, "\n[device serial0]\nplugin = console\n");
        cfg_default_key(s, p, "iobase", "0x3f8");
        cfg_default_key(s, p, "irq", "4");
        cfg_default_key(s, p, "backend", "stdio");
    }
    if ((p = registry_find(reg, "debug-exit"))) {
        g_string_append(s, "\n[device debug-exit]\nplugin = debug-exit\n");
        cfg_default_key(s, p, "iobase", "0xf4");
    }
    const LilyPlugin *nic = registry_find(reg, "nic-ne2000");
    const LilyPlugin *net = registry_find(reg, "net-socket");
    if (nic && net) {
        g_string_append(s, "\n[netdev net0]\nplugin = net-socket\n");
        g_string_append(s, "\n[device nic0]\nplugin = nic-ne2000\n");
        cfg_default_key(s, nic, "iobase", "0x300");
        cfg_default_key(s, nic, "irq", "9");
        cfg_default_key(s, nic, "netdev", "net0");
    }
    return g_string_free(s, FALSE);
}


const LilyOption *cfg_machine_core_options(void)
{
    return cfg_machine_options;
}

const LilyOption *cfg_netdev_core_options(void)
{
    return cfg_netdev_options;
}
