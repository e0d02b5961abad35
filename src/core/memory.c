/*
 * Guest RAM: one memfd, mapped shared into the VM process; the guest
 * process maps pages of the same file later, so both see the same memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>
#include "src/core/memory.h"

gboolean guest_ram_create(GuestRam *ram, uint64_t size, GError **error)
{
    ram->fd = -1;
    ram->host = NULL;
    ram->size = 0;
    if (size == 0 || size > ((uint64_t)4 << 30)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "guest RAM size %" G_GUINT64_FORMAT " is outside 4 KiB..4 GiB", size);
        return FALSE;
    }
    size = (size + 4095) & ~(uint64_t)4095;
    int fd = memfd_create("lilyvm-ram", MFD_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                    "cannot create guest RAM (memfd_create): %s", g_strerror(e));
        return FALSE;
    }
    if (ftruncate(fd, (off_t)size) < 0) {
        int e = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                    "cannot size guest RAM to %" G_GUINT64_FORMAT " bytes: %s", size,
                    g_strerror(e));
        goto out_close_fd;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                    "cannot map %" G_GUINT64_FORMAT " bytes of guest RAM: %s", size,
                    g_strerror(e));
        goto out_close_fd;
    }
    ram->fd = fd;
    ram->host = p;
    ram->size = size;
    return TRUE;

out_close_fd:
    close(fd);
    return FALSE;
}

void guest_ram_destroy(GuestRam *ram)
{
    if (ram->host)
        munmap(ram->host, ram->size);
    if (ram->fd >= 0)
        close(ram->fd);
    ram->host = NULL;
    ram->fd = -1;
    ram->size = 0;
}

uint8_t *guest_phys_to_host(const GuestRam *ram, uint64_t gpa, uint64_t len)
{
    if (!ram->host || gpa > ram->size || len > ram->size - gpa)
        return NULL;
    return ram->host + gpa;
}
