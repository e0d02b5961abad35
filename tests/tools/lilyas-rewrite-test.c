/*
 * Tests of the lily-as rewriter core: golden input -> output pairs for every
 * rewritten form, the bytes gas makes of them, and pass-through of all else.
 */
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "lilyvm/rewrite.h"
#include "tools/lilyas-rewrite.h"

typedef struct Golden {
    const char *name;
    const char *in;
    const char *out;
    int vec; /* single rewritten statement: gas bytes must be CD vec + original; -1: skip that check */
} Golden;

static const Golden goldens[] = {
    /* pushf / popf, every size */
    { "pushf", "\tpushf", "\tint $0xe0; pushf", 0xe0 },
    { "pushfl", "\tpushfl", "\tint $0xe0; pushfl", 0xe0 },
    { "pushfw", "\tpushfw", "\tint $0xe0; pushfw", 0xe0 },
    { "popf", "\tpopf", "\tint $0xe1; popf", 0xe1 },
    { "popfl", "  popfl", "  int $0xe1; popfl", 0xe1 },
    { "popfw", "\tpopfw", "\tint $0xe1; popfw", 0xe1 },
    /* segment register reads: mov to register and memory, all sizes */
    { "mov-cs-reg32", "\tmov %cs, %eax", "\tint $0xe2; mov %cs, %eax", 0xe2 },
    { "movw-ds-reg16", "\tmovw %ds,%ax", "\tint $0xe2; movw %ds,%ax", 0xe2 },
    { "movl-es-reg32", "\tmovl %es, %ecx", "\tint $0xe2; movl %es, %ecx", 0xe2 },
    { "mov-fs-mem", "\tmov %fs, (%ebx)", "\tint $0xe2; mov %fs, (%ebx)", 0xe2 },
    { "movw-gs-sib", "\tmovw %gs, 4(%esp,%ecx,2)", "\tint $0xe2; movw %gs, 4(%esp,%ecx,2)", 0xe2 },
    { "mov-ss-abs", "\tmov %ss, saved_ss", "\tint $0xe2; mov %ss, saved_ss", 0xe2 },
    { "mov-upper", "\tMOV %CS, %EAX", "\tint $0xe2; MOV %CS, %EAX", 0xe2 },
    /* push of every segment register */
    { "push-cs", "\tpush %cs", "\tint $0xe3; push %cs", 0xe3 },
    { "pushl-ss", "\tpushl %ss", "\tint $0xe3; pushl %ss", 0xe3 },
    { "pushw-ds", "\tpushw %ds", "\tint $0xe3; pushw %ds", 0xe3 },
    { "push-es", "\tpush %es", "\tint $0xe3; push %es", 0xe3 },
    { "push-fs", "\tpush %fs", "\tint $0xe3; push %fs", 0xe3 },
    { "push-gs", "\tpush %gs", "\tint $0xe3; push %gs", 0xe3 },
    /* descriptor-table and status stores, every addressing mode */
    { "sgdt-sym", "\tsgdt gdt_desc", "\tint $0xe4; sgdt gdt_desc", 0xe4 },
    { "sgdt-base", "\tsgdt (%eax)", "\tint $0xe4; sgdt (%eax)", 0xe4 },
    { "sgdtl-index", "\tsgdtl 0x10(,%ebx,4)", "\tint $0xe4; sgdtl 0x10(,%ebx,4)", 0xe4 },
    { "sidt-disp", "\tsidt -8(%ebp)", "\tint $0xe5; sidt -8(%ebp)", 0xe5 },
    { "sidt-segoverride", "\tsidt %fs:(%esi)", "\tint $0xe5; sidt %fs:(%esi)", 0xe5 },
    { "sidt-sym-index", "\tsidt idt_desc(%eax,%edx,8)", "\tint $0xe5; sidt idt_desc(%eax,%edx,8)", 0xe5 },
    { "sldt-reg16", "\tsldt %ax", "\tint $0xe6; sldt %ax", 0xe6 },
    { "sldt-reg32", "\tsldt %eax", "\tint $0xe6; sldt %eax", 0xe6 },
    { "sldt-mem", "\tsldt (%ecx)", "\tint $0xe6; sldt (%ecx)", 0xe6 },
    { "sldtw-disp", "\tsldtw 2(%eax)", "\tint $0xe6; sldtw 2(%eax)", 0xe6 },
    { "str-reg16", "\tstr %ax", "\tint $0xe7; str %ax", 0xe7 },
    { "str-reg32", "\tstr %edx", "\tint $0xe7; str %edx", 0xe7 },
    { "str-mem", "\tstrw 8(%ebp)", "\tint $0xe7; strw 8(%ebp)", 0xe7 },
    { "smsw-reg32", "\tsmsw %eax", "\tint $0xe8; smsw %eax", 0xe8 },
    { "smsw-reg16", "\tsmsw %ax", "\tint $0xe8; smsw %ax", 0xe8 },
    { "smsw-mem", "\tsmsw (%edx)", "\tint $0xe8; smsw (%edx)", 0xe8 },
    /* access-rights and limit probes */
    { "lar-reg16", "\tlar %ax, %bx", "\tint $0xe9; lar %ax, %bx", 0xe9 },
    { "lar-mem", "\tlar (%eax), %ecx", "\tint $0xe9; lar (%eax), %ecx", 0xe9 },
    { "larl-reg32", "\tlarl %edx, %eax", "\tint $0xe9; larl %edx, %eax", 0xe9 },
    { "lsl-reg", "\tlsl %eax, %edx", "\tint $0xea; lsl %eax, %edx", 0xea },
    { "lsl-mem", "\tlsl 12(%ebx), %eax", "\tint $0xea; lsl 12(%ebx), %eax", 0xea },
    { "verr-reg", "\tverr %ax", "\tint $0xeb; verr %ax", 0xeb },
    { "verr-mem", "\tverr (%eax)", "\tint $0xeb; verr (%eax)", 0xeb },
    { "verw-reg", "\tverw %cx", "\tint $0xec; verw %cx", 0xec },
    { "verw-mem", "\tverw 8(%esp)", "\tint $0xec; verw 8(%esp)", 0xec },
    /* a kernel's own int in the reserved range is escaped */
    { "int-reserved", "\tint $0xe5", "\tint $0xed; int $0xe5", 0xed },
    { "int-reserved-dec", "\tint $236", "\tint $0xed; int $236", 0xed },
    /* placement: labels, ';' statements, prefixes, comments */
    { "label", "1:\tpushf", "1:\tint $0xe0; pushf", 0xe0 },
    { "labels", "foo: bar: popf", "foo: bar: int $0xe1; popf", 0xe1 },
    { "statements", "\tpushf; cli; popf", "\tint $0xe0; pushf; cli; int $0xe1; popf", -1 },
    { "statements-nospace", "pushfl;popl %eax;pushl %eax;popfl",
      "int $0xe0; pushfl;popl %eax;pushl %eax;int $0xe1; popfl", -1 },
    { "prefix-word", "\tdata16 pushf", "\tint $0xe0; data16 pushf", 0xe0 },
    { "prefix-statement", "\tdata16; pushf", "\tint $0xe0; data16; pushf", 0xe0 },
    { "prefix-line", "\tdata16\n\tpushf", "\tint $0xe0; data16\n\tpushf", 0xe0 },
    { "prefix-labelled", "1:\tdata16\n\tpushf", "1:\tint $0xe0; data16\n\tpushf", 0xe0 },
    { "prefix-then-label", "\tdata16\n2:\tpushf", "\tint $0xe0; data16\n2:\tpushf", 0xe0 },
    { "comment-hash", "\tpushf # save pushf", "\tint $0xe0; pushf # save pushf", 0xe0 },
    { "comment-c", "\t/* pushf */ popf /* x */", "\t/* pushf */ int $0xe1; popf /* x */", 0xe1 },
    { "comment-multiline", "\t/* pushf\n\tpushf */ pushf", "\t/* pushf\n\tpushf */ int $0xe0; pushf", 0xe0 },
    { "crlf", "\tpushf\r\n\tpopf\r\n", "\tint $0xe0; pushf\r\n\tint $0xe1; popf\r\n", -1 },
    /* Intel syntax regions are handled too */
    { "intel",
      ".intel_syntax noprefix\n\tpushfd\n\tmov eax, cs\n\tmov WORD PTR [ebx], ds\n\tmov ds, ax\n"
      "\tpush cs\n\tsgdt [eax+4]\n\tstr ax\n\tlar eax, ecx\n\tint 0xe0\n.att_syntax prefix\n\tpushf\n",
      ".intel_syntax noprefix\n\tint 0xe0; pushfd\n\tint 0xe2; mov eax, cs\n"
      "\tint 0xe2; mov WORD PTR [ebx], ds\n\tmov ds, ax\n\tint 0xe3; push cs\n\tint 0xe4; sgdt [eax+4]\n"
      "\tint 0xe7; str ax\n\tint 0xe9; lar eax, ecx\n\tint 0xed; int 0xe0\n.att_syntax prefix\n"
      "\tint $0xe0; pushf\n",
      -1 },
    { "intel-option", "\t.intel_syntax\n\tpush %fs\n\t.att_syntax\n",
      "\t.intel_syntax\n\tint 0xe3; push %fs\n\t.att_syntax\n", -1 },
};

