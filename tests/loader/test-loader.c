/*
 * Tests of the Multiboot loader: real kernels built with the 32-bit compiler
 * (linked low, higher half, address fields) and malformed images made here.
 */
#include "src/core/loader.h"

#include <elf.h>
#include <string.h>
#include <unistd.h>

#define MIB (1024u * 1024u)
#define TEST_RAM (32 * MIB)
#define DIRT 0xAA
#define PATTERN "LilyVM loader test pattern"

/* Where the built test kernels are: beside this test program. */
static char *kernel_dir;

/*
 * Guest RAM for a test: a plain buffer whose first DIRTY_LEN bytes (where
 * the test kernels and the boot info go) are full of dirt, so zeroing shows.
 */
#define DIRTY_LEN (2 * MIB)

static GuestRam *ram_new(uint64_t size)
{
    GuestRam *ram = g_new0(GuestRam, 1);
    ram->fd = -1;
    ram->size = size;
    ram->host = g_malloc0(size);
    memset(ram->host, DIRT, MIN(size, DIRTY_LEN));
    return ram;
}

static void ram_free(GuestRam *ram)
{
    g_free(ram->host);
    g_free(ram);
}

static uint32_t ram32(const GuestRam *ram, uint64_t gpa)
{
    g_assert_cmpuint(gpa + 4, <=, ram->size);
    uint32_t v;
    memcpy(&v, ram->host + gpa, 4);
    return v;
}

static uint64_t ram64(const GuestRam *ram, uint64_t gpa)
{
    g_assert_cmpuint(gpa + 8, <=, ram->size);
    uint64_t v;
    memcpy(&v, ram->host + gpa, 8);
    return v;
}

static const char *ram_str(const GuestRam *ram, uint64_t gpa)
{
    g_assert_cmpuint(gpa, <, ram->size);
    g_assert_nonnull(memchr(ram->host + gpa, 0, ram->size - gpa));
    return (const char *)ram->host + gpa;
}

static char *kernel_path(const char *name)
{
    return g_build_filename(kernel_dir, name, NULL);
}

/* Load one of the built kernels into fresh RAM; the test fails if it does not load. */
static GuestRam *load_kernel(const char *name, const char *cmdline, LoaderBoot *boot)
{
    g_autofree char *path = kernel_path(name);
    GuestRam *ram = ram_new(TEST_RAM);
    GError *error = NULL;
    gboolean ok = loader_load_multiboot(ram, path, cmdline, boot, &error);
    g_assert_no_error(error);
    g_assert_true(ok);
    return ram;
}

/* ---- good kernels ---- */

static void test_low_entry(void)
{
    LoaderBoot boot;
    GuestRam *ram = load_kernel("kernel-low.elf", NULL, &boot);
    g_assert_cmphex(boot.entry, ==, 0x101000);
    g_assert_cmphex(boot.eax, ==, 0x2BADB002);
    g_assert_cmphex(boot.image_start, ==, 0x100000);
    g_assert_cmphex(boot.image_end, ==, 0x105000);
    /* The info block must not overlap the image. */
    g_assert_true(boot.ebx + 116 <= boot.image_start || boot.ebx >= boot.image_end);
    g_assert_cmpuint(boot.ebx % 4, ==, 0);
    ram_free(ram);
}

static void test_low_segments(void)
{
    LoaderBoot boot;
    GuestRam *ram = load_kernel("kernel-low.elf", NULL, &boot);
    /* The multiboot header is the first thing of the image. */
    g_assert_cmphex(ram32(ram, 0x100000), ==, 0x1BADB002);
    /* cli; hlt at the entry point. */
    g_assert_cmphex(ram->host[0x101000], ==, 0xFA);
    g_assert_cmphex(ram->host[0x101001], ==, 0xF4);
    g_assert_cmpmem(ram->host + 0x102000, sizeof PATTERN, PATTERN, sizeof PATTERN);
    ram_free(ram);
}

