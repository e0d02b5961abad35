/*
 * libFuzzer target for the DP8390 register model: the input is a program of
 * register and data-port accesses and incoming frames, run against one chip
 * whose transmit hook loops frames straight back in (as net-loopback does).
 *
 * Input format, one operation after another (missing bytes read as zero):
 *   op & 0x0f  meaning                         operands
 *   0x0        register write, reg = op >> 4    value:1
 *   0x1        register read,  reg = op >> 4
 *   0x2        data port read, size by op >> 4
 *   0x3        data port write, size by op >> 4 value:4 (little endian)
 *   0x4        rep read,  size by op >> 4       count:2 (mod 4096)
 *   0x5        rep write, size by op >> 4       count:2 (mod 4096), data
 *   0x6        frame from the wire              len:2 (mod 1600), data
 *   0x7        reset line
 *   0x8        frame to our own address if can_receive says yes, len = op >> 4 * 100
 *   0x9        select page op >> 4 (CR write without start/stop)
 *   other      nothing
 * Sizes by (op >> 4) & 3: 1, 2, 4, 1.
 *
 * Checked on every step besides what the sanitizers see: the IRQ level the
 * hook reported matches ISR & IMR, transmitted frames are never longer than
 * a frame, CURR and BNRY stay consistent with what can_receive promised.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/nic-ne2000/dp8390.h"

typedef struct FuzzInput {
    const uint8_t *data;
    size_t len, pos;
} FuzzInput;

typedef struct FuzzCtx {
    Dp8390 chip;
    int depth;
    uint8_t scratch[4 * 4096];
} FuzzCtx;

static uint8_t in_byte(FuzzInput *in)
{
    return in->pos < in->len ? in->data[in->pos++] : 0;
}

static uint16_t in_u16(FuzzInput *in)
{
    uint16_t lo = in_byte(in);
    return (uint16_t)(lo | in_byte(in) << 8);
}

/* Copy up to n input bytes to dst, zero-filling past the end of the input. */
static void in_bytes(FuzzInput *in, uint8_t *dst, size_t n)
{
    size_t have = in->len - in->pos;

    if (have > n)
        have = n;
    memcpy(dst, in->data + in->pos, have);
    memset(dst + have, 0, n - have);
    in->pos += have;
}

static void fuzz_irq(void *opaque, bool level)
{
    FuzzCtx *c = opaque;

    if (level != dp8390_irq_pending(&c->chip))
        abort();
}

static void fuzz_transmit(void *opaque, const uint8_t *frame, size_t len)
{
    FuzzCtx *c = opaque;

    if (len == 0 || len > DP8390_MAX_FRAME)
        abort();
    /* Echo once, like net-loopback answering from inside the send. */
    if (c->depth == 0) {
        c->depth++;
        if (dp8390_can_receive(&c->chip))
            dp8390_receive(&c->chip, frame, len);
        c->depth--;
    }
}

static void fuzz_rx_ready(void *opaque)
{
    FuzzCtx *c = opaque;

    if (!dp8390_can_receive(&c->chip))
        abort();
}

static const Dp8390Hooks fuzz_hooks = {
    .irq = fuzz_irq, .transmit = fuzz_transmit, .rx_ready = fuzz_rx_ready,
};

static const unsigned fuzz_sizes[4] = { 1, 2, 4, 1 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    static FuzzCtx ctx; /* 40 KiB: keep it off the stack */
    FuzzInput in = { data, size, 0 };
    uint8_t frame[1600];

    dp8390_init(&ctx.chip, mac, &fuzz_hooks, &ctx);
    ctx.depth = 0;
    while (in.pos < in.len) {
        uint8_t op = in_byte(&in);
        unsigned arg = op >> 4;
        unsigned sz = fuzz_sizes[arg & 3];

        switch (op & 0x0f) {
        case 0x0:
            dp8390_reg_write(&ctx.chip, arg, in_byte(&in));
            break;
        case 0x1:
            (void)dp8390_reg_read(&ctx.chip, arg);
            break;
        case 0x2:
            (void)dp8390_data_read(&ctx.chip, sz);
            break;
        case 0x3: {
            uint32_t v = in_u16(&in);
            v |= (uint32_t)in_u16(&in) << 16;
            dp8390_data_write(&ctx.chip, sz, v);
            break;
        }
        case 0x4: {
            uint32_t count = in_u16(&in) % 4096u;
            dp8390_data_read_rep(&ctx.chip, sz, ctx.scratch, count);
            break;
        }
        case 0x5: {
            uint32_t count = in_u16(&in) % 4096u;
            in_bytes(&in, ctx.scratch, (size_t)count * sz);
            dp8390_data_write_rep(&ctx.chip, sz, ctx.scratch, count);
            break;
        }
        case 0x6: {
            size_t len = in_u16(&in) % sizeof frame;
            in_bytes(&in, frame, len);
            (void)dp8390_receive(&ctx.chip, frame, len);
            break;
        }
        case 0x7:
            dp8390_reset(&ctx.chip);
            break;
        case 0x8: {
            size_t len = (size_t)arg * 100u;
            memset(frame, (int)arg, sizeof frame);
            memcpy(frame, mac, 6);
            if (dp8390_can_receive(&ctx.chip) &&
                dp8390_receive(&ctx.chip, frame, len) == DP8390_RX_OVERFLOW)
                abort(); /* can_receive promised room for a largest frame */
            break;
        }
        case 0x9:
            dp8390_reg_write(&ctx.chip, DP8390_CR,
                             (uint8_t)((arg & 3) << DP8390_CR_PS_SHIFT | DP8390_CR_RD_ABORT));
            break;
        default:
            break;
        }
        if (ctx.chip.irq_level != dp8390_irq_pending(&ctx.chip))
            abort();
    }
    return 0;
}
