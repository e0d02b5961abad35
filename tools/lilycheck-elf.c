/*
 * lily-check's ELF32 reader: finds the executable bytes and the symbols of
 * an i386 ELF file, checking every offset against the file's length.
 */
#include "tools/lilycheck-elf.h"

#include <elf.h>
#include <string.h>

#define LILYCHECK_ELF_ERROR (elf_error_quark())

static GQuark elf_error_quark(void)
{
    return g_quark_from_static_string("lilycheck-elf-error");
}

/* Whether [off, off + len) lies inside the file. */
static bool elf_in_file(const LilycheckElf *elf, uint64_t off, uint64_t len)
{
    return off <= elf->size && len <= elf->size - off;
}

/* A NUL-terminated string at strtab[off], or NULL if it runs off the table. */
static const char *elf_string(const LilycheckElf *elf, const Elf32_Shdr *strtab, uint32_t off)
{
    const char *s;

    if (!strtab || strtab->sh_type != SHT_STRTAB || !elf_in_file(elf, strtab->sh_offset, strtab->sh_size) ||
        off >= strtab->sh_size)
        return NULL;
    s = (const char *)elf->data + strtab->sh_offset + off;
    return memchr(s, '\0', strtab->sh_size - off) ? s : NULL;
}

static gboolean elf_check_header(const char *path, const LilycheckElf *elf, GError **error)
{
    const Elf32_Ehdr *eh = (const Elf32_Ehdr *)elf->data;
    const char *accepted = "lily-check reads 32-bit little-endian i386 ELF files (ELFCLASS32, EM_386)";

    if (elf->size < EI_NIDENT || memcmp(elf->data, ELFMAG, SELFMAG) != 0) {
        g_set_error(error, LILYCHECK_ELF_ERROR, 1, "%s: not an ELF file (no \\177ELF magic); %s", path, accepted);
        return FALSE;
    }
    if (elf->data[EI_CLASS] == ELFCLASS64) {
        g_set_error(error, LILYCHECK_ELF_ERROR, 1, "%s: a 64-bit ELF file (ELFCLASS64); %s", path, accepted);
        return FALSE;
    }
    if (elf->data[EI_CLASS] != ELFCLASS32) {
        g_set_error(error, LILYCHECK_ELF_ERROR, 1, "%s: unknown ELF class %u; %s", path, elf->data[EI_CLASS],
                    accepted);
        return FALSE;
    }
    if (elf->data[EI_DATA] != ELFDATA2LSB) {
        g_set_error(error, LILYCHECK_ELF_ERROR, 1, "%s: not little-endian (EI_DATA %u); %s", path,
                    elf->data[EI_DATA], accepted);
        return FALSE;
    }
    if (elf->size < sizeof(Elf32_Ehdr)) {
        g_set_error(error, LILYCHECK_ELF_ERROR, 1, "%s: truncated ELF header (%zu bytes, need %zu)", path,
                    elf->size, sizeof(Elf32_Ehdr));
        return FALSE;
    }
    if (eh->e_machine != EM_386) {
        g_set_error(error, LILYCHECK_ELF_ERROR, 1, "%s: machine %u is not i386 (EM_386 = 3); %s", path,
                    eh->e_machine, accepted);
        return FALSE;
    }
    if (eh->e_shnum && (eh->e_shentsize != sizeof(Elf32_Shdr) || eh->e_shoff % 4 ||
                        !elf_in_file(elf, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf32_Shdr)))) {
        g_set_error(error, LILYCHECK_ELF_ERROR, 1,
                    "%s: section header table (offset %u, %u entries of %u bytes) is misaligned or lies "
                    "outside the file (%zu bytes)",
                    path, eh->e_shoff, eh->e_shnum, eh->e_shentsize, elf->size);
        return FALSE;
    }
    if (eh->e_phnum && (eh->e_phentsize != sizeof(Elf32_Phdr) || eh->e_phoff % 4 ||
                        !elf_in_file(elf, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf32_Phdr)))) {
        g_set_error(error, LILYCHECK_ELF_ERROR, 1,
                    "%s: program header table (offset %u, %u entries of %u bytes) is misaligned or lies "
                    "outside the file (%zu bytes)",
                    path, eh->e_phoff, eh->e_phnum, eh->e_phentsize, elf->size);
        return FALSE;
    }
    return TRUE;
}

