/*
 * net-socket ARP: answers for every address of the virtual network except
 * the guest's own (gateway, DNS and any other host the guest may think is
 * on the link all live behind the gateway MAC), and asks for the guest's MAC
 * when a forwarded connection must reach it before it has said anything.
 */
#include "ns.h"

#include <string.h>

#define ARP_LEN 28
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2

void ns_arp_input(NsCtx *ctx, const uint8_t *p, size_t len)
{
    uint32_t spa, tpa;
    uint8_t *r;

    if (len < ARP_LEN || ns_rd16(p) != 1 || ns_rd16(p + 2) != NS_ETH_P_IP ||
        p[4] != 6 || p[5] != 4) {
        ns_stat_inc(ctx, NS_ST_ARP_BAD);
        return;
    }
    spa = ns_rd32(p + 14);
    tpa = ns_rd32(p + 24);
    if (spa == ctx->cfg.guest && !(p[8] & 1)) {
        memcpy(ctx->guest_mac, p + 8, 6);
        ctx->guest_mac_known = true;
    }
    if (ns_rd16(p + 6) != ARP_OP_REQUEST)
        return;
    /* Gratuitous ARP and duplicate-address probes get no answer; neither
     * does anything outside our network. */
    if (tpa == spa || tpa == ctx->cfg.guest ||
        (tpa & ctx->cfg.mask) != ctx->cfg.net)
        return;

    r = ns_eth_payload(ctx);
    ns_wr16(r, 1);
    ns_wr16(r + 2, NS_ETH_P_IP);
    r[4] = 6;
    r[5] = 4;
    ns_wr16(r + 6, ARP_OP_REPLY);
    memcpy(r + 8, ctx->cfg.gw_mac, 6);
    ns_wr32(r + 14, tpa);
    memcpy(r + 18, p + 8, 6);
    memcpy(r + 24, p + 14, 4);
    if (ns_eth_output(ctx, p + 8, NS_ETH_P_ARP, ARP_LEN))
        ns_stat_inc(ctx, NS_ST_ARP_REPLIES);
}

void ns_arp_request_guest(NsCtx *ctx)
{
    static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    uint8_t *r = ns_eth_payload(ctx);

    ns_wr16(r, 1);
    ns_wr16(r + 2, NS_ETH_P_IP);
    r[4] = 6;
    r[5] = 4;
    ns_wr16(r + 6, ARP_OP_REQUEST);
    memcpy(r + 8, ctx->cfg.gw_mac, 6);
    ns_wr32(r + 14, ctx->cfg.gw);
    memset(r + 18, 0, 6);
    ns_wr32(r + 24, ctx->cfg.guest);
    ns_eth_output(ctx, bcast, NS_ETH_P_ARP, ARP_LEN);
}
