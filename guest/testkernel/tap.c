/* TAP runner: one "ok"/"not ok" line per test, diagnostics as comments. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "tap.h"

int tap_verbose;
const char *tap_only;

/* Whether name starts with one of the comma-separated prefixes in list. */
static int tap_selected(const char *name, const char *list)
{
    while (*list) {
        const char *end = strchr(list, ',');
        size_t n = end ? (size_t)(end - list) : strlen(list);
        if (n && !strncmp(name, list, n))
            return 1;
        if (!end)
            break;
        list = end + 1;
    }
    return 0;
}
static int test_failed;
static const char *test_skip_reason;

void tap_check(int ok, const char *file, int line, const char *what, const char *fmt, ...)
{
    if (ok)
        return;
    test_failed = 1;
    printf("# %s:%d: check failed: %s", file, line, what);
    if (fmt) {
        va_list ap;
        printf(": ");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
    }
    printf("\n");
}

void tap_skip(const char *reason)
{
    test_skip_reason = reason;
}

int tap_failed(void)
{
    return test_failed;
}

void tap_diag(const char *fmt, ...)
{
    va_list ap;

    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

unsigned tap_run(const struct tk_test *tests, unsigned n)
{
    unsigned failures = 0, skips = 0;

    printf("1..%u\n", n);
    for (unsigned i = 0; i < n; i++) {
        test_failed = 0;
        test_skip_reason = NULL;
        if (tap_only && !tap_selected(tests[i].name, tap_only)) {
            skips++;
            printf("ok %u - %s # SKIP not selected (only=%s)\n", i + 1, tests[i].name, tap_only);
            continue;
        }
        if (tap_verbose)
            printf("# start %u %s\n", i + 1, tests[i].name);
        tests[i].fn();
        if (test_failed) {
            failures++;
            printf("not ok %u - %s\n", i + 1, tests[i].name);
        } else if (test_skip_reason) {
            skips++;
            printf("ok %u - %s # SKIP %s\n", i + 1, tests[i].name, test_skip_reason);
        } else {
            printf("ok %u - %s\n", i + 1, tests[i].name);
        }
    }
    if (failures)
        printf("# testkernel done: FAIL, %u of %u tests failed\n", failures, n);
    else
        printf("# testkernel done: PASS, %u tests (%u skipped)\n", n, skips);
    return failures;
}