static gboolean elf_load_sections(const char *path, LilycheckElf *elf, GError **error)
{
    const Elf32_Ehdr *eh = (const Elf32_Ehdr *)elf->data;
    const Elf32_Shdr *sh = (const Elf32_Shdr *)(elf->data + eh->e_shoff);
    const Elf32_Shdr *shstr = eh->e_shstrndx < eh->e_shnum ? &sh[eh->e_shstrndx] : NULL;
    const Elf32_Shdr *symtab = NULL;

    for (unsigned i = 1; i < eh->e_shnum; i++) {
        const char *name = elf_string(elf, shstr, sh[i].sh_name);

        if (sh[i].sh_type == SHT_SYMTAB || (sh[i].sh_type == SHT_DYNSYM && !symtab))
            symtab = &sh[i];
        if (sh[i].sh_type != SHT_PROGBITS || !(sh[i].sh_flags & SHF_EXECINSTR) || sh[i].sh_size == 0)
            continue;
        if (!elf_in_file(elf, sh[i].sh_offset, sh[i].sh_size)) {
            g_set_error(error, LILYCHECK_ELF_ERROR, 1,
                        "%s: section %u (%s) claims bytes %u..%u beyond the end of the file (%zu bytes)", path, i,
                        name ? name : "?", sh[i].sh_offset, sh[i].sh_offset + sh[i].sh_size, elf->size);
            return FALSE;
        }
        {
            LilycheckCode c = {
                .name = g_strdup(name ? name : "?"),
                .addr = sh[i].sh_addr,
                .bytes = elf->data + sh[i].sh_offset,
                .len = sh[i].sh_size,
                .shndx = i,
            };
            g_array_append_val(elf->code, c);
        }
    }

    if (symtab && symtab->sh_entsize == sizeof(Elf32_Sym) && symtab->sh_link < eh->e_shnum &&
        symtab->sh_offset % 4 == 0 &&
        elf_in_file(elf, symtab->sh_offset, symtab->sh_size)) {
        const Elf32_Sym *sym = (const Elf32_Sym *)(elf->data + symtab->sh_offset);
        const Elf32_Shdr *strtab = &sh[symtab->sh_link];
        size_t n = symtab->sh_size / sizeof(Elf32_Sym);

        for (size_t i = 1; i < n; i++) {
            unsigned type = ELF32_ST_TYPE(sym[i].st_info);
            const char *name = elf_string(elf, strtab, sym[i].st_name);
            LilycheckSymbol s;

            if ((type != STT_FUNC && type != STT_NOTYPE && type != STT_OBJECT) || !name || !*name ||
                sym[i].st_shndx == SHN_UNDEF || sym[i].st_shndx >= SHN_LORESERVE)
                continue;
            s.name = g_strdup(name);
            s.value = sym[i].st_value;
            s.size = sym[i].st_size;
            s.shndx = sym[i].st_shndx;
            s.is_func = type == STT_FUNC;
            s.is_object = type == STT_OBJECT;
            s.is_global = ELF32_ST_BIND(sym[i].st_info) != STB_LOCAL;
            g_array_append_val(elf->symbols, s);
        }
    }
    return TRUE;
}

/* No section headers (stripped to the bone): take the PF_X PT_LOAD segments. */
static gboolean elf_load_segments(const char *path, LilycheckElf *elf, GError **error)
{
    const Elf32_Ehdr *eh = (const Elf32_Ehdr *)elf->data;
    const Elf32_Phdr *ph = (const Elf32_Phdr *)(elf->data + eh->e_phoff);

    for (unsigned i = 0; i < eh->e_phnum; i++) {
        LilycheckCode c;

        if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X) || ph[i].p_filesz == 0)
            continue;
        if (!elf_in_file(elf, ph[i].p_offset, ph[i].p_filesz)) {
            g_set_error(error, LILYCHECK_ELF_ERROR, 1,
                        "%s: segment %u claims bytes %u..%u beyond the end of the file (%zu bytes)", path, i,
                        ph[i].p_offset, ph[i].p_offset + ph[i].p_filesz, elf->size);
            return FALSE;
        }
        c.name = g_strdup_printf("segment %u", i);
        c.addr = ph[i].p_vaddr;
        c.bytes = elf->data + ph[i].p_offset;
        c.len = ph[i].p_filesz;
        c.shndx = 0;
        g_array_append_val(elf->code, c);
    }
    return TRUE;
}

gboolean lilycheck_elf_load(const char *path, LilycheckElf *elf, GError **error)
{
    gchar *contents;
    gsize size;

    memset(elf, 0, sizeof *elf);
    if (!g_file_get_contents(path, &contents, &size, error))
        return FALSE;
    return lilycheck_elf_parse(path, (uint8_t *)contents, size, elf, error);
}

gboolean lilycheck_elf_parse(const char *path, uint8_t *data, size_t size, LilycheckElf *elf, GError **error)
{
    memset(elf, 0, sizeof *elf);
    elf->data = data;
    elf->size = size;
    elf->code = g_array_new(FALSE, FALSE, sizeof(LilycheckCode));
    elf->symbols = g_array_new(FALSE, FALSE, sizeof(LilycheckSymbol));

    if (!elf_check_header(path, elf, error))
        goto out_clear;
    if (((const Elf32_Ehdr *)elf->data)->e_shnum > 0 && !elf_load_sections(path, elf, error))
        goto out_clear;
    if (elf->code->len == 0 && !elf_load_segments(path, elf, error))
        goto out_clear;
    if (elf->code->len == 0) {
        g_set_error(error, LILYCHECK_ELF_ERROR, 1,
                    "%s: no executable code: no SHF_EXECINSTR section and no PF_X PT_LOAD segment", path);
        goto out_clear;
    }
    return TRUE;

out_clear:
    lilycheck_elf_clear(elf);
    return FALSE;
}

void lilycheck_elf_clear(LilycheckElf *elf)
{
    if (elf->code) {
        for (guint i = 0; i < elf->code->len; i++)
            g_free(g_array_index(elf->code, LilycheckCode, i).name);
        g_array_free(elf->code, TRUE);
    }
    if (elf->symbols) {
        for (guint i = 0; i < elf->symbols->len; i++)
            g_free(g_array_index(elf->symbols, LilycheckSymbol, i).name);
        g_array_free(elf->symbols, TRUE);
    }
    g_free(elf->data);
    memset(elf, 0, sizeof *elf);
}

const LilycheckSymbol *lilycheck_elf_symbolize(const LilycheckElf *elf, uint32_t addr, unsigned shndx,
                                               uint32_t *offset)
{
    const LilycheckSymbol *best = NULL;

    for (guint i = 0; i < elf->symbols->len; i++) {
        const LilycheckSymbol *s = &g_array_index(elf->symbols, LilycheckSymbol, i);

        if (s->value > addr || (shndx && s->shndx != shndx))
            continue;
        if (!best || s->value > best->value ||
            (s->value == best->value && (s->is_func > best->is_func ||
                                         (s->is_func == best->is_func && s->is_global > best->is_global))))
            best = s;
    }
    if (best)
        *offset = addr - best->value;
    return best;
}
