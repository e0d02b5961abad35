/*
 * net-socket internals: the pure frame-in/frame-out core shared by the
 * protocol files, the plugin glue (netsock.c), the tests and the fuzzer.
 */
#ifndef NS_H
#define NS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <glib.h>

/*
 * DOC: Theory of operation
 *
 * The guest's Ethernet frames enter through ns_input().  Each protocol file
 * takes its header apart, validates it (anything malformed is counted and
 * dropped) and turns the payload into an ordinary host socket call made
 * through the socket layer (NsSockOps, sock.c).  Data coming back from host
 * sockets is wrapped into frames and handed to the output callback.
 *
 * The core never blocks and owns no event loop: it tells its embedder which
 * file descriptors it wants watched (NsCallbacks.watch) and the embedder
 * calls ns_sock_event() when one is ready and ns_tick() from time to time
 * (ns_next_deadline() says when).  The plugin glue does that with the VM's
 * main loop; the tests do it with poll(); the fuzzer with a fake socket
 * layer that never touches the network.
 *
 * All IPv4 addresses and ports inside the core are in host byte order.
 */

#define NS_ETH_HLEN 14
#define NS_MTU_MIN 576
#define NS_MTU_MAX 65520
#define NS_FRAME_MAX (NS_ETH_HLEN + NS_MTU_MAX)

#define NS_ETH_P_IP 0x0800
#define NS_ETH_P_ARP 0x0806

#define NS_IPPROTO_ICMP 1
#define NS_IPPROTO_TCP 6
#define NS_IPPROTO_UDP 17

/* Counters reported through NsCallbacks.stat and kept in NsCtx.stats. */
#define NS_STATS(X)                                                         \
    X(RX_FRAMES, "rx-frames")                                               \
    X(TX_FRAMES, "tx-frames")                                               \
    X(TX_DROPPED, "tx-dropped")                                             \
    X(ETH_RUNT, "eth-runt")                                                 \
    X(ETH_UNKNOWN, "eth-unknown-type")                                      \
    X(ARP_BAD, "arp-malformed")                                             \
    X(ARP_REPLIES, "arp-replies")                                           \
    X(IP_BAD_HEADER, "ip-malformed")                                        \
    X(IP_BAD_CSUM, "ip-bad-checksum")                                       \
    X(IP_FRAGMENT, "ip-fragment")                                           \
    X(IP_BAD_SRC, "ip-bad-source")                                          \
    X(IP_UNKNOWN_PROTO, "ip-unknown-protocol")                              \
    X(IP_RESTRICTED, "ip-restricted")                                       \
    X(ICMP_BAD, "icmp-malformed")                                           \
    X(ICMP_ECHO_LOCAL, "icmp-echo-local")                                   \
    X(ICMP_ECHO_FWD, "icmp-echo-forwarded")                                 \
    X(ICMP_NO_SOCKET, "icmp-no-socket")                                     \
    X(UDP_BAD, "udp-malformed")                                             \
    X(UDP_TX, "udp-datagrams-out")                                          \
    X(UDP_RX, "udp-datagrams-in")                                           \
    X(UDP_ERR, "udp-socket-errors")                                         \
    X(DHCP_BAD, "dhcp-malformed")                                           \
    X(DHCP_REPLIES, "dhcp-replies")                                         \
    X(DNS_BAD, "dns-malformed")                                             \
    X(DNS_FWD, "dns-forwarded")                                             \
    X(DNS_REPLIES, "dns-replies")                                           \
    X(DNS_DROPPED, "dns-dropped")                                           \
    X(TCP_BAD, "tcp-malformed")                                             \
    X(TCP_RST_TX, "tcp-rst-sent")                                           \
    X(TCP_RST_RX, "tcp-rst-received")                                       \
    X(TCP_RETRANS, "tcp-retransmits")                                       \
    X(TCP_OUT_OF_ORDER, "tcp-out-of-order")                                 \
    X(TCP_CONNECT_FAIL, "tcp-connect-failed")                               \
    X(FLOW_LIMIT, "flow-limit-hit")                                         \
    X(FLOWS_OPENED, "flows-opened")                                         \
    X(FLOWS_CLOSED, "flows-closed")                                         \
    X(RX_DEFERRED_DROP, "rx-deferred-dropped")

