/*
 * libFuzzer target for lily-check's ELF32 reader: any bytes are either
 * refused with a message or read into code runs and symbols that lie inside
 * the file, and every code address can be symbolised.
 */
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "tools/lilycheck-elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = g_malloc(size ? size : 1);
    LilycheckElf elf;
    GError *error = NULL;

    memcpy(copy, data, size);
    if (!lilycheck_elf_parse("fuzz.elf", copy, size, &elf, &error)) {
        if (!error || !error->message[0])
            __builtin_trap(); /* a refusal must say why */
        g_error_free(error);
        return 0;
    }
    for (guint i = 0; i < elf.code->len; i++) {
        const LilycheckCode *c = &g_array_index(elf.code, LilycheckCode, i);
        uint32_t off;

        if (c->bytes < elf.data || c->len > elf.size || (size_t)(c->bytes - elf.data) > elf.size - c->len)
            __builtin_trap(); /* code outside the file */
        (void)lilycheck_elf_symbolize(&elf, c->addr, c->shndx, &off);
        (void)lilycheck_elf_symbolize(&elf, c->addr + (uint32_t)c->len - 1, c->shndx, &off);
    }
    lilycheck_elf_clear(&elf);
    return 0;
}