/* Lines the rewriter must copy byte for byte. */
static const char *const passthrough[] = {
    "\tmovl %eax, %ebx",
    "\tmov %ax, %ds",               /* a segment load traps by itself */
    "\tmovw %cs:4(%eax), %ax",     /* a segment override, not a read */
    "\tpop %ds",
    "\t.ascii \"pushf; popf\"",
    "# pushf",
    "/ pushf",
    "\t.macro save_seg reg\n\tpush \\reg\n\t.endm",
    "garbage !!! @@@ pushf",
    "\tint $0x80",
    "\tint3",
    "\tint $3",
    "\tpushf %eax",
    "pushf:",
    "\tcall pushf",
    "\tjmp str",
    "str = 5",
    "\t.set sgdt, 4",
    "\t.byte 0x9c",
    "\t\xff\xfe\x80 pushf",
    "\t.code16\n\tpushf\n\tmov %cs, %ax\n\t.code32",
    "\tmovb $';', %al",
    "\tmovl $'#', %eax",
    "\t{disp32} movl %eax, 4(%ebx)",
    "",
    "\n\n\n",
    "no newline at the end",
    "\t\"quoted label\": nop",
    "\tlock incl (%eax)",
    "\trep movsb",
};

static char *rewrite_all(const char *in, unsigned *sites)
{
    LilyasRewriter *rw = lilyas_rewriter_new(LILYAS_SYNTAX_ATT, NULL, NULL);
    GString *out = g_string_new(NULL);
    unsigned n = lilyas_rewrite(rw, in, strlen(in), out);

    if (sites)
        *sites = n;
    lilyas_rewriter_free(rw);
    return g_string_free(out, FALSE);
}

