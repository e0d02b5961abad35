/*
 * netpeer: the host side of the guest network tests where no python3 is at
 * hand (inside the initramfs of the nested-QEMU runs): echo and HTTP
 * servers, an HTTP client and a one-line TCP caller, and a generator of
 * deterministic test files.  Static, so it runs in a bare initramfs too.
 *
 *   netpeer pattern SIZE
 *   netpeer serve [-u UDPPORT] [-t TCPPORT] [-h HTTPPORT -d DIR] [-T SECONDS]
 *   netpeer freeport
 *   netpeer get [-w FILE:TEXT] [-T SECONDS] [-o OUT] HOST PORT PATH
 *   netpeer call [-w FILE:TEXT] [-T SECONDS] HOST PORT LINE
 *
 * serve prints the ports it listens on as its first line ("serve: udp echo U,
 * tcp echo T, http H"); a port given as 0 is one the kernel picks.  freeport
 * prints a TCP port of 127.0.0.1 that nobody listened on a moment ago.
 * Every mode ends by itself: servers after -T seconds (default 300), clients
 * when their deadline passes (default 60 s), waiting included.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NP_REQ_MAX 4096
#define NP_REPLY_MAX (64u << 20) /* an HTTP body larger than this is cut */
#define NP_CHILD_SECONDS 60      /* one served connection lives at most this long */

static const char *np_name = "netpeer";

static void np_die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", np_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void np_usage(void)
{
    fprintf(stderr,
            "usage: netpeer pattern SIZE\n"
            "       netpeer serve [-u UDPPORT] [-t TCPPORT] [-h HTTPPORT -d DIR] [-T SECONDS]\n"
            "       netpeer freeport\n"
            "       netpeer get [-w FILE:TEXT] [-T SECONDS] [-o OUT] HOST PORT PATH\n"
            "       netpeer call [-w FILE:TEXT] [-T SECONDS] HOST PORT LINE\n");
    exit(2);
}

/* A decimal number in lo..hi, or exit naming what was wrong. */
static unsigned long np_number(const char *what, const char *s, unsigned long lo,
                               unsigned long hi)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);

    if (errno || end == s || *end || v < lo || v > hi)
        np_die("%s: '%s' is not a number in %lu..%lu", what, s, lo, hi);
    return v;
}

static double np_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void np_sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* Write all of buf; -1 on an error. */
static int np_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* --- pattern --------------------------------------------------------------- */

/* SIZE bytes of an xorshift32 stream with a fixed seed: the same file everywhere. */
static int np_pattern(int argc, char **argv)
{
    if (argc != 2)
        np_usage();
    unsigned long size = np_number("SIZE", argv[1], 0, 1ul << 30);
    uint32_t x = 0x4c696c79; /* "Lily" */
    char buf[4096];

    while (size > 0) {
        size_t n = size < sizeof buf ? size : sizeof buf;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            buf[i] = (char)(x >> 24);
        }
        if (np_write_all(STDOUT_FILENO, buf, n) < 0)
            np_die("pattern: write: %s", strerror(errno));
        size -= n;
    }
    return 0;
}

/* --- serve ----------------------------------------------------------------- */

static int np_listen(int type, unsigned port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int one = 1;
    int fd = socket(AF_INET, type, 0);

    if (fd < 0)
        np_die("socket: %s", strerror(errno));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
        np_die("bind 127.0.0.1:%u (%s): %s", port, type == SOCK_DGRAM ? "udp" : "tcp",
               strerror(errno));
    if (type == SOCK_STREAM && listen(fd, 8) < 0)
        np_die("listen 127.0.0.1:%u: %s", port, strerror(errno));
    return fd;
}

/* The local port of a bound socket. */
static int np_port_of(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;

    if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        np_die("getsockname: %s", strerror(errno));
    return ntohs(a.sin_port);
}

static int np_freeport(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        np_usage();
    int fd = np_listen(SOCK_STREAM, 0);
    printf("%d\n", np_port_of(fd));
    close(fd);
    return 0;
}

