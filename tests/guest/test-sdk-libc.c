/*
 * The guest SDK's libc (guest/sdk/printf.c, string.c) built for the host
 * with every symbol prefixed sdk_, compared against glibc.
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>

int sdk_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void *sdk_memcpy(void *dst, const void *src, size_t n);
void *sdk_memmove(void *dst, const void *src, size_t n);
void *sdk_memset(void *dst, int c, size_t n);
int sdk_memcmp(const void *a, const void *b, size_t n);
size_t sdk_strlen(const char *s);
int sdk_strcmp(const char *a, const char *b);
int sdk_strncmp(const char *a, const char *b, size_t n);
char *sdk_strchr(const char *s, int c);
char *sdk_strrchr(const char *s, int c);
size_t sdk_strlcpy(char *dst, const char *src, size_t size);

/* Format with both implementations and compare text and return value. */
#define SAME(...)                                                              \
    do {                                                                       \
        char ours_[128], libc_[128];                                           \
        int n_ours_ = sdk_snprintf(ours_, sizeof ours_, __VA_ARGS__);          \
        int n_libc_ = snprintf(libc_, sizeof libc_, __VA_ARGS__);              \
        g_assert_cmpstr(ours_, ==, libc_);                                     \
        g_assert_cmpint(n_ours_, ==, n_libc_);                                 \
    } while (0)

static void test_printf_integers(void)
{
    SAME("%d %i %u", 0, -1, 4000000000u);
    SAME("%d %d", -2147483647 - 1, 2147483647);
    SAME("%x %X %o", 0xdeadbeefu, 0xabcu, 0755u);
    SAME("%hhd %hhu %hd %hu", 300, 300, 70000, 70000);
    SAME("%ld %lu %lx", -5L, 5UL, 0xffUL);
    SAME("%lld %llu %llx", -1234567890123LL, 18446744073709551615ULL, 0x123456789abcdefULL);
    SAME("%zu %zx", (size_t)12345, (size_t)0xfff);
}

static void test_printf_flags_width_precision(void)
{
    SAME("[%5d] [%-5d] [%05d] [%+d] [% d]", 42, 42, 42, 42, 42);
    SAME("[%08x] [%#x] [%#X] [%#o] [%#x]", 0xbeefu, 0xbeefu, 0xbeefu, 8u, 0u);
    SAME("[%.3d] [%8.3d] [%-8.3d|] [%.0d] [%.0x]", 7, -7, 7, 0, 0u);
    SAME("[%*d] [%-*d] [%.*d]", 6, 1, 6, 1, 4, 1);
    /* Flags that cancel each other ('-' and '0', precision and '0'): through
     * a variable, since the compiler rightly warns about them in literals. */
    const char *fmt = "[%05d] [%+05d] [%-05d]";
    SAME(fmt, -12, 12, 12);
    fmt = "[%010.4d]";
    SAME(fmt, 99);
}

static void test_printf_strings_chars(void)
{
    SAME("[%s] [%10s] [%-10s] [%.3s] [%5.1s]", "abc", "abc", "abc", "abcdef", "xyz");
    SAME("[%c] [%3c] [%-3c] %%", 'a', 'b', 'c');
    SAME("%s", "");
    SAME("%p", (void *)0x1234);
}

/* snprintf returns the full length and always terminates within size. */
static void test_printf_truncation(void)
{
    char buf[8];

    memset(buf, 'x', sizeof buf);
    g_assert_cmpint(sdk_snprintf(buf, sizeof buf, "%s", "hello world"), ==, 11);
    g_assert_cmpstr(buf, ==, "hello w");
    memset(buf, 'x', sizeof buf);
    g_assert_cmpint(sdk_snprintf(buf, 1, "%d", 12345), ==, 5);
    g_assert_cmpint(buf[0], ==, '\0');
    g_assert_cmpint(buf[1], ==, 'x');
    g_assert_cmpint(sdk_snprintf(NULL, 0, "%d-%s", 7, "ab"), ==, 4);
}

static void test_string_mem(void)
{
    char a[32], b[32];

    sdk_memset(a, 'q', sizeof a);
    for (size_t i = 0; i < sizeof a; i++)
        g_assert_cmpint(a[i], ==, 'q');
    sdk_memcpy(b, "0123456789", 11);
    g_assert_cmpstr(b, ==, "0123456789");
    sdk_memmove(b + 2, b, 8); /* overlapping, forwards */
    g_assert_cmpstr(b, ==, "0101234567");
    sdk_memmove(b, b + 2, 9); /* overlapping, backwards */
    g_assert_cmpstr(b, ==, "01234567");
    g_assert_cmpint(sdk_memcmp("abc", "abd", 3), <, 0);
    g_assert_cmpint(sdk_memcmp("abd", "abc", 3), >, 0);
    g_assert_cmpint(sdk_memcmp("abc", "abc", 3), ==, 0);
    g_assert_cmpint(sdk_memcmp("\xff", "\x01", 1), >, 0); /* bytes compare unsigned */
}

static void test_string_str(void)
{
    const char *s = "path/to/file";
    char small[5];

    g_assert_cmpuint(sdk_strlen(""), ==, 0);
    g_assert_cmpuint(sdk_strlen(s), ==, 12);
    g_assert_cmpint(sdk_strcmp("a", "b"), <, 0);
    g_assert_cmpint(sdk_strcmp("b", "a"), >, 0);
    g_assert_cmpint(sdk_strcmp("ab", "ab"), ==, 0);
    g_assert_cmpint(sdk_strcmp("ab", "abc"), <, 0);
    g_assert_cmpint(sdk_strncmp("abcx", "abcy", 3), ==, 0);
    g_assert_cmpint(sdk_strncmp("abcx", "abcy", 4), <, 0);
    g_assert_true(sdk_strchr(s, '/') == s + 4);
    g_assert_true(sdk_strrchr(s, '/') == s + 7);
    g_assert_true(sdk_strchr(s, 'z') == NULL);
    g_assert_true(sdk_strchr(s, '\0') == s + 12);
    g_assert_cmpuint(sdk_strlcpy(small, "abcdefgh", sizeof small), ==, 8);
    g_assert_cmpstr(small, ==, "abcd");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/sdk/printf/integers", test_printf_integers);
    g_test_add_func("/sdk/printf/flags-width-precision", test_printf_flags_width_precision);
    g_test_add_func("/sdk/printf/strings-chars", test_printf_strings_chars);
    g_test_add_func("/sdk/printf/truncation", test_printf_truncation);
    g_test_add_func("/sdk/string/mem", test_string_mem);
    g_test_add_func("/sdk/string/str", test_string_str);
    return g_test_run();
}