static void test_golden(gconstpointer data)
{
    const Golden *g = data;
    char *out = rewrite_all(g->in, NULL);

    g_assert_cmpstr(out, ==, g->out);
    g_free(out);
}

static void test_passthrough(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(passthrough); i++) {
        unsigned sites;
        char *out = rewrite_all(passthrough[i], &sites);

        g_test_message("input %zu: %s", i, passthrough[i]);
        g_assert_cmpstr(out, ==, passthrough[i]);
        g_assert_cmpuint(sites, ==, 0);
        g_free(out);
    }
}

/* Random lines built from assembly-ish tokens come out unchanged once the
 * inserted traps are taken out again: the rewriter only ever adds. */
static void test_only_adds(void)
{
    static const char *const tokens[] = {
        "pushf", "popfl", "mov", "%cs", "%eax", ",", ";", " ", "\t", "#", "/*", "*/", "\"", "'",
        "1:", "foo:", "(", ")", "[", "]", "lock", "data16", "sgdt", "str", "push", "%ss", "\n",
        ".intel_syntax", ".att_syntax", ".code16", ".code32", "cs", "lar", "verw", "{disp8}", "=",
    };
    GRand *rand = g_rand_new_with_seed(20261126);

    for (int round = 0; round < 300; round++) {
        GString *in = g_string_new(NULL);
        GString *back;
        char *out;
        int ntok = g_rand_int_range(rand, 1, 40);

        for (int t = 0; t < ntok; t++)
            g_string_append(in, tokens[g_rand_int_range(rand, 0, G_N_ELEMENTS(tokens))]);
        out = rewrite_all(in->str, NULL);
        back = g_string_new(out);
        for (unsigned v = LILY_REWRITE_VEC_FIRST; v <= LILY_REWRITE_VEC_LAST; v++) {
            char att[32], intel[32];

            g_snprintf(att, sizeof att, "int $0x%02x; ", v);
            g_snprintf(intel, sizeof intel, "int 0x%02x; ", v);
            g_string_replace(back, att, "", 0);
            g_string_replace(back, intel, "", 0);
        }
        g_assert_cmpstr(back->str, ==, in->str);
        g_string_free(back, TRUE);
        g_free(out);
        g_string_free(in, TRUE);
    }
    g_rand_free(rand);
}

