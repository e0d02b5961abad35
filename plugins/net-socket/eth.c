/*
 * net-socket Ethernet layer: demultiplexes the guest's frames by EtherType,
 * learns the guest's MAC address and frames everything sent back.
 */
#include "ns.h"

#include <string.h>

static const uint8_t ns_broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

#define NS_DEFERRED_MAX 64

void ns_input(NsCtx *ctx, const uint8_t *frame, size_t len)
{
    if (ctx->depth) {
        /* Re-entered from our own output: the frame buffer and the flow
         * being served are in use, so handle this frame afterwards. */
        if (g_queue_get_length(&ctx->deferred) >= NS_DEFERRED_MAX ||
            len > NS_FRAME_MAX) {
            ns_stat_inc(ctx, NS_ST_RX_DEFERRED_DROP);
            return;
        }
        g_queue_push_tail(&ctx->deferred, g_bytes_new(frame, len));
        return;
    }
    ns_enter(ctx);
    ns_eth_input(ctx, frame, len);
    ns_leave(ctx);
}

void ns_eth_input(NsCtx *ctx, const uint8_t *frame, size_t len)
{
    uint16_t type;

    ns_stat_inc(ctx, NS_ST_RX_FRAMES);
    if (len < NS_ETH_HLEN) {
        ns_stat_inc(ctx, NS_ST_ETH_RUNT);
        return;
    }
    type = ns_rd16(frame + 12);
    /* A unicast source address is the guest's; keep the latest one. */
    if (!(frame[6] & 1) && memcmp(frame + 6, "\0\0\0\0\0\0", 6) != 0) {
        memcpy(ctx->guest_mac, frame + 6, 6);
        ctx->guest_mac_known = true;
    }
    switch (type) {
    case NS_ETH_P_ARP:
        ns_arp_input(ctx, frame + NS_ETH_HLEN, len - NS_ETH_HLEN);
        break;
    case NS_ETH_P_IP:
        ns_ip_input(ctx, frame + NS_ETH_HLEN, len - NS_ETH_HLEN);
        break;
    default:
        ns_stat_inc(ctx, NS_ST_ETH_UNKNOWN);
        break;
    }
}

/**
 * ns_eth_output() - Frame and send the payload already in ctx->obuf.
 * @dst_mac: destination, or NULL for the guest (broadcast if unknown yet)
 * @type: EtherType
 * @payload_len: bytes at ns_eth_payload()
 *
 * Return: true if the guest side took the frame.
 */
bool ns_eth_output(NsCtx *ctx, const uint8_t *dst_mac, uint16_t type,
                   size_t payload_len)
{
    uint8_t *f = ctx->obuf;
    size_t len = NS_ETH_HLEN + payload_len;

    if (!dst_mac)
        dst_mac = ctx->guest_mac_known ? ctx->guest_mac : ns_broadcast;
    memcpy(f, dst_mac, 6);
    memcpy(f + 6, ctx->cfg.gw_mac, 6);
    ns_wr16(f + 12, type);
    /* Pad to the Ethernet minimum as a real NIC would. */
    if (len < 60) {
        memset(f + len, 0, 60 - len);
        len = 60;
    }
    if (!ctx->cb.output(ctx->cb_opaque, f, len)) {
        ns_stat_inc(ctx, NS_ST_TX_DROPPED);
        return false;
    }
    ns_stat_inc(ctx, NS_ST_TX_FRAMES);
    return true;
}
