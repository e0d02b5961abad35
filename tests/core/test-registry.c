/* Plugin registry: good plugins load; each kind of bad plugin is refused clearly. */
#include "tests/core/testutil.h"
#include "config.h"

static char *load_error(const char *file)
{
    Registry reg;
    registry_init(&reg);
    char *path = g_build_filename(TEST_BAD_DIR, file, NULL);
    GError *err = NULL;
    g_assert_false(registry_load_file(&reg, path, &err));
    g_assert_nonnull(err);
    char *msg = g_strdup(err->message);
    g_error_free(err);
    g_assert_cmpuint(reg.plugins->len, ==, 0);
    registry_clear(&reg);
    g_free(path);
    return msg;
}

static void test_good(void)
{
    Registry reg;
    registry_init(&reg);
    GError *err = NULL;
    g_assert_true(registry_load_file(&reg, TEST_PLUGIN_DIR "/test-regs.so", &err));
    const LilyPlugin *p = registry_find(&reg, "test-regs");
    g_assert_nonnull(p);
    g_assert_cmpint(p->desc->kind, ==, LILY_PLUGIN_DEVICE);
    g_assert_cmpstr(p->path, ==, TEST_PLUGIN_DIR "/test-regs.so");
    registry_clear(&reg);
}

static void test_major(void)
{
    char *msg = load_error("bad-major.so");
    char *theirs = g_strdup_printf("ABI %d.0", LILYVM_ABI_MAJOR + 1);
    char *ours = g_strdup_printf("ABI %d.%d", LILYVM_ABI_MAJOR, LILYVM_ABI_MINOR);
    test_assert_contains(msg, "bad-major.so", theirs, ours, "incompatible");
    g_free(theirs);
    g_free(ours);
    g_free(msg);
}

static void test_minor(void)
{
    char *msg = load_error("bad-minor.so");
    char *theirs = g_strdup_printf("ABI %d.%d", LILYVM_ABI_MAJOR, LILYVM_ABI_MINOR + 1);
    test_assert_contains(msg, "bad-minor.so", theirs, "newer");
    g_free(theirs);
    g_free(msg);
}

static void test_no_entry(void)
{
    char *msg = load_error("no-entry.so");
    test_assert_contains(msg, "no-entry.so", "not a LilyVM plugin", "lilyvm_plugin_entry");
    g_free(msg);
}

static void test_garbage(void)
{
    char *msg = load_error("garbage.so");
    test_assert_contains(msg, "cannot load plugin", "garbage.so", "ldd");
    g_free(msg);
}

static void test_missing_library(void)
{
    char *msg = load_error("missing-lib.so");
    /* dlerror() names the library; the hint says how to see the rest. */
    test_assert_contains(msg, "missing-lib.so", "liblilymissing.so", "ldd");
    g_free(msg);
}

static void test_bad_options(void)
{
    char *msg = load_error("bad-options.so");
    test_assert_contains(msg, "bad-options", "irq", "invalid default '99'");
    g_free(msg);
}

static void test_core_key(void)
{
    char *msg = load_error("bad-corekey.so");
    test_assert_contains(msg, "bad-corekey", "'pcap'", "core owns");
    g_free(msg);
}

static void test_mmu_ops(void)
{
    char *msg = load_error("bad-mmu.so");
    test_assert_contains(msg, "bad-mmu", "LilyMmuOps", "fault and translate");
    g_free(msg);
}

static void test_duplicate(void)
{
    Registry reg;
    registry_init(&reg);
    GError *err = NULL;
    g_assert_true(registry_load_file(&reg, TEST_BAD_DIR "/dup-a.so", &err));
    g_assert_false(registry_load_file(&reg, TEST_BAD_DIR "/dup-b.so", &err));
    test_assert_contains(err->message, "duplicate plugin name 'test-dup'", "dup-a.so",
                         "dup-b.so");
    g_clear_error(&err);
    g_assert_cmpuint(reg.plugins->len, ==, 1);
    registry_clear(&reg);
}

static void test_scan_warns(void)
{
    Registry reg;
    registry_init(&reg);
    GPtrArray *warnings = g_ptr_array_new_with_free_func(g_free);
    registry_scan_dir(&reg, TEST_BAD_DIR, warnings);
    /* Only dup-a survives; every other file produced one warning. */
    g_assert_cmpuint(reg.plugins->len, ==, 1);
    g_assert_nonnull(registry_find(&reg, "test-dup"));
    g_assert_cmpuint(warnings->len, ==, 9);
    registry_clear(&reg);
    g_ptr_array_free(warnings, TRUE);
}

