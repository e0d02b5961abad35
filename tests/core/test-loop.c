/* Main loop: VM clock, timers in deadline order, fd watches, VM exit. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/timerfd.h>
#include "tests/core/testutil.h"

typedef struct Fired {
    int order[16];
    int n;
} Fired;

static Fired fired;

typedef struct TimerArg {
    int id;
} TimerArg;

static void on_timer(void *opaque)
{
    TimerArg *a = opaque;
    if (fired.n < 16)
        fired.order[fired.n++] = a->id;
}

/* Run until n timers fired, without depending on how fast the host is. */
static void run_until_fired(LilyVm *vm, int n)
{
    for (int i = 0; i < 1000 && fired.n < n && !vm_exited(vm, NULL); i++)
        vm_run_for(vm, 5 * 1000 * 1000);
}

static void test_order(void)
{
    LilyVm *vm = test_vm_from("[device r]\nplugin = test-regs\n");
    const LilyHost *h = hostapi_table();
    LilyInstance *r = vm_find_instance(vm, "r");
    TimerArg args[5] = { { 1 }, { 2 }, { 3 }, { 4 }, { 5 } };
    LilyTimer *t[5];
    for (int i = 0; i < 5; i++)
        t[i] = h->timer_new(r, on_timer, &args[i]);
    uint64_t now = h->clock_ns(r);
    memset(&fired, 0, sizeof fired);
    h->timer_mod(t[0], now + 3000000);
    h->timer_mod(t[1], now + 1000000);
    h->timer_mod(t[2], now + 2000000);
    h->timer_mod(t[3], now + 2000000);  /* same deadline: armed later, fires later */
    h->timer_mod(t[4], now + 1500000);
    h->timer_del(t[4]);                 /* deleted: never fires */
    run_until_fired(vm, 4);
    vm_run_for(vm, 0);
    g_assert_cmpint(fired.n, ==, 4);
    g_assert_cmpint(fired.order[0], ==, 2);
    g_assert_cmpint(fired.order[1], ==, 3);
    g_assert_cmpint(fired.order[2], ==, 4);
    g_assert_cmpint(fired.order[3], ==, 1);
    g_assert_cmpuint(h->clock_ns(r), >=, now + 3000000);
    for (int i = 0; i < 5; i++)
        h->timer_free(t[i]);
    vm_free(vm);
}

static void test_rearm(void)
{
    LilyVm *vm = test_vm_from("[device r]\nplugin = test-regs\n");
    const LilyHost *h = hostapi_table();
    LilyInstance *r = vm_find_instance(vm, "r");
    TimerArg a = { 1 }, b = { 2 };
    LilyTimer *ta = h->timer_new(r, on_timer, &a), *tb = h->timer_new(r, on_timer, &b);
    uint64_t now = h->clock_ns(r);
    memset(&fired, 0, sizeof fired);
    h->timer_mod(ta, now + 1000000);
    h->timer_mod(tb, now + 2000000);
    h->timer_mod(ta, now + 3000000);  /* moved after b */
    run_until_fired(vm, 2);
    g_assert_cmpint(fired.n, ==, 2);
    g_assert_cmpint(fired.order[0], ==, 2);
    g_assert_cmpint(fired.order[1], ==, 1);
    /* A deadline in the past fires on the next pass. */
    h->timer_mod(tb, 0);
    run_until_fired(vm, 3);
    g_assert_cmpint(fired.order[2], ==, 2);
    /* Timers left armed are released with the VM. */
    h->timer_mod(ta, now + 1000000000ull);
    vm_free(vm);
}

static LilyInstance *exit_inst;

static void on_exit_timer(void *opaque)
{
    hostapi_table()->vm_exit(exit_inst, 42);
}

