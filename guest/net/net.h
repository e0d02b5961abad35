/*
 * The guest network library: an NE2000 driver and a small IPv4 stack
 * (Ethernet, ARP, IPv4, ICMP echo, UDP, DHCP, DNS, TCP) for SDK kernels.
 * Single-threaded and polled: the kernel calls net_poll() from its loops.
 */
#ifndef LILY_GUEST_NET_H
#define LILY_GUEST_NET_H

#include <stddef.h>
#include <stdint.h>

/* ---- time: the kernel's timer interrupt advances it ---- */
extern volatile uint32_t net_now_ms;
/* Called by the kernel's timer handler with the milliseconds that passed. */
static inline void net_tick(uint32_t ms) { net_now_ms += ms; }
/* Set by the kernel to how it waits for the next interrupt (e.g. sti; hlt). */
extern void (*net_idle_hook)(void);

/* ---- NE2000 (ISA, programmed I/O) ---- */
#define NE2K_DEFAULT_IOBASE 0x300
/* Reset the card at iobase and read its station address; 0 or -1 if absent. */
int ne2k_probe(uint16_t iobase, uint8_t mac[6]);
/* Start the card with mac, accepting unicast to it and broadcasts. */
void ne2k_start(uint16_t iobase, const uint8_t mac[6]);
/*
 * Wake the kernel on received frames through irq (the SDK's PIC helpers and
 * trap_set_handler; the PIC must be remapped to VEC_IRQ0).  Receiving stays
 * polled: the interrupt only ends an idle hlt sooner.
 */
void ne2k_irq_attach(unsigned irq);
/* Send one frame (14..1514 bytes; shorter frames are padded); 0 or -1. */
int ne2k_send(const void *frame, size_t len);
/* The next received frame into buf (at most cap bytes); its length or 0. */
size_t ne2k_recv(void *buf, size_t cap);

/* ---- addresses and interface state ---- */
typedef uint32_t ip4_t; /* in host byte order: 10.0.2.15 is 0x0a00020f */
#define IP4(a, b, c, d) ((ip4_t)(a) << 24 | (ip4_t)(b) << 16 | (ip4_t)(c) << 8 | (ip4_t)(d))

struct net_if {
    uint8_t mac[6];
    ip4_t addr, mask, router, dns;
    uint32_t lease_s;
    int up; /* the card answered */
    /* counters for ifconfig */
    uint32_t rx_frames, tx_frames, rx_dropped, tx_errors;
    int irq;        /* the card's interrupt line, -1 while polled only */
    uint32_t irqs;  /* interrupts taken */
    /* Received frames the stack threw away, by reason (for diagnostics). */
    uint32_t rx_ip_bad, rx_not_ours, rx_udp_bad, rx_udp_unbound;
};
extern struct net_if net_if;

/* Probe the card at iobase and start the stack; 0, or -1 without a card. */
int net_init(uint16_t iobase);
/* Handle every frame waiting and run timers (ARP, TCP retransmission). */
void net_poll(void);
/* net_poll(), then wait for the next interrupt through net_idle_hook. */
void net_wait(void);

/* "a.b.c.d" to an address; 0 on success, -1 if text is not one. */
int ip4_parse(const char *text, ip4_t *out);
/* Format an address into buf (at least 16 bytes); returns buf. */
char *ip4_format(ip4_t a, char *buf);
/* Internet checksum over len bytes, continued from sum (start with 0). */
uint32_t net_csum_add(uint32_t sum, const void *data, size_t len);
uint16_t net_csum_fold(uint32_t sum);

/* ---- ARP ---- */
struct arp_entry {
    ip4_t ip;
    uint8_t mac[6];
    uint8_t state; /* 0 free, 1 waiting for a reply, 2 resolved */
    uint32_t stamp_ms;
    uint32_t retry_ms; /* when to ask again while waiting */
};
#define ARP_ENTRIES 8
extern struct arp_entry arp_cache[ARP_ENTRIES];

/* ---- IPv4 ---- */
#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP 6
#define IP_PROTO_UDP 17
/*
 * Send an IPv4 datagram with payload (len <= IP_MAX_PAYLOAD) to dst, routed
 * through the router when dst is off the subnet.  An unresolved next hop
 * holds the datagram (one per ARP entry) until the reply comes.  0 or -1.
 */
#define IP_MAX_PAYLOAD 1480
int ip_send(ip4_t dst, uint8_t proto, const void *payload, size_t len);

/* ---- ICMP echo ---- */
/* Called on each echo reply that arrives (id, seq, from). */
typedef void (*icmp_reply_fn)(ip4_t from, uint16_t id, uint16_t seq, uint32_t sent_ms);
extern icmp_reply_fn icmp_on_reply;
/* Send an echo request carrying the send time; 0 or -1. */
int icmp_ping(ip4_t dst, uint16_t id, uint16_t seq);
extern uint32_t icmp_echo_answered; /* echo requests we replied to */

