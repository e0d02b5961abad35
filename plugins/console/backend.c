/*
 * Host descriptors behind the console: stdio (raw terminal when stdin is a
 * tty), an append-only log file, a unix socket listener that takes one
 * client at a time, a pseudo-terminal, or nothing.
 */
#define _GNU_SOURCE
#include "plugins/console/backend.h"
#include "plugins/console/term.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

const char *const console_backend_names[] = {
    "stdio", "file", "socket", "pty", "null", NULL,
};

static gboolean set_errno_error(GError **error, int e, const char *what,
                                const char *path)
{
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                "cannot %s '%s': %s", what, path, g_strerror(e));
    return FALSE;
}

/* The process has one stdin and one stdout: one console may use them. */
static bool stdio_taken;

static gboolean open_stdio(ConsoleBackend *be, GError **error)
{
    if (stdio_taken) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                    "another console already uses backend = stdio; give this one "
                    "backend = file, socket, pty or null");
        return FALSE;
    }
    be->in_fd = STDIN_FILENO;
    be->out_fd = STDOUT_FILENO;
    /*
     * Started in the background of a shell (lilyvm &): touching the
     * terminal would stop the process with SIGTTOU/SIGTTIN, so leave it
     * alone and take no input.
     */
    pid_t fg = isatty(STDIN_FILENO) ? tcgetpgrp(STDIN_FILENO) : -1;
    if (fg > 0 && fg != getpgrp()) {
        be->background = true;
        be->in_fd = -1;
    } else if (isatty(STDIN_FILENO)) {
        if (!term_raw_enter(STDIN_FILENO, error))
            return FALSE;
        be->raw_term = true;
    }
    stdio_taken = true;
    return TRUE;
}

static gboolean open_file(ConsoleBackend *be, const char *path, GError **error)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
    if (fd < 0)
        return set_errno_error(error, errno, "open the log file", path);
    be->out_fd = fd;
    return TRUE;
}

/* Is someone already serving on the unix socket at path? */
static bool socket_in_use(const struct sockaddr_un *addr)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool in_use = connect(fd, (const struct sockaddr *)addr, sizeof *addr) == 0;
    close(fd);
    return in_use;
}

static gboolean open_socket(ConsoleBackend *be, const char *path, GError **error)
{
    struct sockaddr_un addr;
    struct stat st;

    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof addr.sun_path) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NAMETOOLONG,
                    "socket path '%s' is %zu bytes long; unix sockets "
                    "take at most %zu", path, strlen(path), sizeof addr.sun_path - 1);
        return FALSE;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);

    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                        "'%s' exists and is not a socket; remove it "
                        "or choose another path", path);
            return FALSE;
        }
        if (socket_in_use(&addr)) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                        "socket '%s' is in use by another program", path);
            return FALSE;
        }
        unlink(path); /* a stale socket from an earlier run */
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return set_errno_error(error, errno, "create a socket for", path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        int e = errno;
        close(fd);
        return set_errno_error(error, e, "bind the socket", path);
    }
    if (listen(fd, 1) < 0) {
        int e = errno;
        close(fd);
        unlink(path);
        return set_errno_error(error, e, "listen on the socket", path);
    }
    be->listen_fd = fd;
    return TRUE;
}

static gboolean open_pty(ConsoleBackend *be, const char *link, GError **error)
{
    char name[128] = "/dev/ptmx";
    struct termios tio;
    int e;

    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        return set_errno_error(error, errno, "open", "/dev/ptmx");
    if (grantpt(master) < 0 || unlockpt(master) < 0 ||
        ptsname_r(master, name, sizeof name) != 0) {
        e = errno;
        goto out_close_master;
    }
    int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) {
        e = errno;
        goto out_close_master;
    }
    /* The guest's bytes go through unchanged, whoever attaches. */
    if (tcgetattr(slave, &tio) == 0) {
        cfmakeraw(&tio);
        tcsetattr(slave, TCSANOW, &tio);
    }
    int flags = fcntl(master, F_GETFL);
    if (flags < 0 || fcntl(master, F_SETFL, flags | O_NONBLOCK) < 0) {
        e = errno;
        close(slave);
        goto out_close_master;
    }
    if (link) {
        struct stat st;
        if (lstat(link, &st) == 0 && S_ISLNK(st.st_mode))
            unlink(link); /* a link left by an earlier run */
        if (symlink(name, link) < 0) {
            e = errno;
            close(slave);
            close(master);
            return set_errno_error(error, e, "create the pty link", link);
        }
    }
    be->in_fd = be->out_fd = master;
    be->pty_slave_fd = slave;
    be->pty_name = g_strdup(name);
    return TRUE;

out_close_master:
    close(master);
    return set_errno_error(error, e, "set up the pseudo-terminal", name);
}

gboolean console_backend_open(ConsoleBackend *be, ConsoleBackendKind kind,
                              const char *path, GError **error)
{
    gboolean ok = TRUE;

    memset(be, 0, sizeof *be);
    be->kind = kind;
    be->in_fd = be->out_fd = be->listen_fd = be->pty_slave_fd = -1;

    switch (kind) {
    case CONSOLE_BACKEND_STDIO:
        ok = open_stdio(be, error);
        break;
    case CONSOLE_BACKEND_FILE:
        ok = open_file(be, path, error);
        break;
    case CONSOLE_BACKEND_SOCKET:
        ok = open_socket(be, path, error);
        break;
    case CONSOLE_BACKEND_PTY:
        ok = open_pty(be, path, error);
        break;
    case CONSOLE_BACKEND_NULL:
        break;
    }
    if (ok)
        be->path = g_strdup(path);
    return ok;
}

int console_backend_accept(ConsoleBackend *be)
{
    int fd = accept4(be->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return -1;
    if (be->in_fd >= 0) {
        static const char busy[] = "lilyvm: this console already has a client\r\n";
        ssize_t unused = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)unused;
        close(fd);
        return -1;
    }
    be->in_fd = be->out_fd = fd;
    return fd;
}

void console_backend_drop_client(ConsoleBackend *be)
{
    if (be->kind == CONSOLE_BACKEND_SOCKET && be->in_fd >= 0) {
        close(be->in_fd);
        be->in_fd = be->out_fd = -1;
    }
}

void console_backend_close(ConsoleBackend *be)
{
    switch (be->kind) {
    case CONSOLE_BACKEND_STDIO:
        if (be->raw_term)
            term_raw_leave();
        stdio_taken = false;
        break;
    case CONSOLE_BACKEND_FILE:
        if (be->out_fd >= 0)
            close(be->out_fd);
        break;
    case CONSOLE_BACKEND_SOCKET:
        console_backend_drop_client(be);
        if (be->listen_fd >= 0) {
            close(be->listen_fd);
            unlink(be->path);
        }
        break;
    case CONSOLE_BACKEND_PTY:
        if (be->path)
            unlink(be->path);
        if (be->pty_slave_fd >= 0)
            close(be->pty_slave_fd);
        if (be->out_fd >= 0)
            close(be->out_fd);
        break;
    case CONSOLE_BACKEND_NULL:
        break;
    }
    g_free(be->path);
    g_free(be->pty_name);
    be->path = be->pty_name = NULL;
    be->in_fd = be->out_fd = be->listen_fd = be->pty_slave_fd = -1;
}
