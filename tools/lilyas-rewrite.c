/*
 * lily-as rewriter core: finds the sensitive-but-unprivileged instructions in
 * gas input (AT&T or Intel syntax) and opens each with a LilyVM rewrite trap.
 *
 * DOC: Theory of operation
 *
 * The rewriter is deliberately shallow: it never re-encodes anything.  Each
 * line is split into statements the way gas splits it (';' separates, '#'
 * and C comments end or interrupt, strings and character constants hide
 * both), each statement is parsed as labels, prefixes, a mnemonic and
 * operand text, and if the mnemonic and operands name a sensitive
 * instruction the text `int $VEC; ` is inserted before its first prefix.
 * The original statement stays where it was, byte for byte, so gas encodes
 * it exactly as before (any addressing mode, any relocation) and the VM
 * finds it right after the trap (include/lilyvm/rewrite.h).  Nothing is
 * ever removed, and a line that cannot be parsed is copied unchanged.
 */
#include "tools/lilyas-rewrite.h"

#include <string.h>

#include "lilyvm/rewrite.h"

struct LilyasRewriter {
    LilyasSyntax syntax;
    LilyasWarnFn warn;
    void *opaque;
    bool in_block_comment; /* inside a C comment that spans lines */
    int code_bits;         /* 32, or 16/64 inside .code16/.code64 regions */
    bool region_warned;    /* a sensitive instruction in this region was reported */
    gssize pending_prefix; /* output offset of a prefix-only statement, or -1 */
    unsigned line;         /* current line, 1-based, for warnings */
    LilyasIncludeFn include;
    void *include_opaque;
    char *file_name;       /* for line markers after an include, or NULL */
};

LilyasRewriter *lilyas_rewriter_new(LilyasSyntax syntax, LilyasWarnFn warn, void *opaque)
{
    LilyasRewriter *rw = g_new0(LilyasRewriter, 1);

    rw->syntax = syntax;
    rw->warn = warn;
    rw->opaque = opaque;
    rw->code_bits = 32;
    rw->pending_prefix = -1;
    return rw;
}

void lilyas_rewriter_set_include(LilyasRewriter *rw, LilyasIncludeFn fn, void *opaque)
{
    rw->include = fn;
    rw->include_opaque = opaque;
}

void lilyas_rewriter_set_file_name(LilyasRewriter *rw, const char *name)
{
    g_free(rw->file_name);
    rw->file_name = g_strdup(name);
}

void lilyas_rewriter_free(LilyasRewriter *rw)
{
    if (rw)
        g_free(rw->file_name);
    g_free(rw);
}