/* ---- UDP ---- */
typedef void (*udp_recv_fn)(void *ctx, ip4_t src, uint16_t sport, const uint8_t *data,
                            size_t len);
struct udp_sock {
    uint16_t port; /* 0: free */
    udp_recv_fn recv;
    void *ctx;
};
#define UDP_SOCKS 8
/* Bind port (0: an ephemeral one) with a receive callback; NULL if none is free. */
struct udp_sock *udp_bind(uint16_t port, udp_recv_fn recv, void *ctx);
void udp_unbind(struct udp_sock *s);
int udp_sendto(struct udp_sock *s, ip4_t dst, uint16_t dport, const void *data, size_t len);

/* ---- DHCP client ---- */
/* Run DISCOVER/OFFER/REQUEST/ACK, filling net_if; 0, or -1 after timeout_ms. */
int dhcp_run(uint32_t timeout_ms);

/* ---- DNS client (A records) ---- */
/* Resolve name through net_if.dns; 0 with *out set, -1 on failure (why in err). */
int dns_resolve(const char *name, ip4_t *out, uint32_t timeout_ms, const char **err);
/* The same through a given server and port (a dotted name is returned as is). */
int dns_query(const char *name, ip4_t server, uint16_t port, ip4_t *out, uint32_t timeout_ms,
              const char **err);

/* ---- TCP ---- */
enum tcp_state {
    TCP_CLOSED, TCP_LISTEN, TCP_SYN_SENT, TCP_SYN_RCVD, TCP_ESTABLISHED, TCP_FIN_WAIT_1,
    TCP_FIN_WAIT_2, TCP_CLOSE_WAIT, TCP_CLOSING, TCP_LAST_ACK, TCP_TIME_WAIT,
};
enum tcp_event { TCP_EV_CONNECTED, TCP_EV_PEER_CLOSED, TCP_EV_CLOSED, TCP_EV_RESET };

struct tcp_conn;
typedef void (*tcp_data_fn)(struct tcp_conn *c, const uint8_t *data, size_t len);
typedef void (*tcp_event_fn)(struct tcp_conn *c, enum tcp_event ev);
/* A listener's accept callback: set c->on_data/on_event/user on c. */
typedef void (*tcp_accept_fn)(struct tcp_conn *c);

#define TCP_TX_BUF 8192
#define TCP_WINDOW 8192 /* the fixed receive window we advertise */
#define TCP_CONNS 8

struct tcp_conn {
    enum tcp_state state;
    ip4_t rip;
    uint16_t lport, rport;
    uint32_t iss, snd_una, snd_nxt, snd_wnd, rcv_nxt;
    uint16_t mss;
    uint8_t fin_queued;  /* the application closed: FIN after the data */
    uint8_t retries;
    uint32_t rto_ms, rto_at, timewait_at;
    uint32_t tx_len; /* bytes in tx from snd_una's data onward */
    uint8_t tx[TCP_TX_BUF];
    tcp_data_fn on_data;
    tcp_event_fn on_event;
    tcp_accept_fn on_accept; /* listeners only */
    void *user;
    uint32_t retransmits;
};
extern struct tcp_conn tcp_conns[TCP_CONNS];

struct tcp_conn *tcp_listen(uint16_t port, tcp_accept_fn accept);
/* Start a connection (SYN sent); events tell how it went. NULL if no slot. */
struct tcp_conn *tcp_connect(ip4_t dst, uint16_t port, tcp_data_fn on_data,
                             tcp_event_fn on_event, void *user);
/* Queue data; returns the bytes taken (less than len when the buffer is full). */
size_t tcp_send(struct tcp_conn *c, const void *data, size_t len);
/* Send FIN once queued data is out. */
void tcp_close(struct tcp_conn *c);
/* Drop the connection and tell the peer (RST). */
void tcp_abort(struct tcp_conn *c);
const char *tcp_state_name(enum tcp_state s);

/* internal: protocol input from the IP layer */
void icmp_input(ip4_t src, const uint8_t *p, size_t len);
void udp_input(ip4_t src, ip4_t dst, const uint8_t *p, size_t len);
void tcp_input(ip4_t src, ip4_t dst, const uint8_t *p, size_t len);
void tcp_timers(void);
uint16_t net_get16(const uint8_t *p);
uint32_t net_get32(const uint8_t *p);
void net_put16(uint8_t *p, uint16_t v);
void net_put32(uint8_t *p, uint32_t v);
uint32_t net_random(void);

#endif
