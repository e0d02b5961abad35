/*
 * lily-as: the assembler LilyVM's lily-cc puts in front of gas.  It rewrites
 * each input's sensitive instructions (lilyas-rewrite.c) into a temporary
 * file, then runs the real assembler with every argument it was given.
 *
 * The real assembler is $LILY_REAL_AS if set, else the first `as` on PATH
 * that is not lily-as itself (directories holding lily-as are skipped).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "tools/lilyas-rewrite.h"

/* Set in the real assembler's environment: a lily-as that finds it set is
 * being run as "the real as" by another one, a loop we refuse. */
#define LILYAS_ACTIVE_ENV "LILYAS_ACTIVE"

/* gas options whose value is the next argument. */
static const char *const lilyas_opts_with_arg[] = {
    "-o", "-I", "--defsym", "--MD", "-MD", "--debug-prefix-map",
};

typedef struct LilyasInput {
    const char *name;  /* as given ("-" for standard input) */
    char *temp_path;   /* rewritten copy handed to gas */
} LilyasInput;

/* Includes deeper than this are left to gas (which reports the loop). */
#define LILYAS_MAX_INCLUDE_DEPTH 32

static const char *lilyas_cur_name;

/* What the .include callback needs: where gas looks, what to clean up. */
typedef struct LilyasIncludeCtx {
    LilyasRewriter *rw;
    GPtrArray *dirs;  /* -I directories, in order */
    GPtrArray *temps; /* rewritten included files, removed at exit */
    int depth;
} LilyasIncludeCtx;

static void lilyas_print_warning(void *opaque, unsigned line, const char *message)
{
    fprintf(stderr, "lily-as: %s:%u: warning: %s\n", lilyas_cur_name, line, message);
}

static char *lilyas_realpath(const char *path)
{
    char buf[PATH_MAX];

    return realpath(path, buf) ? g_strdup(buf) : NULL;
}

/**
 * lilyas_find_real_as() - Locate the assembler to run after rewriting.
 * @argv0: how lily-as was invoked (gcc runs it as <-B dir>/as)
 * @error: set when none is found
 *
 * Return: a path to run, or NULL.
 */
static char *lilyas_find_real_as(const char *argv0, GError **error)
{
    const char *env = g_getenv("LILY_REAL_AS");
    const char *path = g_getenv("PATH");
    char *self = lilyas_realpath("/proc/self/exe");
    char *self_dir = self ? g_path_get_dirname(self) : NULL;
    char *argv0_dir = NULL, *found = NULL;
    char **dirs;

    if (env && *env) {
        found = strchr(env, '/') ? g_strdup(env) : g_find_program_in_path(env);
        if (!found)
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                        "LILY_REAL_AS='%s' names no program on PATH", env);
        goto out_free_self;
    }
    if (strchr(argv0, '/')) {
        char *d = g_path_get_dirname(argv0);

        argv0_dir = lilyas_realpath(d);
        g_free(d);
    }
    dirs = g_strsplit(path && *path ? path : "/usr/local/bin:/usr/bin:/bin", ":", -1);
    for (char **d = dirs; *d && !found; d++) {
        char *rdir = lilyas_realpath(**d ? *d : ".");
        char *cand, *rcand;

        if (!rdir)
            continue;
        if ((self_dir && !strcmp(rdir, self_dir)) || (argv0_dir && !strcmp(rdir, argv0_dir))) {
            g_free(rdir);
            continue;
        }
        cand = g_build_filename(rdir, "as", NULL);
        rcand = lilyas_realpath(cand);
        if (rcand && access(cand, X_OK) == 0 && !(self && !strcmp(rcand, self)))
            found = g_steal_pointer(&cand);
        g_free(rcand);
        g_free(cand);
        g_free(rdir);
    }
    g_strfreev(dirs);
    if (!found)
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                    "no real assembler 'as' found on PATH (lily-as's own directories are skipped); "
                    "install binutils or set LILY_REAL_AS=/path/to/as");
out_free_self:
    g_free(argv0_dir);
    g_free(self_dir);
    g_free(self);
    return found;
}

/* Read all of standard input. */
static gboolean lilyas_read_stdin(char **text, gsize *len, GError **error)
{
    GString *buf = g_string_new(NULL);
    char chunk[65536];
    size_t n;

    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        g_string_append_len(buf, chunk, (gssize)n);
    if (ferror(stdin)) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "cannot read standard input: %s", g_strerror(errno));
        g_string_free(buf, TRUE);
        return FALSE;
    }
    *len = buf->len;
    *text = g_string_free(buf, FALSE);
    return TRUE;
}

/* Rewritten text into a new temporary file; returns its path. */
static char *lilyas_write_temp(const GString *out, GError **error)
{
    char *path = NULL;
    int fd = g_file_open_tmp("lilyas-XXXXXX.s", &path, error);

    if (fd < 0)
        return NULL;
    close(fd);
    if (!g_file_set_contents(path, out->str, (gssize)out->len, error)) {
        g_unlink(path);
        g_free(path);
        return NULL;
    }
    return path;
}

