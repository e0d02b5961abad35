/*
 * net-slirp main-loop glue: libslirp asks for its descriptors with
 * slirp_pollfds_fill() and wants their events back in slirp_pollfds_poll();
 * here each descriptor is a host watch kept in step with the last fill, and
 * libslirp's timers are host timers on the VM clock.
 *
 * DOC: Theory of operation
 * After every call into libslirp that may open, close or re-arm sockets
 * (a guest frame, a socket event, a timer) netslirp_refresh() runs the fill
 * again: new descriptors get a watch, changed interests update it, and
 * descriptors no longer listed lose it.  A watch that fires records its
 * events and runs slirp_pollfds_poll() at once, so libslirp sees that one
 * descriptor ready and every other one idle.  libslirp's TCP timers (the
 * delayed ACK, retransmission) run inside slirp_pollfds_poll(); the
 * timeout the fill returns arms one poll timer, only ever moved earlier so
 * that steady guest traffic cannot postpone a due delayed ACK forever.
 */
#include <string.h>

#include "plugins/net-slirp/netslirp.h"

typedef struct SlirpWatch {
    NetSlirp *ns;
    int fd;
    LilyWatch *w;
    unsigned events;     /* LILY_IO_* asked of the host */
    unsigned revents;    /* LILY_IO_* while its callback runs, else 0 */
    unsigned generation; /* last fill that listed it */
    bool dispatching;
    bool dead;           /* dropped while dispatching: the callback frees it */
} SlirpWatch;

typedef struct SlirpHostTimer {
    NetSlirp *ns;
    LilyTimer *t;
    bool by_id;          /* libslirp >= 4.7 style: slirp_handle_timer(id) */
    SlirpTimerId id;
    SlirpTimerCb cb;
    void *cb_opaque;
} SlirpHostTimer;

static unsigned lily_from_slirp(int ev)
{
    return (ev & SLIRP_POLL_IN ? LILY_IO_IN : 0) | (ev & SLIRP_POLL_OUT ? LILY_IO_OUT : 0) |
           (ev & SLIRP_POLL_PRI ? LILY_IO_PRI : 0) | (ev & SLIRP_POLL_ERR ? LILY_IO_ERR : 0) |
           (ev & SLIRP_POLL_HUP ? LILY_IO_HUP : 0);
}

static int slirp_from_lily(unsigned ev)
{
    return (ev & LILY_IO_IN ? SLIRP_POLL_IN : 0) | (ev & LILY_IO_OUT ? SLIRP_POLL_OUT : 0) |
           (ev & LILY_IO_PRI ? SLIRP_POLL_PRI : 0) | (ev & LILY_IO_ERR ? SLIRP_POLL_ERR : 0) |
           (ev & LILY_IO_HUP ? SLIRP_POLL_HUP : 0);
}

/* ---- time --------------------------------------------------------------- */

int64_t netslirp_clock_ns(void *opaque)
{
    NetSlirp *ns = opaque;
    return (int64_t)ns->host->clock_ns(ns->inst);
}

static void netslirp_host_timer_fire(void *opaque)
{
    SlirpHostTimer *ht = opaque;
    NetSlirp *ns = ht->ns;
    if (!ns->slirp)
        return;
    if (ht->by_id)
        slirp_handle_timer(ns->slirp, ht->id, ht->cb_opaque);
    else
        ht->cb(ht->cb_opaque);
    netslirp_refresh(ns);
}

void *netslirp_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
    NetSlirp *ns = opaque;
    SlirpHostTimer *ht = g_new0(SlirpHostTimer, 1);
    ht->ns = ns;
    ht->by_id = true;
    ht->id = id;
    ht->cb_opaque = cb_opaque;
    ht->t = ns->host->timer_new(ns->inst, netslirp_host_timer_fire, ht);
    return ht;
}

void *netslirp_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    NetSlirp *ns = opaque;
    SlirpHostTimer *ht = g_new0(SlirpHostTimer, 1);
    ht->ns = ns;
    ht->cb = cb;
    ht->cb_opaque = cb_opaque;
    ht->t = ns->host->timer_new(ns->inst, netslirp_host_timer_fire, ht);
    return ht;
}

void netslirp_timer_free(void *timer, void *opaque)
{
    SlirpHostTimer *ht = timer;
    if (!ht)
        return;
    ht->ns->host->timer_free(ht->t);
    g_free(ht);
}

void netslirp_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    SlirpHostTimer *ht = timer;
    /* libslirp gives an absolute time in milliseconds of clock_get_ns. */
    ht->ns->host->timer_mod(ht->t, expire_ms > 0 ? (uint64_t)expire_ms * 1000000u : 0);
}

/* ---- descriptors -------------------------------------------------------- */

void netslirp_register_poll_fd(int fd, void *opaque)
{
    /* Nothing to do: every fill lists the descriptors that matter. */
}

