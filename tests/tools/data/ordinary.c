/*
 * Test input for lily-cc: ordinary code with nothing sensitive in it, but
 * with functions and variables named like sensitive instructions.  Through
 * lily-cc it must assemble to exactly the bytes plain gcc gives.
 */
#include <stddef.h>
#include <stdint.h>

int sgdt, lar;
static const char banner[] = "pushf; popf # mov %cs, %eax /* sgdt */";

__attribute__((noinline)) int str(int x)
{
    return x * 3 + sgdt;
}

__attribute__((noinline)) int pushf(int x)
{
    switch (x) {
    case 0: return str(1);
    case 1: return str(7) + lar;
    case 2: return 11;
    case 3: return 13;
    case 4: return 17;
    case 5: return 19;
    default: return -1;
    }
}

size_t popf(const char *s)
{
    size_t n = 0;

    while (s[n])
        n++;
    return n;
}

uint32_t mix(uint32_t a, uint64_t b)
{
    uint32_t r;

    asm volatile("movl %1, %0; roll $5, %0; lock; addl $1, %0 # not pushf" : "=&r"(r) : "r"(a) : "cc");
    return r + (uint32_t)(b / 10) + pushf((int)a) + (uint32_t)popf(banner);
}
