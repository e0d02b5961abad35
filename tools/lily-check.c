/*
 * lily-check: disassembles the executable code of an i386 ELF kernel with
 * Zydis and lists every sensitive-but-unprivileged instruction that
 * lily-as did not rewrite.  Exit 0: clean, 1: findings, 2: errors.
 *
 * The sweep is linear.  At a rewrite site (include/lilyvm/rewrite.h) it
 * checks that the instruction after the trap belongs to the vector and
 * steps over both, so rewritten code is never reported; a trap in the
 * reserved range that is followed by anything else is reported as a
 * malformed site, since the VM would refuse it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <Zydis/Zydis.h>
#include <glib.h>

#include "lilyvm/rewrite.h"
#include "tools/lilycheck-elf.h"

typedef struct LilycheckStats {
    unsigned long insns;    /* instructions decoded */
    unsigned long sites;    /* well-formed rewrite sites stepped over */
    unsigned long findings; /* sensitive instructions and malformed sites */
    unsigned long skipped;  /* sections left out by --skip-section */
} LilycheckStats;

typedef struct LilycheckCtx {
    ZydisDecoder decoder;
    ZydisFormatter formatter;
    bool quiet;
    GPtrArray *skip_sections; /* glob patterns of section names not to check */
} LilycheckCtx;

static bool check_is_sreg(const ZydisDecodedOperand *op)
{
    return op->type == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(op->reg.value) == ZYDIS_REGCLASS_SEGMENT;
}

/**
 * check_vector_of() - The rewrite vector a decoded instruction belongs to.
 * @insn: decoded instruction
 * @ops: its operands
 *
 * Return: the LILY_REWRITE_VEC_* that lily-as opens this instruction with,
 * or -1 if it is not sensitive.  (The `int` escape is not included: a
 * kernel's own `int $n` is not sensitive.)
 */
static int check_vector_of(const ZydisDecodedInstruction *insn, const ZydisDecodedOperand *ops)
{
    switch (insn->mnemonic) {
    case ZYDIS_MNEMONIC_PUSHF:
    case ZYDIS_MNEMONIC_PUSHFD:
    case ZYDIS_MNEMONIC_PUSHFQ:
        return LILY_REWRITE_VEC_PUSHF;
    case ZYDIS_MNEMONIC_POPF:
    case ZYDIS_MNEMONIC_POPFD:
    case ZYDIS_MNEMONIC_POPFQ:
        return LILY_REWRITE_VEC_POPF;
    case ZYDIS_MNEMONIC_MOV:
        return insn->operand_count >= 2 && check_is_sreg(&ops[1]) ? LILY_REWRITE_VEC_MOV_SREG : -1;
    case ZYDIS_MNEMONIC_PUSH:
        return insn->operand_count >= 1 && check_is_sreg(&ops[0]) ? LILY_REWRITE_VEC_PUSH_SREG : -1;
    case ZYDIS_MNEMONIC_SGDT:
        return LILY_REWRITE_VEC_SGDT;
    case ZYDIS_MNEMONIC_SIDT:
        return LILY_REWRITE_VEC_SIDT;
    case ZYDIS_MNEMONIC_SLDT:
        return LILY_REWRITE_VEC_SLDT;
    case ZYDIS_MNEMONIC_STR:
        return LILY_REWRITE_VEC_STR;
    case ZYDIS_MNEMONIC_SMSW:
        return LILY_REWRITE_VEC_SMSW;
    case ZYDIS_MNEMONIC_LAR:
        return LILY_REWRITE_VEC_LAR;
    case ZYDIS_MNEMONIC_LSL:
        return LILY_REWRITE_VEC_LSL;
    case ZYDIS_MNEMONIC_VERR:
        return LILY_REWRITE_VEC_VERR;
    case ZYDIS_MNEMONIC_VERW:
        return LILY_REWRITE_VEC_VERW;
    default:
        return -1;
    }
}