/* State carries across calls as it does across gas input files. */
static void test_state_carries(void)
{
    LilyasRewriter *rw = lilyas_rewriter_new(LILYAS_SYNTAX_INTEL, NULL, NULL);
    GString *out = g_string_new(NULL);

    lilyas_rewrite(rw, "\tmov eax, cs\n", 13, out);
    lilyas_rewrite(rw, ".att_syntax\n", 12, out);
    lilyas_rewrite(rw, "\tmov %cs, %eax\n", 15, out);
    g_assert_cmpstr(out->str, ==, "\tint 0xe2; mov eax, cs\n.att_syntax\n\tint $0xe2; mov %cs, %eax\n");
    g_string_free(out, TRUE);
    lilyas_rewriter_free(rw);
}

static void count_warning(void *opaque, unsigned line, const char *message)
{
    unsigned *lines = opaque;

    lines[lines[0] < 7 ? ++lines[0] : 0] = line;
    g_test_message("warning at %u: %s", line, message);
}

static void test_code16_warns(void)
{
    static const char in[] = "\tnop\n\t.code16\n\tpushf\n\tpopf\n\t.code32\n\tpushf\n";
    unsigned lines[8] = { 0 };
    LilyasRewriter *rw = lilyas_rewriter_new(LILYAS_SYNTAX_ATT, count_warning, lines);
    GString *out = g_string_new(NULL);

    g_assert_cmpuint(lilyas_rewrite(rw, in, sizeof in - 1, out), ==, 1);
    g_assert_cmpstr(out->str, ==, "\tnop\n\t.code16\n\tpushf\n\tpopf\n\t.code32\n\tint $0xe0; pushf\n");
    g_assert_cmpuint(lines[0], ==, 1); /* one warning per region */
    g_assert_cmpuint(lines[1], ==, 3); /* on the first sensitive line */
    g_string_free(out, TRUE);
    lilyas_rewriter_free(rw);
}

/* .include: the callback rewrites the file with the same rewriter (so the
 * syntax it switches to carries back), the statement names the result and a
 * line marker follows when the file has a name. */
typedef struct IncludeCtx {
    LilyasRewriter *rw;
    GString *nested;
    char *asked;
} IncludeCtx;

static char *fake_include(void *opaque, const char *name, GError **error)
{
    IncludeCtx *ctx = opaque;
    static const char body[] = "\tpushf\n.intel_syntax noprefix\n";

    g_free(ctx->asked);
    ctx->asked = g_strdup(name);
    if (!strcmp(name, "missing.s"))
        return NULL;
    lilyas_rewrite(ctx->rw, body, sizeof body - 1, ctx->nested);
    return g_strdup("/tmp/rewritten \"x\".s");
}

