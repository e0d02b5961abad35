/* Helpers shared by the core tests: a VM with the test plugins loaded. */
#ifndef LILYVM_TESTS_CORE_TESTUTIL_H
#define LILYVM_TESTS_CORE_TESTUTIL_H

#include <string.h>
#include <glib/gstdio.h>
#include "src/core/core.h"

#define TEST_PLUGIN_DIR TEST_CORE_DIR "/plugins"
#define TEST_BAD_DIR TEST_CORE_DIR "/bad"

/* A VM that knows only the test plugins (not the ones in build/plugins). */
static inline LilyVm *test_vm_new(void)
{
    LilyVm *vm = vm_new();
    GPtrArray *warnings = g_ptr_array_new_with_free_func(g_free);
    registry_scan_dir(vm_registry(vm), TEST_PLUGIN_DIR, warnings);
    g_assert_cmpuint(warnings->len, ==, 0);
    g_ptr_array_free(warnings, TRUE);
    g_assert_nonnull(registry_find(vm_registry(vm), "test-regs"));
    return vm;
}

/* Assert that msg contains every string of the NULL-terminated list. */
#define test_assert_contains(msg, ...)                                             \
    do {                                                                           \
        const char *test_needles_[] = { __VA_ARGS__, NULL };                       \
        for (const char **n_ = test_needles_; *n_; n_++) {                         \
            if (!strstr((msg), *n_))                                               \
                g_error("message \"%s\" lacks \"%s\"", (msg), *n_);                \
        }                                                                          \
    } while (0)

/* A VM configured from text and realized; fails the test on error. */
static inline LilyVm *test_vm_from(const char *text)
{
    LilyVm *vm = test_vm_new();
    GError *err = NULL;
    if (!vm_configure_data(vm, text, "test.conf", &err) || !vm_realize(vm, &err))
        g_error("config failed: %s", err->message);
    return vm;
}

/* The error message configuring text produces (the test owns it). */
static inline char *test_config_error(const char *text)
{
    LilyVm *vm = test_vm_new();
    GError *err = NULL;
    gboolean ok = vm_configure_data(vm, text, "test.conf", &err) && vm_realize(vm, &err);
    g_assert_false(ok);
    g_assert_nonnull(err);
    char *msg = g_strdup(err->message);
    g_error_free(err);
    vm_free(vm);
    return msg;
}

#endif
