/*
 * net-socket TCP: a user-space TCP endpoint toward the guest, spliced to an
 * ordinary host stream socket per connection.
 */
#include "ns.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/*
 * DOC: Theory of operation
 *
 * Every guest connection is one NsTcpFlow and one host socket.  The guest
 * sees a peer (the destination it asked for, or the gateway address for
 * forwarded connections) whose TCP is implemented here; the host sees an
 * ordinary client or server socket.
 *
 * Payload is not buffered here beyond what TCP itself requires:
 *  - host -> guest: bytes stay in the host socket's receive queue until the
 *    guest acknowledges them.  Sending peeks (MSG_PEEK, at an offset with
 *    SO_PEEK_OFF where the kernel has it) past the bytes already queued;
 *    ACKs consume the acknowledged bytes with a real recv, in batches
 *    (tcp_discard_acked()).  A retransmission simply peeks from the start
 *    again.  A receive low-water mark (SO_RCVLOWAT) of "bytes queued + 1"
 *    makes POLLIN report new data only.  When the guest's window is full
 *    we stop watching the socket, so the kernel's own flow control pushes
 *    back on the remote sender.
 *  - guest -> host: a segment is acknowledged only for what send() took.
 *    When the host socket would block we advertise a zero window and watch
 *    for POLLOUT.  The window we advertise is a conservative share of the
 *    free space of the host socket's send buffer, measured once per half
 *    window (tcp_rcv_window()).  Segments that arrive after a hole, or
 *    while the socket is full, are held (bounded, never acknowledged while
 *    held, so they may be dropped at any time) and written as soon as they
 *    are in order: one retransmission from the guest then fills a hole
 *    instead of one segment per round trip.
 *
 * Per-segment costs are what limits throughput, so a burst of frames from
 * the guest is handled as one where that is safe: full-sized in-order
 * segments are staged and written with one send() (tcp_stage_flush()),
 * and in-order data draws one ACK per burst (tcp_ack_later()); both wait
 * for ns_tcp_flush(), which the embedder runs once it has handed in the
 * frames at hand.
 *
 * Connections from the guest are answered (SYN-ACK) only once the host's
 * non-blocking connect() has succeeded; a refused connect becomes an RST.
 * FIN maps to shutdown(SHUT_WR) and back, an RST from the guest closes the
 * host socket with SO_LINGER 0 and a reset host socket sends an RST to the
 * guest.  The flow table is bounded (max-flows); connections closed on both
 * sides linger briefly in TIME_WAIT (to acknowledge a retransmitted FIN)
 * and are the first to be recycled when the table is full.
 */

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

#define TCP_HLEN 20
#define TCP_OUR_WSCALE 7
#define TCP_DEFAULT_MSS 536
#define TCP_MAX_INFLIGHT (1u << 20)  /* at most this much peeked, unacked */
#define TCP_RTO_INIT_NS (250 * 1000000ull)
#define TCP_RTO_MAX_NS (8 * 1000000000ull)
#define TCP_MAX_RETRIES 8
#define TCP_TIME_WAIT_NS (2 * 1000000000ull)
#define TCP_READ_BUDGET 64
/* Acknowledged bytes are consumed from the host socket in batches of at
 * least this much (one recv instead of one per ACK). */
#define TCP_DISCARD_BATCH (64u << 10)
/* From this segment size on, a peek reads one segment straight into the
 * frame instead of several into scratch space. */
#define TCP_PEEK_IN_PLACE_MSS 16384
/* Full-sized guest segments of an MSS below this are staged and written
 * to the host together, at most this much at a time (tcp_stage_flush()). */
#define TCP_STAGE_MAX (64u << 10)
#define TCP_STAGE_MSS_MAX 16384
/* Largest receive low-water mark set (see tcp_set_lowat()). */
#define TCP_LOWAT_MAX (32 << 10)
/* Guest segments held while a hole before them is filled (never
 * acknowledged while held, so dropping them is always safe). */
#define TCP_OOO_FLOW_MAX (512u << 10)
#define TCP_OOO_TOTAL_MAX (8u << 20)

#define SEQ_LT(a, b) ((int32_t)((a) - (b)) < 0)
#define SEQ_LE(a, b) ((int32_t)((a) - (b)) <= 0)
#define SEQ_GT(a, b) ((int32_t)((a) - (b)) > 0)

typedef enum NsTcpState {
    TCP_S_CONNECTING,  /* guest SYN seen, host connect() in progress */
    TCP_S_SYN_RCVD,    /* SYN-ACK sent to the guest */
    TCP_S_SYN_SENT,    /* forwarded connection: SYN sent to the guest */
    TCP_S_ESTABLISHED, /* including half-closed either way */
    TCP_S_TIME_WAIT,   /* both sides closed; host socket gone */
} NsTcpState;

struct NsTcpFlow {
    uint64_t key;
    int fd;
    NsTcpState state;
    bool inbound;

    uint16_t gport;      /* guest's port */
    uint32_t raddr;      /* the peer as the guest sees it */
    uint16_t rport;

    /* Toward the guest. */
    uint32_t iss;
    uint32_t snd_una;    /* first unacknowledged sequence number */
    uint32_t snd_disc;   /* sequence number of the host socket's first byte */
    uint32_t snd_nxt;
    uint32_t snd_wnd;    /* guest's window in bytes */
    uint8_t snd_wscale;  /* guest's shift */
    uint16_t mss;        /* largest payload per segment to the guest */

    /* From the guest. */
    uint32_t rcv_nxt;
    uint8_t rcv_wscale;  /* our shift (0 without window scaling) */
    bool ws_ok;

    bool host_eof;       /* host socket read side ended */
    bool fin_sent;
    bool fin_acked;
    bool guest_fin;      /* guest's FIN seen, host write side shut */
    bool wait_out;       /* host send buffer full: advertising 0 */
    int lowat;           /* receive low-water mark set on the socket */
    bool in_watched;     /* POLLIN watched, above the bytes queued then */
    uint32_t rcv_edge;   /* right edge of the window last measured */
    uint32_t wnd_query;  /* size of that window when it was measured */
    bool wnd_known;      /* rcv_edge is valid */
    uint32_t rcv_acked;  /* rcv_nxt as last acknowledged to the guest */
    uint32_t rcv_adv;    /* window in the last segment sent */
    uint32_t adv_edge;   /* right edge in the last segment sent */
    bool adv_edge_set;
    bool ack_pending;    /* on ctx->tcp_acks (exactly while this is set) */
    GQueue ooo;          /* TcpHeld*, by sequence number */
    size_t ooo_bytes;
    bool out_blocked;    /* the guest side refused a frame */

    uint64_t rto_deadline; /* 0: nothing to retransmit */
    uint64_t rto_ns;
    unsigned retries;
    uint64_t last_activity;
    uint64_t persist_deadline;
};

/* ---- segments ---------------------------------------------------------- */

