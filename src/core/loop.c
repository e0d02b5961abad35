/*
 * The VM's main loop: one GMainContext carrying the VM clock's timers (one
 * source, armed timers kept sorted so they fire in deadline order, woken by a
 * timerfd), host fd watches and the signals that end the VM.
 */
#define _GNU_SOURCE  /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <time.h>
#include <sys/timerfd.h>
#include "src/core/core.h"

static void loop_sig_restore(void);

struct LilyWatch {
    GSource source;    /* first: the watch is the GSource */
    LilyVm *vm;
    LilyInstance *owner;
    gpointer tag;
    int fd;
    LilyWatchFn fn;
    void *opaque;
};

static int64_t loop_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void loop_start_clock(LilyVm *vm)
{
    vm->clock_start = loop_mono_ns();
}

uint64_t loop_clock_ns(LilyVm *vm)
{
    int64_t now = loop_mono_ns() - vm->clock_start;
    return now > 0 ? (uint64_t)now : 0;
}

/*
 * Make the timer source wake up for the earliest armed timer.  GLib sleeps
 * in whole milliseconds (a 1 kHz timer would lose a third of its ticks), so
 * the wake-up comes from a timerfd set to the exact CLOCK_MONOTONIC time;
 * the source's ready time is the fallback when there is no timerfd.
 */
static void loop_timer_sync(LilyVm *vm)
{
    int64_t at_ns = -1;
    if (vm->timers_armed) {
        LilyTimer *first = vm->timers_armed->data;
        at_ns = vm->clock_start + (int64_t)MIN(first->deadline, (uint64_t)INT64_MAX / 2);
    }
    if (vm->timer_fd < 0) {
        /* g_get_monotonic_time() is CLOCK_MONOTONIC in microseconds: round up. */
        g_source_set_ready_time(vm->timer_source, at_ns < 0 ? -1 : (at_ns + 999) / 1000);
        return;
    }
    if (at_ns == vm->timer_fd_at)
        return;  /* one syscall less per re-armed device timer */
    struct itimerspec its = { 0 };
    if (at_ns >= 0) {
        its.it_value.tv_sec = at_ns / 1000000000;
        its.it_value.tv_nsec = at_ns % 1000000000;
        if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
            its.it_value.tv_nsec = 1;  /* zero would disarm it */
    }
    if (timerfd_settime(vm->timer_fd, at_ns >= 0 ? TFD_TIMER_ABSTIME : 0, &its, NULL) < 0) {
        /* Only bad arguments fail, and these are checked above. */
        log_msg("loop", LILY_LOG_WARN, "timerfd_settime: %s", g_strerror(errno));
    }
    vm->timer_fd_at = at_ns;
}

int loop_timer_fd(LilyVm *vm)
{
    return vm->timer_fd;
}

static gboolean loop_timer_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    LilyVm *vm = *(LilyVm **)(source + 1);
    if (vm->timer_fd >= 0) {
        uint64_t expirations;
        /* Read, it is a one-shot timer that has expired: disarmed now. */
        if (read(vm->timer_fd, &expirations, sizeof expirations) == sizeof expirations)
            vm->timer_fd_at = -1;
    }
    /*
     * Fire in deadline order; a callback may arm, delete or free any timer.
     * Only timers armed before this pass fire in it: one (re)armed by a
     * callback waits for the next pass, even when it is due already, so
     * that host I/O is polled in between.  A CPU re-arms its timer at the
     * current time after every slice; when slices take longer than the
     * device timers' periods (traps cost milliseconds under nested
     * emulation) everything is always due, and firing until nothing is due
     * kept received frames in their sockets for tens of seconds.
     */
    uint64_t pass = vm->timer_seq;
    while (vm->timers_armed) {
        LilyTimer *t = vm->timers_armed->data;
        if (t->deadline > loop_clock_ns(vm) || t->seq >= pass)
            break;
        vm->timers_armed = g_list_delete_link(vm->timers_armed, t->link);
        t->link = NULL;
        t->armed = false;
        vm->stats.timers_fired++;
        t->fn(t->opaque);
        if (vm->exited)
            break;
    }
    return G_SOURCE_CONTINUE;
}