static void test_low_bss_zeroed(void)
{
    LoaderBoot boot;
    GuestRam *ram = load_kernel("kernel-low.elf", NULL, &boot);
    /* From the end of .data's file bytes to the end of .bss. */
    for (uint64_t a = 0x102000 + sizeof PATTERN; a < 0x105000; a++) {
        if (ram->host[a] != 0)
            g_error("byte at 0x%" G_GINT64_MODIFIER "x is 0x%02x, not 0", a, ram->host[a]);
    }
    /* Nothing past the image was touched. */
    g_assert_cmphex(ram->host[0x105000], ==, DIRT);
    ram_free(ram);
}

static void test_mbi_memory(void)
{
    LoaderBoot boot;
    GuestRam *ram = load_kernel("kernel-low.elf", NULL, &boot);
    uint32_t flags = ram32(ram, boot.ebx);
    g_assert_cmphex(flags, ==, 0x1 | 0x4 | 0x40 | 0x200);
    g_assert_cmpuint(ram32(ram, boot.ebx + 4), ==, 640);
    g_assert_cmpuint(ram32(ram, boot.ebx + 8), ==, (TEST_RAM - MIB) / 1024);
    ram_free(ram);
}

static void test_mbi_mmap(void)
{
    static const struct { uint64_t base, len; uint32_t type; } want[] = {
        { 0, 0x9FC00, 1 },
        { 0x9FC00, 0x400, 2 },
        { 0xF0000, 0x10000, 2 },
        { 0x100000, TEST_RAM - 0x100000, 1 },
    };
    LoaderBoot boot;
    GuestRam *ram = load_kernel("kernel-low.elf", NULL, &boot);
    uint32_t length = ram32(ram, boot.ebx + 44);
    uint32_t addr = ram32(ram, boot.ebx + 48);
    g_assert_cmpuint(length, ==, G_N_ELEMENTS(want) * 24);

    /* Walk it the way a kernel does: size counts the bytes after itself. */
    unsigned n = 0;
    for (uint32_t p = addr; p < addr + length; p += ram32(ram, p) + 4, n++) {
        g_assert_cmpuint(n, <, G_N_ELEMENTS(want));
        g_assert_cmpuint(ram32(ram, p), ==, 20);
        g_assert_cmphex(ram64(ram, p + 4), ==, want[n].base);
        g_assert_cmphex(ram64(ram, p + 12), ==, want[n].len);
        g_assert_cmpuint(ram32(ram, p + 20), ==, want[n].type);
    }
    g_assert_cmpuint(n, ==, G_N_ELEMENTS(want));
    ram_free(ram);
}

static void test_mbi_cmdline(void)
{
    LoaderBoot boot;
    GuestRam *ram = load_kernel("kernel-low.elf", "console=com1 loglevel=7", &boot);
    g_assert_cmpstr(ram_str(ram, ram32(ram, boot.ebx + 16)), ==, "console=com1 loglevel=7");
    ram_free(ram);
}

static void test_mbi_cmdline_empty(void)
{
    LoaderBoot boot;
    GuestRam *ram = load_kernel("kernel-low.elf", NULL, &boot);
    g_assert_cmpstr(ram_str(ram, ram32(ram, boot.ebx + 16)), ==, "");
    ram_free(ram);
}

static void test_mbi_boot_loader_name(void)
{
    LoaderBoot boot;
    GuestRam *ram = load_kernel("kernel-low.elf", "x", &boot);
    g_assert_cmpstr(ram_str(ram, ram32(ram, boot.ebx + 64)), ==, "LilyVM");
    ram_free(ram);
}

static void test_higher_half(void)
{
    LoaderBoot boot;
    GuestRam *ram = load_kernel("kernel-high.elf", "hh", &boot);
    /* Linked at 0xC0101000, entered at its physical address. */
    g_assert_cmphex(boot.entry, ==, 0x101000);
    g_assert_cmphex(boot.image_start, ==, 0x100000);
    g_assert_cmphex(boot.image_end, ==, 0x105000);
    g_assert_cmphex(ram->host[0x101000], ==, 0xFA);
    g_assert_cmpmem(ram->host + 0x102000, sizeof PATTERN, PATTERN, sizeof PATTERN);
    g_assert_cmphex(ram->host[0x104FFF], ==, 0);
    g_assert_cmpstr(ram_str(ram, ram32(ram, boot.ebx + 16)), ==, "hh");
    ram_free(ram);
}