/*
 * The window offered to the guest.  Measuring the host socket's free send
 * space costs two syscalls, so a measurement is kept as a right edge
 * (rcv_nxt + space): what the guest sends up to it fills exactly the
 * space that was measured, and later segments advertise what is left of
 * it.  Only when less than half of it is left is the socket asked again
 * (it has drained meanwhile), so the guest always has at least half a
 * window to send into while the host keeps up.
 */
static uint32_t tcp_rcv_window(NsCtx *ctx, NsTcpFlow *f)
{
    int space;
    uint32_t max = 65535u << f->rcv_wscale;
    uint32_t left;

    if (f->wait_out || f->guest_fin || f->fd < 0)
        return f->guest_fin ? 65535u << f->rcv_wscale : 0;
    left = SEQ_GT(f->rcv_edge, f->rcv_nxt) ? f->rcv_edge - f->rcv_nxt : 0;
    if (f->wnd_known && left >= f->wnd_query / 2 && left >= f->mss)
        return left;
    space = ctx->sops->send_space(ctx->sops_opaque, f->fd);
    /* No tiny windows (silly window syndrome, and one that scales down
     * to 0): close it, and let POLLOUT reopen it once the host drains. */
    if (space < (int)f->mss || ((uint32_t)space >> f->rcv_wscale) == 0) {
        if (f->state == TCP_S_ESTABLISHED)
            f->wait_out = true;
        f->wnd_known = false;
        return 0;
    }
    f->wnd_query = MIN((uint32_t)space, max);
    f->rcv_edge = f->rcv_nxt + f->wnd_query;
    f->wnd_known = true;
    return f->wnd_query;
}

/* Build and send a segment; data may point anywhere except the frame. */
static bool tcp_emit(NsCtx *ctx, uint32_t src, uint16_t sport, uint32_t dst,
                     uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                     uint16_t win, const uint8_t *opts, size_t olen,
                     const uint8_t *data, size_t len)
{
    uint8_t *t = ns_ip_payload(ctx);
    size_t hlen = TCP_HLEN + olen;

    if (hlen + len > ns_ip_max_payload(ctx))
        return false;
    if (len && data != t + hlen) /* else peeked in place */
        memmove(t + hlen, data, len);
    ns_wr16(t, sport);
    ns_wr16(t + 2, dport);
    ns_wr32(t + 4, seq);
    ns_wr32(t + 8, ack);
    t[12] = (uint8_t)((hlen / 4) << 4);
    t[13] = flags;
    ns_wr16(t + 14, win);
    ns_wr16(t + 16, 0);
    ns_wr16(t + 18, 0);
    if (olen)
        memcpy(t + TCP_HLEN, opts, olen);
    ns_wr16(t + 16, ns_csum_fold(ns_csum_add(
                        ns_csum_pseudo(src, dst, NS_IPPROTO_TCP, hlen + len),
                        t, hlen + len)));
    return ns_ip_output(ctx, NS_IPPROTO_TCP, src, dst, hlen + len);
}

static bool tcp_send(NsCtx *ctx, NsTcpFlow *f, uint8_t flags, uint32_t seq,
                     const uint8_t *data, size_t len)
{
    uint8_t opts[8];
    size_t olen = 0;
    uint32_t win = tcp_rcv_window(ctx, f);
    uint16_t wfield;

    if (flags & TCP_SYN) {
        uint16_t mss = (uint16_t)(ctx->cfg.mtu - 40);
        opts[0] = 2;
        opts[1] = 4;
        ns_wr16(opts + 2, mss);
        olen = 4;
        if (f->ws_ok || f->state == TCP_S_SYN_SENT) {
            opts[4] = 1; /* NOP */
            opts[5] = 3;
            opts[6] = 3;
            opts[7] = TCP_OUR_WSCALE;
            olen = 8;
        }
        wfield = (uint16_t)MIN(win, 65535u); /* never scaled in a SYN */
    } else {
        /* An open window never moves its right edge left: the scaled
         * field rounds up (the measurement keeps a wide margin, see
         * posix_send_space()).  Only a full host socket closes it. */
        if (win && f->adv_edge_set && SEQ_LT(f->rcv_nxt + win, f->adv_edge))
            win = f->adv_edge - f->rcv_nxt;
        wfield = (uint16_t)MIN(((uint64_t)win + (1u << f->rcv_wscale) - 1) >> f->rcv_wscale,
                               65535u);
        f->adv_edge = f->rcv_nxt + ((uint32_t)wfield << f->rcv_wscale);
        f->adv_edge_set = wfield != 0;
    }
    if (!tcp_emit(ctx, f->raddr, f->rport, ctx->cfg.guest, f->gport, seq,
                  (flags & TCP_ACK) ? f->rcv_nxt : 0, flags, wfield,
                  olen ? opts : NULL, olen, data, len))
        return false;
    if (flags & TCP_ACK) {
        /* A deferred ACK went with this segment (the flush skips it). */
        f->rcv_acked = f->rcv_nxt;
        f->rcv_adv = (uint32_t)wfield << ((flags & TCP_SYN) ? 0 : f->rcv_wscale);
    }
    return true;
}

static bool tcp_send_ack(NsCtx *ctx, NsTcpFlow *f)
{
    return tcp_send(ctx, f, TCP_ACK, f->snd_nxt, NULL, 0);
}

/*
 * Acknowledge in-order guest data later: at the next ns_flush(), which the
 * embedder runs once it has handed in the frames it had (the plugin: when
 * the main loop comes round again).  A burst of segments then draws one
 * ACK instead of one each.  Once a quarter of the advertised window
 * (two segments at least, half the window at most) is unacknowledged the
 * ACK goes at once, so a guest sending in bulk never waits on it.
 */
static void tcp_queue_flush(NsCtx *ctx, NsTcpFlow *f)
{
    if (!f->ack_pending) {
        f->ack_pending = true;
        g_queue_push_tail(&ctx->tcp_acks, f);
    }
}

static void tcp_ack_later(NsCtx *ctx, NsTcpFlow *f)
{
    uint32_t unacked = f->rcv_nxt - f->rcv_acked;
    uint32_t limit = MIN(MAX(f->rcv_adv / 4, 2u * f->mss), f->rcv_adv / 2);

    if (unacked >= limit) {
        tcp_send_ack(ctx, f);
        return;
    }
    tcp_queue_flush(ctx, f);
}

/* An RST answering a guest segment (RFC 793 "reset generation"). */
static void tcp_rst_reply(NsCtx *ctx, uint32_t gsrc, uint16_t gport,
                          uint32_t dst, uint16_t dport, uint8_t flags,
                          uint32_t seq, uint32_t ack, size_t seglen)
{
    ns_stat_inc(ctx, NS_ST_TCP_RST_TX);
    if (flags & TCP_ACK)
        tcp_emit(ctx, dst, dport, gsrc, gport, ack, 0, TCP_RST, 0, NULL, 0,
                 NULL, 0);
    else
        tcp_emit(ctx, dst, dport, gsrc, gport, 0, seq + (uint32_t)seglen,
                 TCP_RST | TCP_ACK, 0, NULL, 0, NULL, 0);
}

