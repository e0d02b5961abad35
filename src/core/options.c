/*
 * Option values: parse the text of one key according to the plugin's option
 * table entry (int, size, bool, string, enum, MAC, hostfwd, lists) and say
 * in words what would have been accepted when it does not parse.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include "src/core/core.h"

#define OPT_LIST_MAX 256  /* elements in one LILY_OPT_F_LIST value */

const char *opt_type_name(LilyOptType type)
{
    switch (type) {
    case LILY_OPT_INT: return "int";
    case LILY_OPT_SIZE: return "size";
    case LILY_OPT_BOOL: return "bool";
    case LILY_OPT_STRING: return "string";
    case LILY_OPT_ENUM: return "enum";
    case LILY_OPT_MAC: return "mac";
    case LILY_OPT_HOSTFWD: return "hostfwd";
    }
    return "?";
}

size_t opt_count(const LilyOption *opts)
{
    size_t n = 0;
    while (opts && opts[n].name)
        n++;
    return n;
}

const LilyOption *opt_find(const LilyOption *opts, const char *name, size_t *index)
{
    for (size_t i = 0; opts && opts[i].name; i++) {
        if (strcmp(opts[i].name, name) == 0) {
            if (index)
                *index = i;
            return &opts[i];
        }
    }
    return NULL;
}

static bool opt_has_range(const LilyOption *opt)
{
    return !(opt->min == 0 && opt->max == 0);
}

/* Sizes read best with a suffix when they are whole multiples. */
static char *opt_format_size(int64_t v)
{
    static const char suffix[] = "GMK";
    for (int i = 0; i < 3; i++) {
        int64_t unit = (int64_t)1 << (10 * (3 - i));
        if (v != 0 && v % unit == 0)
            return g_strdup_printf("%" G_GINT64_FORMAT "%c", v / unit, suffix[i]);
    }
    return g_strdup_printf("%" G_GINT64_FORMAT, v);
}

char *opt_describe_accepted(const LilyOption *opt)
{
    GString *s = g_string_new(NULL);
    switch (opt->type) {
    case LILY_OPT_INT:
        if (opt_has_range(opt))
            g_string_append_printf(s, "an integer in %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT
                                   " (0x%" G_GINT64_MODIFIER "x..0x%" G_GINT64_MODIFIER "x)",
                                   opt->min, opt->max, opt->min, opt->max);
        else
            g_string_append(s, "an integer");
        g_string_append(s, ", decimal, 0x hex or 0 octal");
        break;
    case LILY_OPT_SIZE:
        g_string_append(s, "a size in bytes with an optional K, M or G suffix");
        if (opt_has_range(opt)) {
            char *lo = opt_format_size(opt->min), *hi = opt_format_size(opt->max);
            g_string_append_printf(s, ", from %s to %s", lo, hi);
            g_free(lo);
            g_free(hi);
        }
        break;
    case LILY_OPT_BOOL:
        g_string_append(s, "true/false, yes/no, on/off or 1/0");
        break;
    case LILY_OPT_STRING:
        g_string_append(s, "any text");
        break;
    case LILY_OPT_ENUM:
        g_string_append(s, "one of ");
        for (size_t i = 0; opt->enum_values && opt->enum_values[i]; i++)
            g_string_append_printf(s, "%s%s", i ? ", " : "", opt->enum_values[i]);
        break;
    case LILY_OPT_MAC:
        g_string_append(s, "a MAC address like 52:54:00:12:34:56");
        break;
    case LILY_OPT_HOSTFWD:
        g_string_append(s, "tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport, "
                           "e.g. tcp:127.0.0.1:8080-:80");
        break;
    }
    if (opt->flags & LILY_OPT_F_LIST)
        g_string_append(s, "; several separated by ';' or ','");
    return g_string_free(s, FALSE);
}

static char *opt_arena_strdup(OptArena *arena, const char *text)
{
    char *copy = g_strdup(text);
    g_ptr_array_add(arena, copy);
    return copy;
}

static bool opt_parse_int64(const char *text, int64_t *out)
{
    if (!*text || g_ascii_isspace(*text))
        return false;
    char *end;
    errno = 0;
    gint64 v = g_ascii_strtoll(text, &end, 0);
    if (errno || end == text || *end)
        return false;
    *out = v;
    return true;
}