static void test_address_fields(void)
{
    LoaderBoot boot;
    GuestRam *ram = load_kernel("kernel-aout.elf", NULL, &boot);
    g_assert_cmphex(boot.entry, ==, 0x101000);
    g_assert_cmphex(boot.image_start, ==, 0x100000);
    g_assert_cmphex(boot.image_end, ==, 0x105000);
    g_assert_cmphex(ram32(ram, 0x100000), ==, 0x1BADB002);
    g_assert_cmpmem(ram->host + 0x102000, sizeof PATTERN, PATTERN, sizeof PATTERN);
    g_assert_cmphex(ram->host[0x102000 + sizeof PATTERN], ==, 0);
    g_assert_cmphex(ram->host[0x104FFF], ==, 0);
    g_assert_cmphex(ram->host[0x105000], ==, DIRT);
    ram_free(ram);
}

/* ---- malformed images, made here ---- */

/*
 * A valid image: ELF header, two program headers, a Multiboot header at
 * mb_offset, a data segment.  Segment 0 maps file [0x1000, 0x1100) at 1 MiB,
 * segment 1 maps [0x1100, 0x1180) at 0x101000 with 0x2000 bytes of memory.
 */
#define IMG_PH(i) (sizeof(Elf32_Ehdr) + (i) * sizeof(Elf32_Phdr))
#define IMG_LEN 0x1180u

typedef struct TestImage {
    uint8_t *data;
    size_t len;
    size_t mb_offset;
} TestImage;

static void put16(TestImage *img, size_t off, uint16_t v)
{
    g_assert_cmpuint(off + 2, <=, img->len);
    memcpy(img->data + off, &v, 2);
}

static void put32(TestImage *img, size_t off, uint32_t v)
{
    g_assert_cmpuint(off + 4, <=, img->len);
    memcpy(img->data + off, &v, 4);
}

static void put_phdr(TestImage *img, unsigned i, uint32_t offset, uint32_t paddr,
                     uint32_t filesz, uint32_t memsz)
{
    size_t p = IMG_PH(i);
    put32(img, p + offsetof(Elf32_Phdr, p_type), PT_LOAD);
    put32(img, p + offsetof(Elf32_Phdr, p_offset), offset);
    put32(img, p + offsetof(Elf32_Phdr, p_vaddr), paddr);
    put32(img, p + offsetof(Elf32_Phdr, p_paddr), paddr);
    put32(img, p + offsetof(Elf32_Phdr, p_filesz), filesz);
    put32(img, p + offsetof(Elf32_Phdr, p_memsz), memsz);
    put32(img, p + offsetof(Elf32_Phdr, p_flags), PF_R | PF_W | PF_X);
    put32(img, p + offsetof(Elf32_Phdr, p_align), 0x1000);
}

static void put_mb_header(TestImage *img, uint32_t flags)
{
    put32(img, img->mb_offset, 0x1BADB002);
    put32(img, img->mb_offset + 4, flags);
    put32(img, img->mb_offset + 8, -(0x1BADB002u + flags));
}

static TestImage *image_new_at(size_t mb_offset)
{
    TestImage *img = g_new0(TestImage, 1);
    img->len = MAX(IMG_LEN, mb_offset + 48);
    img->data = g_malloc0(img->len);
    img->mb_offset = mb_offset;

    Elf32_Ehdr eh = { 0 };
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS32;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_386;
    eh.e_version = EV_CURRENT;
    eh.e_entry = 0x100010;
    eh.e_phoff = sizeof eh;
    eh.e_ehsize = sizeof eh;
    eh.e_phentsize = sizeof(Elf32_Phdr);
    eh.e_phnum = 2;
    memcpy(img->data, &eh, sizeof eh);

    put_phdr(img, 0, 0x1000, 0x100000, 0x100, 0x100);
    put_phdr(img, 1, 0x1100, 0x101000, 0x80, 0x2000);
    put_mb_header(img, 0x3);
    memset(img->data + 0x1100, 0x5A, 0x80);
    return img;
}

static TestImage *image_new(void)
{
    return image_new_at(0x1000);
}

static void image_free(TestImage *img)
{
    g_free(img->data);
    g_free(img);
}

