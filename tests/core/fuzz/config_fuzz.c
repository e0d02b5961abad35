/*
 * libFuzzer target for the config reader: any text is a config file for a
 * machine with the core test plugins; it must be accepted and realized, or
 * refused with a message that says where.
 */
#include <string.h>
#include "src/core/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    char *text = g_strndup((const char *)data, size);  /* stops at a NUL byte */
    LilyVm *vm = vm_new();
    GPtrArray *warnings = g_ptr_array_new_with_free_func(g_free);
    registry_scan_dir(vm_registry(vm), FUZZ_PLUGIN_DIR, warnings);
    if (warnings->len || !registry_find(vm_registry(vm), "test-regs"))
        __builtin_trap();  /* the fuzzer would test nothing */
    GError *err = NULL;
    gboolean ok = vm_configure_data(vm, text, "fuzz.conf", &err) &&
                  vm_set_option(vm, "machine.memory=1M", &err) && vm_realize(vm, &err);
    if (ok) {
        bus_pio_read(vm, 0x500, 1);
        vm_run_for(vm, 0);
    } else if (!err || !*err->message) {
        __builtin_trap();  /* a refusal must say why */
    }
    g_clear_error(&err);
    vm_free(vm);
    g_ptr_array_free(warnings, TRUE);
    g_free(text);
    return 0;
}
