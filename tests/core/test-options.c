/* Option value parsing: every LilyOptType, ranges, lists and the messages. */
#include <arpa/inet.h>
#include "tests/core/testutil.h"

static OptArena *arena;

static gboolean parse(const LilyOption *o, const char *text, LilyOptValue *v, char **reason)
{
    return opt_parse(o, text, v, arena, reason);
}

static void test_int(void)
{
    LilyOption o = { .name = "irq", .type = LILY_OPT_INT, .min = 0, .max = 15 };
    LilyOptValue v;
    g_assert_true(parse(&o, "7", &v, NULL));
    g_assert_cmpint(v.i, ==, 7);
    g_assert_true(v.present);
    g_assert_cmpstr(v.s, ==, "7");
    g_assert_true(parse(&o, "0xf", &v, NULL));
    g_assert_cmpint(v.i, ==, 15);
    g_assert_true(parse(&o, "010", &v, NULL));
    g_assert_cmpint(v.i, ==, 8);
    char *reason = NULL;
    g_assert_false(parse(&o, "16", &v, &reason));
    test_assert_contains(reason, "out of range", "0..15");
    g_free(reason);
    reason = NULL;
    g_assert_false(parse(&o, "seven", &v, &reason));
    test_assert_contains(reason, "integer", "0x hex");
    g_free(reason);
    g_assert_false(parse(&o, "", &v, NULL));
    g_assert_false(parse(&o, "5x", &v, NULL));
    g_assert_false(parse(&o, "99999999999999999999999", &v, NULL));
    LilyOption wide = { .name = "n", .type = LILY_OPT_INT };
    g_assert_true(parse(&wide, "-42", &v, NULL));
    g_assert_cmpint(v.i, ==, -42);
}

static void test_size(void)
{
    LilyOption o = { .name = "memory", .type = LILY_OPT_SIZE, .min = 1 << 20,
                     .max = (int64_t)3 << 30 };
    LilyOptValue v;
    g_assert_true(parse(&o, "32M", &v, NULL));
    g_assert_cmpint(v.i, ==, 32 << 20);
    g_assert_true(parse(&o, "2048k", &v, NULL));
    g_assert_cmpint(v.i, ==, 2 << 20);
    g_assert_true(parse(&o, "1G", &v, NULL));
    g_assert_cmpint(v.i, ==, 1 << 30);
    g_assert_true(parse(&o, "64MiB", &v, NULL));
    g_assert_cmpint(v.i, ==, 64 << 20);
    g_assert_true(parse(&o, "1048576", &v, NULL));
    g_assert_cmpint(v.i, ==, 1 << 20);
    char *reason = NULL;
    g_assert_false(parse(&o, "4G", &v, &reason));
    test_assert_contains(reason, "out of range", "1M", "3G");
    g_free(reason);
    g_assert_false(parse(&o, "12Q", &v, NULL));
    g_assert_false(parse(&o, "-1M", &v, NULL));
    g_assert_false(parse(&o, "M", &v, NULL));
}

static void test_bool(void)
{
    LilyOption o = { .name = "rep", .type = LILY_OPT_BOOL };
    const char *yes[] = { "true", "yes", "on", "1", "TRUE", "Yes" };
    const char *no[] = { "false", "no", "off", "0" };
    LilyOptValue v;
    for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
        g_assert_true(parse(&o, yes[i], &v, NULL));
        g_assert_cmpint(v.i, ==, 1);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(no); i++) {
        g_assert_true(parse(&o, no[i], &v, NULL));
        g_assert_cmpint(v.i, ==, 0);
    }
    char *reason = NULL;
    g_assert_false(parse(&o, "maybe", &v, &reason));
    test_assert_contains(reason, "true/false", "on/off");
    g_free(reason);
}

static void test_enum_string(void)
{
    static const char *const modes[] = { "stdio", "pty", "null", NULL };
    LilyOption o = { .name = "backend", .type = LILY_OPT_ENUM, .enum_values = modes };
    LilyOptValue v;
    g_assert_true(parse(&o, "pty", &v, NULL));
    g_assert_cmpint(v.i, ==, 1);
    char *reason = NULL;
    g_assert_false(parse(&o, "file", &v, &reason));
    test_assert_contains(reason, "one of stdio, pty, null");
    g_free(reason);
    LilyOption s = { .name = "path", .type = LILY_OPT_STRING };
    g_assert_true(parse(&s, "a b;c", &v, NULL));
    g_assert_cmpstr(v.s, ==, "a b;c");
}

static void test_mac(void)
{
    LilyOption o = { .name = "mac", .type = LILY_OPT_MAC };
    LilyOptValue v;
    g_assert_true(parse(&o, "52:54:00:AB:cd:0f", &v, NULL));
    static const uint8_t want[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0x0f };
    g_assert_cmpmem(v.mac, 6, want, 6);
    g_assert_false(parse(&o, "52:54:00:ab:cd", &v, NULL));
    g_assert_false(parse(&o, "52-54-00-ab-cd-0f", &v, NULL));
    char *reason = NULL;
    g_assert_false(parse(&o, "52:54:00:ab:cd:0g", &v, &reason));
    test_assert_contains(reason, "MAC address");
    g_free(reason);
}

