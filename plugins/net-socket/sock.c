/*
 * net-socket socket layer over real host sockets.  The core reaches the
 * host only through these calls, so tests can use loopback sockets and the
 * fuzzer a layer that never touches the network.
 */
#define _GNU_SOURCE
#include "ns.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

static void peek_off_forget(int fd);

static void sin_set(struct sockaddr_in *sa, uint32_t addr, uint16_t port)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(addr);
    sa->sin_port = htons(port);
}

static int posix_open(void *o, int type, int proto)
{
    int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    int one = 1;

    if (fd < 0)
        return -errno;
    peek_off_forget(fd);
    if (type == SOCK_STREAM)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int posix_bind(void *o, int fd, uint32_t addr, uint16_t port)
{
    struct sockaddr_in sa;
    int one = 1, type = 0;
    socklen_t sl = sizeof type;

    sin_set(&sa, addr, port);
    /* Listeners may reuse a port in TIME_WAIT; datagram sockets must not
     * (for them SO_REUSEADDR would share a port that is in use). */
    if (port && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl) == 0 &&
        type == SOCK_STREAM)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    return bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ? -errno : 0;
}

static int posix_listen(void *o, int fd)
{
    return listen(fd, 16) < 0 ? -errno : 0;
}

static int posix_connect(void *o, int fd, uint32_t addr, uint16_t port)
{
    struct sockaddr_in sa;

    sin_set(&sa, addr, port);
    return connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ? -errno : 0;
}

static int posix_accept(void *o, int fd, uint32_t *addr, uint16_t *port)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    int one = 1;
    int c = accept4(fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (c < 0)
        return -errno;
    peek_off_forget(c);
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *addr = ntohl(sa.sin_addr.s_addr);
    *port = ntohs(sa.sin_port);
    return c;
}

static ssize_t posix_sendto(void *o, int fd, const void *buf, size_t len,
                            uint32_t addr, uint16_t port)
{
    struct sockaddr_in sa;
    ssize_t n;

    if (!addr && !port) {
        n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    } else {
        sin_set(&sa, addr, port);
        n = sendto(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL,
                   (struct sockaddr *)&sa, sizeof sa);
    }
    return n < 0 ? -errno : n;
}

static ssize_t posix_recvfrom(void *o, int fd, void *buf, size_t len,
                              uint32_t *addr, uint16_t *port)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    ssize_t n;

    memset(&sa, 0, sizeof sa);
    n = recvfrom(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&sa, &sl);
    if (n < 0)
        return -errno;
    *addr = ntohl(sa.sin_addr.s_addr);
    *port = ntohs(sa.sin_port);
    return n;
}

/* Nothing beyond the bytes in flight: end of stream, or just no data yet? */
static ssize_t peek_nothing_new(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLRDHUP };

    if (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP)))
        return 0;
    return -EAGAIN;
}

/* Scratch space for the bytes a peek skips over or a discard throws away. */
static uint8_t skip_buf[1 << 16];

/* Peek past skip bytes by peeking them too, into a throw-away buffer:
 * works on every kernel, but copies the bytes in flight again each time. */
static ssize_t posix_peek_copy(void *o, int fd, size_t skip, void *buf, size_t len)
{
    struct iovec iov[2 + 64];
    struct msghdr mh;
    size_t left = skip;
    int n_iov = 0;
    ssize_t n;

    /* The already-sent bytes land in a throw-away buffer (repeated iovecs
     * cover skips larger than it); only what follows them is kept. */
    while (left && n_iov < 64) {
        size_t chunk = MIN(left, sizeof skip_buf);
        iov[n_iov].iov_base = skip_buf;
        iov[n_iov].iov_len = chunk;
        n_iov++;
        left -= chunk;
    }
    if (left)
        return -ENOBUFS;
    iov[n_iov].iov_base = buf;
    iov[n_iov].iov_len = len;
    n_iov++;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = iov;
    mh.msg_iovlen = (size_t)n_iov;
    n = recvmsg(fd, &mh, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0)
        return -errno;
    if (n == 0)
        return 0;
    if ((size_t)n <= skip)
        return peek_nothing_new(fd);
    return n - (ssize_t)skip;
}

/*
 * The kernel keeps a TCP socket's peek offset itself once SO_PEEK_OFF is
 * set: a peek advances it by what it copied, a real read moves it back by
 * what it consumed.  Every peek and discard goes through this layer, so it
 * can follow the kernel's value and set the option only when the caller
 * asks for another offset (a retransmission): one syscall per peek instead
 * of two.  Indexed by descriptor; 0 = not known, else offset + 1.
 */
#define PEEK_OFF_FDS_MAX 65536
static GMutex peek_off_lock;
static int *peek_off_tab;
static size_t peek_off_n;

static int peek_off_get(int fd)
{
    int v = -1;

    g_mutex_lock(&peek_off_lock);
    if (fd >= 0 && (size_t)fd < peek_off_n)
        v = peek_off_tab[fd] - 1;
    g_mutex_unlock(&peek_off_lock);
    return v;
}

