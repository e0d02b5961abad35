/*
 * net-slirp: a network backend over libslirp.  Shared state of the plugin
 * glue (netslirp.c: options, frames, forwards) and of the main-loop glue
 * (loop.c: libslirp's descriptors and timers on the VM's loop).
 */
#ifndef NETSLIRP_H
#define NETSLIRP_H

#include <lilyvm/lilyvm.h>
#include <libslirp.h>

typedef struct NetSlirp {
    LilyInstance *inst;
    const LilyHost *host;
    LilyNetPort *port;
    Slirp *slirp;

    /* loop.c: one watch per descriptor libslirp polls. */
    GHashTable *watches;     /* fd -> SlirpWatch * */
    GArray *poll_fds;        /* index given to libslirp -> fd, from the last fill */
    unsigned generation;     /* of the last fill, to find descriptors dropped */
    LilyTimer *poll_timer;   /* libslirp's own TCP timers run from its poll */
    uint64_t poll_deadline;  /* UINT64_MAX: not armed */
    bool in_slirp;           /* inside a libslirp call: refresh afterwards */
} NetSlirp;

/* Callbacks for SlirpCb (loop.c). */
int64_t netslirp_clock_ns(void *opaque);
void *netslirp_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque);
void *netslirp_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque);
void netslirp_timer_free(void *timer, void *opaque);
void netslirp_timer_mod(void *timer, int64_t expire_ms, void *opaque);
void netslirp_register_poll_fd(int fd, void *opaque);
void netslirp_unregister_poll_fd(int fd, void *opaque);
void netslirp_notify(void *opaque);

void netslirp_loop_init(NetSlirp *ns);
/*
 * netslirp_refresh() - match the watches and the poll timer to what
 * libslirp wants now.  Call after every libslirp entry point that can
 * create, close or change sockets (slirp_input, slirp_pollfds_poll, ...).
 */
void netslirp_refresh(NetSlirp *ns);
void netslirp_loop_fini(NetSlirp *ns);

#endif