/*
 * Load img into ram_size bytes of RAM and expect it to fail with code, a
 * message naming the image and containing each of the given fragments.
 */
static void expect_failure(TestImage *img, uint64_t ram_size, const char *cmdline,
                           LoaderError code, const char *const *fragments)
{
    GuestRam *ram = ram_new(ram_size);
    LoaderBoot boot = { 0 };
    GError *error = NULL;
    gboolean ok = loader_load_multiboot_data(ram, img->data, img->len, "bad.elf", cmdline,
                                             &boot, &error);
    g_assert_false(ok);
    g_assert_error(error, LOADER_ERROR, (gint)code);
    g_test_message("message: %s", error->message);
    g_assert_true(g_str_has_prefix(error->message, "bad.elf: "));
    for (; *fragments; fragments++) {
        if (!strstr(error->message, *fragments))
            g_error("message \"%s\" lacks \"%s\"", error->message, *fragments);
    }
    /* Nothing was loaded: the checks come before any write. */
    for (uint64_t a = 0; a < MIN(ram_size, DIRTY_LEN); a += 0x1000) {
        if (ram->host[a] != DIRT)
            g_error("guest RAM at 0x%" G_GINT64_MODIFIER "x was written", a);
    }
    g_error_free(error);
    ram_free(ram);
    image_free(img);
}

#define EXPECT(img, code, ...) \
    expect_failure((img), TEST_RAM, NULL, (code), (const char *const[]){ __VA_ARGS__, NULL })

static void test_image_good(void)
{
    TestImage *img = image_new();
    GuestRam *ram = ram_new(TEST_RAM);
    LoaderBoot boot;
    GError *error = NULL;
    g_assert_true(loader_load_multiboot_data(ram, img->data, img->len, "good.elf", NULL,
                                             &boot, &error));
    g_assert_no_error(error);
    g_assert_cmphex(boot.entry, ==, 0x100010);
    g_assert_cmphex(boot.image_end, ==, 0x103000);
    g_assert_cmphex(ram->host[0x101000], ==, 0x5A);
    g_assert_cmphex(ram->host[0x101080], ==, 0);
    ram_free(ram);
    image_free(img);
}

static void test_not_elf(void)
{
    TestImage *img = image_new();
    memcpy(img->data, "MZ\x90\0", 4);
    EXPECT(img, LOADER_ERROR_FORMAT, "not an ELF file", "ELF32 i386");
}

static void test_truncated_header(void)
{
    TestImage *img = image_new();
    img->len = 30;
    EXPECT(img, LOADER_ERROR_FORMAT, "truncated ELF header", "30 bytes");
}

static void test_truncated_phdrs(void)
{
    TestImage *img = image_new();
    img->len = IMG_PH(1) + 8;
    EXPECT(img, LOADER_ERROR_FORMAT, "program header table", "past the end of the file");
}

static void test_segment_past_eof(void)
{
    TestImage *img = image_new();
    put_phdr(img, 1, 0x1100, 0x101000, 0x1000, 0x2000);
    EXPECT(img, LOADER_ERROR_FORMAT, "segment 1", "past the end of the file");
}

static void test_filesz_over_memsz(void)
{
    TestImage *img = image_new();
    put_phdr(img, 1, 0x1100, 0x101000, 0x80, 0x40);
    EXPECT(img, LOADER_ERROR_FORMAT, "segment 1", "p_filesz must not exceed p_memsz");
}

static void test_segment_wraps(void)
{
    TestImage *img = image_new();
    put_phdr(img, 1, 0x1100, 0xFFFFF000, 0x80, 0x2000);
    EXPECT(img, LOADER_ERROR_FORMAT, "segment 1", "wraps past 4 GiB");
}

static void test_class64(void)
{
    TestImage *img = image_new();
    img->data[EI_CLASS] = ELFCLASS64;
    EXPECT(img, LOADER_ERROR_FORMAT, "ELF class 64-bit", "32-bit (ELFCLASS32)");
}

static void test_big_endian(void)
{
    TestImage *img = image_new();
    img->data[EI_DATA] = ELFDATA2MSB;
    EXPECT(img, LOADER_ERROR_FORMAT, "big-endian", "ELFDATA2LSB");
}