typedef enum NsStat {
#define NS_STAT_ENUM(id, name) NS_ST_##id,
    NS_STATS(NS_STAT_ENUM)
#undef NS_STAT_ENUM
    NS_ST_COUNT
} NsStat;

extern const char *const ns_stat_names[NS_ST_COUNT];

/* Events for NsCallbacks.watch and ns_sock_event (poll(2) values). */
#define NS_EV_IN 0x001u
#define NS_EV_OUT 0x004u
#define NS_EV_ERR 0x008u
#define NS_EV_HUP 0x010u

/*
 * The socket layer.  Every call returns a negative errno on failure.
 * Sockets are created non-blocking and close-on-exec.
 */
typedef struct NsSockOps {
    int (*open)(void *o, int type, int proto);
    int (*bind)(void *o, int fd, uint32_t addr, uint16_t port);
    int (*listen)(void *o, int fd);
    int (*connect)(void *o, int fd, uint32_t addr, uint16_t port);
    int (*accept)(void *o, int fd, uint32_t *addr, uint16_t *port);
    /* addr == 0 && port == 0: the socket's connected peer. */
    ssize_t (*sendto)(void *o, int fd, const void *buf, size_t len,
                      uint32_t addr, uint16_t port);
    ssize_t (*recvfrom)(void *o, int fd, void *buf, size_t len,
                        uint32_t *addr, uint16_t *port);
    /* Copy up to len bytes that follow the first skip bytes, leaving all
     * of them queued.  0: end of stream; -EAGAIN: nothing beyond skip. */
    ssize_t (*peek)(void *o, int fd, size_t skip, void *buf, size_t len);
    /* Consume len bytes that were peeked before. */
    ssize_t (*discard)(void *o, int fd, size_t len);
    int (*shutdown_wr)(void *o, int fd);
    int (*sock_error)(void *o, int fd);
    /* Free space in the send buffer, in bytes. */
    int (*send_space)(void *o, int fd);
    /* abort: reset the connection (SO_LINGER 0) instead of a clean close. */
    void (*close)(void *o, int fd, bool abort);
    /* Report the socket readable only with at least bytes queued. */
    int (*set_lowat)(void *o, int fd, int bytes);
} NsSockOps;

extern const NsSockOps ns_sock_posix; /* real host sockets (sock.c) */
extern const NsSockOps ns_sock_posix_peek_copy; /* same, never SO_PEEK_OFF */
/* Times ns_sock_posix had to set SO_PEEK_OFF (it follows the kernel's
 * offset otherwise); for tests. */
extern unsigned long ns_sock_peek_off_sets;

/* What the embedder provides. */
typedef struct NsCallbacks {
    /* One Ethernet frame toward the guest; false if it was not taken. */
    bool (*output)(void *opaque, const uint8_t *frame, size_t len);
    /* Watch fd for events (0: stop watching fd). */
    void (*watch)(void *opaque, int fd, unsigned events);
    uint64_t (*now_ns)(void *opaque);
    void (*log)(void *opaque, int level, const char *msg); /* 0 err .. 3 dbg */
    void (*stat)(void *opaque, const char *name, uint64_t delta); /* may be NULL */
    /* Would a message of this level be shown?  NULL: always format it. */
    bool (*log_enabled)(void *opaque, int level);
} NsCallbacks;

/* A port forward (host order). */
typedef struct NsFwdSpec {
    uint8_t proto; /* NS_IPPROTO_TCP or NS_IPPROTO_UDP */
    uint32_t host_addr;
    uint16_t host_port;
    uint32_t guest_addr; /* 0: the guest address */
    uint16_t guest_port;
} NsFwdSpec;

