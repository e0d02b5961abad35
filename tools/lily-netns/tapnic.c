/*
 * lily-netns, NIC side: attaches to a netdev as a NIC would and moves
 * Ethernet frames between the backend and a TAP descriptor on the VM's
 * main loop.  The TAP is the "guest": what the namespace's kernel sends
 * goes to the backend, what the backend sends is written to the TAP.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "tools/lily-netns/netns.h"

/* Frames read per wakeup: enough to amortise the poll, short enough to stay fair. */
#define TAPNIC_BURST 64
/* One read buffer holds any frame a 65520-byte MTU link carries. */
#define TAPNIC_FRAME_MAX 65536

struct TapNic {
    LilyVm *vm;
    LilyNetPort *port;
    LilyWatch *watch;
    int fd;
    bool paused;        /* the backend refused frames: stop reading the TAP */
    uint8_t *buf;
    uint64_t tx_frames, tx_bytes;   /* namespace -> backend */
    uint64_t rx_frames, rx_bytes;   /* backend -> namespace */
    uint64_t rx_dropped;
    bool warned;
};

static bool tapnic_can_receive(void *opaque)
{
    return true;  /* a TAP write never blocks for long: the kernel queues or drops */
}

static void tapnic_receive(void *opaque, const uint8_t *frame, size_t len)
{
    TapNic *nic = opaque;
    ssize_t n = write(nic->fd, frame, len);
    if (n == (ssize_t)len) {
        nic->rx_frames++;
        nic->rx_bytes += len;
        return;
    }
    nic->rx_dropped++;
    if (!nic->warned && n < 0 && errno != EAGAIN && errno != ENOBUFS) {
        log_msg("tapnic", LILY_LOG_WARN, "writing a %zu-byte frame to the TAP failed: %s",
                len, g_strerror(errno));
        nic->warned = true;
    }
}

static void tapnic_ready(void *opaque)
{
    TapNic *nic = opaque;
    if (nic->paused) {
        nic->paused = false;
        loop_fd_watch_update(nic->watch, LILY_IO_IN);
    }
}

static const LilyNetOps tapnic_ops = {
    .can_receive = tapnic_can_receive,
    .receive = tapnic_receive,
    .ready = tapnic_ready,
};

static gboolean tapnic_readable(int fd, unsigned revents, void *opaque)
{
    TapNic *nic = opaque;
    for (int i = 0; i < TAPNIC_BURST; i++) {
        if (!net_can_send(nic->port)) {
            /* Resume in tapnic_ready(); the kernel holds the frames meanwhile. */
            nic->paused = true;
            loop_fd_watch_update(nic->watch, 0);
            break;
        }
        ssize_t n = read(fd, nic->buf, TAPNIC_FRAME_MAX);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR && !nic->warned) {
                log_msg("tapnic", LILY_LOG_WARN, "reading the TAP failed: %s",
                        g_strerror(errno));
                nic->warned = true;
            }
            break;
        }
        if (n == 0)
            break;
        nic->tx_frames++;
        nic->tx_bytes += (uint64_t)n;
        net_send(nic->port, nic->buf, (size_t)n);
    }
    return TRUE;
}

TapNic *tapnic_new(LilyVm *vm, const char *netdev, int tap_fd, GError **error)
{
    int fl = fcntl(tap_fd, F_GETFL);
    if (fl < 0 || fcntl(tap_fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_NET,
                    "cannot make the TAP descriptor non-blocking: %s", g_strerror(errno));
        return NULL;
    }
    TapNic *nic = g_new0(TapNic, 1);
    nic->vm = vm;
    nic->fd = tap_fd;
    nic->port = net_attach(vm, NULL, netdev, &tapnic_ops, nic, error);
    if (!nic->port) {
        g_free(nic);
        return NULL;
    }
    nic->buf = g_malloc(TAPNIC_FRAME_MAX);
    nic->watch = loop_fd_watch(vm, NULL, tap_fd, LILY_IO_IN, tapnic_readable, nic);
    return nic;
}

void tapnic_free(TapNic *nic)
{
    if (!nic)
        return;
    if (nic->watch)
        loop_fd_watch_remove(nic->watch);
    net_detach(nic->port);
    g_free(nic->buf);
    g_free(nic);
}

void tapnic_print_stats(TapNic *nic, FILE *out)
{
    fprintf(out, "  tap.to-backend-frames            %" G_GUINT64_FORMAT "\n"
                 "  tap.to-backend-bytes             %" G_GUINT64_FORMAT "\n"
                 "  tap.to-namespace-frames          %" G_GUINT64_FORMAT "\n"
                 "  tap.to-namespace-bytes           %" G_GUINT64_FORMAT "\n"
                 "  tap.to-namespace-dropped         %" G_GUINT64_FORMAT "\n",
            nic->tx_frames, nic->tx_bytes, nic->rx_frames, nic->rx_bytes, nic->rx_dropped);
}
