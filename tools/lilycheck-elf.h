/*
 * lily-check's ELF32 reader: the executable bytes of an i386 kernel image
 * (sections, or PT_LOAD segments when there are none) and its symbols.
 */
#ifndef LILYCHECK_ELF_H
#define LILYCHECK_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

/* A run of executable bytes and the address it is loaded at. */
typedef struct LilycheckCode {
    char *name;           /* section name, or "segment N" */
    uint32_t addr;
    const uint8_t *bytes; /* points into LilycheckElf.data */
    size_t len;
    unsigned shndx;       /* section index, 0 for a segment */
} LilycheckCode;

typedef struct LilycheckSymbol {
    char *name;
    uint32_t value;
    uint32_t size;
    unsigned shndx;
    bool is_func;
    bool is_object; /* STT_OBJECT: data, even inside an executable section */
    bool is_global;
} LilycheckSymbol;

typedef struct LilycheckElf {
    uint8_t *data;
    size_t size;
    GArray *code;    /* LilycheckCode */
    GArray *symbols; /* LilycheckSymbol */
} LilycheckElf;

/**
 * lilycheck_elf_load() - Read and validate an ELF32 i386 file.
 * @path: file to read
 * @elf: filled on success; release with lilycheck_elf_clear()
 * @error: says what is wrong with the file and what is accepted
 *
 * Return: TRUE on success.  Every offset and size in the file is checked
 * against its length before use.
 */
gboolean lilycheck_elf_load(const char *path, LilycheckElf *elf, GError **error);
void lilycheck_elf_clear(LilycheckElf *elf);

/**
 * lilycheck_elf_parse() - lilycheck_elf_load() on bytes already in memory.
 * @path: name for messages
 * @data: the file's bytes, g_malloc()ed (4-byte aligned); @elf owns them
 *        afterwards, and they are freed on failure too
 * @size: their number
 * @elf: filled on success
 * @error: as for lilycheck_elf_load()
 */
gboolean lilycheck_elf_parse(const char *path, uint8_t *data, size_t size, LilycheckElf *elf, GError **error);

/**
 * lilycheck_elf_symbolize() - The symbol an address falls in.
 * @elf: the file
 * @addr: the address
 * @shndx: its section (0: any)
 * @offset: set to @addr minus the symbol's value
 *
 * Return: the nearest symbol at or below @addr (functions and global
 * symbols preferred at equal addresses), or NULL.
 */
const LilycheckSymbol *lilycheck_elf_symbolize(const LilycheckElf *elf, uint32_t addr, unsigned shndx,
                                               uint32_t *offset);

#endif /* LILYCHECK_ELF_H */