/* The line marker that keeps gas's messages naming the real file. */
static void lilyas_mark_file(GString *out, const char *name, const char *text)
{
    char *quoted;

    if (g_str_has_prefix(text, "#NO_APP"))
        return; /* gas reads such a file without preprocessing: no markers */
    quoted = g_strescape(name, NULL);
    g_string_append_printf(out, "# 1 \"%s\"\n", quoted);
    g_free(quoted);
}

/*
 * .include "name": find the file where gas would (as named, relative to the
 * working directory; then each -I directory in order), rewrite it with the
 * same rewriter, and hand back the rewritten copy's path.
 */
static char *lilyas_include(void *opaque, const char *name, GError **error)
{
    LilyasIncludeCtx *ctx = opaque;
    const char *saved_name = lilyas_cur_name;
    char *found = NULL, *text, *path;
    gsize len;
    GString *out;

    if (ctx->depth >= LILYAS_MAX_INCLUDE_DEPTH) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_LOOP, "includes nested deeper than %d",
                    LILYAS_MAX_INCLUDE_DEPTH);
        return NULL;
    }
    if (g_path_is_absolute(name) || g_file_test(name, G_FILE_TEST_IS_REGULAR))
        found = g_strdup(name);
    for (guint i = 0; !found && i < ctx->dirs->len; i++) {
        char *cand = g_build_filename(ctx->dirs->pdata[i], name, NULL);

        if (g_file_test(cand, G_FILE_TEST_IS_REGULAR))
            found = cand;
        else
            g_free(cand);
    }
    if (!found)
        return NULL; /* gas will say it cannot open it */
    if (!g_file_get_contents(found, &text, &len, error)) {
        g_free(found);
        return NULL;
    }
    out = g_string_sized_new(len + len / 16 + 64);
    lilyas_mark_file(out, found, text);
    lilyas_cur_name = found;
    lilyas_rewriter_set_file_name(ctx->rw, g_str_has_prefix(text, "#NO_APP") ? NULL : found);
    ctx->depth++;
    lilyas_rewrite(ctx->rw, text, len, out);
    ctx->depth--;
    lilyas_cur_name = saved_name;
    g_free(text);
    path = lilyas_write_temp(out, error);
    g_string_free(out, TRUE);
    g_free(found);
    if (path)
        g_ptr_array_add(ctx->temps, g_strdup(path));
    return path;
}

/* Rewrite one input into a fresh temporary file whose path goes to in->temp_path. */
static gboolean lilyas_rewrite_input(LilyasRewriter *rw, LilyasInput *in, GError **error)
{
    char *text = NULL;
    gsize len = 0;
    GString *out;

    lilyas_cur_name = !strcmp(in->name, "-") ? "<stdin>" : in->name;
    if (!strcmp(in->name, "-") ? !lilyas_read_stdin(&text, &len, error)
                               : !g_file_get_contents(in->name, &text, &len, error))
        return FALSE;
    out = g_string_sized_new(len + len / 16 + 64);
    /* Keep gas's messages and -g line info pointing at the real file. */
    if (strcmp(in->name, "-"))
        lilyas_mark_file(out, in->name, text);
    lilyas_rewriter_set_file_name(rw, strcmp(in->name, "-") && !g_str_has_prefix(text, "#NO_APP") ? in->name : NULL);
    lilyas_rewrite(rw, text, len, out);
    g_free(text);
    in->temp_path = lilyas_write_temp(out, error);
    g_string_free(out, TRUE);
    return in->temp_path != NULL;
}

/* Run argv, wait, and return an exit status in the manner of a shell. */
static int lilyas_run(char **argv)
{
    pid_t pid = fork();
    int status;

    if (pid < 0) {
        fprintf(stderr, "lily-as: cannot fork: %s\n", g_strerror(errno));
        return 1;
    }
    if (pid == 0) {
        execv(argv[0], argv);
        fprintf(stderr, "lily-as: cannot run the real assembler '%s': %s\n", argv[0], g_strerror(errno));
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "lily-as: waitpid: %s\n", g_strerror(errno));
            return 1;
        }
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    fprintf(stderr, "lily-as: the real assembler '%s' died of signal %d\n", argv[0], WTERMSIG(status));
    return 128 + WTERMSIG(status);
}

static bool lilyas_takes_arg(const char *opt)
{
    for (size_t i = 0; i < G_N_ELEMENTS(lilyas_opts_with_arg); i++)
        if (!strcmp(opt, lilyas_opts_with_arg[i]))
            return true;
    return false;
}

