/*
 * Multiboot (version 1) loader for ELF32 i386 kernels: copies the loadable
 * segments into guest RAM and builds the multiboot information structure
 * (memory sizes, memory map, command line, boot loader name).
 */
#ifndef LILYVM_CORE_LOADER_H
#define LILYVM_CORE_LOADER_H

#include "src/core/memory.h"

/* The machine state the kernel expects at its entry point (Multiboot 1 §3.2). */
typedef struct LoaderBoot {
    uint32_t entry;       /* EIP */
    uint32_t eax;         /* 0x2BADB002 */
    uint32_t ebx;         /* guest-physical address of the multiboot info */
    uint32_t image_start; /* lowest guest-physical address loaded */
    uint32_t image_end;   /* one past the highest (bss included) */
} LoaderBoot;

#define LOADER_ERROR (loader_error_quark())
GQuark loader_error_quark(void);
typedef enum LoaderError {
    LOADER_ERROR_IO,        /* cannot open or read the file */
    LOADER_ERROR_FORMAT,    /* not ELF, truncated, wrong class/machine/type */
    LOADER_ERROR_MULTIBOOT, /* no or bad multiboot header */
    LOADER_ERROR_RANGE,     /* a segment or the boot info does not fit in RAM */
} LoaderError;

/* Load the kernel at path into ram; cmdline may be NULL. */
gboolean loader_load_multiboot(GuestRam *ram, const char *path, const char *cmdline,
                               LoaderBoot *boot, GError **error);
/* The same from a buffer already in memory (name is used in messages). */
gboolean loader_load_multiboot_data(GuestRam *ram, const uint8_t *image, size_t len,
                                    const char *name, const char *cmdline,
                                    LoaderBoot *boot, GError **error);

#endif
