/*
 * libFuzzer target for the lily-as rewriter core: any bytes, in either
 * starting syntax, are rewritten without crashing, and when the input holds
 * no trap text of its own, taking the inserted traps out gives it back.
 */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "lilyvm/rewrite.h"
#include "tools/lilyas-rewrite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Length of the trap text lily-as inserts at p ("int $0xNN; " or
 * "int 0xNN; " with NN a reserved vector), or 0. */
static size_t fuzz_trap_len(const char *p, size_t avail)
{
    if (avail < 4 || memcmp(p, "int ", 4) != 0)
        return 0;
    for (unsigned v = LILY_REWRITE_VEC_FIRST; v <= LILY_REWRITE_VEC_LAST; v++) {
        char att[32], intel[32];
        size_t la = (size_t)g_snprintf(att, sizeof att, "int $0x%02x; ", v);
        size_t li = (size_t)g_snprintf(intel, sizeof intel, "int 0x%02x; ", v);

        if (la <= avail && memcmp(p, att, la) == 0)
            return la;
        if (li <= avail && memcmp(p, intel, li) == 0)
            return li;
    }
    return 0;
}

/* The input has no "int " of its own: dropping every trap from the output
 * (NUL bytes and all) must give the input back. */
static void fuzz_check_only_adds(const char *in, size_t len, const GString *out)
{
    size_t i = 0, k = 0;

    while (i < out->len) {
        size_t t = fuzz_trap_len(out->str + i, out->len - i);

        if (t) {
            i += t;
            continue;
        }
        if (k >= len || out->str[i] != in[k])
            __builtin_trap(); /* the rewriter changed or dropped input text */
        i++;
        k++;
    }
    if (k != len)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    bool has_trap_text = memmem(in, size, "int ", 4) != NULL;

    for (int syntax = LILYAS_SYNTAX_ATT; syntax <= LILYAS_SYNTAX_INTEL; syntax++) {
        LilyasRewriter *rw = lilyas_rewriter_new((LilyasSyntax)syntax, NULL, NULL);
        GString *out = g_string_new(NULL);

        lilyas_rewriter_set_file_name(rw, "fuzz.s");
        lilyas_rewrite(rw, in, size, out);
        if (!has_trap_text)
            fuzz_check_only_adds(in, size, out);
        g_string_free(out, TRUE);
        lilyas_rewriter_free(rw);
    }
    return 0;
}
