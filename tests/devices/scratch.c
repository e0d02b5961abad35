/* Scratch directories for the device tests' sockets, logs and links. */
#include "tests/devices/scratch.h"

#include <glib.h>
#include <glib/gstdio.h>

char *scratch_dir(const char *prefix)
{
    char *tmpl = g_strdup_printf("%s-XXXXXX", prefix);
    char *dir = g_dir_make_tmp(tmpl, NULL);
    g_free(tmpl);
    g_assert_nonnull(dir);
    return dir;
}

void scratch_remove(char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        char *p = g_build_filename(dir, name, NULL);
        g_unlink(p);
        g_free(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(dir);
    g_free(dir);
}
