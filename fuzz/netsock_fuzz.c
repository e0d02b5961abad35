/*
 * libFuzzer target for the net-socket core: arbitrary guest frames and
 * host-side events, over a fake socket layer that never touches the
 * network.
 *
 * Input: a sequence of records, each one opcode byte, a 16-bit big-endian
 * length and that many bytes:
 *   0  a guest Ethernet frame for ns_input()
 *   1  advance the clock by len * 10 ms and run the timers
 *   2  host data: the first byte picks a fake socket, the rest is queued
 *      on it (what a peer would have sent)
 *   3  socket events: the first byte picks a socket, the second is the
 *      poll mask, the third the error the socket reports (0: none)
 *   4  end of stream on the picked socket (the host peer shut down)
 *   5  a connection arrives on the picked listener
 *   6  the guest side refuses (odd first byte) or takes frames again
 *   7  the guest answers the last TCP segment the core sent: flags (first
 *      byte), window (next two), payload (the rest); sequence and
 *      acknowledgement numbers are taken from that segment, so the fuzzer
 *      reaches established connections without guessing them
 * A truncated record is taken as a frame with what is left.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "plugins/net-socket/ns.h"

#define FAKE_FD_BASE 1000
#define FAKE_MAX 64
#define FAKE_BUF 65536

typedef struct FakeSock {
    bool used;
    int type;
    bool listening;
    bool eof;
    int error;          /* reported by sock_error, then cleared */
    unsigned pending;   /* connections waiting on a listener */
    unsigned space;     /* send_space answer */
    uint8_t *buf;       /* queued host data */
    size_t len;
} FakeSock;

typedef struct Fuzz {
    FakeSock socks[FAKE_MAX];
    unsigned watched[FAKE_MAX];
    uint64_t now;
    bool refuse;
    /* The last TCP segment sent to the guest (host order). */
    bool have_seg;
    uint32_t seg_src, seg_dst, seg_seq, seg_ack;
    uint16_t seg_sport, seg_dport;
} Fuzz;

static FakeSock *fs_get(Fuzz *z, int fd)
{
    int i = fd - FAKE_FD_BASE;

    if (i < 0 || i >= FAKE_MAX || !z->socks[i].used)
        abort(); /* the core used a descriptor it does not own */
    return &z->socks[i];
}

static int fs_new(Fuzz *z, int type)
{
    for (int i = 0; i < FAKE_MAX; i++) {
        if (!z->socks[i].used) {
            memset(&z->socks[i], 0, sizeof z->socks[i]);
            z->socks[i].used = true;
            z->socks[i].type = type;
            z->socks[i].space = 65536;
            return FAKE_FD_BASE + i;
        }
    }
    return -EMFILE;
}

static int f_open(void *o, int type, int proto) { return fs_new(o, type); }
static int f_bind(void *o, int fd, uint32_t a, uint16_t p) { fs_get(o, fd); return 0; }
static int f_listen(void *o, int fd) { fs_get(o, fd)->listening = true; return 0; }
static int f_connect(void *o, int fd, uint32_t a, uint16_t p) { fs_get(o, fd); return -EINPROGRESS; }

static int f_accept(void *o, int fd, uint32_t *addr, uint16_t *port)
{
    FakeSock *s = fs_get(o, fd);

    if (!s->pending)
        return -EAGAIN;
    s->pending--;
    *addr = 0x7f000001;
    *port = (uint16_t)(40000 + s->pending);
    return fs_new(o, SOCK_STREAM);
}

static ssize_t f_sendto(void *o, int fd, const void *b, size_t len, uint32_t a, uint16_t p)
{
    FakeSock *s = fs_get(o, fd);

    if (s->type != SOCK_STREAM)
        return (ssize_t)len;
    if (s->space < len)
        len = s->space;
    s->space -= (unsigned)len;
    return len ? (ssize_t)len : -EAGAIN;
}

static ssize_t f_recvfrom(void *o, int fd, void *buf, size_t len, uint32_t *addr, uint16_t *port)
{
    FakeSock *s = fs_get(o, fd);
    size_t n;

    if (!s->len)
        return -EAGAIN;
    n = s->len < len ? s->len : len;
    memcpy(buf, s->buf, n);
    s->len = 0; /* one datagram per queued chunk */
    *addr = 0x7f000001;
    *port = 53;
    return (ssize_t)n;
}

static ssize_t f_peek(void *o, int fd, size_t skip, void *buf, size_t len)
{
    FakeSock *s = fs_get(o, fd);
    size_t n;

    if (s->error)
        return -s->error;
    if (skip > s->len)
        abort(); /* peeking past data that was never there */
    if (skip == s->len)
        return s->eof && !s->len ? 0 : -EAGAIN;
    n = s->len - skip < len ? s->len - skip : len;
    memcpy(buf, s->buf + skip, n);
    return (ssize_t)n;
}