static void rw_warn(LilyasRewriter *rw, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void rw_warn(LilyasRewriter *rw, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    if (!rw->warn)
        return;
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    rw->warn(rw->opaque, rw->line, msg);
    g_free(msg);
}

/* ---- classification ---------------------------------------------------- */

/* Mnemonics whose every form is sensitive, with their operand counts. */
static const struct {
    const char *mnemonic;
    int vec;
    int min_ops, max_ops;
} rw_always[] = {
    { "pushf", LILY_REWRITE_VEC_PUSHF, 0, 0 },  { "pushfw", LILY_REWRITE_VEC_PUSHF, 0, 0 },
    { "pushfl", LILY_REWRITE_VEC_PUSHF, 0, 0 }, { "pushfd", LILY_REWRITE_VEC_PUSHF, 0, 0 },
    { "popf", LILY_REWRITE_VEC_POPF, 0, 0 },    { "popfw", LILY_REWRITE_VEC_POPF, 0, 0 },
    { "popfl", LILY_REWRITE_VEC_POPF, 0, 0 },   { "popfd", LILY_REWRITE_VEC_POPF, 0, 0 },
    { "sgdt", LILY_REWRITE_VEC_SGDT, 1, 1 },    { "sgdtl", LILY_REWRITE_VEC_SGDT, 1, 1 },
    { "sgdtw", LILY_REWRITE_VEC_SGDT, 1, 1 },   { "sgdtd", LILY_REWRITE_VEC_SGDT, 1, 1 },
    { "sidt", LILY_REWRITE_VEC_SIDT, 1, 1 },    { "sidtl", LILY_REWRITE_VEC_SIDT, 1, 1 },
    { "sidtw", LILY_REWRITE_VEC_SIDT, 1, 1 },   { "sidtd", LILY_REWRITE_VEC_SIDT, 1, 1 },
    { "sldt", LILY_REWRITE_VEC_SLDT, 1, 1 },    { "sldtw", LILY_REWRITE_VEC_SLDT, 1, 1 },
    { "sldtl", LILY_REWRITE_VEC_SLDT, 1, 1 },   { "str", LILY_REWRITE_VEC_STR, 1, 1 },
    { "strw", LILY_REWRITE_VEC_STR, 1, 1 },     { "strl", LILY_REWRITE_VEC_STR, 1, 1 },
    { "smsw", LILY_REWRITE_VEC_SMSW, 1, 1 },    { "smsww", LILY_REWRITE_VEC_SMSW, 1, 1 },
    { "smswl", LILY_REWRITE_VEC_SMSW, 1, 1 },   { "lar", LILY_REWRITE_VEC_LAR, 2, 2 },
    { "larw", LILY_REWRITE_VEC_LAR, 2, 2 },     { "larl", LILY_REWRITE_VEC_LAR, 2, 2 },
    { "lsl", LILY_REWRITE_VEC_LSL, 2, 2 },      { "lslw", LILY_REWRITE_VEC_LSL, 2, 2 },
    { "lsll", LILY_REWRITE_VEC_LSL, 2, 2 },     { "verr", LILY_REWRITE_VEC_VERR, 1, 1 },
    { "verrw", LILY_REWRITE_VEC_VERR, 1, 1 },   { "verw", LILY_REWRITE_VEC_VERW, 1, 1 },
    { "verww", LILY_REWRITE_VEC_VERW, 1, 1 },
};

#define RW_MAX_OPS 4

/* Split operand text at top-level commas; returns the count (trimmed copies). */
static int rw_split_operands(const char *ops, char *out[RW_MAX_OPS + 1])
{
    int n = 0, depth = 0;
    const char *start = ops;

    while (*start == ' ' || *start == '\t')
        start++;
    if (*start == '\0')
        return 0;
    for (const char *p = start;; p++) {
        if (*p == '(' || *p == '[')
            depth++;
        else if ((*p == ')' || *p == ']') && depth > 0)
            depth--;
        if (*p == '\0' || (*p == ',' && depth == 0)) {
            if (n == RW_MAX_OPS + 1)
                return n;
            out[n++] = g_strstrip(g_strndup(start, (gsize)(p - start)));
            if (*p == '\0')
                break;
            start = p + 1;
        }
    }
    return n;
}

/* %cs, cs, %CS ...: a segment register named on its own. */
static bool rw_is_sreg(const char *op)
{
    static const char *const sregs[] = { "cs", "ds", "es", "fs", "gs", "ss" };

    if (*op == '%')
        op++;
    for (size_t i = 0; i < G_N_ELEMENTS(sregs); i++)
        if (g_ascii_strcasecmp(op, sregs[i]) == 0)
            return true;
    return false;
}

/* A literal `int` vector: $N in AT&T, N in Intel (C-style bases, Intel NNh). */
static bool rw_parse_vector(const char *op, LilyasSyntax syntax, unsigned *vec)
{
    char *end;
    guint64 v;
    size_t len;
    int base = 0;

    if (syntax == LILYAS_SYNTAX_ATT) {
        if (*op != '$')
            return false;
        op++;
    }
    len = strlen(op);
    if (len == 0)
        return false;
    if (len > 2 && op[0] == '0' && (op[1] == 'b' || op[1] == 'B')) {
        op += 2;
        base = 2;
    } else if (len > 1 && (op[len - 1] == 'h' || op[len - 1] == 'H') && g_ascii_isdigit(op[0])) {
        base = 16;
    }
    v = g_ascii_strtoull(op, &end, base);
    if (end == op || (*end != '\0' && !(base == 16 && end == op + len - 1)))
        return false;
    *vec = (unsigned)v;
    return v <= 0xff;
}

int lilyas_classify(const char *mnemonic, const char *operands, LilyasSyntax syntax)
{
    char *ops[RW_MAX_OPS + 1];
    int nops = rw_split_operands(operands ? operands : "", ops);
    int vec = -1;
    unsigned n;

    for (size_t i = 0; i < G_N_ELEMENTS(rw_always); i++) {
        if (strcmp(mnemonic, rw_always[i].mnemonic) == 0) {
            if (nops >= rw_always[i].min_ops && nops <= rw_always[i].max_ops)
                vec = rw_always[i].vec;
            goto out_free_ops;
        }
    }
    if (!strcmp(mnemonic, "mov") || !strcmp(mnemonic, "movw") || !strcmp(mnemonic, "movl")) {
        /* Only the store form (8C): the source is the segment register. */
        if (nops == 2 && rw_is_sreg(ops[syntax == LILYAS_SYNTAX_ATT ? 0 : 1]))
            vec = LILY_REWRITE_VEC_MOV_SREG;
    } else if (!strcmp(mnemonic, "push") || !strcmp(mnemonic, "pushw") || !strcmp(mnemonic, "pushl")) {
        if (nops == 1 && rw_is_sreg(ops[0]))
            vec = LILY_REWRITE_VEC_PUSH_SREG;
    } else if (!strcmp(mnemonic, "int")) {
        /* A kernel's own `int $n` in the reserved range is escaped, so
         * every reserved trap in rewritten code opens a site. */
        if (nops == 1 && rw_parse_vector(ops[0], syntax, &n) && lily_rewrite_is_vector(n))
            vec = LILY_REWRITE_VEC_INT;
    }
out_free_ops:
    for (int i = 0; i < nops; i++)
        g_free(ops[i]);
    return vec;
}

/* ---- statement parsing ------------------------------------------------- */

static const char *const rw_prefixes[] = {
    "lock",   "rep",    "repe",   "repz",   "repne", "repnz", "data16",   "data32",
    "addr16", "addr32", "cs",     "ds",     "es",    "fs",    "gs",       "ss",
    "bnd",    "notrack", "xacquire", "xrelease", "rex", "rex64",
};

static bool rw_is_prefix(const char *word)
{
    for (size_t i = 0; i < G_N_ELEMENTS(rw_prefixes); i++)
        if (strcmp(word, rw_prefixes[i]) == 0)
            return true;
    return false;
}

static bool rw_ident_start(char c)
{
    return g_ascii_isalpha(c) || c == '_' || c == '.';
}

static bool rw_ident_char(char c)
{
    return g_ascii_isalnum(c) || c == '_' || c == '.' || c == '$' || c == '@';
}

static size_t rw_skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\f' || s[i] == '\v'))
        i++;
    return i;
}

