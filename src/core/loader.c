/*
 * Multiboot (version 1) loader: validates an ELF32 i386 kernel, copies its
 * loadable segments into guest RAM and builds the multiboot information.
 */
#include "src/core/loader.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * DOC: Theory of operation
 *
 * The kernel is checked completely before a byte of guest RAM is written:
 * ELF header, program header table, every PT_LOAD segment, the Multiboot
 * header, the place of every segment in guest RAM.  Only then are the
 * segments copied (or, with Multiboot header bit 16, the range the header's
 * address fields name) and their bss zeroed.
 *
 * Segments are placed at their physical address (p_paddr), as GRUB and QEMU
 * do: a higher-half kernel is linked at 0xC0100000 but loaded at 1 MiB with
 * AT().  Its entry point is translated the same way when it lies in a
 * segment's virtual range.
 *
 * The multiboot information (the info structure, the memory map, the
 * command line and the boot loader name) goes into one page-aligned block:
 * just below 0x9F000 in conventional memory if the image leaves room there,
 * else just below the image, else just after it.
 */

#define MB_HEADER_MAGIC 0x1BADB002u
#define MB_BOOT_MAGIC 0x2BADB002u
#define MB_SEARCH_LEN 8192u     /* the header lies within the first 8 KiB */
#define MB_DIAG_SEARCH (1u << 20) /* how far we look to explain a misplaced one */

/* Header flags (Multiboot 1 §3.1.2). */
#define MB_F_PAGE_ALIGN 0x00000001u
#define MB_F_MEMORY_INFO 0x00000002u
#define MB_F_VIDEO_MODE 0x00000004u
#define MB_F_ADDRESS 0x00010000u
#define MB_F_SUPPORTED_REQUIRED (MB_F_PAGE_ALIGN | MB_F_MEMORY_INFO | MB_F_VIDEO_MODE)

/* Info flags (Multiboot 1 §3.3). */
#define MBI_F_MEM 0x00000001u
#define MBI_F_CMDLINE 0x00000004u
#define MBI_F_MMAP 0x00000040u
#define MBI_F_BOOT_LOADER_NAME 0x00000200u

/* The guest's view of low memory, as the memory map reports it. */
#define LOW_MEM_END 0x9FC00u    /* 639 KiB of conventional memory */
#define EBDA_END 0xA0000u
#define BIOS_START 0xF0000u
#define HIGH_MEM_START 0x100000u
#define MBI_LOW_TOP 0x9F000u    /* the info block ends at or below this */
#define MBI_LOW_FLOOR 0x1000u   /* and never uses page 0 */

#define CMDLINE_MAX 4096u       /* bytes including the terminating NUL */
#define BOOT_LOADER_NAME "LilyVM"

/* Byte offsets in the multiboot info structure (116 bytes in all). */
enum {
    MBI_FLAGS = 0,
    MBI_MEM_LOWER = 4,
    MBI_MEM_UPPER = 8,
    MBI_CMDLINE = 16,
    MBI_MMAP_LENGTH = 44,
    MBI_MMAP_ADDR = 48,
    MBI_BOOT_LOADER_NAME = 64,
    MBI_SIZE = 116,
};

#define MMAP_ENTRY_SIZE 24u /* size field (4) + base (8) + length (8) + type (4) */
#define MMAP_ENTRIES 4u
#define MMAP_AVAILABLE 1u
#define MMAP_RESERVED 2u

/* The Multiboot header, as found in the file. */
typedef struct MbHeader {
    size_t offset; /* file offset of the magic */
    uint32_t flags;
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
} MbHeader;

/* A PT_LOAD program header and its index in the table (for messages). */
typedef struct LoadSegment {
    Elf32_Phdr ph;
    unsigned index;
} LoadSegment;

/* One range to put in guest RAM: file bytes [file_off, +filesz), then zeros. */
typedef struct LoadRange {
    uint64_t paddr;
    uint64_t memsz;
    uint64_t file_off;
    uint64_t filesz;
} LoadRange;

G_DEFINE_QUARK(lilyvm-loader-error-quark, loader_error)

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return GUINT32_FROM_LE(v);
}

static void wr32(uint8_t *p, uint32_t v)
{
    v = GUINT32_TO_LE(v);
    memcpy(p, &v, sizeof v);
}