static void tcp_arm_rto(NsCtx *ctx, NsTcpFlow *f)
{
    if (!f->rto_deadline)
        f->rto_deadline = ns_now(ctx) + f->rto_ns;
}

/* ---- flow life --------------------------------------------------------- */

static void tcp_set_events(NsCtx *ctx, NsTcpFlow *f, unsigned events)
{
    if (f->fd >= 0)
        ns_sock_update(ctx, f->fd, events);
}

typedef struct TcpHeld {
    uint32_t seq;
    uint32_t len;
    uint8_t data[];
} TcpHeld;

static void tcp_ooo_clear(NsCtx *ctx, NsTcpFlow *f)
{
    TcpHeld *h;

    while ((h = g_queue_pop_head(&f->ooo)))
        g_free(h);
    ctx->tcp_ooo_bytes -= f->ooo_bytes;
    f->ooo_bytes = 0;
}

static void tcp_flow_free(NsCtx *ctx, NsTcpFlow *f, bool abort)
{
    tcp_ooo_clear(ctx, f);
    if (f->ack_pending)
        g_queue_remove(&ctx->tcp_acks, f);
    if (ctx->tcp_stage_flow == f) {
        /* Never acknowledged: the guest sends them again if it must. */
        ctx->tcp_stage_flow = NULL;
        ctx->tcp_stage_len = 0;
    }
    ns_logf(ctx, 3, "tcp %u <-> %u.%u.%u.%u:%u closed%s", f->gport,
            f->raddr >> 24, (f->raddr >> 16) & 255, (f->raddr >> 8) & 255,
            f->raddr & 255, f->rport, abort ? " (reset)" : "");
    if (f->fd >= 0) {
        ns_sock_del(ctx, f->fd);
        ctx->sops->close(ctx->sops_opaque, f->fd, abort);
    }
    g_hash_table_remove(ctx->tcp_flows, &f->key);
    ns_flow_closed(ctx);
    g_free(f);
}

/* Reset both sides: RST to the guest, SO_LINGER 0 close on the host. */
static void tcp_abort(NsCtx *ctx, NsTcpFlow *f)
{
    if (f->state != TCP_S_CONNECTING && f->state != TCP_S_TIME_WAIT) {
        ns_stat_inc(ctx, NS_ST_TCP_RST_TX);
        tcp_send(ctx, f, TCP_RST | TCP_ACK, f->snd_nxt, NULL, 0);
    }
    tcp_flow_free(ctx, f, true);
}

static void tcp_sock_event(NsCtx *ctx, void *obj, int fd, unsigned events);

static NsTcpFlow *tcp_flow_new(NsCtx *ctx, uint16_t gport, uint32_t raddr,
                               uint16_t rport, int fd)
{
    NsTcpFlow *f = g_new0(NsTcpFlow, 1);

    f->key = ns_flow_key(gport, raddr, rport);
    f->fd = fd;
    f->gport = gport;
    f->raddr = raddr;
    f->rport = rport;
    /* RFC 6528 in spirit: a per-instance secret mixed with the 4-tuple and
     * the clock, so sequence numbers are not predictable across flows. */
    f->iss = ctx->isn_seed ^ (uint32_t)(f->key * 0x9e3779b97f4a7c15ull >> 32) ^
             (uint32_t)(ns_now(ctx) >> 12);
    f->snd_una = f->snd_nxt = f->iss;
    f->snd_disc = f->iss + 1;
    f->mss = TCP_DEFAULT_MSS;
    f->rto_ns = TCP_RTO_INIT_NS;
    f->lowat = 1;
    f->last_activity = ns_now(ctx);
    g_hash_table_insert(ctx->tcp_flows, &f->key, f);
    ns_flow_opened(ctx);
    if (fd >= 0)
        ns_sock_add(ctx, fd, 0, tcp_sock_event, f);
    return f;
}

/* Make room in a full table by recycling one TIME_WAIT flow. */
static void tcp_reap_time_wait(NsCtx *ctx)
{
    GHashTableIter it;
    gpointer v;

    if (ctx->nflows < ctx->cfg.max_flows)
        return;
    g_hash_table_iter_init(&it, ctx->tcp_flows);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        NsTcpFlow *f = v;
        if (f->state == TCP_S_TIME_WAIT) {
            tcp_flow_free(ctx, f, false);
            return;
        }
    }
}

static void tcp_discard_acked(NsCtx *ctx, NsTcpFlow *f, bool all);

static void tcp_check_done(NsCtx *ctx, NsTcpFlow *f)
{
    if (f->state != TCP_S_ESTABLISHED || !f->guest_fin || !f->fin_acked)
        return;
    /* Both directions are finished: the host socket closes cleanly and
     * the flow waits a little for a retransmitted FIN. */
    tcp_discard_acked(ctx, f, true);
    tcp_ooo_clear(ctx, f);
    ns_sock_del(ctx, f->fd);
    ctx->sops->close(ctx->sops_opaque, f->fd, false);
    f->fd = -1;
    f->state = TCP_S_TIME_WAIT;
    f->rto_deadline = 0;
    f->last_activity = ns_now(ctx);
}

/* ---- host -> guest ----------------------------------------------------- */

/*
 * The bytes in flight stay queued in the socket, so a level-triggered
 * POLLIN would fire for them forever.  A receive low-water mark just above
 * them makes it fire for new data (or end of stream) only.  Without one,
 * reading resumes on the guest's next ACK instead.
 */
static bool tcp_set_lowat(NsCtx *ctx, NsTcpFlow *f, uint32_t inflight)
{
    int want = (int)inflight + 1;

    if (f->lowat == want)
        return true;
    /* Linux clamps the socket's receive window to a low-water mark that
     * needs more buffer than it has (tcp_set_rcvlowat()): a mark as large
     * as a window in flight would keep the host peer from sending more
     * than that, and every read would find the socket empty.  With that
     * much in flight the guest's ACKs come soon anyway: each one tries a
     * read. */
    if (want > TCP_LOWAT_MAX)
        return false;
    if (f->lowat < 0 || ctx->sops->set_lowat(ctx->sops_opaque, f->fd, want) < 0) {
        f->lowat = -1; /* not supported: do not try again */
        return inflight == 0;
    }
    f->lowat = want;
    return true;
}

static void tcp_update_events(NsCtx *ctx, NsTcpFlow *f)
{
    unsigned ev = 0;
    uint32_t inflight = f->snd_nxt - f->snd_una;
    int32_t room = (int32_t)(f->snd_una + f->snd_wnd - f->snd_nxt);

    if (f->state == TCP_S_CONNECTING)
        ev = NS_EV_OUT;
    else if (f->state == TCP_S_ESTABLISHED) {
        /* Queued in the socket: in flight, and acknowledged but not yet
         * consumed (see tcp_discard_acked()). */
        if (!f->host_eof && !f->out_blocked && room > 0 &&
            inflight < TCP_MAX_INFLIGHT &&
            tcp_set_lowat(ctx, f, f->snd_nxt - f->snd_disc))
            ev |= NS_EV_IN;
        if (f->wait_out)
            ev |= NS_EV_OUT;
    }
    f->in_watched = (ev & NS_EV_IN) != 0;
    tcp_set_events(ctx, f, ev);
}