static void test_include(void)
{
    static const char in[] = "\tpopf\n\t.include \"inc/a.s\" # c\n\tmov eax, cs\n\t.include \"missing.s\"\n\tpopf\n";
    IncludeCtx ctx = { .nested = g_string_new(NULL) };
    GString *out = g_string_new(NULL);

    ctx.rw = lilyas_rewriter_new(LILYAS_SYNTAX_ATT, NULL, NULL);
    lilyas_rewriter_set_include(ctx.rw, fake_include, &ctx);
    lilyas_rewriter_set_file_name(ctx.rw, "main.s");
    g_assert_cmpuint(lilyas_rewrite(ctx.rw, in, sizeof in - 1, out), ==, 3);
    g_assert_cmpstr(out->str, ==,
                    "\tint $0xe1; popf\n\t.include \"/tmp/rewritten \\\"x\\\".s\" # c\n# 3 \"main.s\"\n"
                    "\tint 0xe2; mov eax, cs\n\t.include \"missing.s\"\n\tint 0xe1; popf\n");
    g_assert_cmpstr(ctx.nested->str, ==, "\tint $0xe0; pushf\n.intel_syntax noprefix\n");
    g_assert_cmpstr(ctx.asked, ==, "missing.s");
    g_free(ctx.asked);
    g_string_free(ctx.nested, TRUE);
    g_string_free(out, TRUE);
    lilyas_rewriter_free(ctx.rw);
}

static void test_classify(void)
{
    g_assert_cmpint(lilyas_classify("mov", "%cs, %eax", LILYAS_SYNTAX_ATT), ==, LILY_REWRITE_VEC_MOV_SREG);
    g_assert_cmpint(lilyas_classify("mov", "%eax, %cs", LILYAS_SYNTAX_ATT), ==, -1);
    g_assert_cmpint(lilyas_classify("mov", "eax, cs", LILYAS_SYNTAX_INTEL), ==, LILY_REWRITE_VEC_MOV_SREG);
    g_assert_cmpint(lilyas_classify("mov", "cs, eax", LILYAS_SYNTAX_INTEL), ==, -1);
    g_assert_cmpint(lilyas_classify("int", "$0xdf", LILYAS_SYNTAX_ATT), ==, -1);
    g_assert_cmpint(lilyas_classify("int", "$0xee", LILYAS_SYNTAX_ATT), ==, -1);
    g_assert_cmpint(lilyas_classify("int", "0E0h", LILYAS_SYNTAX_INTEL), ==, LILY_REWRITE_VEC_INT);
    g_assert_cmpint(lilyas_classify("int", "$0b11100000", LILYAS_SYNTAX_ATT), ==, LILY_REWRITE_VEC_INT);
    g_assert_cmpint(lilyas_classify("int", "$ticks", LILYAS_SYNTAX_ATT), ==, -1);
    g_assert_cmpint(lilyas_classify("sgdt", "", LILYAS_SYNTAX_ATT), ==, -1);
    g_assert_cmpint(lilyas_classify("push", "%cs, %ds", LILYAS_SYNTAX_ATT), ==, -1);
}

/* ---- what gas makes of the output -------------------------------------- */

typedef struct AsFixture {
    char *dir;
    char *as;
} AsFixture;

