/*
 * lily-as rewriter core: turns the assembly text gas would read into the same
 * text with every sensitive-but-unprivileged instruction opened by a trap.
 */
#ifndef LILYAS_REWRITE_H
#define LILYAS_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

typedef enum LilyasSyntax {
    LILYAS_SYNTAX_ATT = 0,
    LILYAS_SYNTAX_INTEL = 1,
} LilyasSyntax;

/* Called for each warning: @line is 1-based within the text being rewritten. */
typedef void (*LilyasWarnFn)(void *opaque, unsigned line, const char *message);

typedef struct LilyasRewriter LilyasRewriter;

/*
 * Called for `.include "name"`: rewrite that file (by calling lilyas_rewrite()
 * on @rw's rewriter again) and return the path of the result, newly
 * allocated, for the .include to name instead; or return NULL to leave the
 * statement alone (with @error set to say why, or unset when gas should
 * report a missing file itself).
 */
typedef char *(*LilyasIncludeFn)(void *opaque, const char *name, GError **error);

/**
 * lilyas_rewriter_new() - Create a rewriter.
 * @syntax: the syntax the text starts in (gas -msyntax=; .intel_syntax and
 *          .att_syntax switch it while rewriting)
 * @warn: receives warnings (regions left alone, ...), may be NULL
 * @opaque: passed to @warn
 *
 * The state (syntax, .code16 regions, open block comments) carries over from
 * one lilyas_rewrite() call to the next, as it does from one input file to
 * the next in gas.
 */
LilyasRewriter *lilyas_rewriter_new(LilyasSyntax syntax, LilyasWarnFn warn, void *opaque);
void lilyas_rewriter_free(LilyasRewriter *rw);

/*
 * Name of the file being rewritten, for the line marker put after a
 * rewritten .include (gas forgets earlier markers there); NULL for none.
 * Kept across the include callback.
 */
void lilyas_rewriter_set_file_name(LilyasRewriter *rw, const char *name);

/* Rewrite files pulled in with .include through @fn (default: warn only). */
void lilyas_rewriter_set_include(LilyasRewriter *rw, LilyasIncludeFn fn, void *opaque);

/**
 * lilyas_rewrite() - Rewrite a whole assembly text.
 * @rw: the rewriter
 * @text: the input (any bytes; need not be NUL-terminated)
 * @len: its length
 * @out: receives the output, appended
 *
 * Every line comes out as it went in, byte for byte, except that a sensitive
 * statement gets `int $VEC; ` inserted in front of it (after its labels,
 * before its prefixes), so line numbers do not change.  Lines that are not
 * understood pass through untouched.
 *
 * Return: the number of sites inserted.
 */
unsigned lilyas_rewrite(LilyasRewriter *rw, const char *text, size_t len, GString *out);

/**
 * lilyas_classify() - The vector a single statement would be rewritten with.
 * @mnemonic: lower-case mnemonic (size suffix included)
 * @operands: operand text as written, may be empty
 * @syntax: AT&T or Intel operand order
 *
 * Return: a LILY_REWRITE_VEC_* value, or -1 if the statement is not sensitive.
 */
int lilyas_classify(const char *mnemonic, const char *operands, LilyasSyntax syntax);

#endif /* LILYAS_REWRITE_H */