static ssize_t f_discard(void *o, int fd, size_t len)
{
    FakeSock *s = fs_get(o, fd);

    if (len > s->len)
        abort(); /* acknowledging bytes that were never sent */
    memmove(s->buf, s->buf + len, s->len - len);
    s->len -= len;
    return (ssize_t)len;
}

static int f_shutdown(void *o, int fd) { fs_get(o, fd); return 0; }

static int f_sock_error(void *o, int fd)
{
    FakeSock *s = fs_get(o, fd);
    int e = s->error;

    s->error = 0;
    return -e;
}

static int f_send_space(void *o, int fd) { return (int)fs_get(o, fd)->space; }

static int f_set_lowat(void *o, int fd, int bytes)
{
    /* Sometimes refuse, like a kernel without the option would. */
    return fs_get(o, fd)->space & 1 ? -ENOPROTOOPT : 0;
}

static void f_close(void *o, int fd, bool abort_)
{
    Fuzz *z = o;
    FakeSock *s = fs_get(z, fd);

    free(s->buf);
    memset(s, 0, sizeof *s);
    if (z->watched[fd - FAKE_FD_BASE])
        abort(); /* closed while still watched */
}

static const NsSockOps fake_ops = {
    .open = f_open, .bind = f_bind, .listen = f_listen, .connect = f_connect,
    .accept = f_accept, .sendto = f_sendto, .recvfrom = f_recvfrom,
    .peek = f_peek, .discard = f_discard, .shutdown_wr = f_shutdown,
    .sock_error = f_sock_error, .send_space = f_send_space, .close = f_close,
    .set_lowat = f_set_lowat,
};

static bool cb_output(void *opaque, const uint8_t *f, size_t len)
{
    Fuzz *z = opaque;

    if (len < NS_ETH_HLEN || len > NS_FRAME_MAX)
        abort();
    /* Every IPv4 header we build must carry a valid checksum. */
    if (ns_rd16(f + 12) == NS_ETH_P_IP &&
        ns_csum_fold(ns_csum_add(0, f + NS_ETH_HLEN, 20)) != 0)
        abort();
    if (ns_rd16(f + 12) == NS_ETH_P_IP && len >= NS_ETH_HLEN + 40 &&
        f[NS_ETH_HLEN + 9] == NS_IPPROTO_TCP && !z->refuse) {
        const uint8_t *ip = f + NS_ETH_HLEN, *t = ip + 20;
        size_t tot = ns_rd16(ip + 2), doff = (size_t)(t[12] >> 4) * 4;
        uint32_t seglen = (uint32_t)(tot - 20 - doff);
        z->have_seg = true;
        z->seg_src = ns_rd32(ip + 12);
        z->seg_dst = ns_rd32(ip + 16);
        z->seg_sport = ns_rd16(t);
        z->seg_dport = ns_rd16(t + 2);
        z->seg_ack = ns_rd32(t + 8);
        z->seg_seq = ns_rd32(t + 4) + seglen + ((t[13] & 3) ? 1 : 0);
    }
    return !z->refuse;
}

static void cb_watch(void *opaque, int fd, unsigned events)
{
    Fuzz *z = opaque;

    fs_get(z, fd);
    z->watched[fd - FAKE_FD_BASE] = events;
}

static uint64_t cb_now(void *opaque) { return ((Fuzz *)opaque)->now; }

static const NsCallbacks fuzz_cb = {
    .output = cb_output, .watch = cb_watch, .now_ns = cb_now,
};

/* Op 7: a guest segment answering the last one the core sent. */
static void guest_reply(NsCtx *ctx, Fuzz *z, const uint8_t *p, size_t len)
{
    static uint8_t frame[NS_ETH_HLEN + 20 + 20 + 1400];
    uint8_t *ip = frame + NS_ETH_HLEN, *t = ip + 20;
    size_t dlen = len > 3 ? len - 3 : 0;

    if (!z->have_seg || len < 3)
        return;
    if (dlen > 1400)
        dlen = 1400;
    memset(frame, 0, NS_ETH_HLEN + 40);
    memcpy(frame, "\x52\x55\x0a\x00\x02\x02\x52\x54\x00\x12\x34\x56", 12);
    ns_wr16(frame + 12, NS_ETH_P_IP);
    ip[0] = 0x45;
    ns_wr16(ip + 2, (uint16_t)(40 + dlen));
    ip[8] = 64;
    ip[9] = NS_IPPROTO_TCP;
    ns_wr32(ip + 12, z->seg_dst);
    ns_wr32(ip + 16, z->seg_src);
    ns_wr16(ip + 10, ns_csum_fold(ns_csum_add(0, ip, 20)));
    ns_wr16(t, z->seg_dport);
    ns_wr16(t + 2, z->seg_sport);
    ns_wr32(t + 4, z->seg_ack);
    ns_wr32(t + 8, z->seg_seq);
    t[12] = 5 << 4;
    t[13] = p[0];
    ns_wr16(t + 14, ns_rd16(p + 1));
    memcpy(t + 20, p + 3, dlen);
    ns_wr16(t + 16, ns_csum_fold(ns_csum_add(
                        ns_csum_pseudo(z->seg_dst, z->seg_src, NS_IPPROTO_TCP, 20 + dlen),
                        t, 20 + dlen)));
    ns_input(ctx, frame, NS_ETH_HLEN + 40 + dlen);
}