static void as_setup(AsFixture *f, gconstpointer data)
{
    f->as = g_find_program_in_path("as");
    f->dir = g_dir_make_tmp("lilyas-test-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
}

static void as_teardown(AsFixture *f, gconstpointer data)
{
    const char *name;
    GDir *d = g_dir_open(f->dir, 0, NULL);

    while (d && (name = g_dir_read_name(d))) {
        char *p = g_build_filename(f->dir, name, NULL);

        g_unlink(p);
        g_free(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(f->dir);
    g_free(f->dir);
    g_free(f->as);
}

/* Assemble text with `as --32` and return the .text bytes. */
static GBytes *assemble(AsFixture *f, const char *tag, const char *text)
{
    char *src = g_strdup_printf("%s/%s.s", f->dir, tag);
    char *obj = g_strdup_printf("%s/%s.o", f->dir, tag);
    char *bin = g_strdup_printf("%s/%s.bin", f->dir, tag);
    char *full = g_strconcat(text, "\n", NULL);
    char *as_argv[] = { f->as, "--32", "-o", obj, src, NULL };
    char *cp_argv[] = { "objcopy", "-O", "binary", "-j", ".text", obj, bin, NULL };
    char *err = NULL, *contents = NULL;
    int status;
    gsize len;
    GError *error = NULL;

    g_assert_true(g_file_set_contents(src, full, -1, NULL));
    g_assert_true(g_spawn_sync(NULL, as_argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err, &status,
                               &error));
    g_assert_no_error(error);
    if (!g_spawn_check_wait_status(status, NULL))
        g_error("as --32 rejected %s:\n%s\n-- input --\n%s", tag, err, full);
    g_free(err);
    g_assert_true(g_spawn_sync(NULL, cp_argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                               NULL, NULL, &status, &error));
    g_assert_no_error(error);
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    g_assert_true(g_file_get_contents(bin, &contents, &len, NULL));
    g_free(src);
    g_free(obj);
    g_free(bin);
    g_free(full);
    return g_bytes_new_take(contents, len);
}

/* Every golden output assembles, and a single rewritten statement becomes
 * exactly CD vv followed by the bytes of the original. */
static void test_assembles(AsFixture *f, gconstpointer data)
{
    if (!f->as) {
        g_test_skip("no 'as' on PATH (binutils)");
        return;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(goldens); i++) {
        const Golden *g = &goldens[i];
        GBytes *orig, *rewritten;
        const guint8 *o, *r;
        gsize olen, rlen;

        g_test_message("form %s", g->name);
        orig = assemble(f, "orig", g->in);
        rewritten = assemble(f, "rewritten", g->out);
        if (g->vec >= 0) {
            o = g_bytes_get_data(orig, &olen);
            r = g_bytes_get_data(rewritten, &rlen);
            g_assert_cmpuint(rlen, ==, olen + LILY_REWRITE_TRAP_LEN);
            g_assert_cmphex(r[0], ==, LILY_REWRITE_TRAP_OPCODE);
            g_assert_cmphex(r[1], ==, (unsigned)g->vec);
            g_assert_cmpmem(r + LILY_REWRITE_TRAP_LEN, rlen - LILY_REWRITE_TRAP_LEN, o, olen);
            g_assert_cmpint(lily_rewrite_site_vector(r, rlen), ==, g->vec);
        }
        g_bytes_unref(orig);
        g_bytes_unref(rewritten);
    }
}

static void test_header(void)
{
    static const uint8_t site[] = { 0xcd, 0xe0, 0x9c };
    static const uint8_t plain_int[] = { 0xcd, 0x80, 0x90 };

    g_assert_cmpint(lily_rewrite_site_vector(site, sizeof site), ==, LILY_REWRITE_VEC_PUSHF);
    g_assert_cmpint(lily_rewrite_site_vector(site, 2), ==, -1);
    g_assert_cmpint(lily_rewrite_site_vector(plain_int, sizeof plain_int), ==, -1);
    g_assert_cmpstr(lily_rewrite_vector_name(LILY_REWRITE_VEC_SMSW), ==, "smsw");
    g_assert_null(lily_rewrite_vector_name(0x80));
    g_assert_cmpint(LILY_REWRITE_VEC_LAST - LILY_REWRITE_VEC_FIRST + 1, ==, 14);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(goldens); i++) {
        char *path = g_strdup_printf("/lilyas/rewrite/%s", goldens[i].name);

        g_test_add_data_func(path, &goldens[i], test_golden);
        g_free(path);
    }
    g_test_add_func("/lilyas/passthrough", test_passthrough);
    g_test_add_func("/lilyas/only-adds", test_only_adds);
    g_test_add_func("/lilyas/state-carries", test_state_carries);
    g_test_add_func("/lilyas/code16-warns", test_code16_warns);
    g_test_add_func("/lilyas/classify", test_classify);
    g_test_add_func("/lilyas/include", test_include);
    g_test_add_func("/lilyas/header", test_header);
    g_test_add("/lilyas/assembles", AsFixture, NULL, as_setup, test_assembles, as_teardown);
    return g_test_run();
}