static void test_wrong_machine(void)
{
    TestImage *img = image_new();
    put16(img, offsetof(Elf32_Ehdr, e_machine), EM_X86_64);
    EXPECT(img, LOADER_ERROR_FORMAT, "x86-64", "i386 (EM_386)");
}

static void test_et_dyn(void)
{
    TestImage *img = image_new();
    put16(img, offsetof(Elf32_Ehdr, e_type), ET_DYN);
    EXPECT(img, LOADER_ERROR_FORMAT, "ET_DYN", "ET_EXEC");
}

static void test_bad_phentsize(void)
{
    TestImage *img = image_new();
    put16(img, offsetof(Elf32_Ehdr, e_phentsize), 56);
    EXPECT(img, LOADER_ERROR_FORMAT, "e_phentsize", "56");
}

static void test_no_loadable(void)
{
    TestImage *img = image_new();
    put32(img, IMG_PH(0), PT_NOTE);
    put32(img, IMG_PH(1), PT_NOTE);
    EXPECT(img, LOADER_ERROR_FORMAT, "no loadable (PT_LOAD) segment");
}

static void test_entry_outside(void)
{
    TestImage *img = image_new();
    put32(img, offsetof(Elf32_Ehdr, e_entry), 0x200000);
    EXPECT(img, LOADER_ERROR_FORMAT, "entry point 0x200000", "outside every loadable segment");
}

static void test_no_multiboot(void)
{
    TestImage *img = image_new();
    put32(img, img->mb_offset, 0);
    EXPECT(img, LOADER_ERROR_MULTIBOOT, "no Multiboot header", "0x1BADB002", "8192");
}

static void test_bad_checksum(void)
{
    TestImage *img = image_new();
    put32(img, img->mb_offset + 8, -(0x1BADB002u + 3) + 1);
    EXPECT(img, LOADER_ERROR_MULTIBOOT, "bad checksum", "0x1000", "0x00000001");
}

static void test_header_past_8k(void)
{
    TestImage *img = image_new_at(0x2400);
    EXPECT(img, LOADER_ERROR_MULTIBOOT, "0x2400", "beyond the first 8192 bytes");
}

static void test_header_unaligned(void)
{
    TestImage *img = image_new_at(0x1002);
    EXPECT(img, LOADER_ERROR_MULTIBOOT, "0x1002", "not 4-byte aligned");
}

static void test_unsupported_flags(void)
{
    TestImage *img = image_new();
    put_mb_header(img, 0x3 | 0x8 | 0x20);
    EXPECT(img, LOADER_ERROR_MULTIBOOT, "feature bits 3, 5", "bits 0", "1 (memory information)");
}

static void test_optional_flags_ignored(void)
{
    TestImage *img = image_new();
    put_mb_header(img, 0x3 | 0x80000000u);
    GuestRam *ram = ram_new(TEST_RAM);
    LoaderBoot boot;
    GError *error = NULL;
    g_assert_true(loader_load_multiboot_data(ram, img->data, img->len, "opt.elf", NULL,
                                             &boot, &error));
    g_assert_no_error(error);
    ram_free(ram);
    image_free(img);
}

static void test_address_fields_bad(void)
{
    TestImage *img = image_new();
    put_mb_header(img, 0x10003);
    /* load_addr above header_addr */
    put32(img, img->mb_offset + 12, 0x100000);
    put32(img, img->mb_offset + 16, 0x100100);
    EXPECT(img, LOADER_ERROR_MULTIBOOT, "header_addr 0x100000", "load_addr 0x100100");
}

static void test_address_fields_entry(void)
{
    TestImage *img = image_new();
    put_mb_header(img, 0x10003);
    put32(img, img->mb_offset + 12, 0x100000); /* header_addr */
    put32(img, img->mb_offset + 16, 0x100000); /* load_addr */
    put32(img, img->mb_offset + 20, 0x100100); /* load_end_addr */
    put32(img, img->mb_offset + 24, 0x102000); /* bss_end_addr */
    put32(img, img->mb_offset + 28, 0x300000); /* entry_addr */
    EXPECT(img, LOADER_ERROR_MULTIBOOT, "entry_addr 0x300000", "outside the loaded image");
}