static void wr64(uint8_t *p, uint64_t v)
{
    v = GUINT64_TO_LE(v);
    memcpy(p, &v, sizeof v);
}

/* "32 MiB", or "1536 KiB" when the size is not a whole number of MiB. */
static char *ram_size_text(uint64_t size)
{
    if (size % (1u << 20) == 0)
        return g_strdup_printf("%" G_GUINT64_FORMAT " MiB", size >> 20);
    return g_strdup_printf("%" G_GUINT64_FORMAT " KiB", size >> 10);
}

static const char *elf_type_text(uint16_t type)
{
    switch (type) {
    case ET_NONE: return "no file type (ET_NONE)";
    case ET_REL: return "a relocatable object (ET_REL)";
    case ET_DYN: return "a shared object or position-independent executable (ET_DYN)";
    case ET_CORE: return "a core dump (ET_CORE)";
    default: return "an unknown file type";
    }
}

static const char *elf_machine_text(uint16_t machine)
{
    switch (machine) {
    case EM_X86_64: return "x86-64 (EM_X86_64)";
    case EM_ARM: return "ARM (EM_ARM)";
    case EM_AARCH64: return "AArch64 (EM_AARCH64)";
    case EM_RISCV: return "RISC-V (EM_RISCV)";
    case EM_PPC: return "PowerPC (EM_PPC)";
    case EM_MIPS: return "MIPS (EM_MIPS)";
    default: return NULL;
    }
}

/* Check the ELF file header; fill *eh. */
static gboolean check_elf_header(const uint8_t *image, size_t len, const char *name,
                                 Elf32_Ehdr *eh, GError **error)
{
    if (len < SELFMAG || memcmp(image, ELFMAG, SELFMAG) != 0) {
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_FORMAT,
                    "%s: not an ELF file (no \\177ELF magic); LilyVM loads ELF32 i386 "
                    "Multiboot kernels", name);
        return FALSE;
    }
    if (len < EI_NIDENT) {
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_FORMAT,
                    "%s: truncated ELF header (%zu bytes; an ELF32 header is %zu)",
                    name, len, sizeof *eh);
        return FALSE;
    }
    if (image[EI_CLASS] != ELFCLASS32) {
        const char *cls = image[EI_CLASS] == ELFCLASS64 ? "64-bit" : "invalid";
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_FORMAT,
                    "%s: ELF class %s (%u); LilyVM loads 32-bit (ELFCLASS32) i386 kernels",
                    name, cls, image[EI_CLASS]);
        return FALSE;
    }
    if (image[EI_DATA] != ELFDATA2LSB) {
        const char *data = image[EI_DATA] == ELFDATA2MSB ? "big-endian (ELFDATA2MSB)"
                                                         : "invalid byte order";
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_FORMAT,
                    "%s: ELF data encoding is %s; LilyVM loads little-endian "
                    "(ELFDATA2LSB) i386 kernels", name, data);
        return FALSE;
    }
    if (len < sizeof *eh) {
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_FORMAT,
                    "%s: truncated ELF header (%zu bytes; an ELF32 header is %zu)",
                    name, len, sizeof *eh);
        return FALSE;
    }
    memcpy(eh, image, sizeof *eh);
    eh->e_type = GUINT16_FROM_LE(eh->e_type);
    eh->e_machine = GUINT16_FROM_LE(eh->e_machine);
    eh->e_version = GUINT32_FROM_LE(eh->e_version);
    eh->e_entry = GUINT32_FROM_LE(eh->e_entry);
    eh->e_phoff = GUINT32_FROM_LE(eh->e_phoff);
    eh->e_ehsize = GUINT16_FROM_LE(eh->e_ehsize);
    eh->e_phentsize = GUINT16_FROM_LE(eh->e_phentsize);
    eh->e_phnum = GUINT16_FROM_LE(eh->e_phnum);

    if (image[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT) {
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_FORMAT,
                    "%s: ELF version %u/%u; LilyVM loads version 1 (EV_CURRENT)",
                    name, image[EI_VERSION], eh->e_version);
        return FALSE;
    }
    if (eh->e_machine != EM_386) {
        const char *m = elf_machine_text(eh->e_machine);
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_FORMAT,
                    "%s: ELF machine is %s%s%u%s; LilyVM loads i386 (EM_386) kernels",
                    name, m ? m : "", m ? " [" : "", eh->e_machine, m ? "]" : "");
        return FALSE;
    }
    if (eh->e_type != ET_EXEC) {
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_FORMAT,
                    "%s: ELF file is %s; LilyVM loads executables (ET_EXEC): link the "
                    "kernel with -static -no-pie", name, elf_type_text(eh->e_type));
        return FALSE;
    }
    if (eh->e_ehsize != sizeof *eh) {
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_FORMAT,
                    "%s: ELF header size (e_ehsize) is %u; an ELF32 header is %zu bytes",
                    name, eh->e_ehsize, sizeof *eh);
        return FALSE;
    }
    return TRUE;
}