/*
 * POLLIN is watched with the low-water mark just above the bytes queued
 * in the socket: new host data wakes us by itself, so an ACK from the
 * guest need not try a read that would find nothing.  (When the ACK
 * consumed bytes, the mark moves and a read is tried at once: a reply
 * that came while the guest's segment was being handled then goes out
 * with the ACK for it.)
 */
static bool tcp_read_armed(const NsTcpFlow *f)
{
    return f->in_watched && f->lowat > 0 &&
           f->lowat == (int)(f->snd_nxt - f->snd_disc) + 1;
}

/*
 * Consume what the guest acknowledged from the host socket.  Batched (the
 * peek offsets count the bytes left), but never more than is still in
 * flight: the bytes left take receive window from the host peer, and with
 * nothing in flight no later ACK would come to consume them, so a peer
 * blocked on that window would wait forever.  all: everything
 * acknowledged, now (before a close, which would turn unread data into a
 * reset).
 */
static void tcp_discard_acked(NsCtx *ctx, NsTcpFlow *f, bool all)
{
    uint32_t end = f->fin_acked ? f->snd_una - 1 : f->snd_una;
    uint32_t n = end - f->snd_disc;

    if (!SEQ_GT(end, f->snd_disc))
        return;
    if (!all && n < TCP_DISCARD_BATCH && n < f->snd_nxt - f->snd_una)
        return;
    ctx->sops->discard(ctx->sops_opaque, f->fd, n);
    f->snd_disc = end;
}

/* Send what the guest's window allows: peeked data, then our FIN.
 * Return: false if the flow was freed. */
static bool tcp_host_read(NsCtx *ctx, NsTcpFlow *f)
{
    int budget = TCP_READ_BUDGET;

    if (f->state != TCP_S_ESTABLISHED)
        return true;
    f->out_blocked = false;
    while (!f->host_eof && budget-- > 0) {
        uint32_t inflight = f->snd_nxt - f->snd_una;
        int32_t room = (int32_t)(f->snd_una + f->snd_wnd - f->snd_nxt);
        size_t cap, off;
        uint8_t *buf;
        ssize_t n;

        if (room <= 0 || inflight >= TCP_MAX_INFLIGHT)
            break;
        cap = MIN((size_t)room, TCP_MAX_INFLIGHT - inflight);
        cap = MIN(cap, ctx->scratch_len);
        /* Segments as large as a peek are peeked straight into the
         * outgoing frame (one copy of up to 64 KiB less each). */
        buf = ctx->scratch;
        if (f->mss >= TCP_PEEK_IN_PLACE_MSS) {
            cap = MIN(cap, (size_t)f->mss);
            buf = ns_ip_payload(ctx) + TCP_HLEN;
        }
        n = ctx->sops->peek(ctx->sops_opaque, f->fd, f->snd_nxt - f->snd_disc,
                            buf, cap);
        if (n == -EAGAIN || n == -EINTR)
            break;
        if (n == 0) {
            f->host_eof = true;
            break;
        }
        if (n < 0) {
            tcp_abort(ctx, f);
            return false;
        }
        f->last_activity = ns_now(ctx);
        for (off = 0; off < (size_t)n;) {
            size_t seg = MIN((size_t)n - off, (size_t)f->mss);
            uint8_t flags = TCP_ACK | (off + seg == (size_t)n ? TCP_PSH : 0);
            if (!tcp_send(ctx, f, flags, f->snd_nxt, buf + off, seg)) {
                f->out_blocked = true;
                break;
            }
            f->snd_nxt += (uint32_t)seg;
            off += seg;
            tcp_arm_rto(ctx, f);
        }
        /* Less than asked for: the socket is empty now, and POLLIN says
         * when there is more (no read just to find nothing). */
        if (f->out_blocked || (size_t)n < cap)
            break;
    }
    if (f->host_eof && !f->fin_sent && !f->out_blocked) {
        if (tcp_send(ctx, f, TCP_FIN | TCP_ACK, f->snd_nxt, NULL, 0)) {
            f->fin_sent = true;
            f->snd_nxt++;
            tcp_arm_rto(ctx, f);
        } else {
            f->out_blocked = true;
        }
    }
    if (f->snd_wnd == 0 && !f->persist_deadline)
        f->persist_deadline = ns_now(ctx) + TCP_RTO_INIT_NS;
    tcp_update_events(ctx, f);
    return true;
}

/* ---- guest -> host ----------------------------------------------------- */

typedef struct TcpSeg {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t win;
    uint16_t mss;        /* 0: not given */
    int wscale;          /* -1: not given */
    const uint8_t *data;
    size_t len;
} TcpSeg;

static bool tcp_parse_options(const uint8_t *o, size_t len, TcpSeg *s)
{
    size_t i = 0;

    while (i < len) {
        uint8_t kind = o[i];
        if (kind == 0)
            break;
        if (kind == 1) {
            i++;
            continue;
        }
        if (i + 1 >= len || o[i + 1] < 2 || i + o[i + 1] > len)
            return false;
        if (kind == 2 && o[i + 1] == 4)
            s->mss = ns_rd16(o + i + 2);
        else if (kind == 3 && o[i + 1] == 3)
            s->wscale = o[i + 2];
        i += o[i + 1];
    }
    return true;
}

static void tcp_take_syn_options(NsCtx *ctx, NsTcpFlow *f, const TcpSeg *s)
{
    unsigned mss = s->mss ? s->mss : TCP_DEFAULT_MSS;

    mss = MIN(mss, ctx->cfg.mtu - 40);
    f->mss = (uint16_t)MAX(mss, 64u);
    if (s->wscale >= 0) {
        f->ws_ok = true;
        f->snd_wscale = (uint8_t)MIN(s->wscale, 14);
        f->rcv_wscale = TCP_OUR_WSCALE;
    } else {
        f->ws_ok = false;
        f->snd_wscale = 0;
        f->rcv_wscale = 0;
    }
    f->snd_wnd = s->win; /* a SYN's window is never scaled */
}