/* Echo everything back until the peer closes. */
static void np_tcp_echo(int c)
{
    char buf[4096];
    ssize_t n;

    while ((n = read(c, buf, sizeof buf)) > 0)
        if (np_write_all(c, buf, (size_t)n) < 0)
            break;
}

static void np_http_reply(int c, int code, const char *reason, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.0 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     code, reason, strlen(body));
    np_write_all(c, head, (size_t)n);
    np_write_all(c, body, strlen(body));
}

/* One HTTP/1.0 GET of a file directly in dir (names of [A-Za-z0-9._-], no dot first). */
static void np_http(int c, const char *dir)
{
    char req[NP_REQ_MAX + 1];
    size_t len = 0;

    while (len < NP_REQ_MAX) {
        ssize_t n = read(c, req + len, NP_REQ_MAX - len);
        if (n <= 0)
            return;
        len += (size_t)n;
        req[len] = 0;
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
            break;
    }
    req[len] = 0;
    if (strncmp(req, "GET /", 5) != 0) {
        np_http_reply(c, 405, "Method Not Allowed", "only GET\n");
        return;
    }
    char *name = req + 5, *end = name;
    while (*end && *end != ' ' && *end != '\r' && *end != '\n')
        end++;
    *end = 0;
    int ok = *name && *name != '.';
    for (char *p = name; *p && ok; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '.' || *p == '_' || *p == '-';
    char path[4096];
    int fd = -1;
    struct stat st;
    if (ok && (size_t)snprintf(path, sizeof path, "%s/%s", dir, name) < sizeof path)
        fd = open(path, O_RDONLY);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        np_http_reply(c, 404, "Not Found", "no such file\n");
        return;
    }
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n"
                     "Content-Length: %lld\r\nConnection: close\r\n\r\n",
                     (long long)st.st_size);
    if (np_write_all(c, head, (size_t)n) == 0) {
        char buf[16384];
        ssize_t got;
        while ((got = read(fd, buf, sizeof buf)) > 0)
            if (np_write_all(c, buf, (size_t)got) < 0)
                break;
    }
    close(fd);
}

/* Each TCP connection gets a child with its own deadline. */
static void np_serve_conn(int lfd, int http, const char *dir)
{
    int c = accept(lfd, NULL, NULL);

    if (c < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        alarm(NP_CHILD_SECONDS);
        if (http)
            np_http(c, dir);
        else
            np_tcp_echo(c);
        shutdown(c, SHUT_WR);
        /* Let the peer read everything before the socket goes away. */
        char sink[512];
        while (read(c, sink, sizeof sink) > 0)
            ;
        _exit(0);
    }
    close(c);
}

