/*
 * net-socket DHCP server: hands the one guest address out (DISCOVER/OFFER,
 * REQUEST/ACK, INFORM) with mask, router, DNS server, lease time and the
 * interface MTU; a request for any other address is refused with a NAK.
 */
#include "ns.h"

#include <string.h>

#define BOOTP_FIXED 236
#define BOOTP_MIN_REPLY 300
#define DHCP_MAGIC 0x63825363u

#define DHCPDISCOVER 1
#define DHCPOFFER 2
#define DHCPREQUEST 3
#define DHCPDECLINE 4
#define DHCPACK 5
#define DHCPNAK 6
#define DHCPRELEASE 7
#define DHCPINFORM 8

#define OPT_PAD 0
#define OPT_MASK 1
#define OPT_ROUTER 3
#define OPT_DNS 6
#define OPT_MTU 26
#define OPT_REQ_ADDR 50
#define OPT_LEASE 51
#define OPT_MSG_TYPE 53
#define OPT_SERVER_ID 54
#define OPT_END 255

static uint8_t *opt_u32(uint8_t *o, uint8_t code, uint32_t v)
{
    o[0] = code;
    o[1] = 4;
    ns_wr32(o + 2, v);
    return o + 6;
}

static void dhcp_reply(NsCtx *ctx, const uint8_t *req, uint8_t type,
                       bool inform)
{
    /* Built in scratch, then copied by ns_udp_output() into the frame. */
    uint8_t *r = ctx->scratch;
    uint8_t *o;
    size_t len;

    memset(r, 0, BOOTP_MIN_REPLY + 64);
    r[0] = 2; /* BOOTREPLY */
    r[1] = 1;
    r[2] = 6;
    memcpy(r + 4, req + 4, 4);    /* xid */
    memcpy(r + 10, req + 10, 2);  /* flags */
    memcpy(r + 12, req + 12, 4);  /* ciaddr */
    if (type != DHCPNAK && !inform)
        ns_wr32(r + 16, ctx->cfg.guest); /* yiaddr */
    ns_wr32(r + 20, ctx->cfg.gw);        /* siaddr */
    memcpy(r + 28, req + 28, 16);        /* chaddr */
    ns_wr32(r + BOOTP_FIXED, DHCP_MAGIC);
    o = r + BOOTP_FIXED + 4;
    *o++ = OPT_MSG_TYPE;
    *o++ = 1;
    *o++ = type;
    o = opt_u32(o, OPT_SERVER_ID, ctx->cfg.gw);
    if (type != DHCPNAK) {
        if (!inform)
            o = opt_u32(o, OPT_LEASE, ctx->cfg.lease_s);
        o = opt_u32(o, OPT_MASK, ctx->cfg.mask);
        o = opt_u32(o, OPT_ROUTER, ctx->cfg.gw);
        o = opt_u32(o, OPT_DNS, ctx->cfg.dns);
        *o++ = OPT_MTU;
        *o++ = 2;
        ns_wr16(o, (uint16_t)ctx->cfg.mtu);
        o += 2;
    }
    *o++ = OPT_END;
    len = (size_t)(o - r);
    if (len < BOOTP_MIN_REPLY)
        len = BOOTP_MIN_REPLY;
    if (ns_udp_output(ctx, ctx->cfg.gw, 67, 0xffffffffu, 68, r, len))
        ns_stat_inc(ctx, NS_ST_DHCP_REPLIES);
}

void ns_dhcp_input(NsCtx *ctx, const uint8_t *p, size_t len)
{
    const uint8_t *o, *end;
    int type = -1;
    uint32_t req_addr = 0, server_id = 0;
    bool have_server_id = false;

    if (len < BOOTP_FIXED + 4 || p[0] != 1 || p[1] != 1 || p[2] != 6 ||
        ns_rd32(p + BOOTP_FIXED) != DHCP_MAGIC) {
        ns_stat_inc(ctx, NS_ST_DHCP_BAD);
        return;
    }
    o = p + BOOTP_FIXED + 4;
    end = p + len;
    while (o < end && *o != OPT_END) {
        uint8_t code = *o++, olen;
        if (code == OPT_PAD)
            continue;
        if (o >= end || (size_t)(end - o) < 1u + *o) {
            ns_stat_inc(ctx, NS_ST_DHCP_BAD);
            return;
        }
        olen = *o++;
        if (code == OPT_MSG_TYPE && olen == 1)
            type = o[0];
        else if (code == OPT_REQ_ADDR && olen == 4)
            req_addr = ns_rd32(o);
        else if (code == OPT_SERVER_ID && olen == 4) {
            server_id = ns_rd32(o);
            have_server_id = true;
        }
        o += olen;
    }

    switch (type) {
    case DHCPDISCOVER:
        dhcp_reply(ctx, p, DHCPOFFER, false);
        break;
    case DHCPREQUEST:
        if (have_server_id && server_id != ctx->cfg.gw)
            return; /* the guest chose another server */
        if (!req_addr)
            req_addr = ns_rd32(p + 12); /* renewing: ciaddr */
        dhcp_reply(ctx, p, req_addr == ctx->cfg.guest ? DHCPACK : DHCPNAK, false);
        break;
    case DHCPINFORM:
        dhcp_reply(ctx, p, DHCPACK, true);
        break;
    case DHCPRELEASE:
    case DHCPDECLINE:
        break;
    default:
        ns_stat_inc(ctx, NS_ST_DHCP_BAD);
        break;
    }
}