static void tcp_connect(NsCtx *ctx, uint32_t src, uint32_t dst, const TcpSeg *s)
{
    NsTcpFlow *f;
    uint32_t host;
    int fd, r;

    if (!ns_map_outbound(ctx, dst, &host)) {
        ns_stat_inc(ctx, NS_ST_IP_RESTRICTED);
        tcp_rst_reply(ctx, src, s->sport, dst, s->dport, s->flags, s->seq,
                      s->ack, 1 + s->len);
        return;
    }
    tcp_reap_time_wait(ctx);
    if (!ns_flow_admit(ctx)) {
        tcp_rst_reply(ctx, src, s->sport, dst, s->dport, s->flags, s->seq,
                      s->ack, 1 + s->len);
        return;
    }
    fd = ctx->sops->open(ctx->sops_opaque, SOCK_STREAM, NS_IPPROTO_TCP);
    if (fd < 0)
        goto out_refuse;
    if (ctx->cfg.outbound && (host >> 24) != 127 &&
        ctx->sops->bind(ctx->sops_opaque, fd, ctx->cfg.outbound, 0) < 0)
        goto out_close;
    r = ctx->sops->connect(ctx->sops_opaque, fd, host, s->dport);
    if (r < 0 && r != -EINPROGRESS)
        goto out_close;

    f = tcp_flow_new(ctx, s->sport, dst, s->dport, fd);
    f->state = TCP_S_CONNECTING;
    f->rcv_nxt = s->seq + 1;
    tcp_take_syn_options(ctx, f, s);
    /* The SYN-ACK goes out when the host connection is up (or failed):
     * the guest learns of a refused port as a reset, as it would. */
    tcp_update_events(ctx, f);
    return;

out_close:
    ctx->sops->close(ctx->sops_opaque, fd, false);
out_refuse:
    ns_stat_inc(ctx, NS_ST_TCP_CONNECT_FAIL);
    tcp_rst_reply(ctx, src, s->sport, dst, s->dport, s->flags, s->seq, s->ack,
                  1 + s->len);
}

static void tcp_connected(NsCtx *ctx, NsTcpFlow *f)
{
    int err = ctx->sops->sock_error(ctx->sops_opaque, f->fd);

    if (err < 0) {
        ns_logf(ctx, 3, "tcp %u -> %u.%u.%u.%u:%u: connect failed (%s), reset",
                f->gport, f->raddr >> 24, (f->raddr >> 16) & 255,
                (f->raddr >> 8) & 255, f->raddr & 255, f->rport, g_strerror(-err));
        ns_stat_inc(ctx, NS_ST_TCP_CONNECT_FAIL);
        ns_stat_inc(ctx, NS_ST_TCP_RST_TX);
        tcp_emit(ctx, f->raddr, f->rport, ctx->cfg.guest, f->gport, 0,
                 f->rcv_nxt, TCP_RST | TCP_ACK, 0, NULL, 0, NULL, 0);
        tcp_flow_free(ctx, f, false);
        return;
    }
    f->state = TCP_S_SYN_RCVD;
    f->snd_una = f->iss;
    f->snd_nxt = f->iss + 1;
    tcp_send(ctx, f, TCP_SYN | TCP_ACK, f->iss, NULL, 0);
    tcp_arm_rto(ctx, f);
    tcp_update_events(ctx, f);
}

/* Hand in-order guest data to the host socket.  Return: false if freed. */
/*
 * Hold a segment that cannot be written yet (a hole before it, or the host
 * socket is full), so that the guest's retransmission of the missing part
 * lets everything after it through at once instead of one segment per
 * round trip.  Bounded per flow and in total; what does not fit is
 * dropped, which is always allowed since nothing held was acknowledged.
 */
static void tcp_ooo_hold(NsCtx *ctx, NsTcpFlow *f, uint32_t seq,
                         const uint8_t *data, size_t len)
{
    TcpHeld *h;
    GList *l;

    if (f->ooo_bytes + len > TCP_OOO_FLOW_MAX ||
        ctx->tcp_ooo_bytes + len > TCP_OOO_TOTAL_MAX ||
        (seq - f->rcv_nxt) + len > (65535u << f->rcv_wscale))
        return;
    /* Sorted insert from the tail (segments mostly arrive in order). */
    for (l = f->ooo.tail; l; l = l->prev) {
        TcpHeld *o = l->data;
        if (o->seq == seq && o->len >= len)
            return; /* a duplicate */
        if (SEQ_LE(o->seq, seq))
            break;
    }
    h = g_malloc(sizeof *h + len);
    h->seq = seq;
    h->len = (uint32_t)len;
    memcpy(h->data, data, len);
    if (l)
        g_queue_insert_after(&f->ooo, l, h);
    else
        g_queue_push_head(&f->ooo, h);
    f->ooo_bytes += len;
    ctx->tcp_ooo_bytes += len;
}

/* Write in-order bytes to the host.  Return: -1 on a fatal error, else
 * whether all of them were taken. */
static int tcp_write_host(NsCtx *ctx, NsTcpFlow *f, const uint8_t *data,
                          size_t len)
{
    ssize_t n = ctx->sops->sendto(ctx->sops_opaque, f->fd, data, len, 0, 0);

    if (n == -EAGAIN || n == -EINTR)
        n = 0;
    if (n < 0)
        return -1;
    f->rcv_nxt += (uint32_t)n;
    if ((size_t)n < len) {
        /* Back-pressure: what the host did not take is not acknowledged
         * and the window closes until the socket drains. */
        f->wait_out = true;
        return 0;
    }
    return 1;
}

/* Pass on held segments that have become in order. */
static int tcp_ooo_drain(NsCtx *ctx, NsTcpFlow *f)
{
    TcpHeld *h;

    while (!f->wait_out && (h = g_queue_peek_head(&f->ooo)) &&
           SEQ_LE(h->seq, f->rcv_nxt)) {
        uint32_t skip = f->rcv_nxt - h->seq;
        int r = 1;
        if (skip < h->len)
            r = tcp_write_host(ctx, f, h->data + skip, h->len - skip);
        if (r < 0)
            return -1;
        g_queue_pop_head(&f->ooo);
        f->ooo_bytes -= h->len;
        ctx->tcp_ooo_bytes -= h->len;
        if (r == 0 && SEQ_LT(f->rcv_nxt, h->seq + h->len)) {
            /* Keep the part the host did not take. */
            tcp_ooo_hold(ctx, f, f->rcv_nxt, h->data + (f->rcv_nxt - h->seq),
                         h->seq + h->len - f->rcv_nxt);
        }
        g_free(h);
    }
    return 0;
}

/* How soon a segment from the guest must be acknowledged. */
typedef enum TcpAckWhen {
    TCP_ACK_NONE,
    TCP_ACK_LATER, /* in-order data the host took: may be coalesced */
    TCP_ACK_NOW,   /* anything else: a hole, a duplicate, a full socket */
} TcpAckWhen;