/* Check the program header table; append its non-empty PT_LOAD entries to segs. */
static gboolean check_program_headers(const uint8_t *image, size_t len, const char *name,
                                      const Elf32_Ehdr *eh, GArray *segs, GError **error)
{
    if (eh->e_phnum == 0) {
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_FORMAT,
                    "%s: no program headers (e_phnum is 0); LilyVM loads the PT_LOAD "
                    "segments of a linked executable", name);
        return FALSE;
    }
    if (eh->e_phentsize != sizeof(Elf32_Phdr)) {
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_FORMAT,
                    "%s: program header size (e_phentsize) is %u; an ELF32 program header "
                    "is %zu bytes", name, eh->e_phentsize, sizeof(Elf32_Phdr));
        return FALSE;
    }
    uint64_t table_end = (uint64_t)eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf32_Phdr);
    if (table_end > len) {
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_FORMAT,
                    "%s: program header table [0x%x, 0x%" G_GINT64_MODIFIER "x) "
                    "(%u entries) runs past the end of the file (%zu bytes): truncated file?",
                    name, eh->e_phoff, table_end, eh->e_phnum, len);
        return FALSE;
    }

    for (unsigned i = 0; i < eh->e_phnum; i++) {
        Elf32_Phdr ph;
        memcpy(&ph, image + eh->e_phoff + (size_t)i * sizeof ph, sizeof ph);
        ph.p_type = GUINT32_FROM_LE(ph.p_type);
        ph.p_offset = GUINT32_FROM_LE(ph.p_offset);
        ph.p_vaddr = GUINT32_FROM_LE(ph.p_vaddr);
        ph.p_paddr = GUINT32_FROM_LE(ph.p_paddr);
        ph.p_filesz = GUINT32_FROM_LE(ph.p_filesz);
        ph.p_memsz = GUINT32_FROM_LE(ph.p_memsz);
        ph.p_flags = GUINT32_FROM_LE(ph.p_flags);
        ph.p_align = GUINT32_FROM_LE(ph.p_align);
        if (ph.p_type != PT_LOAD)
            continue;

        uint64_t file_end = (uint64_t)ph.p_offset + ph.p_filesz;
        if (file_end > len) {
            g_set_error(error, LOADER_ERROR, LOADER_ERROR_FORMAT,
                        "%s: segment %u's file data [0x%x, 0x%" G_GINT64_MODIFIER "x) runs "
                        "past the end of the file (%zu bytes): truncated file?",
                        name, i, ph.p_offset, file_end, len);
            return FALSE;
        }
        if (ph.p_filesz > ph.p_memsz) {
            g_set_error(error, LOADER_ERROR, LOADER_ERROR_FORMAT,
                        "%s: segment %u has more file data (p_filesz 0x%x) than memory "
                        "(p_memsz 0x%x); p_filesz must not exceed p_memsz",
                        name, i, ph.p_filesz, ph.p_memsz);
            return FALSE;
        }
        if ((uint64_t)ph.p_paddr + ph.p_memsz > (1ull << 32) ||
            (uint64_t)ph.p_vaddr + ph.p_memsz > (1ull << 32)) {
            g_set_error(error, LOADER_ERROR, LOADER_ERROR_FORMAT,
                        "%s: segment %u (p_paddr 0x%x, p_vaddr 0x%x, p_memsz 0x%x) wraps "
                        "past 4 GiB; an i386 segment must end at or below 0x100000000",
                        name, i, ph.p_paddr, ph.p_vaddr, ph.p_memsz);
            return FALSE;
        }
        if (ph.p_memsz == 0)
            continue;
        LoadSegment seg = { ph, i };
        g_array_append_val(segs, seg);
    }
    if (segs->len == 0) {
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_FORMAT,
                    "%s: no loadable (PT_LOAD) segment with a non-zero size; nothing to load",
                    name);
        return FALSE;
    }
    return TRUE;
}