int main(int argc, char **argv)
{
    GError *error = NULL;
    GPtrArray *args;
    GArray *inputs;
    LilyasSyntax syntax = LILYAS_SYNTAX_ATT;
    bool info_only = false, bits32 = false, other_bits = false;
    LilyasRewriter *rw = NULL;
    LilyasIncludeCtx inc = { .dirs = g_ptr_array_new(), .temps = g_ptr_array_new_with_free_func(g_free) };
    char *real_as;
    int rc = 1;

    if (g_getenv(LILYAS_ACTIVE_ENV)) {
        fprintf(stderr, "lily-as: the real assembler resolved to lily-as again (a loop); "
                        "set LILY_REAL_AS=/path/to/as (binutils' gas)\n");
        return 1;
    }
    real_as = lilyas_find_real_as(argv[0], &error);
    if (!real_as) {
        fprintf(stderr, "lily-as: %s\n", error->message);
        g_error_free(error);
        return 1;
    }
    g_setenv(LILYAS_ACTIVE_ENV, "1", TRUE);

    args = g_ptr_array_new();
    inputs = g_array_new(FALSE, TRUE, sizeof(LilyasInput));
    g_ptr_array_add(args, real_as);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        g_ptr_array_add(args, argv[i]);
        if (!strcmp(a, "--version") || !strcmp(a, "--help") || g_str_has_prefix(a, "--target-help"))
            info_only = true;
        else if (!strcmp(a, "--32"))
            bits32 = true;
        else if (!strcmp(a, "--64") || !strcmp(a, "--x32"))
            other_bits = true;
        else if (!strcmp(a, "-msyntax=intel"))
            syntax = LILYAS_SYNTAX_INTEL;
        else if (!strcmp(a, "-msyntax=att"))
            syntax = LILYAS_SYNTAX_ATT;
        if (g_str_has_prefix(a, "-I") && a[2])
            g_ptr_array_add(inc.dirs, (char *)a + 2);
        else if (!strcmp(a, "-I") && i + 1 < argc)
            g_ptr_array_add(inc.dirs, argv[i + 1]);
        if (lilyas_takes_arg(a) && i + 1 < argc) {
            g_ptr_array_add(args, argv[++i]);
        } else if (a[0] == '@') {
            fprintf(stderr, "lily-as: warning: response file '%s' passed through: inputs named there "
                            "are not rewritten\n", a);
        } else if (a[0] != '-' || !strcmp(a, "-")) {
            LilyasInput in = { .name = a };

            /* Remember the slot; the rewritten file's path goes there. */
            g_array_append_val(inputs, in);
            args->pdata[args->len - 1] = NULL;
        }
    }

    if (info_only || other_bits || !bits32) {
        if (!info_only)
            fprintf(stderr, "lily-as: warning: %s: nothing rewritten (LilyVM rewrites 32-bit code only)\n",
                    other_bits ? "--64/--x32 given" : "--32 not given");
        for (guint i = 0, k = 0; i < args->len; i++)
            if (!args->pdata[i])
                args->pdata[i] = (char *)g_array_index(inputs, LilyasInput, k++).name;
        g_ptr_array_add(args, NULL);
        rc = lilyas_run((char **)args->pdata);
        goto out_free_args;
    }

    if (inputs->len == 0) { /* gas reads standard input (gcc -pipe) */
        LilyasInput in = { .name = "-" };

        g_array_append_val(inputs, in);
        g_ptr_array_add(args, NULL);
    }
    rw = lilyas_rewriter_new(syntax, lilyas_print_warning, NULL);
    inc.rw = rw;
    lilyas_rewriter_set_include(rw, lilyas_include, &inc);
    for (guint i = 0, k = 0; i < args->len; i++) {
        LilyasInput *in;

        if (args->pdata[i])
            continue;
        in = &g_array_index(inputs, LilyasInput, k++);
        if (!lilyas_rewrite_input(rw, in, &error)) {
            fprintf(stderr, "lily-as: %s\n", error->message);
            g_clear_error(&error);
            goto out_remove_temps;
        }
        args->pdata[i] = in->temp_path;
    }
    g_ptr_array_add(args, NULL);
    rc = lilyas_run((char **)args->pdata);

out_remove_temps:
    for (guint k = 0; k < inputs->len; k++) {
        LilyasInput *in = &g_array_index(inputs, LilyasInput, k);

        if (in->temp_path && !g_getenv("LILYAS_KEEP"))
            g_unlink(in->temp_path);
        else if (in->temp_path)
            fprintf(stderr, "lily-as: kept %s (rewritten %s)\n", in->temp_path, in->name);
        g_free(in->temp_path);
    }
    for (guint k = 0; k < inc.temps->len; k++) {
        if (!g_getenv("LILYAS_KEEP"))
            g_unlink(inc.temps->pdata[k]);
        else
            fprintf(stderr, "lily-as: kept %s (an included file, rewritten)\n", (char *)inc.temps->pdata[k]);
    }
    lilyas_rewriter_free(rw);
out_free_args:
    g_ptr_array_free(inc.temps, TRUE);
    g_ptr_array_free(inc.dirs, TRUE);
    g_array_free(inputs, TRUE);
    g_ptr_array_free(args, TRUE);
    g_free(real_as);
    return rc;
}