/* Hand in-order guest data to the host socket.  Return: false if freed. */
static bool tcp_guest_data(NsCtx *ctx, NsTcpFlow *f, const TcpSeg *s,
                           TcpAckWhen *ack)
{
    const uint8_t *data = s->data;
    size_t len = s->len;
    uint32_t seq = s->seq;
    bool had_held = !g_queue_is_empty(&f->ooo);
    int r;

    if (!len)
        return true;
    /* Out-of-order and duplicate segments are answered one ACK each: the
     * duplicate ACKs are what start the guest's fast retransmit. */
    *ack = TCP_ACK_NOW;
    if (f->guest_fin)
        return true; /* data after FIN: just acknowledge what we have */
    if (SEQ_GT(seq, f->rcv_nxt)) {
        ns_stat_inc(ctx, NS_ST_TCP_OUT_OF_ORDER);
        tcp_ooo_hold(ctx, f, seq, data, len);
        return true; /* a duplicate ACK asks for the missing part */
    }
    if (SEQ_LT(seq, f->rcv_nxt)) {
        uint32_t dup = f->rcv_nxt - seq;
        if (dup >= len)
            return true;
        data += dup;
        len -= dup;
        seq = f->rcv_nxt;
    }
    if (f->wait_out) {
        tcp_ooo_hold(ctx, f, seq, data, len);
        return true;
    }
    r = tcp_write_host(ctx, f, data, len);
    if (r == 0)
        tcp_ooo_hold(ctx, f, f->rcv_nxt, data + (f->rcv_nxt - seq),
                     len - (f->rcv_nxt - seq));
    if (r < 0 || tcp_ooo_drain(ctx, f) < 0) {
        tcp_abort(ctx, f);
        return false;
    }
    /* Only full-sized segments (a bulk transfer) wait for the flush: a
     * shorter one ends a write the guest may wait on an answer to, and
     * its ACK is best sent now, while the host prepares the answer, than
     * on the way of the answer at the flush. */
    if (r == 1 && !had_held && !f->wait_out && s->len >= ctx->cfg.mtu - 40)
        *ack = TCP_ACK_LATER;
    return true;
}

/*
 * Staging: a burst of full-sized in-order segments from the guest is
 * copied into one buffer and written to the host socket with one send()
 * when the burst ends (ns_tcp_flush()), or earlier when anything else
 * comes in: the next segment is not a full one (the end of a write, which
 * a peer may be waiting for), belongs to another flow, or does not fit.
 * Staged bytes count as received for the sequence check only: rcv_nxt,
 * which every ACK carries, moves when the host has taken them, so the
 * guest never sees them acknowledged before that.  Bounded by
 * TCP_STAGE_MAX in all (one flow at a time).
 */
static uint32_t tcp_stage_len(const NsCtx *ctx, const NsTcpFlow *f)
{
    return ctx->tcp_stage_flow == f ? (uint32_t)ctx->tcp_stage_len : 0;
}

static bool tcp_stageable(const NsCtx *ctx, const NsTcpFlow *f, const TcpSeg *s)
{
    size_t full = ctx->cfg.mtu - 40;

    return f->state == TCP_S_ESTABLISHED && full < TCP_STAGE_MSS_MAX &&
           s->len == full && (s->flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_ACK)) == TCP_ACK &&
           !f->guest_fin && !f->wait_out && f->ooo.length == 0 &&
           s->seq == f->rcv_nxt + tcp_stage_len(ctx, f) &&
           tcp_stage_len(ctx, f) + s->len <= TCP_STAGE_MAX;
}

/* Write the staged bytes to the host.  Return: false if that flow was
 * freed. */
static bool tcp_stage_flush(NsCtx *ctx)
{
    NsTcpFlow *f = ctx->tcp_stage_flow;
    size_t len = ctx->tcp_stage_len;
    uint32_t seq;
    int r;

    if (!f)
        return true;
    ctx->tcp_stage_flow = NULL;
    ctx->tcp_stage_len = 0;
    seq = f->rcv_nxt;
    r = tcp_write_host(ctx, f, ctx->tcp_stage, len);
    if (r < 0 || (r == 1 && tcp_ooo_drain(ctx, f) < 0)) {
        tcp_abort(ctx, f);
        return false;
    }
    if (r == 0) {
        /* Back-pressure, as for a segment written at once. */
        tcp_ooo_hold(ctx, f, f->rcv_nxt, ctx->tcp_stage + (f->rcv_nxt - seq),
                     len - (f->rcv_nxt - seq));
        tcp_send_ack(ctx, f);
    } else {
        tcp_ack_later(ctx, f);
    }
    return true;
}