typedef enum RwStmtKind {
    RW_STMT_EMPTY,       /* nothing but blanks and comments */
    RW_STMT_PREFIX_ONLY, /* `rep`, `lock` ... alone: applies to what follows */
    RW_STMT_OTHER,       /* labels, directives, ordinary instructions */
    RW_STMT_SENSITIVE,   /* an instruction to open with a trap */
    RW_STMT_INCLUDE,     /* .include "file" */
} RwStmtKind;

typedef struct RwStmt {
    RwStmtKind kind;
    size_t insn_off; /* where the first prefix or the mnemonic starts */
    bool has_labels;
    int vec;
    size_t name_off, name_len; /* RW_STMT_INCLUDE: the file name inside the quotes */
} RwStmt;

/* React to the directives that change how later statements are read. */
static void rw_directive(LilyasRewriter *rw, const char *word)
{
    if (!strcmp(word, ".intel_syntax")) {
        rw->syntax = LILYAS_SYNTAX_INTEL;
    } else if (!strcmp(word, ".att_syntax")) {
        rw->syntax = LILYAS_SYNTAX_ATT;
    } else if (!strcmp(word, ".code16") || !strcmp(word, ".code16gcc")) {
        rw->code_bits = 16;
        rw->region_warned = false;
    } else if (!strcmp(word, ".code64")) {
        rw->code_bits = 64;
        rw->region_warned = false;
    } else if (!strcmp(word, ".code32")) {
        rw->code_bits = 32;
    }
}

