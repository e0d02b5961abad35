/* The printf family for SDK kernels: one formatter writing into a bounded buffer. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Output cursor: characters past size are counted but not stored. */
struct fmt_out {
    char *buf;
    size_t size;
    size_t len;
};

static void out_char(struct fmt_out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void out_repeat(struct fmt_out *o, char c, int n)
{
    while (n-- > 0)
        out_char(o, c);
}

enum { F_LEFT = 1, F_ZERO = 2, F_PLUS = 4, F_SPACE = 8, F_ALT = 16 };

/* Format one integer conversion: digits, sign/prefix, precision, width. */
static void out_number(struct fmt_out *o, unsigned long long v, int negative, unsigned base,
                       int upper, int flags, int width, int prec)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0;
    const char *prefix = "";

    while (v) {
        tmp[n++] = digits[v % base];
        v /= base;
    }
    if (prec < 0 && n == 0)
        tmp[n++] = '0';
    if (negative)
        prefix = "-";
    else if (flags & F_PLUS)
        prefix = "+";
    else if (flags & F_SPACE)
        prefix = " ";
    if ((flags & F_ALT) && base == 16 && n && !(n == 1 && tmp[0] == '0'))
        prefix = upper ? "0X" : "0x";
    if ((flags & F_ALT) && base == 8 && (n == 0 || tmp[n - 1] != '0') && prec <= n)
        prec = n + 1;

    int zeros = prec > n ? prec - n : 0;
    int body = (int)strlen(prefix) + zeros + n;
    int pad = width > body ? width - body : 0;

    if ((flags & F_ZERO) && !(flags & F_LEFT) && prec < 0) {
        zeros += pad;
        pad = 0;
    }
    if (!(flags & F_LEFT))
        out_repeat(o, ' ', pad);
    for (const char *p = prefix; *p; p++)
        out_char(o, *p);
    out_repeat(o, '0', zeros);
    while (n)
        out_char(o, tmp[--n]);
    if (flags & F_LEFT)
        out_repeat(o, ' ', pad);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct fmt_out o = { buf, size, 0 };

    while (*fmt) {
        if (*fmt != '%') {
            out_char(&o, *fmt++);
            continue;
        }
        fmt++;

        int flags = 0;
        for (;; fmt++) {
            if (*fmt == '-') flags |= F_LEFT;
            else if (*fmt == '0') flags |= F_ZERO;
            else if (*fmt == '+') flags |= F_PLUS;
            else if (*fmt == ' ') flags |= F_SPACE;
            else if (*fmt == '#') flags |= F_ALT;
            else break;
        }

        int width = 0;
        if (*fmt == '*') {
            width = va_arg(ap, int);
            if (width < 0) {
                flags |= F_LEFT;
                width = -width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt++ - '0');
        }

        int prec = -1;
        if (*fmt == '.') {
            fmt++;
            prec = 0;
            if (*fmt == '*') {
                prec = va_arg(ap, int);
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9')
                    prec = prec * 10 + (*fmt++ - '0');
            }
        }

        /* Length modifier: 0 = int, -1 = char, -2 = short, 1 = long, 2 = long long. */
        int len = 0;
        if (*fmt == 'h') {
            len = -2;
            if (*++fmt == 'h') {
                len = -1;
                fmt++;
            }
        } else if (*fmt == 'l') {
            len = 1;
            if (*++fmt == 'l') {
                len = 2;
                fmt++;
            }
        } else if (*fmt == 'z' || *fmt == 't') {
            len = 1; /* size_t and ptrdiff_t are long-sized on i386 */
            fmt++;
        }

        char conv = *fmt;
        if (conv)
            fmt++;
        switch (conv) {
        case 'd':
        case 'i': {
            long long v = len == 2 ? va_arg(ap, long long)
                          : len == 1 ? va_arg(ap, long)
                                     : va_arg(ap, int);
            if (len == -1)
                v = (signed char)v;
            else if (len == -2)
                v = (short)v;
            unsigned long long mag = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
            out_number(&o, mag, v < 0, 10, 0, flags, width, prec);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            unsigned long long v = len == 2 ? va_arg(ap, unsigned long long)
                                   : len == 1 ? va_arg(ap, unsigned long)
                                              : va_arg(ap, unsigned int);
            if (len == -1)
                v = (unsigned char)v;
            else if (len == -2)
                v = (unsigned short)v;
            unsigned base = conv == 'u' ? 10 : conv == 'o' ? 8 : 16;
            out_number(&o, v, 0, base, conv == 'X', flags & ~(F_PLUS | F_SPACE), width, prec);
            break;
        }
        case 'p':
            out_number(&o, (uintptr_t)va_arg(ap, void *), 0, 16, 0, F_ALT, width, prec);
            break;
        case 'c': {
            int pad = width > 1 ? width - 1 : 0;
            if (!(flags & F_LEFT))
                out_repeat(&o, ' ', pad);
            out_char(&o, (char)va_arg(ap, int));
            if (flags & F_LEFT)
                out_repeat(&o, ' ', pad);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            int n = (int)(prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s));
            int pad = width > n ? width - n : 0;
            if (!(flags & F_LEFT))
                out_repeat(&o, ' ', pad);
            for (int i = 0; i < n; i++)
                out_char(&o, s[i]);
            if (flags & F_LEFT)
                out_repeat(&o, ' ', pad);
            break;
        }
        case '%':
            out_char(&o, '%');
            break;
        case '\0':
            break;
        default: /* unknown conversion: print it as written */
            out_char(&o, '%');
            out_char(&o, conv);
            break;
        }
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

static void console_discard(const char *s, unsigned len)
{
    (void)s;
    (void)len;
}

static console_write_fn console_out = console_discard;

void console_set_output(console_write_fn fn)
{
    console_out = fn ? fn : console_discard;
}

int vprintf(const char *fmt, va_list ap)
{
    char buf[256];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n >= 0 && (size_t)n < sizeof buf) {
        console_out(buf, (unsigned)n);
    } else if (n > 0) {
        /* Longer than one console line should ever be: emit what fits and
         * mark the cut rather than allocate. */
        console_out(buf, sizeof buf - 1);
        console_out("...", 3);
    }
    return n;
}

int printf(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int putchar(int c)
{
    char ch = (char)c;

    console_out(&ch, 1);
    return (unsigned char)c;
}

int puts(const char *s)
{
    console_out(s, (unsigned)strlen(s));
    console_out("\n", 1);
    return 0;
}