static void peek_off_set(int fd, int off)
{
    if (fd < 0 || fd >= PEEK_OFF_FDS_MAX)
        return; /* not followed: the option is set on every peek */
    g_mutex_lock(&peek_off_lock);
    if ((size_t)fd >= peek_off_n) {
        size_t n = MAX((size_t)fd + 1, peek_off_n * 2);
        peek_off_tab = g_renew(int, peek_off_tab, n);
        memset(peek_off_tab + peek_off_n, 0, (n - peek_off_n) * sizeof *peek_off_tab);
        peek_off_n = n;
    }
    peek_off_tab[fd] = off + 1;
    g_mutex_unlock(&peek_off_lock);
}

/* A descriptor is new or gone: whatever was known about it is stale. */
static void peek_off_forget(int fd)
{
    g_mutex_lock(&peek_off_lock);
    if (fd >= 0 && (size_t)fd < peek_off_n)
        peek_off_tab[fd] = 0;
    g_mutex_unlock(&peek_off_lock);
}

/* test hook: how many times posix_peek() had to set SO_PEEK_OFF */
unsigned long ns_sock_peek_off_sets;

static ssize_t posix_peek(void *o, int fd, size_t skip, void *buf, size_t len)
{
    int off = (int)skip;
    ssize_t n;

    /* Where the kernel can start a peek at an offset (SO_PEEK_OFF on TCP,
     * Linux 6.9 and later), the bytes in flight are not copied again. */
    if (skip > INT_MAX / 2 || len > INT_MAX / 2)
        return posix_peek_copy(o, fd, skip, buf, len);
    if (peek_off_get(fd) != off) {
        if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off) < 0)
            return posix_peek_copy(o, fd, skip, buf, len);
        ns_sock_peek_off_sets++;
        peek_off_set(fd, off);
    }
    n = recv(fd, buf, len, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0) {
        int err = errno;
        /* EAGAIN: nothing beyond the offset yet, which stays where it
         * was (at end of stream the kernel returns 0 instead). */
        if (err != EAGAIN)
            peek_off_forget(fd);
        return -err;
    }
    peek_off_set(fd, off + (int)n);
    return n; /* 0: nothing follows and the peer has shut down */
}

static ssize_t posix_discard(void *o, int fd, size_t len)
{
    size_t done = 0;
    int off = peek_off_get(fd);

    while (done < len) {
        ssize_t n = recv(fd, skip_buf, MIN(len - done, sizeof skip_buf), MSG_DONTWAIT);
        if (n < 0) {
            peek_off_forget(fd);
            return done ? (ssize_t)done : -errno;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    /* The kernel moved its peek offset back by what was consumed. */
    if (off >= 0)
        peek_off_set(fd, off > (int)done ? off - (int)done : 0);
    return (ssize_t)done;
}

static int posix_shutdown_wr(void *o, int fd)
{
    return shutdown(fd, SHUT_WR) < 0 ? -errno : 0;
}

static int posix_sock_error(void *o, int fd)
{
    int err = 0;
    socklen_t sl = sizeof err;

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
        return -errno;
    return -err;
}

static int posix_send_space(void *o, int fd)
{
    int sndbuf = 0, outq = 0;
    socklen_t sl = sizeof sndbuf;

    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl) < 0 ||
        ioctl(fd, SIOCOUTQ, &outq) < 0)
        return 65535;
    /* SO_SNDBUF counts the kernel's bookkeeping too, and the data it
     * takes per byte of buffer varies: promise a quarter, so that what a
     * window lets the guest send nearly always fits (a refused byte means
     * a hole the guest has to fill by retransmitting). */
    sndbuf /= 4;
    return sndbuf > outq ? sndbuf - outq : 0;
}

static int posix_set_lowat(void *o, int fd, int bytes)
{
    return setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes) < 0 ? -errno : 0;
}

static void posix_close(void *o, int fd, bool abort)
{
    peek_off_forget(fd);
    if (abort) {
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(fd);
}

const NsSockOps ns_sock_posix = {
    .open = posix_open,
    .bind = posix_bind,
    .listen = posix_listen,
    .connect = posix_connect,
    .accept = posix_accept,
    .sendto = posix_sendto,
    .recvfrom = posix_recvfrom,
    .peek = posix_peek,
    .discard = posix_discard,
    .shutdown_wr = posix_shutdown_wr,
    .sock_error = posix_sock_error,
    .send_space = posix_send_space,
    .close = posix_close,
    .set_lowat = posix_set_lowat,
};

/* The same without SO_PEEK_OFF, as on kernels before 6.9 (for tests). */
const NsSockOps ns_sock_posix_peek_copy = {
    .open = posix_open,
    .bind = posix_bind,
    .listen = posix_listen,
    .connect = posix_connect,
    .accept = posix_accept,
    .sendto = posix_sendto,
    .recvfrom = posix_recvfrom,
    .peek = posix_peek_copy,
    .discard = posix_discard,
    .shutdown_wr = posix_shutdown_wr,
    .sock_error = posix_sock_error,
    .send_space = posix_send_space,
    .close = posix_close,
    .set_lowat = posix_set_lowat,
};
