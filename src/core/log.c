/*
 * Logging: one category per instance name plus the core's own categories.
 * Warnings and errors always reach stderr; info and debug messages appear
 * for the categories enabled with -d (to the --log-file when one is given).
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include "src/core/core.h"

const char *const log_core_categories[] = {
    "registry", "config", "bus", "irq", "loader", "loop", "net", NULL,
};

static struct {
    bool all;
    char **cats;     /* enabled categories (NULL-terminated) */
    FILE *file;      /* --log-file, or NULL */
} log_state;

bool log_bus_trace;
bool log_irq_trace;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

gboolean log_category_enabled(const char *category, LilyLogLevel level)
{
    if (level <= LILY_LOG_WARN)
        return TRUE;
    if (log_state.all)
        return TRUE;
    if (!log_state.cats || !category)
        return FALSE;
    for (char **c = log_state.cats; *c; c++) {
        if (strcmp(*c, category) == 0)
            return TRUE;
    }
    return FALSE;
}

void log_msgv(const char *category, LilyLogLevel level, const char *fmt, va_list ap)
{
    if (!log_category_enabled(category, level))
        return;
    if ((unsigned)level > LILY_LOG_DEBUG)
        level = LILY_LOG_DEBUG;
    char *text = g_strdup_vprintf(fmt, ap);
    const char *cat = category ? category : "core";
    if (level <= LILY_LOG_WARN)
        fprintf(stderr, "lilyvm: %s: %s: %s\n", cat, level_names[level], text);
    FILE *out = log_state.file;
    if (!out && level > LILY_LOG_WARN)
        out = stderr;
    if (out) {
        fprintf(out, "%s: %s: %s\n", cat, level_names[level], text);
        fflush(out);
    }
    g_free(text);
}

void log_msg(const char *category, LilyLogLevel level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_msgv(category, level, fmt, ap);
    va_end(ap);
}

void log_set_categories(const char *list)
{
    g_strfreev(log_state.cats);
    log_state.cats = NULL;
    log_state.all = false;
    log_bus_trace = false;
    log_irq_trace = false;
    if (!list)
        return;
    char **parts = g_strsplit(list, ",", -1);
    GPtrArray *cats = g_ptr_array_new();
    for (char **p = parts; *p; p++) {
        char *c = g_strstrip(*p);
        if (!*c)
            continue;
        if (strcmp(c, "all") == 0)
            log_state.all = true;
        g_ptr_array_add(cats, g_strdup(c));
    }
    g_ptr_array_add(cats, NULL);
    log_state.cats = (char **)g_ptr_array_free(cats, FALSE);
    g_strfreev(parts);
    log_bus_trace = log_category_enabled("bus", LILY_LOG_DEBUG);
    log_irq_trace = log_category_enabled("irq", LILY_LOG_DEBUG);
}

static bool log_is_core_category(const char *c)
{
    for (const char *const *k = log_core_categories; *k; k++) {
        if (strcmp(*k, c) == 0)
            return true;
    }
    return strcmp(c, "all") == 0;
}

gboolean log_check_categories(LilyVm *vm, GError **error)
{
    if (!log_state.cats)
        return TRUE;
    for (char **c = log_state.cats; *c; c++) {
        if (log_is_core_category(*c) || vm_find_instance(vm, *c))
            continue;
        GString *known = g_string_new("all");
        for (const char *const *k = log_core_categories; *k; k++)
            g_string_append_printf(known, ", %s", *k);
        for (guint i = 0; i < vm->instances->len; i++) {
            LilyInstance *inst = g_ptr_array_index(vm->instances, i);
            g_string_append_printf(known, ", %s", inst->name);
        }
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                    "-d: unknown log category '%s' (known: %s)", *c, known->str);
        g_string_free(known, TRUE);
        return FALSE;
    }
    return TRUE;
}

gboolean log_set_file(const char *path, GError **error)
{
    FILE *f = fopen(path, "a");
    if (!f) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_CONFIG,
                    "--log-file %s: %s", path, g_strerror(errno));
        return FALSE;
    }
    if (log_state.file)
        fclose(log_state.file);
    log_state.file = f;
    return TRUE;
}

void log_shutdown(void)
{
    if (log_state.file)
        fclose(log_state.file);
    log_state.file = NULL;
    g_strfreev(log_state.cats);
    log_state.cats = NULL;
    log_state.all = false;
    log_bus_trace = false;
    log_irq_trace = false;
}