/*
 * Before every poll, nested ones included (a CPU may iterate the loop from a
 * timer callback): due timers run at once, else the timerfd is set to the
 * earliest deadline.  Arming timers costs no syscall; only the earliest
 * deadline seen here does, once per change.
 */
static gboolean loop_timer_prepare(GSource *source, gint *timeout)
{
    LilyVm *vm = *(LilyVm **)(source + 1);
    *timeout = -1;
    if (vm->timers_armed &&
        ((LilyTimer *)vm->timers_armed->data)->deadline <= loop_clock_ns(vm))
        return TRUE;
    loop_timer_sync(vm);
    return FALSE;
}

static GSourceFuncs loop_timer_funcs = {
    .prepare = loop_timer_prepare,
    .dispatch = loop_timer_dispatch,
};

static gboolean loop_wakeup_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    g_source_set_ready_time(source, -1);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs loop_wakeup_funcs = {
    .dispatch = loop_wakeup_dispatch,
};

void loop_init(LilyVm *vm)
{
    vm->ctx = g_main_context_new();
    vm->timers = g_ptr_array_new();
    vm->watches = g_ptr_array_new();
    vm->timer_source = g_source_new(&loop_timer_funcs, sizeof(GSource) + sizeof(LilyVm *));
    *(LilyVm **)(vm->timer_source + 1) = vm;
    g_source_set_name(vm->timer_source, "lilyvm-timers");
    /* A CPU may run its guest from a timer and iterate the loop from there. */
    g_source_set_can_recurse(vm->timer_source, TRUE);
    vm->timer_fd_at = -1;
    vm->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (vm->timer_fd >= 0)
        g_source_add_unix_fd(vm->timer_source, vm->timer_fd, G_IO_IN);
    else
        log_msg("loop", LILY_LOG_WARN, "timerfd_create: %s: timers wake up to 1 ms late",
                g_strerror(errno));
    g_source_attach(vm->timer_source, vm->ctx);
    loop_start_clock(vm);
}

void loop_clear(LilyVm *vm)
{
    if (!vm->ctx)
        return;
    while (vm->watches->len)
        loop_fd_watch_remove(g_ptr_array_index(vm->watches, vm->watches->len - 1));
    while (vm->timers->len)
        loop_timer_free(g_ptr_array_index(vm->timers, vm->timers->len - 1));
    if (vm->signal_watch) {
        loop_sig_restore();  /* its watch went with the others above */
        vm->signal_watch = NULL;
    }
    g_source_destroy(vm->timer_source);
    g_source_unref(vm->timer_source);
    if (vm->timer_fd >= 0)
        close(vm->timer_fd);
    vm->timer_fd = -1;
    g_ptr_array_free(vm->timers, TRUE);
    g_ptr_array_free(vm->watches, TRUE);
    g_main_context_unref(vm->ctx);
    vm->ctx = NULL;
}

LilyTimer *loop_timer_new(LilyVm *vm, LilyInstance *owner, LilyTimerFn fn, void *opaque)
{
    LilyTimer *t = g_new0(LilyTimer, 1);
    t->vm = vm;
    t->owner = owner;
    t->fn = fn;
    t->opaque = opaque;
    g_ptr_array_add(vm->timers, t);
    return t;
}