/* Parse one statement of cleaned text s[0..n) (comments already blanked). */
static RwStmt rw_parse_stmt(LilyasRewriter *rw, const char *s, size_t n)
{
    RwStmt st = { .kind = RW_STMT_EMPTY, .vec = -1 };
    size_t i = rw_skip_ws(s, 0, n), j;
    char *word, *ops;

    /* Labels: `name:`, `1:`, `"quoted name":`, any number of them. */
    for (;;) {
        j = i;
        if (j < n && s[j] == '"') {
            for (j++; j < n && s[j] != '"'; j++)
                if (s[j] == '\\')
                    j++;
            j++;
        } else if (j < n && (rw_ident_start(s[j]) || g_ascii_isdigit(s[j]))) {
            while (j < n && rw_ident_char(s[j]))
                j++;
        } else {
            break;
        }
        if (j >= n || s[j] != ':')
            break;
        j++;
        if (j < n && s[j] == ':') /* `name::` declares a global label */
            j++;
        i = rw_skip_ws(s, j, n);
        st.has_labels = true;
    }
    if (i >= n) {
        st.kind = st.has_labels ? RW_STMT_OTHER : RW_STMT_EMPTY;
        return st;
    }
    st.insn_off = i;
    st.kind = RW_STMT_OTHER;

    for (;;) {
        if (s[i] == '{') { /* pseudo-prefix such as {disp32}, {vex} */
            while (i < n && s[i] != '}')
                i++;
            if (i >= n)
                return st;
            i = rw_skip_ws(s, i + 1, n);
            if (i >= n) {
                st.kind = RW_STMT_PREFIX_ONLY;
                return st;
            }
            continue;
        }
        if (!rw_ident_start(s[i]))
            return st; /* not something we understand: leave it */
        for (j = i; j < n && rw_ident_char(s[j]); j++)
            ;
        word = g_ascii_strdown(s + i, (gssize)(j - i));
        if (word[0] == '.') {
            rw_directive(rw, word);
            if (!strcmp(word, ".include")) {
                i = rw_skip_ws(s, j, n);
                for (j = i + 1; i < n && s[i] == '"' && j < n && s[j] != '"' && s[j] != '\\'; j++)
                    ;
                if (i < n && s[i] == '"' && j < n && s[j] == '"' && j > i + 1) {
                    st.kind = RW_STMT_INCLUDE;
                    st.name_off = i + 1;
                    st.name_len = j - i - 1;
                } else {
                    rw_warn(rw, ".include without a plain \"file name\": that file is not rewritten");
                }
            }
            g_free(word);
            return st;
        }
        i = rw_skip_ws(s, j, n);
        if (i < n && s[i] == '=') { /* `sym = expr` */
            g_free(word);
            return st;
        }
        if (rw_is_prefix(word) && (i >= n || rw_ident_start(s[i]) || s[i] == '{')) {
            g_free(word);
            if (i >= n) {
                st.kind = RW_STMT_PREFIX_ONLY;
                return st;
            }
            continue;
        }
        if (j < n && !(s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\f' || s[j] == '\v')) {
            g_free(word); /* e.g. `foo+1` or `cs:` where a mnemonic should be */
            return st;
        }
        ops = g_strndup(s + i, n - i);
        st.vec = lilyas_classify(word, ops, rw->syntax);
        g_free(ops);
        if (st.vec >= 0) {
            if (rw->code_bits != 32) {
                if (!rw->region_warned)
                    rw_warn(rw, "'%s' in a .code%d region left as it is (LilyVM runs 32-bit code only)",
                            word, rw->code_bits);
                rw->region_warned = true;
                st.vec = -1;
            } else {
                st.kind = RW_STMT_SENSITIVE;
            }
        }
        g_free(word);
        return st;
    }
}

/* ---- lines ------------------------------------------------------------- */

/* Split line[0..n) into statements; clean[] gets the line with comments blanked. */
static void rw_scan_line(LilyasRewriter *rw, const char *line, size_t n, char *clean, GArray *bounds)
{
    size_t i = 0, start = 0, k;

    /* '/' first on a line (not opening a C comment) is a line comment. */
    k = rw_skip_ws(line, 0, n);
    if (!rw->in_block_comment && k < n && line[k] == '/' && !(k + 1 < n && line[k + 1] == '*')) {
        memset(clean, ' ', n);
        n = 0;
    }
    while (i < n) {
        char c = line[i];

        if (rw->in_block_comment) {
            if (c == '*' && i + 1 < n && line[i + 1] == '/') {
                clean[i++] = ' ';
                rw->in_block_comment = false;
            }
            clean[i++] = ' ';
            continue;
        }
        if (c == '"') {
            clean[i++] = c;
            while (i < n && line[i] != '"') {
                if (line[i] == '\\' && i + 1 < n) {
                    clean[i] = line[i];
                    i++;
                }
                clean[i] = line[i];
                i++;
            }
            if (i < n) {
                clean[i] = line[i];
                i++;
            }
            continue;
        }
        if (c == '\'') { /* character constant: 'c or '\n */
            clean[i++] = c;
            if (i < n && line[i] == '\\' && i + 1 < n) {
                clean[i] = line[i];
                i++;
            }
            if (i < n) {
                clean[i] = line[i];
                i++;
            }
            continue;
        }
        if (c == '#') {
            memset(clean + i, ' ', n - i);
            break;
        }
        if (c == '/' && i + 1 < n && line[i + 1] == '*') {
            clean[i++] = ' ';
            clean[i++] = ' ';
            rw->in_block_comment = true;
            continue;
        }
        clean[i] = c;
        if (c == ';') {
            size_t b[2] = { start, i };
            g_array_append_vals(bounds, b, 2);
            start = i + 1;
        }
        i++;
    }
    {
        size_t b[2] = { start, n > start ? n : start };
        g_array_append_vals(bounds, b, 2);
    }
}

static void rw_append_trap(LilyasRewriter *rw, GString *out, gssize at, int vec)
{
    char trap[32];

    g_snprintf(trap, sizeof trap, rw->syntax == LILYAS_SYNTAX_ATT ? "int $0x%02x; " : "int 0x%02x; ",
               (unsigned)vec);
    if (at < 0)
        g_string_append(out, trap);
    else
        g_string_insert(out, at, trap);
}

/*
 * Hand an included file to the include callback, which rewrites it (with
 * this same rewriter, as gas reads it in this same state) and says where
 * the result is; point the .include there.  Returns whether it did.
 */
static bool rw_include(LilyasRewriter *rw, const char *name, size_t len, GString *out, const char *line,
                       size_t *emitted)
{
    char *file = g_strndup(name, len);
    unsigned saved_line = rw->line;
    bool saved_comment = rw->in_block_comment;
    char *saved_file;
    GError *error = NULL;
    char *path, *quoted;

    if (!rw->include) {
        rw_warn(rw, "'%s' is pulled in with .include and is not rewritten", file);
        g_free(file);
        return false;
    }
    saved_file = g_strdup(rw->file_name);
    rw->in_block_comment = false;
    path = rw->include(rw->include_opaque, file, &error);
    rw->line = saved_line;
    rw->in_block_comment = saved_comment;
    rw->pending_prefix = -1;
    g_free(rw->file_name);
    rw->file_name = saved_file;
    if (!path) {
        if (error)
            rw_warn(rw, "'%s' (.include) is not rewritten: %s", file, error->message);
        g_clear_error(&error);
        g_free(file);
        return false;
    }
    g_string_append_len(out, line + *emitted, name - (line + *emitted));
    quoted = g_strescape(path, NULL);
    g_string_append(out, quoted);
    g_free(quoted);
    g_free(path);
    g_free(file);
    return true;
}

/* Rewrite one line (no newline) onto out; returns the number of sites. */
static unsigned rw_line(LilyasRewriter *rw, const char *line, size_t n, GString *out)
{
    char *clean = g_malloc(n + 1);
    GArray *bounds = g_array_new(FALSE, FALSE, sizeof(size_t));
    size_t emitted = 0;
    unsigned sites = 0;
    bool included = false;

    rw_scan_line(rw, line, n, clean, bounds);
    for (guint b = 0; b + 1 < bounds->len; b += 2) {
        size_t start = g_array_index(bounds, size_t, b);
        size_t end = g_array_index(bounds, size_t, b + 1);
        RwStmt st = rw_parse_stmt(rw, clean + start, end - start);
        size_t at = start + st.insn_off;

        switch (st.kind) {
        case RW_STMT_EMPTY:
            break;
        case RW_STMT_PREFIX_ONLY:
            if (rw->pending_prefix < 0) {
                g_string_append_len(out, line + emitted, (gssize)(at - emitted));
                emitted = at;
                rw->pending_prefix = (gssize)out->len;
            }
            break;
        case RW_STMT_OTHER:
            rw->pending_prefix = -1;
            break;
        case RW_STMT_INCLUDE:
            rw->pending_prefix = -1;
            if (rw_include(rw, line + start + st.name_off, st.name_len, out, line, &emitted)) {
                emitted = start + st.name_off + st.name_len;
                included = true;
            }
            break;
        case RW_STMT_SENSITIVE:
            if (rw->pending_prefix >= 0) {
                /* `rep; pushf`: the trap must come before the prefix, or the
                 * prefix would apply to the trap and the VM not see a site. */
                if (st.has_labels)
                    rw_warn(rw, "a label between a prefix and its instruction points into a rewrite site");
                rw_append_trap(rw, out, rw->pending_prefix, st.vec);
            } else {
                g_string_append_len(out, line + emitted, (gssize)(at - emitted));
                emitted = at;
                rw_append_trap(rw, out, -1, st.vec);
            }
            rw->pending_prefix = -1;
            sites++;
            break;
        }
    }
    g_string_append_len(out, line + emitted, (gssize)(n - emitted));
    if (included && rw->file_name) {
        /* gas forgets line markers across an .include: say again where we are. */
        char *quoted = g_strescape(rw->file_name, NULL);

        g_string_append_printf(out, "\n# %u \"%s\"", rw->line + 1, quoted);
        g_free(quoted);
    }
    g_array_free(bounds, TRUE);
    g_free(clean);
    return sites;
}

unsigned lilyas_rewrite(LilyasRewriter *rw, const char *text, size_t len, GString *out)
{
    size_t pos = 0;
    unsigned sites = 0;

    rw->line = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

        rw->line++;
        sites += rw_line(rw, text + pos, n, out);
        pos += n;
        if (nl) {
            g_string_append_c(out, '\n');
            pos++;
        }
    }
    return sites;
}
