/* SHA-256 for the demo kernel (streaming). */
#ifndef LILY_DEMO_SHA256_H
#define LILY_DEMO_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    unsigned fill;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* Pad, and write the 32-byte digest. */
void sha256_final(struct sha256 *s, uint8_t out[32]);

#endif