static void test_segment_outside_ram(void)
{
    TestImage *img = image_new();
    put_phdr(img, 1, 0x1100, 0x100000, 0x80, 0x3000000);
    EXPECT(img, LOADER_ERROR_RANGE, "segment 1 [0x100000, 0x3100000)",
           "does not fit in 32 MiB of guest RAM", "raise [machine] memory");
}

static void test_higher_half_without_at(void)
{
    TestImage *img = image_new();
    put_phdr(img, 1, 0x1100, 0xC0101000, 0x80, 0x2000);
    EXPECT(img, LOADER_ERROR_RANGE, "segment 1 [0xc0101000", "AT()");
}

static void test_video_hole(void)
{
    TestImage *img = image_new();
    put_phdr(img, 1, 0x1100, 0xA0000, 0x80, 0x2000);
    EXPECT(img, LOADER_ERROR_RANGE, "segment 1 [0xa0000, 0xa2000)", "hole [0xa0000, 0xf0000)");
}

/* ELF headers at 0xFF000 (gcc -Ttext=0x100000) land in the reserved BIOS area. */
static void test_bios_area_allowed(void)
{
    TestImage *img = image_new();
    put_phdr(img, 0, 0x0, 0xFF000, 0x100, 0x100);
    put32(img, offsetof(Elf32_Ehdr, e_entry), 0x101000);
    GuestRam *ram = ram_new(TEST_RAM);
    LoaderBoot boot;
    GError *error = NULL;
    g_assert_true(loader_load_multiboot_data(ram, img->data, img->len, "low.elf", NULL,
                                             &boot, &error));
    g_assert_no_error(error);
    g_assert_cmphex(boot.image_start, ==, 0xFF000);
    g_assert_cmpmem(ram->host + 0xFF000, 4, ELFMAG, 4);
    ram_free(ram);
    image_free(img);
}

static void test_ram_below_1m(void)
{
    TestImage *img = image_new();
    expect_failure(img, 512 * 1024, NULL, LOADER_ERROR_RANGE,
                   (const char *const[]){ "512 KiB of guest RAM", "at least 1 MiB", NULL });
}

static void test_no_room_for_boot_info(void)
{
    TestImage *img = image_new();
    /* Low memory taken up to 0x9F000, high memory up to the end of RAM. */
    put_phdr(img, 0, 0x1000, 0x1000, 0x100, 0x9E000);
    put_phdr(img, 1, 0x1100, 0x100000, 0x80, 0x100000);
    put32(img, offsetof(Elf32_Ehdr, e_entry), 0x100000);
    expect_failure(img, 2 * MIB, NULL, LOADER_ERROR_RANGE,
                   (const char *const[]){ "no room for the", "multiboot information",
                                          "2 MiB of guest RAM", NULL });
}

static void test_cmdline_too_long(void)
{
    TestImage *img = image_new();
    g_autofree char *cmdline = g_strnfill(5000, 'x');
    expect_failure(img, TEST_RAM, cmdline, LOADER_ERROR_RANGE,
                   (const char *const[]){ "command line is 5000 bytes", "at most 4095", NULL });
}

static void test_missing_file(void)
{
    GuestRam *ram = ram_new(TEST_RAM);
    LoaderBoot boot;
    GError *error = NULL;
    g_autofree char *path = kernel_path("no-such-kernel.elf");
    g_assert_false(loader_load_multiboot(ram, path, NULL, &boot, &error));
    g_assert_error(error, LOADER_ERROR, LOADER_ERROR_IO);
    g_assert_true(g_str_has_prefix(error->message, path));
    g_assert_nonnull(strstr(error->message, "No such file"));
    g_error_free(error);
    ram_free(ram);
}

static void test_directory(void)
{
    GuestRam *ram = ram_new(TEST_RAM);
    LoaderBoot boot;
    GError *error = NULL;
    g_assert_false(loader_load_multiboot(ram, kernel_dir, NULL, &boot, &error));
    g_assert_error(error, LOADER_ERROR, LOADER_ERROR_IO);
    g_assert_nonnull(strstr(error->message, "not a regular file"));
    g_error_free(error);
    ram_free(ram);
}