static void test_exit(void)
{
    LilyVm *vm = test_vm_from("[device r]\nplugin = test-regs\n");
    const LilyHost *h = hostapi_table();
    exit_inst = vm_find_instance(vm, "r");
    LilyTimer *t = h->timer_new(exit_inst, on_exit_timer, NULL);
    h->timer_mod(t, h->clock_ns(exit_inst) + 1000000);
    int status = -1;
    g_assert_false(vm_exited(vm, &status));
    vm_run(vm);  /* returns because the timer ends the VM */
    g_assert_true(vm_exited(vm, &status));
    g_assert_cmpint(status, ==, 42);
    h->vm_exit(exit_inst, 7);  /* the first exit wins */
    vm_exited(vm, &status);
    g_assert_cmpint(status, ==, 42);
    vm_free(vm);
}

static void test_fail(void)
{
    LilyVm *vm = test_vm_from("[device r]\nplugin = test-regs\n");
    hostapi_table()->vm_fail(vm_find_instance(vm, "r"), "test failure %d (expected)", 1);
    int status = 0;
    g_assert_true(vm_exited(vm, &status));
    g_assert_cmpint(status, ==, LILYVM_EXIT_CRASH);
    vm_free(vm);
}

static int watch_calls;
static unsigned watch_revents;

static gboolean on_readable(int fd, unsigned revents, void *opaque)
{
    char c;
    watch_calls++;
    watch_revents = revents;
    g_assert_cmpint(read(fd, &c, 1), ==, 1);
    return watch_calls < 2;  /* the second call removes the watch */
}

static void test_fd_watch(void)
{
    LilyVm *vm = test_vm_from("[device r]\nplugin = test-regs\n");
    const LilyHost *h = hostapi_table();
    int p[2];
    g_assert_cmpint(pipe(p), ==, 0);
    watch_calls = 0;
    LilyWatch *w = h->fd_watch(vm_find_instance(vm, "r"), p[0], LILY_IO_IN, on_readable, NULL);
    g_assert_nonnull(w);
    vm_run_for(vm, 1000000);
    g_assert_cmpint(watch_calls, ==, 0);
    g_assert_cmpint(write(p[1], "ab", 2), ==, 2);
    for (int i = 0; i < 100 && watch_calls < 2; i++)
        vm_run_for(vm, 1000000);
    g_assert_cmpint(watch_calls, ==, 2);
    g_assert_true(watch_revents & LILY_IO_IN);
    g_assert_cmpint(write(p[1], "c", 1), ==, 1);
    vm_run_for(vm, 2000000);
    g_assert_cmpint(watch_calls, ==, 2);  /* removed: no more calls */
    g_assert_cmpuint(vm->watches->len, ==, 0);
    close(p[0]);
    close(p[1]);
    vm_free(vm);
}

static void test_clock(void)
{
    LilyVm *vm = test_vm_from("[device r]\nplugin = test-regs\n");
    LilyInstance *r = vm_find_instance(vm, "r");
    uint64_t a = hostapi_table()->clock_ns(r);
    vm_run_for(vm, 1000000);
    uint64_t b = hostapi_table()->clock_ns(r);
    g_assert_cmpuint(b, >=, a + 1000000);
    vm_free(vm);
}

/*
 * A CPU runs the guest from a timer that re-arms itself at the current time
 * after each slice.  A slice may take longer than the timers' periods (a
 * trap costs milliseconds under nested emulation), so such timers are due
 * again at once: host I/O must still be served between two slices, or
 * received frames wait in their sockets until the whole backlog is worked
 * off (seen as tens of seconds under ptrace).
 */
static LilyInstance *busy_inst;
static LilyTimer *busy_timer;
static int busy_runs, busy_runs_at_watch;

static void on_busy_slice(void *opaque)
{
    const LilyHost *h = hostapi_table();
    busy_runs++;
    if (busy_runs_at_watch < 0 && busy_runs < 100000)
        h->timer_mod(busy_timer, h->clock_ns(busy_inst));
}

static gboolean on_busy_readable(int fd, unsigned revents, void *opaque)
{
    char c;
    g_assert_cmpint(read(fd, &c, 1), ==, 1);
    busy_runs_at_watch = busy_runs;
    return FALSE;
}