typedef struct NsConfig {
    uint32_t net, mask;  /* guest network */
    uint32_t gw;         /* gateway: answers ARP/ping, host loopback alias */
    uint32_t dns;        /* DNS forwarder address seen by the guest */
    uint32_t guest;      /* the one address the DHCP server hands out */
    uint8_t gw_mac[6];
    uint32_t resolver;   /* where DNS queries go (0: none) */
    uint16_t resolver_port;
    uint32_t outbound;   /* bind outgoing sockets here (0: any) */
    bool restricted;     /* nothing but forwards */
    bool loopback;       /* gateway address reaches host 127.0.0.1 */
    unsigned mtu;
    unsigned max_flows;
    unsigned udp_timeout_s;
    unsigned tcp_timeout_s;
    unsigned lease_s;
    const NsFwdSpec *fwds;
    size_t nfwds;
    uint32_t seed;       /* 0: random ISNs and DNS ids; else repeatable */
} NsConfig;

/* Fill cfg with the QEMU-like defaults (no forwards, resolver unset). */
void ns_config_default(NsConfig *cfg);

typedef struct NsCtx NsCtx;

#define NS_ERROR g_quark_from_string("net-socket")

/**
 * ns_new() - Create a core instance.
 * @cfg: configuration (copied; fwds are copied too)
 * @cb: embedder callbacks; @cb_opaque is passed to them
 * @sops: socket layer; @sock_opaque is passed to it
 *
 * Opens the forward listeners.  Return: the instance, or NULL with @error
 * set (for example a forward whose host port is already in use).
 */
NsCtx *ns_new(const NsConfig *cfg, const NsCallbacks *cb, void *cb_opaque,
              const NsSockOps *sops, void *sock_opaque, GError **error);
void ns_free(NsCtx *ctx);

/* One Ethernet frame from the guest. */
void ns_input(NsCtx *ctx, const uint8_t *frame, size_t len);
/* A watched descriptor is ready. */
void ns_sock_event(NsCtx *ctx, int fd, unsigned events);
/* Timers: retransmissions, idle timeouts; and the ACKs held back for a
 * burst of guest segments.  Cheap when nothing is due. */
void ns_tick(NsCtx *ctx);
/* When ns_tick() wants to run next (VM clock ns; UINT64_MAX: never).  With
 * ACKs held back this is now: run ns_tick() once the frames at hand have
 * been handed in, before sleeping. */
uint64_t ns_next_deadline(NsCtx *ctx);
/* The same without the deferred ACKs, for an embedder that sends those
 * with ns_flush() when ns_flush_pending() (once the frames at hand have
 * been handed in) and keeps its timer for the rest. */
uint64_t ns_timers_deadline(NsCtx *ctx);
bool ns_flush_pending(NsCtx *ctx);
void ns_flush(NsCtx *ctx);
/* The guest side can take frames again: resume host reads. */
void ns_output_ready(NsCtx *ctx);

uint64_t ns_stat_get(const NsCtx *ctx, NsStat id);
unsigned ns_flow_count(const NsCtx *ctx);

/* ---- internals shared by the protocol files ---------------------------- */

typedef void (*NsSockFn)(NsCtx *ctx, void *obj, int fd, unsigned events);

typedef struct NsSockHandler {
    NsSockFn fn;
    void *obj;
    unsigned events;
} NsSockHandler;

typedef struct NsTcpFlow NsTcpFlow;
typedef struct NsUdpFlow NsUdpFlow;
typedef struct NsIcmpFlow NsIcmpFlow;
typedef struct NsFwd NsFwd;
typedef struct NsDnsQuery NsDnsQuery;

struct NsCtx {
    NsConfig cfg;
    NsFwdSpec *fwd_specs;
    NsCallbacks cb;
    void *cb_opaque;
    const NsSockOps *sops;
    void *sops_opaque;

    uint8_t guest_mac[6];
    bool guest_mac_known;

    uint64_t stats[NS_ST_COUNT];