/* Look for a Multiboot header whose checksum holds at a 4-byte aligned offset. */
static gboolean find_multiboot_header(const uint8_t *image, size_t len, const char *name,
                                      MbHeader *mb, GError **error)
{
    size_t search_end = MIN(len, (size_t)MB_SEARCH_LEN);
    gssize bad_checksum_at = -1;
    uint32_t bad_sum = 0;

    for (size_t off = 0; off + 12 <= search_end; off += 4) {
        if (rd32(image + off) != MB_HEADER_MAGIC)
            continue;
        uint32_t flags = rd32(image + off + 4);
        uint32_t sum = MB_HEADER_MAGIC + flags + rd32(image + off + 8);
        if (sum != 0) {
            if (bad_checksum_at < 0) {
                bad_checksum_at = (gssize)off;
                bad_sum = sum;
            }
            continue;
        }
        mb->offset = off;
        mb->flags = flags;
        size_t need = 12;
        if (flags & MB_F_ADDRESS)
            need = 32;
        if (flags & MB_F_VIDEO_MODE)
            need = 48;
        if (off + need > search_end) {
            g_set_error(error, LOADER_ERROR, LOADER_ERROR_MULTIBOOT,
                        "%s: Multiboot header at file offset 0x%zx (flags 0x%08x) is %zu bytes "
                        "and does not end within the first %u bytes of the file%s",
                        name, off, flags, need, MB_SEARCH_LEN,
                        off + need > len ? " (the file ends first)" : "");
            return FALSE;
        }
        if (flags & MB_F_ADDRESS) {
            mb->header_addr = rd32(image + off + 12);
            mb->load_addr = rd32(image + off + 16);
            mb->load_end_addr = rd32(image + off + 20);
            mb->bss_end_addr = rd32(image + off + 24);
            mb->entry_addr = rd32(image + off + 28);
        }
        return TRUE;
    }

    if (bad_checksum_at >= 0) {
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_MULTIBOOT,
                    "%s: Multiboot header at file offset 0x%zx has a bad checksum "
                    "(magic + flags + checksum = 0x%08x; it must be 0)",
                    name, (size_t)bad_checksum_at, bad_sum);
        return FALSE;
    }
    /* Explain the common mistakes: the header is there but misplaced. */
    size_t diag_end = MIN(len, (size_t)MB_DIAG_SEARCH);
    for (size_t off = 0; off + 4 <= diag_end; off++) {
        if (rd32(image + off) != MB_HEADER_MAGIC)
            continue;
        if (off % 4 != 0 && off < MB_SEARCH_LEN) {
            g_set_error(error, LOADER_ERROR, LOADER_ERROR_MULTIBOOT,
                        "%s: Multiboot header at file offset 0x%zx is not 4-byte aligned; "
                        "align the header section to 4 bytes", name, off);
            return FALSE;
        }
        if (off >= MB_SEARCH_LEN) {
            g_set_error(error, LOADER_ERROR, LOADER_ERROR_MULTIBOOT,
                        "%s: Multiboot header at file offset 0x%zx lies beyond the first "
                        "%u bytes of the file, where LilyVM looks for it; put the header "
                        "section first in the linker script", name, off, MB_SEARCH_LEN);
            return FALSE;
        }
    }
    g_set_error(error, LOADER_ERROR, LOADER_ERROR_MULTIBOOT,
                "%s: no Multiboot header (magic 0x%08X) in the first %u bytes; LilyVM boots "
                "Multiboot 1 kernels", name, MB_HEADER_MAGIC, MB_SEARCH_LEN);
    return FALSE;
}

static gboolean check_multiboot_flags(const char *name, const MbHeader *mb, GError **error)
{
    uint32_t unsupported = mb->flags & 0xFFFFu & ~MB_F_SUPPORTED_REQUIRED;
    if (unsupported == 0)
        return TRUE;

    GString *bits = g_string_new(NULL);
    for (unsigned b = 0; b < 16; b++) {
        if (unsupported & (1u << b))
            g_string_append_printf(bits, "%s%u", bits->len ? ", " : "", b);
    }
    g_set_error(error, LOADER_ERROR, LOADER_ERROR_MULTIBOOT,
                "%s: Multiboot header flags 0x%08x require feature bit%s %s, which LilyVM "
                "does not provide; it provides bits 0 (page-aligned modules), 1 (memory "
                "information) and 2 (video mode, as text mode)",
                name, mb->flags, strchr(bits->str, ',') ? "s" : "", bits->str);
    g_string_free(bits, TRUE);
    return FALSE;
}

