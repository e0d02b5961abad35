/*
 * libFuzzer target for the Multiboot loader: any byte string is a kernel
 * image; the loader must refuse it cleanly or load it inside guest RAM.
 */
#include "src/core/loader.h"

#include <string.h>

#define FUZZ_RAM (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static GuestRam ram;
    if (!ram.host) {
        ram.fd = -1;
        ram.size = FUZZ_RAM;
        ram.host = g_malloc0(FUZZ_RAM);
    }
    LoaderBoot boot;
    GError *error = NULL;
    if (loader_load_multiboot_data(&ram, data, size, "fuzz.elf", "console=com1", &boot,
                                   &error)) {
        /* What the loader reports must describe memory it could write. */
        if (boot.image_start > boot.image_end || boot.image_end > FUZZ_RAM ||
            boot.ebx >= FUZZ_RAM || boot.eax != 0x2BADB002)
            __builtin_trap();
    } else {
        /* Every refusal says which file it is about. */
        if (!error || strncmp(error->message, "fuzz.elf: ", 10) != 0)
            __builtin_trap();
        g_error_free(error);
    }
    return 0;
}