/* The vector of an `int imm8` in the reserved range, or -1. */
static int check_trap_vector(const ZydisDecodedInstruction *insn, const ZydisDecodedOperand *ops)
{
    if (insn->mnemonic != ZYDIS_MNEMONIC_INT || insn->operand_count < 1 ||
        ops[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE || !lily_rewrite_is_vector((unsigned)ops[0].imm.value.u))
        return -1;
    return (int)ops[0].imm.value.u;
}

static void check_report(const LilycheckCtx *ctx, const char *path, const LilycheckElf *elf,
                         const LilycheckCode *code, size_t off, const ZydisDecodedInstruction *insn,
                         const ZydisDecodedOperand *ops, const char *note)
{
    uint32_t addr = code->addr + (uint32_t)off;
    uint32_t symoff = 0;
    const LilycheckSymbol *sym = lilycheck_elf_symbolize(elf, addr, code->shndx, &symoff);
    char text[256] = "(undecodable)";

    if (insn)
        ZydisFormatterFormatInstruction(&ctx->formatter, insn, ops, insn->operand_count_visible, text, sizeof text,
                                        addr, ZYAN_NULL);
    if (!sym)
        symoff = (uint32_t)off; /* no symbol: say where in the section */
    if (symoff)
        printf("%s: 0x%08x <%s+%#x>: %s%s\n", path, addr, sym ? sym->name : code->name, symoff, text,
               note ? note : "");
    else
        printf("%s: 0x%08x <%s>: %s%s\n", path, addr, sym ? sym->name : code->name, text, note ? note : "");
}

/* Data objects (STT_OBJECT with a size) inside this code, sorted by offset. */
typedef struct CheckSkip {
    size_t start, end; /* offsets into the code */
} CheckSkip;

static gint check_skip_cmp(gconstpointer a, gconstpointer b)
{
    const CheckSkip *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

static GArray *check_data_ranges(const LilycheckElf *elf, const LilycheckCode *code)
{
    GArray *skips = g_array_new(FALSE, FALSE, sizeof(CheckSkip));

    for (guint i = 0; i < elf->symbols->len; i++) {
        const LilycheckSymbol *s = &g_array_index(elf->symbols, LilycheckSymbol, i);
        CheckSkip k;

        if (!s->is_object || s->size == 0 || (code->shndx && s->shndx != code->shndx) || s->value < code->addr ||
            s->value - code->addr >= code->len)
            continue;
        k.start = s->value - code->addr;
        k.end = MIN(code->len, k.start + s->size);
        g_array_append_val(skips, k);
    }
    g_array_sort(skips, check_skip_cmp);
    return skips;
}

static void check_code(const LilycheckCtx *ctx, const char *path, const LilycheckElf *elf,
                       const LilycheckCode *code, LilycheckStats *st)
{
    ZydisDecodedInstruction insn, next;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT], next_ops[ZYDIS_MAX_OPERAND_COUNT];
    GArray *skips = check_data_ranges(elf, code);
    guint next_skip = 0;
    size_t off = 0;

    while (off < code->len) {
        int vec;

        /* Step over data that is declared as such (.type x, @object; .size). */
        while (next_skip < skips->len && g_array_index(skips, CheckSkip, next_skip).end <= off)
            next_skip++;
        if (next_skip < skips->len && g_array_index(skips, CheckSkip, next_skip).start <= off) {
            off = g_array_index(skips, CheckSkip, next_skip).end;
            continue;
        }

        if (ZYAN_FAILED(ZydisDecoderDecodeFull(&ctx->decoder, code->bytes + off, code->len - off, &insn, ops))) {
            off++; /* data or padding between functions: resynchronise */
            continue;
        }
        st->insns++;
        vec = check_trap_vector(&insn, ops);
        if (vec >= 0) {
            size_t after = off + insn.length;
            bool ok = after < code->len &&
                      ZYAN_SUCCESS(ZydisDecoderDecodeFull(&ctx->decoder, code->bytes + after, code->len - after,
                                                          &next, next_ops)) &&
                      (vec == LILY_REWRITE_VEC_INT ? next.mnemonic == ZYDIS_MNEMONIC_INT
                                                   : check_vector_of(&next, next_ops) == vec);
            if (ok) {
                st->sites++;
                st->insns++;
                off = after + next.length;
            } else {
                char note[96];

                g_snprintf(note, sizeof note, "  (malformed rewrite site: not followed by a %s instruction)",
                           lily_rewrite_vector_name((unsigned)vec));
                check_report(ctx, path, elf, code, off, &insn, ops, note);
                st->findings++;
                off = after;
            }
            continue;
        }
        if (check_vector_of(&insn, ops) >= 0) {
            check_report(ctx, path, elf, code, off, &insn, ops, NULL);
            st->findings++;
        }
        off += insn.length;
    }
    g_array_free(skips, TRUE);
}

/* Check one file: 0 clean, 1 findings, 2 error. */
static int check_file(const LilycheckCtx *ctx, const char *path)
{
    LilycheckElf elf;
    LilycheckStats st = { 0 };
    GError *error = NULL;

    if (!lilycheck_elf_load(path, &elf, &error)) {
        fprintf(stderr, "lily-check: %s\n", error->message);
        g_error_free(error);
        return 2;
    }
    for (guint i = 0; i < elf.code->len; i++) {
        const LilycheckCode *code = &g_array_index(elf.code, LilycheckCode, i);
        bool skip = false;

        for (guint k = 0; k < ctx->skip_sections->len && code->shndx; k++)
            skip = skip || g_pattern_match_simple(ctx->skip_sections->pdata[k], code->name);
        if (skip)
            st.skipped++;
        else
            check_code(ctx, path, &elf, code, &st);
    }
    lilycheck_elf_clear(&elf);

    if (st.findings)
        fprintf(stderr,
                "lily-check: %s: %lu sensitive instruction(s) left (%lu rewritten sites); build it with lily-cc\n",
                path, st.findings, st.sites);
    else if (!ctx->quiet)
        printf("lily-check: %s: clean (%lu instructions, %lu rewritten sites, %lu sections skipped)\n", path,
               st.insns, st.sites, st.skipped);
    return st.findings ? 1 : 0;
}

static void check_usage(FILE *f)
{
    fprintf(f,
            "Usage: lily-check [-q] [--skip-section=PATTERN]... FILE.elf...\n"
            "Lists the sensitive instructions (pushf/popf, segment register reads,\n"
            "sgdt/sidt/sldt/str/smsw, lar/lsl/verr/verw) left in the executable code of\n"
            "32-bit i386 ELF files, one per line: FILE: ADDRESS <SYMBOL+OFFSET>: INSTRUCTION.\n"
            "  -q, --quiet                   say nothing about clean files\n"
            "  --skip-section=PATTERN        do not check sections whose name matches the\n"
            "                                glob PATTERN (code that runs at CPL 3, e.g. '.user*')\n"
            "Exit status: 0 all clean, 1 something found, 2 a file could not be checked.\n");
}

int main(int argc, char **argv)
{
    LilycheckCtx ctx = { .skip_sections = g_ptr_array_new() };
    int worst = 0, nfiles = 0;
    bool opts_done = false;

    if (ZYAN_FAILED(ZydisDecoderInit(&ctx.decoder, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32)) ||
        ZYAN_FAILED(ZydisFormatterInit(&ctx.formatter, ZYDIS_FORMATTER_STYLE_ATT))) {
        fprintf(stderr, "lily-check: cannot initialise the Zydis decoder\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (!opts_done && (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))) {
            check_usage(stdout);
            return 0;
        }
        if (!opts_done && (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")))
            ctx.quiet = true;
        else if (!opts_done && g_str_has_prefix(argv[i], "--skip-section=") && argv[i][15])
            g_ptr_array_add(ctx.skip_sections, argv[i] + 15);
        else if (!opts_done && !strcmp(argv[i], "--"))
            opts_done = true;
        else if (!opts_done && argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "lily-check: unknown option '%s'\n", argv[i]);
            check_usage(stderr);
            g_ptr_array_free(ctx.skip_sections, TRUE);
            return 2;
        }
    }
    opts_done = false;
    for (int i = 1; i < argc; i++) {
        int rc;

        if (!opts_done && !strcmp(argv[i], "--")) {
            opts_done = true;
            continue;
        }
        if (!opts_done && argv[i][0] == '-' && argv[i][1])
            continue;
        nfiles++;
        rc = check_file(&ctx, argv[i]);
        if (rc > worst)
            worst = rc;
    }
    g_ptr_array_free(ctx.skip_sections, TRUE);
    if (nfiles == 0) {
        fprintf(stderr, "lily-check: no file given\n");
        check_usage(stderr);
        return 2;
    }
    return worst;
}