/*
 * The range the header's address fields describe (flags bit 16, the "a.out
 * kludge").  GRUB and QEMU both prefer these fields over the ELF program
 * headers when the bit is set, so LilyVM does too.
 */
static gboolean address_fields_range(size_t len, const char *name, const MbHeader *mb,
                                     LoadRange *r, GError **error)
{
    if (mb->load_addr > mb->header_addr ||
        mb->header_addr - mb->load_addr > mb->offset) {
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_MULTIBOOT,
                    "%s: Multiboot address fields: header_addr 0x%x and load_addr 0x%x "
                    "do not fit the header's file offset 0x%zx (load_addr must be <= "
                    "header_addr and header_addr - load_addr <= the offset)",
                    name, mb->header_addr, mb->load_addr, mb->offset);
        return FALSE;
    }
    r->paddr = mb->load_addr;
    r->file_off = mb->offset - (mb->header_addr - mb->load_addr);
    if (mb->load_end_addr == 0) {
        r->filesz = len - r->file_off;
    } else if (mb->load_end_addr < mb->load_addr) {
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_MULTIBOOT,
                    "%s: Multiboot address fields: load_end_addr 0x%x is below load_addr "
                    "0x%x", name, mb->load_end_addr, mb->load_addr);
        return FALSE;
    } else {
        r->filesz = mb->load_end_addr - mb->load_addr;
    }
    if (r->file_off + r->filesz > len) {
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_MULTIBOOT,
                    "%s: Multiboot address fields ask for file bytes [0x%" G_GINT64_MODIFIER
                    "x, 0x%" G_GINT64_MODIFIER "x) but the file is %zu bytes",
                    name, r->file_off, r->file_off + r->filesz, len);
        return FALSE;
    }
    r->memsz = r->filesz;
    if (mb->bss_end_addr != 0) {
        if (mb->bss_end_addr < r->paddr + r->filesz) {
            g_set_error(error, LOADER_ERROR, LOADER_ERROR_MULTIBOOT,
                        "%s: Multiboot address fields: bss_end_addr 0x%x is below the end "
                        "of the loaded data 0x%" G_GINT64_MODIFIER "x",
                        name, mb->bss_end_addr, r->paddr + r->filesz);
            return FALSE;
        }
        r->memsz = mb->bss_end_addr - r->paddr;
    }
    if (r->paddr + r->memsz > (1ull << 32)) {
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_MULTIBOOT,
                    "%s: Multiboot address fields: the image [0x%" G_GINT64_MODIFIER "x, "
                    "0x%" G_GINT64_MODIFIER "x) wraps past 4 GiB",
                    name, r->paddr, r->paddr + r->memsz);
        return FALSE;
    }
    if (mb->entry_addr < r->paddr || mb->entry_addr >= r->paddr + MAX(r->memsz, 1)) {
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_MULTIBOOT,
                    "%s: Multiboot entry_addr 0x%x is outside the loaded image [0x%"
                    G_GINT64_MODIFIER "x, 0x%" G_GINT64_MODIFIER "x)",
                    name, mb->entry_addr, r->paddr, r->paddr + r->memsz);
        return FALSE;
    }
    return TRUE;
}

static gboolean overlaps(uint64_t a_start, uint64_t a_end, uint64_t b_start, uint64_t b_end)
{
    return a_start < b_end && b_start < a_end;
}

/*
 * Check that [start, end) lies in guest RAM and outside the legacy hole
 * [0xA0000, 0xF0000) that the memory map gives to nobody (video memory and
 * option ROMs on a PC, device memory here).  The reserved ranges around it
 * are RAM in LilyVM: a kernel linked with -Ttext=0x100000 puts its ELF
 * headers at 0xFF000, and loading them there is harmless.
 */