void ns_tcp_input(NsCtx *ctx, uint32_t src, uint32_t dst, const uint8_t *p,
                  size_t len)
{
    TcpSeg s = { .wscale = -1 };
    size_t doff;
    uint64_t key;
    NsTcpFlow *f;
    TcpAckWhen ack = TCP_ACK_NONE;
    bool progress = false; /* more may be sent: acked data, new window */
    uint32_t old_wnd;

    if (len < TCP_HLEN) {
        ns_stat_inc(ctx, NS_ST_TCP_BAD);
        return;
    }
    doff = (size_t)(p[12] >> 4) * 4;
    if (doff < TCP_HLEN || doff > len ||
        ns_csum_fold(ns_csum_add(ns_csum_pseudo(src, dst, NS_IPPROTO_TCP, len),
                                 p, len)) != 0 ||
        !tcp_parse_options(p + TCP_HLEN, doff - TCP_HLEN, &s)) {
        ns_stat_inc(ctx, NS_ST_TCP_BAD);
        return;
    }
    s.sport = ns_rd16(p);
    s.dport = ns_rd16(p + 2);
    s.seq = ns_rd32(p + 4);
    s.ack = ns_rd32(p + 8);
    s.flags = p[13] & 0x3f;
    s.win = ns_rd16(p + 14);
    s.data = p + doff;
    s.len = len - doff;
    if ((s.flags & TCP_SYN) && (s.flags & (TCP_FIN | TCP_RST))) {
        ns_stat_inc(ctx, NS_ST_TCP_BAD);
        return;
    }

    key = ns_flow_key(s.sport, dst, s.dport);
    f = g_hash_table_lookup(ctx->tcp_flows, &key);
    if (ctx->tcp_stage_flow && (ctx->tcp_stage_flow != f || !tcp_stageable(ctx, f, &s))) {
        bool mine = ctx->tcp_stage_flow == f;
        if (!tcp_stage_flush(ctx) && mine)
            return; /* reset: the guest learns it from the RST */
    }
    if (f && f->state == TCP_S_TIME_WAIT && (s.flags & TCP_SYN) &&
        !(s.flags & TCP_ACK)) {
        tcp_flow_free(ctx, f, false); /* a new incarnation */
        f = NULL;
    }
    if (!f) {
        if (s.flags & TCP_RST)
            return;
        if ((s.flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
            tcp_connect(ctx, src, dst, &s);
            return;
        }
        tcp_rst_reply(ctx, src, s.sport, dst, s.dport, s.flags, s.seq, s.ack,
                      s.len + ((s.flags & TCP_FIN) ? 1 : 0));
        return;
    }
    f->last_activity = ns_now(ctx);

    if (s.flags & TCP_RST) {
        /* Accept a reset only inside the window, against blind resets. */
        uint32_t wnd = MAX(tcp_rcv_window(ctx, f), 1u << 16);
        if (f->state == TCP_S_SYN_SENT ? (s.ack == f->snd_nxt)
                                       : (SEQ_LE(f->rcv_nxt, s.seq) &&
                                          SEQ_LT(s.seq, f->rcv_nxt + wnd))) {
            ns_stat_inc(ctx, NS_ST_TCP_RST_RX);
            tcp_flow_free(ctx, f, true);
        }
        return;
    }

    switch (f->state) {
    case TCP_S_CONNECTING:
        return; /* a retransmitted SYN: the answer comes with connect() */
    case TCP_S_TIME_WAIT:
        if (s.flags & TCP_FIN)
            tcp_send_ack(ctx, f);
        return;
    case TCP_S_SYN_SENT:
        if ((s.flags & (TCP_SYN | TCP_ACK)) != (TCP_SYN | TCP_ACK) ||
            s.ack != f->iss + 1) {
            if (s.flags & TCP_ACK)
                tcp_rst_reply(ctx, src, s.sport, dst, s.dport, s.flags, s.seq,
                              s.ack, s.len);
            return;
        }
        tcp_take_syn_options(ctx, f, &s);
        f->rcv_nxt = s.seq + 1;
        f->snd_una = f->snd_nxt = f->iss + 1;
        f->snd_disc = f->iss + 1;
        f->state = TCP_S_ESTABLISHED;
        f->rto_deadline = 0;
        f->retries = 0;
        f->rto_ns = TCP_RTO_INIT_NS;
        tcp_send_ack(ctx, f);
        tcp_host_read(ctx, f);
        return;
    case TCP_S_SYN_RCVD:
        if (s.flags & TCP_SYN) {
            tcp_send(ctx, f, TCP_SYN | TCP_ACK, f->iss, NULL, 0);
            return;
        }
        if (!(s.flags & TCP_ACK) || s.ack != f->iss + 1)
            return;
        f->state = TCP_S_ESTABLISHED;
        f->snd_una = f->iss + 1;
        f->snd_disc = f->iss + 1;
        f->rto_deadline = 0;
        f->retries = 0;
        f->rto_ns = TCP_RTO_INIT_NS;
        progress = true;
        break;
    case TCP_S_ESTABLISHED:
        if (s.flags & TCP_SYN) {
            tcp_send_ack(ctx, f);
            return;
        }
        break;
    }

    if (!(s.flags & TCP_ACK))
        return;
    if (SEQ_GT(s.ack, f->snd_nxt)) {
        tcp_send_ack(ctx, f); /* acknowledges what we never sent */
        return;
    }
    if (SEQ_GT(s.ack, f->snd_una)) {
        uint32_t acked = s.ack - f->snd_una;
        if (f->fin_sent && s.ack == f->snd_nxt) {
            f->fin_acked = true;
            acked--;
        }
        f->snd_una = s.ack;
        if (acked)
            tcp_discard_acked(ctx, f, f->fin_acked);
        progress = true;
        f->retries = 0;
        f->rto_ns = TCP_RTO_INIT_NS;
        f->rto_deadline = 0;
        if (f->snd_una != f->snd_nxt)
            tcp_arm_rto(ctx, f);
    }
    old_wnd = f->snd_wnd;
    f->snd_wnd = (uint32_t)s.win << f->snd_wscale;
    if (f->snd_wnd != old_wnd)
        progress = true;
    if (f->snd_wnd)
        f->persist_deadline = 0;

    if (s.len && tcp_stageable(ctx, f, &s)) {
        if (!ctx->tcp_stage)
            ctx->tcp_stage = g_malloc(TCP_STAGE_MAX);
        memcpy(ctx->tcp_stage + ctx->tcp_stage_len, s.data, s.len);
        ctx->tcp_stage_len += s.len;
        ctx->tcp_stage_flow = f;
    } else {
        /* Staged bytes of this flow go first (the ACK may have closed
         * the window meanwhile). */
        if (ctx->tcp_stage_flow == f && !tcp_stage_flush(ctx))
            return;
        if (!tcp_guest_data(ctx, f, &s, &ack))
            return;
    }
    if ((s.flags & TCP_FIN) && !f->guest_fin &&
        s.seq + (uint32_t)s.len == f->rcv_nxt) {
        f->guest_fin = true;
        f->rcv_nxt++;
        ctx->sops->shutdown_wr(ctx->sops_opaque, f->fd);
        ack = TCP_ACK_NOW;
    } else if (s.flags & TCP_FIN) {
        ack = TCP_ACK_NOW;
    }
    if (ack == TCP_ACK_NOW)
        tcp_send_ack(ctx, f);
    else if (ack == TCP_ACK_LATER)
        tcp_ack_later(ctx, f);
    /* Plain data from the guest changes nothing on the sending side: skip
     * the socket calls of a read attempt (new host data wakes us anyway). */
    if (progress && !tcp_read_armed(f)) {
        if (!tcp_host_read(ctx, f))
            return;
    } else {
        tcp_update_events(ctx, f);
    }
    tcp_check_done(ctx, f);
}

/* ---- host events ------------------------------------------------------- */

static void tcp_sock_event(NsCtx *ctx, void *obj, int fd, unsigned events)
{
    NsTcpFlow *f = obj;

    if (f->state == TCP_S_CONNECTING) {
        tcp_connected(ctx, f);
        return;
    }
    if (f->state != TCP_S_ESTABLISHED)
        return;
    if ((events & NS_EV_ERR) && ctx->sops->sock_error(ctx->sops_opaque, fd) < 0) {
        tcp_abort(ctx, f);
        return;
    }
    if ((events & (NS_EV_OUT | NS_EV_ERR | NS_EV_HUP)) && f->wait_out) {
        /* The send buffer drained: pass on what was held, reopen the
         * window. */
        f->wait_out = false;
        f->wnd_known = false;
        if (tcp_ooo_drain(ctx, f) < 0) {
            tcp_abort(ctx, f);
            return;
        }
        tcp_send_ack(ctx, f);
    }
    if (!tcp_host_read(ctx, f))
        return;
    tcp_check_done(ctx, f);
}

void ns_tcp_fwd_accept(NsCtx *ctx, NsFwd *fwd, int fd, uint32_t addr,
                       uint16_t port)
{
    uint32_t raddr = ns_map_inbound(ctx, addr);
    uint16_t rport = port;
    uint64_t key;
    NsTcpFlow *f;
    int tries = 0;

    tcp_reap_time_wait(ctx);
    if (!ns_flow_admit(ctx)) {
        ctx->sops->close(ctx->sops_opaque, fd, true);
        return;
    }
    /* The guest-visible source must not collide with a live flow. */
    for (;;) {
        key = ns_flow_key(fwd->spec.guest_port, raddr, rport);
        if (!g_hash_table_contains(ctx->tcp_flows, &key))
            break;
        if (++tries > 64) {
            ctx->sops->close(ctx->sops_opaque, fd, true);
            return;
        }
        rport = (uint16_t)(rport + 1 < 1024 ? 1024 : rport + 1);
    }
    if (!ctx->guest_mac_known)
        ns_arp_request_guest(ctx); /* the SYN is retransmitted after */
    f = tcp_flow_new(ctx, fwd->spec.guest_port, raddr, rport, fd);
    f->inbound = true;
    f->state = TCP_S_SYN_SENT;
    f->rcv_wscale = TCP_OUR_WSCALE;
    f->snd_nxt = f->iss + 1;
    tcp_send(ctx, f, TCP_SYN, f->iss, NULL, 0);
    tcp_arm_rto(ctx, f);
}

/* ---- timers ------------------------------------------------------------ */

static void tcp_timeout(NsCtx *ctx, NsTcpFlow *f, uint64_t now)
{
    if (f->state == TCP_S_TIME_WAIT) {
        if (now > f->last_activity + TCP_TIME_WAIT_NS)
            tcp_flow_free(ctx, f, false);
        return;
    }
    if (now > f->last_activity + (uint64_t)ctx->cfg.tcp_timeout_s * 1000000000ull) {
        tcp_abort(ctx, f);
        return;
    }
    if (f->persist_deadline && now >= f->persist_deadline) {
        /* Zero-window probe: an old sequence number draws an ACK that
         * carries the guest's current window. */
        if (f->snd_wnd == 0 && f->snd_una == f->snd_nxt)
            tcp_send(ctx, f, TCP_ACK, f->snd_una - 1, NULL, 0);
        f->persist_deadline = f->snd_wnd == 0 ? now + TCP_RTO_MAX_NS / 4 : 0;
    }
    if (!f->rto_deadline || now < f->rto_deadline)
        return;
    if (++f->retries > TCP_MAX_RETRIES) {
        tcp_abort(ctx, f);
        return;
    }
    ns_stat_inc(ctx, NS_ST_TCP_RETRANS);
    f->rto_ns = MIN(f->rto_ns * 2, TCP_RTO_MAX_NS);
    f->rto_deadline = now + f->rto_ns;
    switch (f->state) {
    case TCP_S_SYN_SENT:
        if (!ctx->guest_mac_known)
            ns_arp_request_guest(ctx);
        tcp_send(ctx, f, TCP_SYN, f->iss, NULL, 0);
        break;
    case TCP_S_SYN_RCVD:
        tcp_send(ctx, f, TCP_SYN | TCP_ACK, f->iss, NULL, 0);
        break;
    case TCP_S_ESTABLISHED:
        /* Go back to the first unacknowledged byte: it is still at the
         * head of the host socket's queue. */
        f->snd_nxt = f->snd_una;
        if (f->fin_sent && !f->fin_acked)
            f->fin_sent = false;
        /* The host's end of data was seen past the bytes in flight: look
         * for it again after resending them, or the FIN would go out at
         * snd_una and the guest would take it in place of that data. */
        f->host_eof = false;
        f->rto_deadline = 0;
        if (tcp_host_read(ctx, f) && !f->rto_deadline)
            f->rto_deadline = now + f->rto_ns;
        break;
    default:
        break;
    }
}

static GPtrArray *tcp_snapshot(NsCtx *ctx)
{
    GPtrArray *all = g_ptr_array_sized_new(g_hash_table_size(ctx->tcp_flows));
    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init(&it, ctx->tcp_flows);
    while (g_hash_table_iter_next(&it, NULL, &v))
        g_ptr_array_add(all, v);
    return all;
}

void ns_tcp_tick(NsCtx *ctx, uint64_t now)
{
    GPtrArray *all = tcp_snapshot(ctx);

    /* Each step may free only the flow it is given. */
    for (guint i = 0; i < all->len; i++)
        tcp_timeout(ctx, all->pdata[i], now);
    g_ptr_array_free(all, TRUE);
}

uint64_t ns_tcp_deadline(NsCtx *ctx)
{
    uint64_t idle = (uint64_t)ctx->cfg.tcp_timeout_s * 1000000000ull;
    uint64_t d = UINT64_MAX;
    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init(&it, ctx->tcp_flows);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        NsTcpFlow *f = v;
        if (f->state == TCP_S_TIME_WAIT) {
            d = MIN(d, f->last_activity + TCP_TIME_WAIT_NS + 1);
            continue;
        }
        d = MIN(d, f->last_activity + idle + 1);
        if (f->rto_deadline)
            d = MIN(d, f->rto_deadline);
        if (f->persist_deadline)
            d = MIN(d, f->persist_deadline);
    }
    return d;
}