    GHashTable *socks;      /* fd -> NsSockHandler* */
    GHashTable *tcp_flows;  /* key -> NsTcpFlow* */
    GHashTable *udp_flows;  /* key -> NsUdpFlow* */
    GHashTable *icmp_flows; /* guest echo id -> NsIcmpFlow* */
    unsigned nflows;
    size_t tcp_ooo_bytes;   /* guest TCP segments held, all flows */
    GQueue tcp_acks;        /* NsTcpFlow* with an ACK deferred to ns_tick */
    NsTcpFlow *tcp_stage_flow; /* whose in-order guest bytes are staged */
    uint8_t *tcp_stage;     /* those bytes, written to the host in one go */
    size_t tcp_stage_len;

    NsFwd *fwds;
    size_t nfwds;

    /* DNS forwarding. */
    int dns_fd;
    NsDnsQuery *dns_q;      /* NS_DNS_SLOTS pending queries */
    unsigned dns_pending;
    uint16_t dns_next_id;

    /* Frames the guest side handed in while the core was itself sending
     * (a NIC that answers synchronously): processed when it is done. */
    unsigned depth;
    GQueue deferred;        /* GBytes* */
    bool kick_pending;      /* ns_output_ready() while busy */

    bool ping_warned;
    uint16_t ip_id;
    uint32_t isn_seed;
    uint8_t *obuf;          /* one outgoing frame */
    uint8_t *scratch;       /* socket reads */
    size_t scratch_len;
};

/* flow.c */
/* Bracket every entry point that may send frames (see NsCtx.depth). */
void ns_enter(NsCtx *ctx);
void ns_leave(NsCtx *ctx);
void ns_eth_input(NsCtx *ctx, const uint8_t *frame, size_t len);
void ns_stat_inc(NsCtx *ctx, NsStat id);
void ns_logf(NsCtx *ctx, int level, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
uint64_t ns_now(NsCtx *ctx);
bool ns_sock_add(NsCtx *ctx, int fd, unsigned events, NsSockFn fn, void *obj);
void ns_sock_update(NsCtx *ctx, int fd, unsigned events);
void ns_sock_del(NsCtx *ctx, int fd);
/* Room for another flow?  Counts and logs a refusal. */
bool ns_flow_admit(NsCtx *ctx);
void ns_flow_opened(NsCtx *ctx);
void ns_flow_closed(NsCtx *ctx);
uint64_t ns_flow_key(uint16_t gport, uint32_t raddr, uint16_t rport);
/*
 * Idle expiry shared by the UDP and ICMP flow tables (both idle out after
 * cfg.udp_timeout_s): every flow struct keeps a uint64_t last_used (ns) at
 * byte offset last_used_off; free_fn releases one flow and removes it from
 * its table.
 */
typedef void (*NsFlowFreeFn)(NsCtx *ctx, void *flow);
void ns_flows_expire(NsCtx *ctx, GHashTable *flows, size_t last_used_off,
                     uint64_t now, NsFlowFreeFn free_fn);
uint64_t ns_flows_deadline(NsCtx *ctx, GHashTable *flows, size_t last_used_off);
void ns_flows_free_all(NsCtx *ctx, GHashTable *flows, NsFlowFreeFn free_fn);
/* Translate a guest-visible destination to the host address to use;
 * false: not reachable (loopback off, restricted, our own address). */
bool ns_map_outbound(NsCtx *ctx, uint32_t dst, uint32_t *host);
/* The reverse: a host source address as the guest should see it. */
uint32_t ns_map_inbound(NsCtx *ctx, uint32_t host);

/* eth.c */
bool ns_eth_output(NsCtx *ctx, const uint8_t *dst_mac, uint16_t type,
                   size_t payload_len);
static inline uint8_t *ns_eth_payload(NsCtx *ctx) { return ctx->obuf + NS_ETH_HLEN; }

/* arp.c */
void ns_arp_input(NsCtx *ctx, const uint8_t *p, size_t len);
void ns_arp_request_guest(NsCtx *ctx);

/* ip.c */
uint32_t ns_csum_add(uint32_t sum, const void *data, size_t len);
uint16_t ns_csum_fold(uint32_t sum);
uint32_t ns_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, size_t len);
void ns_ip_input(NsCtx *ctx, const uint8_t *p, size_t len);
/* Where L4 headers of an outgoing packet start. */
static inline uint8_t *ns_ip_payload(NsCtx *ctx) { return ctx->obuf + NS_ETH_HLEN + 20; }
/* Send the L4 data at ns_ip_payload() (len bytes) as one IPv4 packet. */
bool ns_ip_output(NsCtx *ctx, uint8_t proto, uint32_t src, uint32_t dst,
                  size_t len);
