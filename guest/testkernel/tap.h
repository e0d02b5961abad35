/* TAP output and assertions for the test kernel. */
#ifndef TK_TAP_H
#define TK_TAP_H

#include <stdint.h>

struct tk_test {
    const char *name; /* a path: /group/behaviour */
    void (*fn)(void);
};

/* Run tests[0..n) printing "1..n" and one TAP line each; returns the failures. */
unsigned tap_run(const struct tk_test *tests, unsigned n);
/* Announce each test ("# start N /name") before it runs, to locate a hang. */
extern int tap_verbose;
/*
 * If set, a comma-separated list of name prefixes: tests matching none are
 * skipped (reported "# SKIP not selected"), so part of the suite can be run.
 */
extern const char *tap_only;
/* Record a failed assertion (printed as a "# " diagnostic) unless ok. */
void tap_check(int ok, const char *file, int line, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Mark the running test skipped, with the reason. */
void tap_skip(const char *reason);
/* Print a "# " comment line. */
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True once an assertion in the running test failed. */
int tap_failed(void);

#define CHECK(cond) tap_check(!!(cond), __FILE__, __LINE__, #cond, NULL)
/* Compare as unsigned 32-bit values and print both on failure. */
#define CHECK_EQ(a, b)                                                                 \
    do {                                                                               \
        uint32_t tk_a_ = (uint32_t)(a), tk_b_ = (uint32_t)(b);                         \
        tap_check(tk_a_ == tk_b_, __FILE__, __LINE__, #a " == " #b, "got %#x, expected %#x", \
                  tk_a_, tk_b_);                                                       \
    } while (0)
#define CHECK_NE(a, b)                                                                 \
    do {                                                                               \
        uint32_t tk_a_ = (uint32_t)(a), tk_b_ = (uint32_t)(b);                         \
        tap_check(tk_a_ != tk_b_, __FILE__, __LINE__, #a " != " #b, "both are %#x", tk_a_); \
    } while (0)
#define CHECK_GT(a, b)                                                                 \
    do {                                                                               \
        uint32_t tk_a_ = (uint32_t)(a), tk_b_ = (uint32_t)(b);                         \
        tap_check(tk_a_ > tk_b_, __FILE__, __LINE__, #a " > " #b, "%u is not above %u", \
                  tk_a_, tk_b_);                                                       \
    } while (0)

#endif
