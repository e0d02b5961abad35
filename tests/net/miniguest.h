/*
 * A miniature guest network stack for the net-socket tests: builds the
 * Ethernet/IPv4/ARP/ICMP/UDP/TCP frames a guest would send (checksums
 * included), drives the pure core with them and parses what comes back.
 */
#ifndef MINIGUEST_H
#define MINIGUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "plugins/net-socket/ns.h"

#define MG_TCP_FIN 0x01
#define MG_TCP_SYN 0x02
#define MG_TCP_RST 0x04
#define MG_TCP_PSH 0x08
#define MG_TCP_ACK 0x10

/* A frame the core sent, taken apart (pointers into frame). */
typedef struct MgPkt {
    GBytes *frame;
    const uint8_t *eth;
    size_t len;
    uint16_t ethertype;
    /* IPv4 */
    uint32_t src, dst;
    uint8_t proto;
    const uint8_t *l4;
    size_t l4_len;
    bool csum_ok;        /* IP and L4 checksums verified */
    /* UDP/TCP */
    uint16_t sport, dport;
    const uint8_t *data;
    size_t data_len;
    /* TCP */
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t win;
    int mss;             /* -1: no option */
    int wscale;          /* -1: no option */
} MgPkt;

typedef struct Mg Mg;
struct Mg {
    NsCtx *ctx;
    NsConfig cfg;
    uint8_t mac[6];
    GQueue out;          /* MgPkt* the core sent */
    GHashTable *watched; /* fd -> events */
    uint64_t clock_skew; /* added to the real clock: lets tests age flows */
    bool refuse_output;  /* simulate a NIC that cannot take frames */
    /* Called for each frame the core sends, from inside its output call
     * (a NIC that answers synchronously); may call the mg_send_* helpers. */
    void (*on_output)(struct Mg *mg, const MgPkt *p, void *opaque);
    void *on_output_opaque;
    GString *log;
    int log_level;       /* messages above it are not wanted (default 3: all) */
    uint16_t ip_id;
};

/* Create a core with cfg (NULL: defaults) over real loopback sockets. */
Mg *mg_new(const NsConfig *cfg);
/* Like mg_new() but return NULL and set error when ns_new() fails. */
Mg *mg_try_new(const NsConfig *cfg, GError **error);
/* Like mg_new() with another socket layer (NULL: real sockets). */
Mg *mg_new_ops(const NsConfig *cfg, const NsSockOps *ops);
void mg_free(Mg *mg);

/* Frame builders; each calls ns_input().  Addresses in host order. */
void mg_send_raw(Mg *mg, const void *frame, size_t len);
void mg_send_arp_request(Mg *mg, uint32_t target);
void mg_send_ip(Mg *mg, uint32_t src, uint32_t dst, uint8_t proto,
                const void *l4, size_t len);
void mg_send_udp(Mg *mg, uint16_t sport, uint32_t dst, uint16_t dport,
                 const void *data, size_t len);
void mg_send_udp_from(Mg *mg, uint32_t src, uint16_t sport, uint32_t dst,
                      uint16_t dport, const void *data, size_t len);
void mg_send_icmp_echo(Mg *mg, uint32_t dst, uint16_t id, uint16_t seq,
                       const void *data, size_t len);
/* opts may be NULL; mss/wscale < 0: left out. */
void mg_send_tcp(Mg *mg, uint16_t sport, uint32_t dst, uint16_t dport,
                 uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
                 int mss, int wscale, const void *data, size_t len);
/* Build (not send) a TCP/IP packet: returns the IPv4 packet bytes. */
GBytes *mg_build_tcp(Mg *mg, uint16_t sport, uint32_t dst, uint16_t dport,
                     uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
                     int mss, int wscale, const void *data, size_t len);
GBytes *mg_build_ip(Mg *mg, uint32_t src, uint32_t dst, uint8_t proto,
                    const void *l4, size_t len);
GBytes *mg_build_eth(Mg *mg, uint16_t type, const void *payload, size_t len);

/* Event loop: poll the watched descriptors for up to ms, dispatch, tick. */
void mg_poll(Mg *mg, int ms);
/* Next frame the core sent (waits up to ms while polling), or NULL. */
MgPkt *mg_next(Mg *mg, int ms);
/* Next frame matching proto (and, for TCP/UDP, dport if nonzero). */
MgPkt *mg_next_l4(Mg *mg, uint8_t proto, uint16_t dport, int ms);
void mg_pkt_free(MgPkt *p);
void mg_drain(Mg *mg);

/* Host-side helpers on 127.0.0.1. */
int mg_tcp_listen(uint16_t *port);
int mg_udp_bind(uint16_t *port);
/* A port number on 127.0.0.1 where nothing listens (likely). */
uint16_t mg_unused_port(void);

#define MG_GUEST 0x0a00020fu
#define MG_GW 0x0a000202u
#define MG_DNS 0x0a000203u

#endif
