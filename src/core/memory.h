/*
 * Guest RAM: one memfd, mapped once into the VM process.  The guest process
 * later maps pages of the same memfd at guest-virtual addresses.
 */
#ifndef LILYVM_CORE_MEMORY_H
#define LILYVM_CORE_MEMORY_H

#include <glib.h>
#include <stdint.h>

typedef struct GuestRam {
    int fd;          /* the memfd; guest-physical address == file offset */
    uint8_t *host;   /* the VM process's mapping of the whole file */
    uint64_t size;   /* bytes, a multiple of 4 KiB */
} GuestRam;

/* Create size bytes of zeroed guest RAM (size rounded up to 4 KiB). */
gboolean guest_ram_create(GuestRam *ram, uint64_t size, GError **error);
void guest_ram_destroy(GuestRam *ram);

/* Host pointer for [gpa, gpa+len) or NULL if any of it is outside RAM. */
uint8_t *guest_phys_to_host(const GuestRam *ram, uint64_t gpa, uint64_t len);

#endif