void ns_tcp_flush(NsCtx *ctx)
{
    unsigned n;
    NsTcpFlow *f;

    tcp_stage_flush(ctx);
    n = g_queue_get_length(&ctx->tcp_acks);
    /* A refused ACK stays queued for the next flush (at most one try per
     * flow and flush: the guest side may stay full for a while). */
    while (n-- && (f = g_queue_pop_head(&ctx->tcp_acks))) {
        f->ack_pending = false;
        if (f->state == TCP_S_ESTABLISHED && f->rcv_acked != f->rcv_nxt &&
            !tcp_send_ack(ctx, f)) {
            f->ack_pending = true;
            g_queue_push_tail(&ctx->tcp_acks, f);
        }
    }
}

void ns_tcp_kick(NsCtx *ctx)
{
    GPtrArray *all = tcp_snapshot(ctx);

    ns_tcp_flush(ctx);

    for (guint i = 0; i < all->len; i++) {
        NsTcpFlow *f = all->pdata[i];
        if (f->out_blocked && tcp_host_read(ctx, f))
            tcp_check_done(ctx, f);
    }
    g_ptr_array_free(all, TRUE);
}

void ns_tcp_dump(NsCtx *ctx, GString *out)
{
    GPtrArray *all = tcp_snapshot(ctx);

    for (guint i = 0; i < all->len; i++) {
        NsTcpFlow *f = all->pdata[i];
        g_string_append_printf(out,
            "tcp %u<->%08x:%u st=%d una=%u nxt=%u wnd=%u rcv_nxt=%u eof=%d fin=%d/%d gfin=%d "
            "wait_out=%d blocked=%d lowat=%d rto=%" G_GUINT64_FORMAT " ev=%u\n",
            f->gport, f->raddr, f->rport, f->state, f->snd_una - f->iss,
            f->snd_nxt - f->iss, f->snd_wnd, f->rcv_nxt, f->host_eof, f->fin_sent,
            f->fin_acked, f->guest_fin, f->wait_out, f->out_blocked, f->lowat,
            f->rto_deadline, f->fd >= 0 && g_hash_table_lookup(ctx->socks, GINT_TO_POINTER(f->fd))
                ? ((NsSockHandler *)g_hash_table_lookup(ctx->socks, GINT_TO_POINTER(f->fd)))->events : 99);
    }
    g_ptr_array_free(all, TRUE);
}

void ns_tcp_free_all(NsCtx *ctx)
{
    GPtrArray *all = tcp_snapshot(ctx);

    for (guint i = 0; i < all->len; i++)
        tcp_flow_free(ctx, all->pdata[i], true);
    g_ptr_array_free(all, TRUE);
}