static void test_empty_file(void)
{
    GuestRam *ram = ram_new(TEST_RAM);
    LoaderBoot boot;
    GError *error = NULL;
    g_autofree char *path = NULL;
    int fd = g_file_open_tmp("lilyvm-loader-XXXXXX", &path, &error);
    g_assert_no_error(error);
    close(fd);
    g_assert_false(loader_load_multiboot(ram, path, NULL, &boot, &error));
    g_assert_error(error, LOADER_ERROR, LOADER_ERROR_FORMAT);
    g_assert_nonnull(strstr(error->message, "not an ELF file"));
    g_error_free(error);
    unlink(path);
    ram_free(ram);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    kernel_dir = self ? g_path_get_dirname(self) : g_strdup(".");

    g_test_add_func("/loader/low/entry", test_low_entry);
    g_test_add_func("/loader/low/segments", test_low_segments);
    g_test_add_func("/loader/low/bss-zeroed", test_low_bss_zeroed);
    g_test_add_func("/loader/mbi/memory", test_mbi_memory);
    g_test_add_func("/loader/mbi/mmap", test_mbi_mmap);
    g_test_add_func("/loader/mbi/cmdline", test_mbi_cmdline);
    g_test_add_func("/loader/mbi/cmdline-empty", test_mbi_cmdline_empty);
    g_test_add_func("/loader/mbi/boot-loader-name", test_mbi_boot_loader_name);
    g_test_add_func("/loader/higher-half", test_higher_half);
    g_test_add_func("/loader/address-fields", test_address_fields);

    g_test_add_func("/loader/image/good", test_image_good);
    g_test_add_func("/loader/image/not-elf", test_not_elf);
    g_test_add_func("/loader/image/truncated-header", test_truncated_header);
    g_test_add_func("/loader/image/truncated-phdrs", test_truncated_phdrs);
    g_test_add_func("/loader/image/segment-past-eof", test_segment_past_eof);
    g_test_add_func("/loader/image/filesz-over-memsz", test_filesz_over_memsz);
    g_test_add_func("/loader/image/segment-wraps", test_segment_wraps);
    g_test_add_func("/loader/image/class64", test_class64);
    g_test_add_func("/loader/image/big-endian", test_big_endian);
    g_test_add_func("/loader/image/wrong-machine", test_wrong_machine);
    g_test_add_func("/loader/image/et-dyn", test_et_dyn);
    g_test_add_func("/loader/image/bad-phentsize", test_bad_phentsize);
    g_test_add_func("/loader/image/no-loadable", test_no_loadable);
    g_test_add_func("/loader/image/entry-outside", test_entry_outside);
    g_test_add_func("/loader/multiboot/missing", test_no_multiboot);
    g_test_add_func("/loader/multiboot/bad-checksum", test_bad_checksum);
    g_test_add_func("/loader/multiboot/past-8k", test_header_past_8k);
    g_test_add_func("/loader/multiboot/unaligned", test_header_unaligned);
    g_test_add_func("/loader/multiboot/unsupported-flags", test_unsupported_flags);
    g_test_add_func("/loader/multiboot/optional-flags", test_optional_flags_ignored);
    g_test_add_func("/loader/multiboot/address-fields-bad", test_address_fields_bad);
    g_test_add_func("/loader/multiboot/address-fields-entry", test_address_fields_entry);
    g_test_add_func("/loader/range/segment-outside-ram", test_segment_outside_ram);
    g_test_add_func("/loader/range/higher-half-without-at", test_higher_half_without_at);
    g_test_add_func("/loader/range/video-hole", test_video_hole);
    g_test_add_func("/loader/range/bios-area-allowed", test_bios_area_allowed);
    g_test_add_func("/loader/range/ram-below-1m", test_ram_below_1m);
    g_test_add_func("/loader/range/no-room-for-boot-info", test_no_room_for_boot_info);
    g_test_add_func("/loader/range/cmdline-too-long", test_cmdline_too_long);
    g_test_add_func("/loader/file/missing", test_missing_file);
    g_test_add_func("/loader/file/directory", test_directory);
    g_test_add_func("/loader/file/empty", test_empty_file);

    int rc = g_test_run();
    g_free(kernel_dir);
    return rc;
}