static gboolean check_in_ram(const GuestRam *ram, const char *name, const char *what,
                             uint64_t start, uint64_t end, GError **error)
{
    if (end > ram->size) {
        g_autofree char *size = ram_size_text(ram->size);
        const char *hint = start >= 0x80000000u
            ? " (LilyVM loads segments at their physical address p_paddr; a higher-half "
              "kernel needs AT() load addresses in its linker script)"
            : "; raise [machine] memory";
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_RANGE,
                    "%s: %s [0x%" G_GINT64_MODIFIER "x, 0x%" G_GINT64_MODIFIER "x) does "
                    "not fit in %s of guest RAM%s", name, what, start, end, size, hint);
        return FALSE;
    }
    if (overlaps(start, end, EBDA_END, BIOS_START)) {
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_RANGE,
                    "%s: %s [0x%" G_GINT64_MODIFIER "x, 0x%" G_GINT64_MODIFIER "x) overlaps "
                    "the legacy video and ROM hole [0x%x, 0x%x), which is not RAM for the "
                    "kernel; load the kernel below 0x%x or at or above 1 MiB",
                    name, what, start, end, EBDA_END, BIOS_START, LOW_MEM_END);
        return FALSE;
    }
    return TRUE;
}

/* Choose a page-aligned place for a boot-info block of size bytes. */
static gboolean place_boot_info(const GuestRam *ram, const char *name, uint64_t size,
                                uint64_t image_start, uint64_t image_end, uint64_t *where,
                                GError **error)
{
    uint64_t span = (size + 0xFFF) & ~(uint64_t)0xFFF;
    uint64_t candidates[3];
    unsigned n = 0;

    /* Top of conventional memory, then just below the image, then above it. */
    if (span <= MBI_LOW_TOP - MBI_LOW_FLOOR)
        candidates[n++] = MBI_LOW_TOP - span;
    if (image_start >= MBI_LOW_FLOOR + span && image_start <= LOW_MEM_END)
        candidates[n++] = ((image_start & ~(uint64_t)0xFFF) - span);
    candidates[n++] = (image_end + 0xFFF) & ~(uint64_t)0xFFF;

    for (unsigned i = 0; i < n; i++) {
        uint64_t start = candidates[i], end = start + span;
        if (start < MBI_LOW_FLOOR || end > ram->size || end > (1ull << 32))
            continue;
        if (overlaps(start, end, image_start, image_end))
            continue;
        if (start < HIGH_MEM_START && end > LOW_MEM_END)
            continue;
        *where = start;
        return TRUE;
    }
    g_autofree char *ram_text = ram_size_text(ram->size);
    g_set_error(error, LOADER_ERROR, LOADER_ERROR_RANGE,
                "%s: no room for the %" G_GUINT64_FORMAT "-byte multiboot information: the "
                "image [0x%" G_GINT64_MODIFIER "x, 0x%" G_GINT64_MODIFIER "x) leaves no free "
                "page below 0x%x nor above it in %s of guest RAM; raise [machine] memory",
                name, size, image_start, image_end, MBI_LOW_TOP, ram_text);
    return FALSE;
}

/* Write the multiboot info, memory map, command line and loader name at gpa. */
static void write_boot_info(GuestRam *ram, uint64_t gpa, uint64_t span, const char *cmdline,
                            size_t cmdline_len)
{
    uint8_t *block = ram->host + gpa;
    uint32_t mmap_gpa = (uint32_t)gpa + MBI_SIZE;
    uint32_t cmdline_gpa = mmap_gpa + MMAP_ENTRIES * MMAP_ENTRY_SIZE;
    uint32_t name_gpa = cmdline_gpa + (uint32_t)cmdline_len + 1;
    uint64_t upper_kib = (ram->size - HIGH_MEM_START) >> 10;

    memset(block, 0, span);
    wr32(block + MBI_FLAGS, MBI_F_MEM | MBI_F_CMDLINE | MBI_F_MMAP | MBI_F_BOOT_LOADER_NAME);
    /* 640 as QEMU reports it; the memory map gives the exact 639 KiB. */
    wr32(block + MBI_MEM_LOWER, EBDA_END >> 10);
    wr32(block + MBI_MEM_UPPER, (uint32_t)MIN(upper_kib, (uint64_t)UINT32_MAX));
    wr32(block + MBI_CMDLINE, cmdline_gpa);
    wr32(block + MBI_MMAP_LENGTH, MMAP_ENTRIES * MMAP_ENTRY_SIZE);
    wr32(block + MBI_MMAP_ADDR, mmap_gpa);
    wr32(block + MBI_BOOT_LOADER_NAME, name_gpa);

    static const struct { uint64_t base, end; uint32_t type; } map[MMAP_ENTRIES - 1] = {
        { 0, LOW_MEM_END, MMAP_AVAILABLE },
        { LOW_MEM_END, EBDA_END, MMAP_RESERVED },
        { BIOS_START, HIGH_MEM_START, MMAP_RESERVED },
    };
    uint8_t *e = ram->host + mmap_gpa;
    for (unsigned i = 0; i < MMAP_ENTRIES; i++, e += MMAP_ENTRY_SIZE) {
        uint64_t base = i < MMAP_ENTRIES - 1 ? map[i].base : HIGH_MEM_START;
        uint64_t end = i < MMAP_ENTRIES - 1 ? map[i].end : ram->size;
        uint32_t type = i < MMAP_ENTRIES - 1 ? map[i].type : MMAP_AVAILABLE;
        /* The size field counts the bytes after itself. */
        wr32(e, MMAP_ENTRY_SIZE - 4);
        wr64(e + 4, base);
        wr64(e + 12, end - base);
        wr32(e + 20, type);
    }
    memcpy(ram->host + cmdline_gpa, cmdline, cmdline_len);
    memcpy(ram->host + name_gpa, BOOT_LOADER_NAME, sizeof BOOT_LOADER_NAME);
}