static void test_busy_timer_yields(void)
{
    LilyVm *vm = test_vm_from("[device r]\nplugin = test-regs\n");
    const LilyHost *h = hostapi_table();
    int p[2];
    g_assert_cmpint(pipe(p), ==, 0);
    busy_inst = vm_find_instance(vm, "r");
    busy_timer = h->timer_new(busy_inst, on_busy_slice, NULL);
    busy_runs = 0;
    busy_runs_at_watch = -1;
    g_assert_nonnull(h->fd_watch(busy_inst, p[0], LILY_IO_IN, on_busy_readable, NULL));
    g_assert_cmpint(write(p[1], "x", 1), ==, 1);
    h->timer_mod(busy_timer, h->clock_ns(busy_inst));
    for (int i = 0; i < 100 && busy_runs_at_watch < 0; i++)
        h->loop_iterate(busy_inst, false);
    /* Readable before the first pass: served after a slice or two, not a backlog. */
    g_assert_cmpint(busy_runs_at_watch, >=, 0);
    g_assert_cmpint(busy_runs_at_watch, <=, 2);
    h->timer_free(busy_timer);
    close(p[0]);
    close(p[1]);
    vm_free(vm);
}

static LilyInstance *nest_inst;
static int nest_iterations;

/* Runs "the guest" from a timer, servicing the loop itself until the VM ends. */
static void on_cpu_start(void *opaque)
{
    const LilyHost *h = hostapi_table();
    while (h->loop_iterate(nest_inst, true))
        nest_iterations++;
    g_assert_false(h->vm_running(nest_inst));
}

static void test_nested_iterate(void)
{
    LilyVm *vm = test_vm_from("[device r]\nplugin = test-regs\n");
    const LilyHost *h = hostapi_table();
    nest_inst = vm_find_instance(vm, "r");
    nest_iterations = 0;
    g_assert_cmpuint(h->timer_next_deadline(nest_inst), ==, UINT64_MAX);
    LilyTimer *start = h->timer_new(nest_inst, on_cpu_start, NULL);
    LilyTimer *end = h->timer_new(nest_inst, on_exit_timer, NULL);
    exit_inst = nest_inst;
    uint64_t now = h->clock_ns(nest_inst);
    h->timer_mod(end, now + 2000000);
    h->timer_mod(start, now);
    g_assert_cmpuint(h->timer_next_deadline(nest_inst), ==, now);
    g_assert_true(h->vm_running(nest_inst));
    vm_run(vm);
    int status = 0;
    g_assert_true(vm_exited(vm, &status));
    g_assert_cmpint(status, ==, 42);  /* the end timer fired inside the nested loop */
    g_assert_false(h->loop_iterate(nest_inst, true));  /* does not block once ended */
    h->timer_free(start);
    h->timer_free(end);
    vm_free(vm);
}

