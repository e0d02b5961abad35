/*
 * Host side of the console: opens and closes what the UART's bytes travel
 * through (the process's stdio, a log file, a unix socket, a pty, nothing).
 * Event handling stays in console.c; this file only deals with descriptors.
 */
#ifndef LILYVM_CONSOLE_BACKEND_H
#define LILYVM_CONSOLE_BACKEND_H

#include <stdbool.h>
#include <glib.h>

typedef enum ConsoleBackendKind {
    CONSOLE_BACKEND_STDIO = 0, /* order of console_backend_names */
    CONSOLE_BACKEND_FILE,
    CONSOLE_BACKEND_SOCKET,
    CONSOLE_BACKEND_PTY,
    CONSOLE_BACKEND_NULL,
} ConsoleBackendKind;

extern const char *const console_backend_names[];

typedef struct ConsoleBackend {
    ConsoleBackendKind kind;
    int in_fd;        /* input from the host, -1: none (now) */
    int out_fd;       /* output to the host, -1: none (now) */
    int listen_fd;    /* socket: the listener */
    int pty_slave_fd; /* pty: kept open so the master never sees a hang-up */
    char *path;       /* file: the log; socket: the socket; pty: the symlink */
    char *pty_name;   /* pty: /dev/pts/N */
    bool raw_term;    /* stdio: the terminal was put into raw mode */
    bool background;  /* stdio: stdin is a terminal we do not own (no input) */
} ConsoleBackend;

/*
 * console_backend_open() - open the host side of a console
 * @be: filled in
 * @kind: which backend
 * @path: file, socket or pty-symlink path (NULL where the backend takes none)
 * @error: says what failed and with which path
 *
 * Return: TRUE on success; on failure nothing stays open.
 */
gboolean console_backend_open(ConsoleBackend *be, ConsoleBackendKind kind,
                              const char *path, GError **error);

/* Socket: accept a waiting client (it becomes in_fd/out_fd); -1 if none or busy. */
int console_backend_accept(ConsoleBackend *be);
/* Socket: the client went away; close it and wait for the next one. */
void console_backend_drop_client(ConsoleBackend *be);
/* Close everything, remove the socket file and the pty symlink. */
void console_backend_close(ConsoleBackend *be);

#endif /* LILYVM_CONSOLE_BACKEND_H */