static void test_requested_failure(void)
{
    /* A config asking for a plugin whose file failed gets the reason. */
    LilyVm *vm = vm_new();
    GPtrArray *warnings = g_ptr_array_new_with_free_func(g_free);
    registry_scan_dir(vm_registry(vm), TEST_BAD_DIR, warnings);
    GError *err = NULL;
    g_assert_false(vm_configure_data(vm, "[device x]\nplugin = bad-major\n", "t.conf", &err));
    test_assert_contains(err->message, "t.conf:2", "bad-major", "failed to load",
                         "incompatible");
    g_clear_error(&err);
    g_ptr_array_free(warnings, TRUE);
    vm_free(vm);
}

static void test_default_dirs(void)
{
    g_setenv("LILYVM_PLUGIN_PATH", TEST_PLUGIN_DIR ":/nonexistent", TRUE);
    GPtrArray *dirs = registry_default_dirs();
    gboolean found = FALSE;
    for (guint i = 0; i < dirs->len; i++)
        found |= g_str_has_suffix(g_ptr_array_index(dirs, i), "/tests/core/plugins");
    g_assert_true(found);
    g_ptr_array_free(dirs, TRUE);
    LilyVm *vm = vm_new();
    GError *err = NULL;
    g_assert_true(vm_load_plugins(vm, &err));
    g_assert_nonnull(registry_find(vm_registry(vm), "test-chip"));
    vm_free(vm);
    g_unsetenv("LILYVM_PLUGIN_PATH");
}

/* An installed tree: PREFIX/bin/lilyvm finds PREFIX/lib/lilyvm/plugins, after
 * PREFIX/bin/plugins and before the configured directory. */
static void test_dirs_relocated(void)
{
    char *top = g_dir_make_tmp("lilyvm-reg-XXXXXX", NULL);
    g_assert_nonnull(top);
    char *bin = g_build_filename(top, "bin", NULL);
    char *beside = g_build_filename(bin, "plugins", NULL);
    char *lib = g_build_filename(top, "lib", "lilyvm", "plugins", NULL);
    g_assert_cmpint(g_mkdir_with_parents(beside, 0700), ==, 0);
    g_assert_cmpint(g_mkdir_with_parents(lib, 0700), ==, 0);
    char *exe = g_build_filename(bin, "lilyvm", NULL);
    g_unsetenv("LILYVM_PLUGIN_PATH");
    GPtrArray *dirs = registry_dirs_for_exe(exe);
    g_assert_cmpuint(dirs->len, >=, 2);
    char *real_beside = realpath(beside, NULL), *real_lib = realpath(lib, NULL);
    g_assert_cmpstr(g_ptr_array_index(dirs, 0), ==, real_beside);
    g_assert_cmpstr(g_ptr_array_index(dirs, 1), ==, real_lib);
    /* The configured directory, if it exists here, comes after. */
    char *configured = realpath(LILYVM_PLUGINDIR, NULL);
    if (configured && strcmp(configured, real_lib) != 0) {
        g_assert_cmpuint(dirs->len, >=, 3);
        g_assert_cmpstr(g_ptr_array_index(dirs, 2), ==, configured);
    }
    free(configured);
    free(real_beside);
    free(real_lib);
    g_ptr_array_free(dirs, TRUE);
    /* No directory of the installed layout: nothing relative is searched. */
    g_assert_cmpint(g_rmdir(lib), ==, 0);
    g_assert_cmpint(g_rmdir(beside), ==, 0);
    dirs = registry_dirs_for_exe(exe);
    for (guint i = 0; i < dirs->len; i++)
        g_assert_false(g_str_has_prefix(g_ptr_array_index(dirs, i), top));
    g_ptr_array_free(dirs, TRUE);
    char *libdir = g_build_filename(top, "lib", "lilyvm", NULL);
    g_rmdir(libdir);
    g_free(libdir);
    libdir = g_build_filename(top, "lib", NULL);
    g_rmdir(libdir);
    g_free(libdir);
    g_rmdir(bin);
    g_rmdir(top);
    g_free(exe);
    g_free(lib);
    g_free(beside);
    g_free(bin);
    g_free(top);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/core/registry/good", test_good);
    g_test_add_func("/core/registry/abi-major", test_major);
    g_test_add_func("/core/registry/abi-minor", test_minor);
    g_test_add_func("/core/registry/no-entry", test_no_entry);
    g_test_add_func("/core/registry/garbage", test_garbage);
    g_test_add_func("/core/registry/missing-library", test_missing_library);
    g_test_add_func("/core/registry/bad-options", test_bad_options);
    g_test_add_func("/core/registry/core-key", test_core_key);
    g_test_add_func("/core/registry/mmu-ops", test_mmu_ops);
    g_test_add_func("/core/registry/duplicate", test_duplicate);
    g_test_add_func("/core/registry/scan-warns", test_scan_warns);
    g_test_add_func("/core/registry/requested-failure", test_requested_failure);
    g_test_add_func("/core/registry/default-dirs", test_default_dirs);
    g_test_add_func("/core/registry/dirs-relocated", test_dirs_relocated);
    return g_test_run();
}