static int count_threads(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    g_assert_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_signals(void)
{
    /* The guest process is forked from init: the VM must still have one thread. */
    LilyVm *vm = test_vm_new();
    loop_watch_signals(vm);
    GError *err = NULL;
    g_assert_true(vm_configure_data(vm, "[device r]\nplugin = test-regs\n", "t.conf", &err));
    g_assert_true(vm_realize(vm, &err));
    g_assert_cmpint(count_threads(), ==, 1);
    raise(SIGTERM);
    for (int i = 0; i < 100 && !vm_exited(vm, NULL); i++)
        vm_run_for(vm, 1000000);
    int status = 0;
    g_assert_true(vm_exited(vm, &status));
    g_assert_cmpint(status, ==, 128 + SIGTERM);
    vm_free(vm);
    /* The VM is gone: the signals have their previous actions again. */
    struct sigaction sa;
    g_assert_cmpint(sigaction(SIGTERM, NULL, &sa), ==, 0);
    g_assert_true(sa.sa_handler == SIG_DFL);
}

/* Nanoseconds left on the timers' timerfd (0: disarmed) after a loop pass. */
static uint64_t timerfd_left(LilyVm *vm)
{
    vm_run_for(vm, 0);  /* the loop sets the timerfd before it polls */
    struct itimerspec its;
    g_assert_cmpint(timerfd_gettime(loop_timer_fd(vm), &its), ==, 0);
    g_assert_cmpint(its.it_interval.tv_sec, ==, 0);  /* always one-shot */
    g_assert_cmpint(its.it_interval.tv_nsec, ==, 0);
    return (uint64_t)its.it_value.tv_sec * 1000000000 + (uint64_t)its.it_value.tv_nsec;
}

/*
 * The timers wake the loop through a timerfd set to the earliest deadline
 * (GLib alone sleeps in whole milliseconds) before each poll; it is
 * disarmed when no timer is armed, hidden from the guest process and closed with the VM.  The
 * deadlines are 100 s and 50 s away so that no host is slow enough to reach
 * them during the test.
 */
static void test_timerfd(void)
{
    LilyVm *vm = test_vm_from("[device r]\nplugin = test-regs\n");
    const LilyHost *h = hostapi_table();
    LilyInstance *r = vm_find_instance(vm, "r");
    int fd = loop_timer_fd(vm);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(fcntl(fd, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
    g_assert_cmpint(fcntl(fd, F_GETFL) & O_NONBLOCK, ==, O_NONBLOCK);
    g_assert_cmpuint(h->timer_next_deadline(r), ==, UINT64_MAX);
    g_assert_cmpuint(timerfd_left(vm), ==, 0);

    TimerArg a = { 1 }, b = { 2 };
    LilyTimer *ta = h->timer_new(r, on_timer, &a), *tb = h->timer_new(r, on_timer, &b);
    const uint64_t s = 1000000000;
    uint64_t now = h->clock_ns(r);
    h->timer_mod(ta, now + 100 * s);
    uint64_t left = timerfd_left(vm);
    g_assert_cmpuint(left, >, 50 * s);
    g_assert_cmpuint(left, <=, 100 * s);
    h->timer_mod(tb, now + 50 * s);  /* earlier: the timerfd follows it */
    left = timerfd_left(vm);
    g_assert_cmpuint(left, >, 0);
    g_assert_cmpuint(left, <=, 50 * s);
    h->timer_del(tb);                /* back to a */
    g_assert_cmpuint(timerfd_left(vm), >, 50 * s);
    h->timer_del(ta);                /* nothing armed: disarmed */
    g_assert_cmpuint(timerfd_left(vm), ==, 0);

    /* A due timer fires through the timerfd, which is disarmed after. */
    memset(&fired, 0, sizeof fired);
    h->timer_mod(ta, h->clock_ns(r));
    run_until_fired(vm, 1);
    g_assert_cmpint(fired.n, ==, 1);
    g_assert_cmpuint(timerfd_left(vm), ==, 0);
    uint64_t count;
    g_assert_cmpint(read(fd, &count, sizeof count), ==, -1);  /* drained */
    g_assert_cmpint(errno, ==, EAGAIN);

    /* Freeing the last armed timer disarms it too. */
    h->timer_mod(tb, h->clock_ns(r) + 100 * s);
    g_assert_cmpuint(timerfd_left(vm), >, 0);
    h->timer_free(tb);
    g_assert_cmpuint(timerfd_left(vm), ==, 0);
    h->timer_free(ta);
    vm_free(vm);
    /* Nothing else opened a descriptor since: the number is free again. */
    g_assert_cmpint(fcntl(fd, F_GETFD), ==, -1);
    g_assert_cmpint(errno, ==, EBADF);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/core/loop/timer-order", test_order);
    g_test_add_func("/core/loop/timer-rearm", test_rearm);
    g_test_add_func("/core/loop/vm-exit", test_exit);
    g_test_add_func("/core/loop/vm-fail", test_fail);
    g_test_add_func("/core/loop/fd-watch", test_fd_watch);
    g_test_add_func("/core/loop/clock", test_clock);
    g_test_add_func("/core/loop/nested-iterate", test_nested_iterate);
    g_test_add_func("/core/loop/busy-timer-yields-to-io", test_busy_timer_yields);
    g_test_add_func("/core/loop/signals", test_signals);
    g_test_add_func("/core/loop/timerfd", test_timerfd);
    return g_test_run();
}
