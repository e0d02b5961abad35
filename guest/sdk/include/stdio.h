/*
 * printf family of the LilyVM guest SDK libc.  Conversions: %d %i %u %x %X
 * %o %c %s %p %% with flags '-', '0', '+', ' ', '#', width, precision and the
 * length modifiers hh h l ll z t.  printf output goes to the console set with
 * console_set_output() (the SDK kernels use COM1).
 */
#ifndef LILY_STDIO_H
#define LILY_STDIO_H

#include <stdarg.h>
#include <stddef.h>

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
int snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int putchar(int c);
int puts(const char *s);

/* Where printf, putchar and puts write. */
typedef void (*console_write_fn)(const char *s, unsigned len);
void console_set_output(console_write_fn fn);

#endif