static int np_serve(int argc, char **argv)
{
    int udp = -1, tcp = -1, http = -1;
    unsigned seconds = 300;
    const char *dir = NULL;
    int opt;

    while ((opt = getopt(argc, argv, "u:t:h:d:T:")) != -1) {
        switch (opt) {
        case 'u': udp = (int)np_number("-u", optarg, 0, 65535); break;
        case 't': tcp = (int)np_number("-t", optarg, 0, 65535); break;
        case 'h': http = (int)np_number("-h", optarg, 0, 65535); break;
        case 'd': dir = optarg; break;
        case 'T': seconds = (unsigned)np_number("-T", optarg, 1, 86400); break;
        default: np_usage();
        }
    }
    if (optind != argc || (udp < 0 && tcp < 0 && http < 0))
        np_usage();
    if (http >= 0 && !dir)
        np_die("serve: -h needs -d DIR (the files to serve)");

    struct sigaction sa = { .sa_handler = SIG_IGN, .sa_flags = SA_NOCLDWAIT };
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    alarm(seconds);

    struct pollfd p[3];
    int kind[3], n = 0;
    if (udp >= 0) {
        p[n] = (struct pollfd){ .fd = np_listen(SOCK_DGRAM, (unsigned)udp), .events = POLLIN };
        udp = np_port_of(p[n].fd);
        kind[n++] = 0;
    }
    if (tcp >= 0) {
        p[n] = (struct pollfd){ .fd = np_listen(SOCK_STREAM, (unsigned)tcp), .events = POLLIN };
        tcp = np_port_of(p[n].fd);
        kind[n++] = 1;
    }
    if (http >= 0) {
        p[n] = (struct pollfd){ .fd = np_listen(SOCK_STREAM, (unsigned)http), .events = POLLIN };
        http = np_port_of(p[n].fd);
        kind[n++] = 2;
    }
    printf("serve: udp echo %d, tcp echo %d, http %d%s%s\n", udp, tcp, http,
           dir ? " from " : "", dir ? dir : "");
    fflush(stdout);
    for (;;) {
        if (poll(p, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            np_die("serve: poll: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            if (!(p[i].revents & POLLIN))
                continue;
            if (kind[i] == 0) {
                char buf[2048];
                struct sockaddr_in from;
                socklen_t fl = sizeof from;
                ssize_t got = recvfrom(p[i].fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
                if (got >= 0)
                    sendto(p[i].fd, buf, (size_t)got, 0, (struct sockaddr *)&from, fl);
            } else {
                np_serve_conn(p[i].fd, kind[i] == 2, dir);
            }
        }
    }
    return 0; /* not reached: SIGALRM ends the server */
}

/* --- clients --------------------------------------------------------------- */

/* Wait until FILE holds TEXT (spec "FILE:TEXT"), or the deadline; 0 when seen. */
static int np_wait_for(const char *spec, double deadline)
{
    const char *colon = strchr(spec, ':');

    if (!colon || colon == spec || !colon[1])
        np_die("-w '%s': expected FILE:TEXT", spec);
    char *file = strndup(spec, (size_t)(colon - spec));
    const char *text = colon + 1;
    int seen = -1;

    while (seen < 0 && np_now() < deadline) {
        FILE *f = fopen(file, "rb");
        if (f) {
            static char buf[1 << 20];
            size_t len = fread(buf, 1, sizeof buf, f);
            fclose(f);
            if (memmem(buf, len, text, strlen(text)))
                seen = 0;
        }
        if (seen < 0)
            np_sleep_ms(100);
    }
    if (seen < 0)
        printf("%s: '%s' never appeared in %s\n", np_name, text, file);
    free(file);
    return seen;
}

/*
 * A TCP connection to host:port whose reads and writes give up at the
 * deadline (a slow guest may take many seconds to answer); -1 if refused.
 */
static int np_connect(const char *host, unsigned port, double deadline)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    double left = deadline - np_now();
    struct timeval tv = { .tv_sec = left > 1 ? (time_t)left : 1 };

    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        np_die("'%s' is not a dotted IPv4 address", host);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        np_die("socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send req, read the whole answer (until close, at most cap bytes); its length or -1. */
static long np_exchange(int fd, const char *req, char *buf, size_t cap, int until_newline)
{
    size_t len = 0;

    if (np_write_all(fd, req, strlen(req)) < 0)
        return -1;
    while (len < cap) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return len ? (long)len : -1;
        if (n == 0)
            break;
        len += (size_t)n;
        if (until_newline && memchr(buf, '\n', len))
            break;
    }
    return (long)len;
}

/* Common client options; returns the index of the first operand. */
static int np_client_opts(int argc, char **argv, const char **wait, double *deadline,
                          const char **out)
{
    unsigned seconds = 60;
    int opt;

    while ((opt = getopt(argc, argv, out ? "w:T:o:" : "w:T:")) != -1) {
        switch (opt) {
        case 'w': *wait = optarg; break;
        case 'T': seconds = (unsigned)np_number("-T", optarg, 1, 86400); break;
        case 'o': *out = optarg; break;
        default: np_usage();
        }
    }
    *deadline = np_now() + seconds;
    return optind;
}

/*
 * GET http://HOST:PORT/PATH; retried every half second while the connection
 * is refused or closed without an answer (a forward whose guest is not
 * listening yet), not after a request that timed out.  Prints "get: HTTP CODE, N bytes"; 0 for any HTTP answer.
 */
static int np_get(int argc, char **argv)
{
    const char *wait = NULL, *out = NULL;
    double deadline;
    int i = np_client_opts(argc, argv, &wait, &deadline, &out);

    if (argc - i != 3)
        np_usage();
    const char *host = argv[i], *path = argv[i + 2];
    unsigned port = (unsigned)np_number("PORT", argv[i + 1], 1, 65535);
    if (wait && np_wait_for(wait, deadline) < 0)
        return 1;

    char req[1024];
    snprintf(req, sizeof req, "GET /%s HTTP/1.0\r\nHost: %s:%u\r\nUser-Agent: netpeer\r\n\r\n",
             path[0] == '/' ? path + 1 : path, host, port);
    char *buf = malloc(NP_REPLY_MAX);
    if (!buf)
        np_die("get: out of memory");
    long len = -1;
    unsigned tries = 0;
    int timed_out = 0;
    while (np_now() < deadline) {
        tries++;
        int fd = np_connect(host, port, deadline);
        if (fd >= 0) {
            len = np_exchange(fd, req, buf, NP_REPLY_MAX, 0);
            /* A request that went out and got no answer in time is not sent again. */
            timed_out = len < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
            close(fd);
            if (len > 0 || timed_out)
                break;
        }
        np_sleep_ms(500);
    }
    if (len <= 0) {
        printf("get: no answer from %s:%u after %u tries%s\n", host, port, tries,
               timed_out ? " (the last one timed out)" : "");
        free(buf);
        return 1;
    }
    int code = 0;
    char *body = memmem(buf, (size_t)len, "\r\n\r\n", 4);
    if (sscanf(buf, "HTTP/%*d.%*d %d", &code) != 1 || !body) {
        printf("get: not an HTTP answer (%ld bytes)\n", len);
        free(buf);
        return 1;
    }
    body += 4;
    size_t blen = (size_t)(buf + len - body);
    if (out) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || np_write_all(fd, body, blen) < 0)
            np_die("get: %s: %s", out, strerror(errno));
        close(fd);
    }
    printf("get: HTTP %d, %zu bytes (try %u)\n", code, blen, tries);
    free(buf);
    return 0;
}

/*
 * Connect (retrying like get), send LINE and a newline, read one line back
 * and print it as "call: got <LINE>" (non-printable bytes as \xNN).
 */
static int np_call(int argc, char **argv)
{
    const char *wait = NULL;
    double deadline;
    int i = np_client_opts(argc, argv, &wait, &deadline, NULL);

    if (argc - i != 3)
        np_usage();
    const char *host = argv[i];
    unsigned port = (unsigned)np_number("PORT", argv[i + 1], 1, 65535);
    if (wait && np_wait_for(wait, deadline) < 0)
        return 1;
    char req[1024], buf[1024];
    snprintf(req, sizeof req, "%s\n", argv[i + 2]);
    long len = -1;
    while (np_now() < deadline) {
        int fd = np_connect(host, port, deadline);
        if (fd >= 0) {
            len = np_exchange(fd, req, buf, sizeof buf, 1);
            int timed_out = len < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
            close(fd);
            if (len > 0 || timed_out)
                break;
        }
        np_sleep_ms(500);
    }
    if (len <= 0) {
        printf("call: no answer from %s:%u\n", host, port);
        return 1;
    }
    printf("call: got ");
    for (long k = 0; k < len && buf[k] != '\n'; k++) {
        unsigned char ch = (unsigned char)buf[k];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\')
            putchar(ch);
        else
            printf("\\x%02x", ch);
    }
    putchar('\n');
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2)
        np_usage();
    if (!strcmp(argv[1], "pattern"))
        return np_pattern(argc - 1, argv + 1);
    if (!strcmp(argv[1], "serve"))
        return np_serve(argc - 1, argv + 1);
    if (!strcmp(argv[1], "freeport"))
        return np_freeport(argc - 1, argv + 1);
    if (!strcmp(argv[1], "get"))
        return np_get(argc - 1, argv + 1);
    if (!strcmp(argv[1], "call"))
        return np_call(argc - 1, argv + 1);
    np_usage();
    return 2;
}