static bool opt_parse_size(const char *text, int64_t *out)
{
    if (!g_ascii_isdigit(*text))
        return false;
    char *end;
    errno = 0;
    guint64 v = g_ascii_strtoull(text, &end, 0);
    if (errno || end == text)
        return false;
    unsigned shift = 0;
    switch (g_ascii_toupper(*end)) {
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    case 'T': shift = 40; end++; break;
    default: break;
    }
    if (shift && (g_ascii_strcasecmp(end, "iB") == 0 || g_ascii_strcasecmp(end, "B") == 0))
        end += strlen(end);
    if (*end)
        return false;
    if (v > ((guint64)INT64_MAX >> shift))
        return false;
    *out = (int64_t)(v << shift);
    return true;
}

static bool opt_parse_bool(const char *text, int64_t *out)
{
    static const char *const yes[] = { "true", "yes", "on", "1" };
    static const char *const no[] = { "false", "no", "off", "0" };
    for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
        if (g_ascii_strcasecmp(text, yes[i]) == 0) {
            *out = 1;
            return true;
        }
        if (g_ascii_strcasecmp(text, no[i]) == 0) {
            *out = 0;
            return true;
        }
    }
    return false;
}

static bool opt_parse_mac(const char *text, uint8_t mac[6])
{
    if (strlen(text) != 17)
        return false;
    for (int i = 0; i < 6; i++) {
        const char *p = text + 3 * i;
        if (!g_ascii_isxdigit(p[0]) || !g_ascii_isxdigit(p[1]))
            return false;
        if (i < 5 && p[2] != ':')
            return false;
        mac[i] = (uint8_t)(g_ascii_xdigit_value(p[0]) << 4 | g_ascii_xdigit_value(p[1]));
    }
    return true;
}