static int pick(Fuzz *z, uint8_t b)
{
    int i = b % FAKE_MAX;

    return z->socks[i].used ? FAKE_FD_BASE + i : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static Fuzz z;
    NsFwdSpec fwds[2] = {
        { NS_IPPROTO_TCP, 0x7f000001, 8080, 0, 80 },
        { NS_IPPROTO_UDP, 0x7f000001, 5353, 0, 53 },
    };
    NsConfig cfg;
    NsCtx *ctx;
    size_t off = 0;

    memset(&z, 0, sizeof z);
    z.now = 1000000000ull;
    ns_config_default(&cfg);
    cfg.resolver = 0x7f000001;
    cfg.max_flows = 16;
    cfg.seed = 1; /* repeatable runs */
    cfg.fwds = fwds;
    cfg.nfwds = 2;
    ctx = ns_new(&cfg, &fuzz_cb, &z, &fake_ops, &z, NULL);
    if (!ctx)
        abort();

    while (off < size) {
        uint8_t op = data[off++];
        size_t len = 0;
        const uint8_t *p;
        int fd;

        if (off + 2 <= size) {
            len = (size_t)data[off] << 8 | data[off + 1];
            off += 2;
        }
        if (len > size - off)
            len = size - off;
        p = data + off;
        off += len;

        switch (op % 8) {
        case 0:
            ns_input(ctx, p, len);
            break;
        case 1:
            z.now += (uint64_t)len * 10000000ull;
            ns_tick(ctx);
            break;
        case 2:
            if (len < 1 || (fd = pick(&z, p[0])) < 0)
                break;
            {
                FakeSock *s = fs_get(&z, fd);
                size_t add = len - 1;
                if (add > FAKE_BUF - s->len)
                    add = FAKE_BUF - s->len;
                if (!s->buf)
                    s->buf = malloc(FAKE_BUF);
                memcpy(s->buf + s->len, p + 1, add);
                s->len += add;
                if (z.watched[fd - FAKE_FD_BASE])
                    ns_sock_event(ctx, fd, NS_EV_IN);
            }
            break;
        case 3:
            if (len < 3 || (fd = pick(&z, p[0])) < 0)
                break;
            fs_get(&z, fd)->error = p[2] % 2 ? ECONNRESET : (p[2] ? ECONNREFUSED : 0);
            fs_get(&z, fd)->space = p[1] & 0x80 ? 0 : 65536;
            if (z.watched[fd - FAKE_FD_BASE])
                ns_sock_event(ctx, fd, p[1] & (NS_EV_IN | NS_EV_OUT | NS_EV_ERR | NS_EV_HUP));
            break;
        case 4:
            if (len < 1 || (fd = pick(&z, p[0])) < 0)
                break;
            fs_get(&z, fd)->eof = true;
            if (z.watched[fd - FAKE_FD_BASE])
                ns_sock_event(ctx, fd, NS_EV_IN);
            break;
        case 5:
            if (len < 1 || (fd = pick(&z, p[0])) < 0 || !fs_get(&z, fd)->listening)
                break;
            fs_get(&z, fd)->pending++;
            ns_sock_event(ctx, fd, NS_EV_IN);
            break;
        case 6:
            z.refuse = len && (p[0] & 1);
            if (!z.refuse)
                ns_output_ready(ctx);
            break;
        case 7:
            guest_reply(ctx, &z, p, len);
            break;
        }
        if (ns_flow_count(ctx) > cfg.max_flows)
            abort(); /* the flow table must stay bounded */
    }
    ns_free(ctx);
    for (int i = 0; i < FAKE_MAX; i++) {
        if (z.socks[i].used)
            abort(); /* ns_free() must close every socket it opened */
    }
    return 0;
}