/* Largest L4 payload (header included) in one packet. */
static inline size_t ns_ip_max_payload(NsCtx *ctx) { return ctx->cfg.mtu - 20; }

/* icmp.c */
void ns_icmp_input(NsCtx *ctx, uint32_t src, uint32_t dst, const uint8_t *p,
                   size_t len);
/* Tell the guest a destination is unreachable (code 3 port, 1 host). */
void ns_icmp_unreach(NsCtx *ctx, uint8_t code, const uint8_t *ip_pkt,
                     size_t len);
void ns_icmp_tick(NsCtx *ctx, uint64_t now);
uint64_t ns_icmp_deadline(NsCtx *ctx);
void ns_icmp_free_all(NsCtx *ctx);

/* udp.c */
void ns_udp_input(NsCtx *ctx, uint32_t src, uint32_t dst, const uint8_t *p,
                  size_t len, const uint8_t *ip_pkt, size_t ip_len);
bool ns_udp_output(NsCtx *ctx, uint32_t src, uint16_t sport, uint32_t dst,
                   uint16_t dport, const void *data, size_t len);
/* A datagram arrived on forward listener fwd from host peer addr:port. */
void ns_udp_fwd_input(NsCtx *ctx, NsFwd *fwd, uint32_t addr, uint16_t port,
                      const void *data, size_t len);
void ns_udp_tick(NsCtx *ctx, uint64_t now);
uint64_t ns_udp_deadline(NsCtx *ctx);
void ns_udp_free_all(NsCtx *ctx);

/* dhcp.c */
void ns_dhcp_input(NsCtx *ctx, const uint8_t *p, size_t len);

/* dns.c */
#define NS_DNS_SLOTS 128
void ns_dns_input(NsCtx *ctx, uint16_t gport, const uint8_t *p, size_t len);
void ns_dns_tick(NsCtx *ctx, uint64_t now);
uint64_t ns_dns_deadline(NsCtx *ctx);
void ns_dns_free(NsCtx *ctx);
bool ns_dns_resolver_from_file(const char *path, uint32_t *addr);

/* tcp.c */
void ns_tcp_input(NsCtx *ctx, uint32_t src, uint32_t dst, const uint8_t *p,
                  size_t len);
/* A connection accepted on a forward listener. */
void ns_tcp_fwd_accept(NsCtx *ctx, NsFwd *fwd, int fd, uint32_t addr,
                       uint16_t port);
void ns_tcp_tick(NsCtx *ctx, uint64_t now);
uint64_t ns_tcp_deadline(NsCtx *ctx);
void ns_tcp_kick(NsCtx *ctx);
/* Send the ACKs deferred while a burst of guest segments came in. */
void ns_tcp_flush(NsCtx *ctx);
void ns_tcp_free_all(NsCtx *ctx);
/* One line per TCP flow, for debugging. */
void ns_tcp_dump(NsCtx *ctx, GString *out);

/* fwd.c */
struct NsFwd {
    NsFwdSpec spec;
    int fd;
};
bool ns_fwd_open_all(NsCtx *ctx, GError **error);
void ns_fwd_close_all(NsCtx *ctx);
/* "tcp:127.0.0.1:8080-10.0.2.15:80" for messages */
char *ns_fwd_describe(const NsFwdSpec *s);

/* Byte-order helpers for unaligned wire data. */
static inline uint16_t ns_rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t ns_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void ns_wr16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static inline void ns_wr32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24; p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

#endif /* NS_H */