static bool opt_parse_port(const char *text, uint16_t *port)
{
    int64_t v;
    if (!g_ascii_isdigit(*text) || !opt_parse_int64(text, &v) || v < 1 || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

/* "[addr]:port" -> address (network order, def if empty) and port. */
static bool opt_parse_addr_port(const char *text, uint32_t def, uint32_t *addr,
                                uint16_t *port, const char *side, char **reason)
{
    const char *colon = strrchr(text, ':');
    if (!colon) {
        *reason = g_strdup_printf("the %s part '%s' needs [%saddr]:%sport", side, text,
                                  side, side);
        return false;
    }
    char *a = g_strndup(text, (gsize)(colon - text));
    bool ok = true;
    struct in_addr in;
    if (!*a) {
        *addr = def;
    } else if (inet_pton(AF_INET, a, &in) == 1) {
        *addr = in.s_addr;
    } else {
        *reason = g_strdup_printf("'%s' is not an IPv4 address", a);
        ok = false;
    }
    g_free(a);
    if (ok && !opt_parse_port(colon + 1, port)) {
        *reason = g_strdup_printf("'%s' is not a port number in 1..65535", colon + 1);
        ok = false;
    }
    return ok;
}

static bool opt_parse_hostfwd(const char *text, LilyHostFwd *fwd, char **reason)
{
    memset(fwd, 0, sizeof *fwd);
    const char *rest;
    if (g_ascii_strncasecmp(text, "tcp:", 4) == 0) {
        fwd->proto = 6;
        rest = text + 4;
    } else if (g_ascii_strncasecmp(text, "udp:", 4) == 0) {
        fwd->proto = 17;
        rest = text + 4;
    } else {
        *reason = g_strdup("it must start with tcp: or udp:");
        return false;
    }
    const char *dash = strchr(rest, '-');
    if (!dash) {
        *reason = g_strdup("'-' between the host and the guest side is missing");
        return false;
    }
    char *host = g_strndup(rest, (gsize)(dash - rest));
    bool ok = opt_parse_addr_port(host, htonl(0x7f000001), &fwd->host_addr,
                                  &fwd->host_port, "host", reason) &&
              opt_parse_addr_port(dash + 1, 0, &fwd->guest_addr, &fwd->guest_port,
                                  "guest", reason);
    g_free(host);
    return ok;
}

/* One element (no list handling). */
static gboolean opt_parse_one(const LilyOption *opt, const char *text, LilyOptValue *out,
                              OptArena *arena, char **detail)
{
    memset(out, 0, sizeof *out);
    switch (opt->type) {
    case LILY_OPT_INT:
        if (!opt_parse_int64(text, &out->i))
            return FALSE;
        if (opt_has_range(opt) && (out->i < opt->min || out->i > opt->max)) {
            *detail = g_strdup("out of range");
            return FALSE;
        }
        break;
    case LILY_OPT_SIZE:
        if (!opt_parse_size(text, &out->i))
            return FALSE;
        if (opt_has_range(opt) && (out->i < opt->min || out->i > opt->max)) {
            *detail = g_strdup("out of range");
            return FALSE;
        }
        break;
    case LILY_OPT_BOOL:
        if (!opt_parse_bool(text, &out->i))
            return FALSE;
        break;
    case LILY_OPT_STRING:
        break;
    case LILY_OPT_ENUM: {
        bool found = false;
        for (size_t i = 0; opt->enum_values && opt->enum_values[i]; i++) {
            if (strcmp(opt->enum_values[i], text) == 0) {
                out->i = (int64_t)i;
                found = true;
                break;
            }
        }
        if (!found)
            return FALSE;
        break;
    }
    case LILY_OPT_MAC:
        if (!opt_parse_mac(text, out->mac))
            return FALSE;
        break;
    case LILY_OPT_HOSTFWD:
        if (!opt_parse_hostfwd(text, &out->fwd, detail))
            return FALSE;
        break;
    default:
        *detail = g_strdup("the option has an unknown type");
        return FALSE;
    }
    out->present = true;
    out->s = opt_arena_strdup(arena, text);
    return TRUE;
}

gboolean opt_parse(const LilyOption *opt, const char *text, LilyOptValue *out,
                   OptArena *arena, char **reason)
{
    char *detail = NULL;
    gboolean ok;
    if (opt->flags & LILY_OPT_F_LIST) {
        char **parts = g_strsplit_set(text, ";,", -1);
        GArray *elems = g_array_new(FALSE, TRUE, sizeof(LilyOptValue));
        ok = TRUE;
        for (char **p = parts; *p && ok; p++) {
            char *t = g_strstrip(*p);
            if (!*t)
                continue;
            if (elems->len >= OPT_LIST_MAX) {
                detail = g_strdup_printf("more than %d elements", OPT_LIST_MAX);
                ok = FALSE;
                break;
            }
            LilyOptValue v;
            if (!opt_parse_one(opt, t, &v, arena, &detail)) {
                char *d = g_strdup_printf("element '%s'%s%s", t, detail ? ": " : "",
                                          detail ? detail : "");
                g_free(detail);
                detail = d;
                ok = FALSE;
                break;
            }
            g_array_append_val(elems, v);
        }
        g_strfreev(parts);
        if (ok) {
            memset(out, 0, sizeof *out);
            if (elems->len)
                *out = g_array_index(elems, LilyOptValue, 0);
            out->present = true;
            out->s = opt_arena_strdup(arena, text);
            out->n = elems->len;
            if (opt->type == LILY_OPT_HOSTFWD) {
                LilyHostFwd *fwds = g_new0(LilyHostFwd, elems->len ? elems->len : 1);
                for (guint i = 0; i < elems->len; i++)
                    fwds[i] = g_array_index(elems, LilyOptValue, i).fwd;
                g_ptr_array_add(arena, fwds);
                out->list = fwds;
            } else {
                LilyOptValue *vals = g_new0(LilyOptValue, elems->len ? elems->len : 1);
                memcpy(vals, elems->data, elems->len * sizeof *vals);
                g_ptr_array_add(arena, vals);
                out->list = vals;
            }
        }
        g_array_free(elems, TRUE);
    } else {
        ok = opt_parse_one(opt, text, out, arena, &detail);
    }
    if (!ok && reason) {
        char *accepted = opt_describe_accepted(opt);
        if (detail)
            *reason = g_strdup_printf("%s; accepted: %s", detail, accepted);
        else
            *reason = g_strdup_printf("accepted: %s", accepted);
        g_free(accepted);
    }
    g_free(detail);
    return ok;
}