void netslirp_unregister_poll_fd(int fd, void *opaque)
{
}

static int netslirp_get_revents(int idx, void *opaque)
{
    NetSlirp *ns = opaque;
    if (idx < 0 || (guint)idx >= ns->poll_fds->len)
        return 0;
    int fd = g_array_index(ns->poll_fds, int, idx);
    SlirpWatch *w = g_hash_table_lookup(ns->watches, GINT_TO_POINTER(fd));
    return w ? slirp_from_lily(w->revents) : 0;
}

static gboolean netslirp_watch_fn(int fd, unsigned revents, void *opaque)
{
    SlirpWatch *w = opaque;
    NetSlirp *ns = w->ns;

    w->revents = revents;
    w->dispatching = true;
    slirp_pollfds_poll(ns->slirp, 0, netslirp_get_revents, ns);
    w->revents = 0;
    netslirp_refresh(ns);
    w->dispatching = false;
    if (w->dead) {
        g_free(w);
        return FALSE;
    }
    return TRUE;
}

static int netslirp_add_poll(int fd, int events, void *opaque)
{
    NetSlirp *ns = opaque;
    int idx = (int)ns->poll_fds->len;
    unsigned want = lily_from_slirp(events);

    g_array_append_val(ns->poll_fds, fd);
    SlirpWatch *w = g_hash_table_lookup(ns->watches, GINT_TO_POINTER(fd));
    if (!w) {
        w = g_new0(SlirpWatch, 1);
        w->ns = ns;
        w->fd = fd;
        w->events = want;
        w->generation = ns->generation;
        w->w = ns->host->fd_watch(ns->inst, fd, want, netslirp_watch_fn, w);
        g_hash_table_insert(ns->watches, GINT_TO_POINTER(fd), w);
        return idx;
    }
    if (w->generation == ns->generation)
        want |= w->events;  /* listed twice in one fill: both interests */
    w->generation = ns->generation;
    if (want != w->events) {
        w->events = want;
        ns->host->fd_watch_update(w->w, want);
    }
    return idx;
}

static void netslirp_poll_timer_fire(void *opaque)
{
    NetSlirp *ns = opaque;
    ns->poll_deadline = UINT64_MAX;
    if (!ns->slirp)
        return;
    slirp_pollfds_poll(ns->slirp, 0, netslirp_get_revents, ns);
    netslirp_refresh(ns);
}

void netslirp_notify(void *opaque)
{
    NetSlirp *ns = opaque;
    /* libslirp may call this from inside itself: poll on the next iteration. */
    uint64_t now = ns->host->clock_ns(ns->inst);
    if (ns->poll_deadline > now) {
        ns->poll_deadline = now;
        ns->host->timer_mod(ns->poll_timer, now);
    }
}

void netslirp_refresh(NetSlirp *ns)
{
    if (!ns->slirp)
        return;
    uint32_t timeout_ms = UINT32_MAX;
    ns->generation++;
    g_array_set_size(ns->poll_fds, 0);
    slirp_pollfds_fill(ns->slirp, &timeout_ms, netslirp_add_poll, ns);

    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, ns->watches);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        SlirpWatch *w = v;
        if (w->generation == ns->generation)
            continue;
        g_hash_table_iter_remove(&it);
        if (w->dispatching) {
            w->dead = true;  /* its callback returns FALSE and frees it */
            continue;
        }
        ns->host->fd_watch_remove(w->w);
        g_free(w);
    }

    if (timeout_ms == UINT32_MAX)
        return;  /* an armed poll timer stays: it costs one spare poll */
    uint64_t deadline = ns->host->clock_ns(ns->inst) + (uint64_t)timeout_ms * 1000000u;
    if (deadline < ns->poll_deadline) {
        ns->poll_deadline = deadline;
        ns->host->timer_mod(ns->poll_timer, deadline);
    }
}

void netslirp_loop_init(NetSlirp *ns)
{
    ns->watches = g_hash_table_new(NULL, NULL);
    ns->poll_fds = g_array_new(FALSE, FALSE, sizeof(int));
    ns->poll_timer = ns->host->timer_new(ns->inst, netslirp_poll_timer_fire, ns);
    ns->poll_deadline = UINT64_MAX;
}

void netslirp_loop_fini(NetSlirp *ns)
{
    if (ns->watches) {
        GHashTableIter it;
        gpointer v;
        g_hash_table_iter_init(&it, ns->watches);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
            SlirpWatch *w = v;
            ns->host->fd_watch_remove(w->w);
            g_free(w);
        }
        g_hash_table_destroy(ns->watches);
        ns->watches = NULL;
    }
    if (ns->poll_fds)
        g_array_free(ns->poll_fds, TRUE);
    ns->poll_fds = NULL;
    if (ns->poll_timer)
        ns->host->timer_free(ns->poll_timer);
    ns->poll_timer = NULL;
}