static gint loop_timer_cmp(gconstpointer a, gconstpointer b)
{
    const LilyTimer *x = a, *y = b;
    if (x->deadline != y->deadline)
        return x->deadline < y->deadline ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void loop_timer_del(LilyTimer *t)
{
    if (!t || !t->armed)
        return;
    LilyVm *vm = t->vm;
    vm->timers_armed = g_list_delete_link(vm->timers_armed, t->link);
    t->link = NULL;
    t->armed = false;
}

void loop_timer_mod(LilyTimer *t, uint64_t deadline_ns)
{
    if (!t)
        return;
    LilyVm *vm = t->vm;
    if (t->armed) {
        vm->timers_armed = g_list_delete_link(vm->timers_armed, t->link);
        t->link = NULL;
    }
    t->deadline = deadline_ns;
    t->seq = vm->timer_seq++;
    t->armed = true;
    /* Insert sorted; the list is short (a few timers per device). */
    vm->timers_armed = g_list_insert_sorted(vm->timers_armed, t, loop_timer_cmp);
    t->link = g_list_find(vm->timers_armed, t);
}

void loop_timer_free(LilyTimer *t)
{
    if (!t)
        return;
    loop_timer_del(t);
    g_ptr_array_remove_fast(t->vm->timers, t);
    g_free(t);
}

static gboolean loop_watch_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    LilyWatch *w = (LilyWatch *)source;
    unsigned revents = g_source_query_unix_fd(source, w->tag);
    if (!revents)
        return G_SOURCE_CONTINUE;
    gboolean keep = w->fn(w->fd, revents, w->opaque);
    if (g_source_is_destroyed(source))
        return G_SOURCE_REMOVE;  /* the callback removed it already */
    if (!keep) {
        loop_fd_watch_remove(w);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs loop_watch_funcs = {
    .dispatch = loop_watch_dispatch,
};

LilyWatch *loop_fd_watch(LilyVm *vm, LilyInstance *owner, int fd, unsigned events,
                         LilyWatchFn fn, void *opaque)
{
    if (fd < 0 || !fn)
        return NULL;
    GSource *s = g_source_new(&loop_watch_funcs, sizeof(LilyWatch));
    LilyWatch *w = (LilyWatch *)s;
    w->vm = vm;
    w->owner = owner;
    w->fd = fd;
    w->fn = fn;
    w->opaque = opaque;
    w->tag = g_source_add_unix_fd(s, fd, (GIOCondition)events);
    g_source_set_name(s, owner ? owner->name : "core");
    g_source_attach(s, vm->ctx);
    g_ptr_array_add(vm->watches, w);
    return w;
}

void loop_fd_watch_update(LilyWatch *w, unsigned events)
{
    if (w && !g_source_is_destroyed(&w->source))
        g_source_modify_unix_fd(&w->source, w->tag, (GIOCondition)events);
}

void loop_fd_watch_remove(LilyWatch *w)
{
    if (!w)
        return;
    g_ptr_array_remove_fast(w->vm->watches, w);
    g_source_destroy(&w->source);
    g_source_unref(&w->source);
}

void loop_release_owner(LilyVm *vm, LilyInstance *owner)
{
    for (guint i = vm->timers->len; i-- > 0;) {
        LilyTimer *t = g_ptr_array_index(vm->timers, i);
        if (t->owner == owner)
            loop_timer_free(t);  /* swaps the last element in: i stays valid */
    }
    for (guint i = vm->watches->len; i-- > 0;) {
        LilyWatch *w = g_ptr_array_index(vm->watches, i);
        if (w->owner == owner)
            loop_fd_watch_remove(w);
    }
}

void vm_end(LilyVm *vm, int status)
{
    if (vm->exited)
        return;
    vm->exited = true;
    vm->exit_status = status;
    if (vm->ctx)
        g_main_context_wakeup(vm->ctx);
}

/*
 * Signals that end the VM, and SIGUSR1, which asks for the counters.  GLib's
 * unix signal sources start a worker thread, and the guest process must be
 * forked while the VM process still has one thread; so a plain handler
 * writes the signal number into a pipe that the loop watches.  A second
 * ending signal while the VM is ending restores the default action and
 * re-raises it, so two Ctrl-C always get out.
 */
static const int loop_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1 };
static int loop_sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t loop_sig_count;
static struct sigaction loop_sig_saved[G_N_ELEMENTS(loop_signals)];
static bool loop_sig_installed;

static void loop_sig_handler(int signo)
{
    int saved_errno = errno;
    if (signo != SIGUSR1 && loop_sig_count++ > 0) {
        signal(signo, SIG_DFL);
        raise(signo);
    }
    unsigned char b = (unsigned char)signo;
    if (write(loop_sig_pipe[1], &b, 1) < 0) {
        /* the pipe is full of earlier signals: one is enough */
    }
    errno = saved_errno;
}

static gboolean loop_sig_readable(int fd, unsigned revents, void *opaque)
{
    LilyVm *vm = opaque;
    unsigned char b;
    while (read(fd, &b, 1) == 1) {
        if (b == SIGUSR1) {
            vm_print_stats(vm, stderr);  /* on request; the VM goes on */
            continue;
        }
        log_msg("loop", LILY_LOG_INFO, "%s received: ending the VM", g_strsignal(b));
        vm_end(vm, 128 + b);
    }
    return TRUE;
}

static void loop_sig_restore(void)
{
    if (!loop_sig_installed)
        return;
    for (size_t i = 0; i < G_N_ELEMENTS(loop_signals); i++)
        sigaction(loop_signals[i], &loop_sig_saved[i], NULL);
    close(loop_sig_pipe[0]);
    close(loop_sig_pipe[1]);
    loop_sig_pipe[0] = loop_sig_pipe[1] = -1;
    loop_sig_installed = false;
}

void loop_watch_signals(LilyVm *vm)
{
    if (loop_sig_installed)
        return;  /* one VM per process takes the signals */
    if (pipe2(loop_sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        log_msg("loop", LILY_LOG_WARN, "cannot watch signals (pipe: %s): Ctrl-C will not "
                "end the VM cleanly", g_strerror(errno));
        return;
    }
    loop_sig_count = 0;
    struct sigaction sa = { .sa_handler = loop_sig_handler, .sa_flags = SA_RESTART };
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < G_N_ELEMENTS(loop_signals); i++)
        sigaction(loop_signals[i], &sa, &loop_sig_saved[i]);
    loop_sig_installed = true;
    vm->signal_watch = loop_fd_watch(vm, NULL, loop_sig_pipe[0], LILY_IO_IN,
                                     loop_sig_readable, vm);
}

bool loop_iterate(LilyVm *vm, bool may_block)
{
    if (vm->exited)
        return false;
    g_main_context_push_thread_default(vm->ctx);
    g_main_context_iteration(vm->ctx, may_block);
    g_main_context_pop_thread_default(vm->ctx);
    return !vm->exited;
}

uint64_t loop_timer_next_deadline(LilyVm *vm)
{
    return vm->timers_armed ? ((LilyTimer *)vm->timers_armed->data)->deadline : UINT64_MAX;
}

void vm_run(LilyVm *vm)
{
    g_main_context_push_thread_default(vm->ctx);
    while (!vm->exited)
        g_main_context_iteration(vm->ctx, TRUE);
    g_main_context_pop_thread_default(vm->ctx);
}

void vm_run_for(LilyVm *vm, uint64_t ns)
{
    int64_t deadline = g_get_monotonic_time() + (int64_t)MIN(ns / 1000, (uint64_t)G_MAXINT32);
    GSource *wake = g_source_new(&loop_wakeup_funcs, sizeof(GSource));
    g_source_set_ready_time(wake, deadline);
    g_source_attach(wake, vm->ctx);
    g_main_context_push_thread_default(vm->ctx);
    /* At least one pass, so that ready sources run even for ns == 0. */
    g_main_context_iteration(vm->ctx, FALSE);
    while (!vm->exited && g_get_monotonic_time() < deadline)
        g_main_context_iteration(vm->ctx, TRUE);
    /* Whatever fell due by the deadline runs, even if this process was late. */
    if (!vm->exited)
        g_main_context_iteration(vm->ctx, FALSE);
    g_main_context_pop_thread_default(vm->ctx);
    g_source_destroy(wake);
    g_source_unref(wake);
}

gboolean vm_exited(LilyVm *vm, int *status)
{
    if (vm->exited && status)
        *status = vm->exit_status;
    return vm->exited;
}
