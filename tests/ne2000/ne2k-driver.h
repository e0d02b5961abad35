/*
 * A small NE2000 driver as a guest would run it (probe, init, send, receive,
 * interrupt acknowledge), over any port-I/O access functions, so the same
 * sequence tests the plugin under a fake host and under the real core.
 */
#ifndef LILYVM_TESTS_NE2K_DRIVER_H
#define LILYVM_TESTS_NE2K_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Ne2kBus {
    uint32_t (*in)(void *ctx, uint16_t port, unsigned size);
    void (*out)(void *ctx, uint16_t port, unsigned size, uint32_t value);
    /* rep ins/outs of count items; NULL: done item by item with in/out. */
    void (*ins)(void *ctx, uint16_t port, unsigned size, void *buf, uint32_t count);
    void (*outs)(void *ctx, uint16_t port, unsigned size, const void *buf,
                 uint32_t count);
    void *ctx;
    uint16_t iobase;
} Ne2kBus;

/* The receive ring the driver sets up (the classic NE2000 layout). */
#define NE2K_DRV_TX_PAGE 0x40
#define NE2K_DRV_RX_START 0x46
#define NE2K_DRV_RX_STOP 0x80

/* Reset the card and read the station address from the PROM (byte mode). */
bool ne2k_drv_probe(const Ne2kBus *b, uint8_t mac[6]);
/* Program the chip and start it with the given receive configuration. */
void ne2k_drv_init(const Ne2kBus *b, const uint8_t mac[6], uint8_t rcr);
/* Copy a frame to the transmit buffer with outsw and send it; false if the
 * frame is empty or too long, or the remote DMA never completed. */
bool ne2k_drv_send(const Ne2kBus *b, const uint8_t *frame, size_t len);
/*
 * Take the next frame out of the ring (insw), moving BNRY on.  Returns its
 * length (up to cap bytes are copied), or 0 when the ring is empty (or held
 * a header that made no sense: then the ring is emptied).
 */
size_t ne2k_drv_recv(const Ne2kBus *b, uint8_t *buf, size_t cap);
/* Remote read of len bytes of card memory at addr (insw, odd tail by inb). */
void ne2k_drv_read(const Ne2kBus *b, uint16_t addr, uint8_t *buf, size_t len);
uint8_t ne2k_drv_isr(const Ne2kBus *b);
void ne2k_drv_ack(const Ne2kBus *b, uint8_t bits);

#endif /* LILYVM_TESTS_NE2K_DRIVER_H */
