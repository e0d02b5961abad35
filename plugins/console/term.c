/*
 * Raw terminal mode for the stdio console and the safety net that gives the
 * user their terminal back however the process ends.
 *
 * The saved settings live in static storage because signal handlers and the
 * atexit() hook need them without any allocation.  The hook is registered
 * from this shared object (linked with -z nodelete), so glibc runs it at
 * exit().
 *
 * Signals: an asynchronous signal (SIGTERM, SIGHUP, SIGPIPE, ...) is only
 * caught while its action is the default one, that is while it would kill
 * the process; a signal someone handles or ignores is left to them, since
 * the process survives it (the core ends the VM on SIGTERM and fini
 * restores the terminal then).  A fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
 * SIGABRT) is caught unless ignored, and the terminal is restored before
 * the previous handler runs, because that handler (a sanitizer's, say) may
 * end the process without running atexit() hooks.  After restoring, a
 * default action is re-raised so the process still dies of the signal.
 */
#include "plugins/console/term.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static const struct {
    int sig;
    bool fault; /* raised by the faulting instruction itself */
} term_fatal_signals[] = {
    { SIGHUP, false },  { SIGINT, false },  { SIGQUIT, false }, { SIGPIPE, false },
    { SIGTERM, false }, { SIGXCPU, false }, { SIGXFSZ, false },
    { SIGILL, true },   { SIGABRT, true },  { SIGFPE, true },   { SIGBUS, true },
    { SIGSEGV, true },
};
#define TERM_NSIG G_N_ELEMENTS(term_fatal_signals)

static struct termios term_saved;
static int term_fd = -1;
static pid_t term_owner;                      /* the process that changed the mode */
static volatile sig_atomic_t term_raw_active;
static bool term_hooks_installed;
static bool term_atexit_registered;
static struct sigaction term_old_actions[TERM_NSIG];
static bool term_hooked[TERM_NSIG]; /* we installed a handler for it */

void term_restore(void)
{
    int saved_errno = errno;

    /* A forked child (the guest process) must not touch the terminal. */
    if (term_raw_active && getpid() == term_owner) {
        term_raw_active = 0;
        tcsetattr(term_fd, TCSANOW, &term_saved);
    }
    errno = saved_errno;
}

static void term_atexit(void)
{
    term_restore();
}

static void term_signal(int sig, siginfo_t *info, void *uctx)
{
    term_restore();

    for (size_t i = 0; i < TERM_NSIG; i++) {
        if (term_fatal_signals[i].sig != sig)
            continue;
        struct sigaction *old = &term_old_actions[i];
        if (old->sa_flags & SA_SIGINFO) {
            old->sa_sigaction(sig, info, uctx);
        } else if (old->sa_handler == SIG_IGN) {
            /* ignored before we came: keep ignoring it */
        } else if (old->sa_handler != SIG_DFL) {
            old->sa_handler(sig);
        } else {
            /* The default action: it runs once this handler returns. */
            sigaction(sig, old, NULL);
            raise(sig);
        }
        return;
    }
}

static void term_install_hooks(void)
{
    if (term_hooks_installed)
        return;
    term_hooks_installed = true;
    if (!term_atexit_registered) {
        term_atexit_registered = true;
        atexit(term_atexit);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = term_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < TERM_NSIG; i++) {
        struct sigaction *old = &term_old_actions[i];
        term_hooked[i] = false;
        if (sigaction(term_fatal_signals[i].sig, NULL, old) < 0)
            continue;
        bool dfl = !(old->sa_flags & SA_SIGINFO) && old->sa_handler == SIG_DFL;
        bool ign = !(old->sa_flags & SA_SIGINFO) && old->sa_handler == SIG_IGN;
        if (term_fatal_signals[i].fault ? ign : !dfl)
            continue;
        term_hooked[i] = sigaction(term_fatal_signals[i].sig, &sa, NULL) == 0;
    }
}

void term_raw_leave(void)
{
    term_restore();
    if (!term_hooks_installed)
        return;
    for (size_t i = 0; i < TERM_NSIG; i++) {
        struct sigaction cur;
        /* Put back what was there, unless someone replaced us since. */
        if (term_hooked[i] && sigaction(term_fatal_signals[i].sig, NULL, &cur) == 0 &&
            (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == term_signal)
            sigaction(term_fatal_signals[i].sig, &term_old_actions[i], NULL);
        term_hooked[i] = false;
    }
    term_hooks_installed = false;
}

gboolean term_raw_enter(int fd, GError **error)
{
    struct termios raw;

    if (term_raw_active) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                    "the terminal is already in use by another stdio console");
        return FALSE;
    }
    if (tcgetattr(fd, &term_saved) < 0) {
        int e = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                    "cannot read the terminal settings of fd %d: %s", fd,
                    g_strerror(e));
        return FALSE;
    }
    term_fd = fd;
    term_owner = getpid();
    term_install_hooks();

    raw = term_saved;
    raw.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR |
                               IGNCR | ICRNL | IXON);
    raw.c_oflag |= OPOST;
    raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    raw.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
    raw.c_cflag |= CS8;
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;

    /* Mark raw first: a signal between the two steps must restore. */
    term_raw_active = 1;
    if (tcsetattr(fd, TCSANOW, &raw) < 0) {
        int e = errno;
        term_raw_active = 0;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                    "cannot put the terminal on fd %d into raw mode: %s", fd,
                    g_strerror(e));
        return FALSE;
    }
    return TRUE;
}