/* Copy a range's file bytes into guest RAM and zero the rest of it. */
static void load_range(GuestRam *ram, const uint8_t *image, const LoadRange *r)
{
    uint8_t *dst = ram->host + r->paddr;
    memcpy(dst, image + r->file_off, r->filesz);
    memset(dst + r->filesz, 0, r->memsz - r->filesz);
}

gboolean loader_load_multiboot_data(GuestRam *ram, const uint8_t *image, size_t len,
                                    const char *name, const char *cmdline,
                                    LoaderBoot *boot, GError **error)
{
    g_return_val_if_fail(ram != NULL && ram->host != NULL, FALSE);
    g_return_val_if_fail(image != NULL || len == 0, FALSE);
    g_return_val_if_fail(boot != NULL, FALSE);
    if (name == NULL)
        name = "kernel";
    if (cmdline == NULL)
        cmdline = "";

    gboolean ok = FALSE;
    Elf32_Ehdr eh;
    MbHeader mb = { 0 };
    GArray *segs = g_array_new(FALSE, FALSE, sizeof(LoadSegment));
    GArray *ranges = g_array_new(FALSE, FALSE, sizeof(LoadRange));
    uint32_t entry = 0;

    if (!check_elf_header(image, len, name, &eh, error))
        goto out_free_arrays;
    if (!check_program_headers(image, len, name, &eh, segs, error))
        goto out_free_arrays;
    if (!find_multiboot_header(image, len, name, &mb, error))
        goto out_free_arrays;
    if (!check_multiboot_flags(name, &mb, error))
        goto out_free_arrays;

    if (ram->size < HIGH_MEM_START) {
        g_autofree char *size = ram_size_text(ram->size);
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_RANGE,
                    "%s: %s of guest RAM is too little; Multiboot kernels need at least "
                    "1 MiB (raise [machine] memory)", name, size);
        goto out_free_arrays;
    }

    if (mb.flags & MB_F_ADDRESS) {
        LoadRange r;
        if (!address_fields_range(len, name, &mb, &r, error))
            goto out_free_arrays;
        if (!check_in_ram(ram, name, "Multiboot load range", r.paddr, r.paddr + r.memsz, error))
            goto out_free_arrays;
        g_array_append_val(ranges, r);
        entry = mb.entry_addr;
    } else {
        gboolean entry_found = FALSE;
        for (guint i = 0; i < segs->len; i++) {
            const LoadSegment *seg = &g_array_index(segs, LoadSegment, i);
            const Elf32_Phdr *ph = &seg->ph;
            LoadRange r = { ph->p_paddr, ph->p_memsz, ph->p_offset, ph->p_filesz };
            g_autofree char *what = g_strdup_printf("segment %u", seg->index);
            if (!check_in_ram(ram, name, what, r.paddr, r.paddr + r.memsz, error))
                goto out_free_arrays;
            g_array_append_val(ranges, r);
            /* The entry point is virtual; load it at its physical counterpart. */
            if (!entry_found && eh.e_entry >= ph->p_vaddr &&
                eh.e_entry - ph->p_vaddr < ph->p_memsz) {
                entry = eh.e_entry - ph->p_vaddr + ph->p_paddr;
                entry_found = TRUE;
            }
        }
        for (guint i = 0; i < segs->len && !entry_found; i++) {
            const Elf32_Phdr *ph = &g_array_index(segs, LoadSegment, i).ph;
            if (eh.e_entry >= ph->p_paddr && eh.e_entry - ph->p_paddr < ph->p_memsz) {
                entry = eh.e_entry;
                entry_found = TRUE;
            }
        }
        if (!entry_found) {
            g_set_error(error, LOADER_ERROR, LOADER_ERROR_FORMAT,
                        "%s: entry point 0x%x (e_entry) is outside every loadable segment",
                        name, eh.e_entry);
            goto out_free_arrays;
        }
    }

    uint64_t image_start = UINT64_MAX, image_end = 0;
    for (guint i = 0; i < ranges->len; i++) {
        const LoadRange *r = &g_array_index(ranges, LoadRange, i);
        image_start = MIN(image_start, r->paddr);
        image_end = MAX(image_end, r->paddr + r->memsz);
    }

    size_t cmdline_len = strlen(cmdline);
    if (cmdline_len >= CMDLINE_MAX) {
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_RANGE,
                    "%s: the command line is %zu bytes; LilyVM passes at most %u",
                    name, cmdline_len, CMDLINE_MAX - 1);
        goto out_free_arrays;
    }
    uint64_t info_size = MBI_SIZE + MMAP_ENTRIES * MMAP_ENTRY_SIZE + cmdline_len + 1 +
                         sizeof BOOT_LOADER_NAME;
    uint64_t info_gpa;
    if (!place_boot_info(ram, name, info_size, image_start, image_end, &info_gpa, error))
        goto out_free_arrays;

    /* Everything is checked: now write guest RAM. */
    for (guint i = 0; i < ranges->len; i++)
        load_range(ram, image, &g_array_index(ranges, LoadRange, i));
    write_boot_info(ram, info_gpa, (info_size + 0xFFF) & ~(uint64_t)0xFFF, cmdline,
                    cmdline_len);

    boot->entry = entry;
    boot->eax = MB_BOOT_MAGIC;
    boot->ebx = (uint32_t)info_gpa;
    boot->image_start = (uint32_t)image_start;
    boot->image_end = (uint32_t)MIN(image_end, (uint64_t)UINT32_MAX);
    ok = TRUE;