static void test_hostfwd(void)
{
    LilyOption o = { .name = "hostfwd", .type = LILY_OPT_HOSTFWD };
    LilyOptValue v;
    g_assert_true(parse(&o, "tcp:127.0.0.1:8080-10.0.2.15:80", &v, NULL));
    g_assert_cmpuint(v.fwd.proto, ==, 6);
    g_assert_cmphex(v.fwd.host_addr, ==, htonl(0x7f000001));
    g_assert_cmpuint(v.fwd.host_port, ==, 8080);
    g_assert_cmphex(v.fwd.guest_addr, ==, htonl(0x0a00020f));
    g_assert_cmpuint(v.fwd.guest_port, ==, 80);
    /* Host address defaults to 127.0.0.1, guest address to 0 (backend's default). */
    g_assert_true(parse(&o, "udp::5353-:53", &v, NULL));
    g_assert_cmpuint(v.fwd.proto, ==, 17);
    g_assert_cmphex(v.fwd.host_addr, ==, htonl(0x7f000001));
    g_assert_cmphex(v.fwd.guest_addr, ==, 0);
    g_assert_cmpuint(v.fwd.guest_port, ==, 53);
    g_assert_true(parse(&o, "tcp:0.0.0.0:2222-:22", &v, NULL));
    g_assert_cmphex(v.fwd.host_addr, ==, 0);
    char *reason = NULL;
    g_assert_false(parse(&o, "sctp::1-:2", &v, &reason));
    test_assert_contains(reason, "tcp: or udp:", "hostport");
    g_free(reason);
    reason = NULL;
    g_assert_false(parse(&o, "tcp::70000-:80", &v, &reason));
    test_assert_contains(reason, "70000", "1..65535");
    g_free(reason);
    reason = NULL;
    g_assert_false(parse(&o, "tcp:1.2.3:80-:80", &v, &reason));
    test_assert_contains(reason, "1.2.3", "IPv4");
    g_free(reason);
    g_assert_false(parse(&o, "tcp::8080", &v, NULL));
}

static void test_list(void)
{
    LilyOption o = { .name = "ports", .type = LILY_OPT_INT, .min = 1, .max = 100,
                     .flags = LILY_OPT_F_LIST };
    LilyOptValue v;
    g_assert_true(parse(&o, "1, 2;3;", &v, NULL));
    g_assert_cmpuint(v.n, ==, 3);
    const LilyOptValue *l = v.list;
    g_assert_cmpint(l[0].i, ==, 1);
    g_assert_cmpint(l[1].i, ==, 2);
    g_assert_cmpint(l[2].i, ==, 3);
    char *reason = NULL;
    g_assert_false(parse(&o, "1,200", &v, &reason));
    test_assert_contains(reason, "element '200'", "out of range");
    g_free(reason);
    LilyOption f = { .name = "hostfwd", .type = LILY_OPT_HOSTFWD, .flags = LILY_OPT_F_LIST };
    g_assert_true(parse(&f, "tcp::8080-:80;udp::5353-:53", &v, NULL));
    g_assert_cmpuint(v.n, ==, 2);
    const LilyHostFwd *fw = v.list;
    g_assert_cmpuint(fw[0].host_port, ==, 8080);
    g_assert_cmpuint(fw[1].proto, ==, 17);
    GString *many = g_string_new(NULL);
    for (int i = 0; i < 300; i++)
        g_string_append(many, "5,");
    g_assert_false(parse(&o, many->str, &v, NULL));
    g_string_free(many, TRUE);
}

static void test_table_check(void)
{
    GError *err = NULL;
    const LilyOption bad_default[] = {
        { .name = "irq", .type = LILY_OPT_INT, .def = "99", .min = 0, .max = 15 }, { 0 } };
    g_assert_false(registry_check_options(bad_default, "p", &err));
    test_assert_contains(err->message, "irq", "invalid default '99'");
    g_clear_error(&err);
    const LilyOption dup[] = { { .name = "a", .type = LILY_OPT_INT },
                               { .name = "a", .type = LILY_OPT_BOOL }, { 0 } };
    g_assert_false(registry_check_options(dup, "p", &err));
    test_assert_contains(err->message, "'a' appears twice");
    g_clear_error(&err);
    const LilyOption noenum[] = { { .name = "m", .type = LILY_OPT_ENUM }, { 0 } };
    g_assert_false(registry_check_options(noenum, "p", &err));
    test_assert_contains(err->message, "no enum_values");
    g_clear_error(&err);
    const LilyOption reqdef[] = { { .name = "t", .type = LILY_OPT_STRING, .def = "x",
                                    .flags = LILY_OPT_F_REQUIRED }, { 0 } };
    g_assert_false(registry_check_options(reqdef, "p", &err));
    test_assert_contains(err->message, "required", "default");
    g_clear_error(&err);
    const LilyOption reserved[] = { { .name = "plugin", .type = LILY_OPT_STRING }, { 0 } };
    g_assert_false(registry_check_options(reserved, "p", &err));
    g_clear_error(&err);
    const LilyOption good[] = { { .name = "iobase", .type = LILY_OPT_INT, .def = "0x3f8",
                                  .min = 0, .max = 0xffff }, { 0 } };
    g_assert_true(registry_check_options(good, "p", &err));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    arena = g_ptr_array_new_with_free_func(g_free);
    g_test_add_func("/core/options/int", test_int);
    g_test_add_func("/core/options/size", test_size);
    g_test_add_func("/core/options/bool", test_bool);
    g_test_add_func("/core/options/enum-string", test_enum_string);
    g_test_add_func("/core/options/mac", test_mac);
    g_test_add_func("/core/options/hostfwd", test_hostfwd);
    g_test_add_func("/core/options/list", test_list);
    g_test_add_func("/core/options/table-check", test_table_check);
    int rc = g_test_run();
    g_ptr_array_free(arena, TRUE);
    return rc;
}