out_free_arrays:
    g_array_free(ranges, TRUE);
    g_array_free(segs, TRUE);
    return ok;
}

gboolean loader_load_multiboot(GuestRam *ram, const char *path, const char *cmdline,
                               LoaderBoot *boot, GError **error)
{
    g_return_val_if_fail(path != NULL, FALSE);

    gboolean ok = FALSE;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_IO, "%s: cannot open the kernel: %s",
                    path, g_strerror(err));
        return FALSE;
    }
    if (fstat(fd, &st) != 0) {
        int err = errno;
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_IO, "%s: cannot stat the kernel: %s",
                    path, g_strerror(err));
        goto out_close;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_IO,
                    "%s: not a regular file; [machine] kernel names an ELF32 kernel file",
                    path);
        goto out_close;
    }
    /* ELF32 offsets are 32-bit: nothing useful lies past 4 GiB. */
    if ((uint64_t)st.st_size > UINT32_MAX) {
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_FORMAT,
                    "%s: the file is %" G_GINT64_FORMAT " bytes; an ELF32 kernel is smaller "
                    "than 4 GiB", path, (gint64)st.st_size);
        goto out_close;
    }
    if (st.st_size == 0) {
        ok = loader_load_multiboot_data(ram, NULL, 0, path, cmdline, boot, error);
        goto out_close;
    }
    /* Map rather than read: debug info can make a kernel file large. */
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        int err = errno;
        g_set_error(error, LOADER_ERROR, LOADER_ERROR_IO, "%s: cannot map the kernel: %s",
                    path, g_strerror(err));
        goto out_close;
    }
    ok = loader_load_multiboot_data(ram, map, (size_t)st.st_size, path, cmdline, boot, error);
    munmap(map, (size_t)st.st_size);
out_close:
    close(fd);
    return ok;
}
