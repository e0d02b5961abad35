/*
 * The net-socket core with the real Linux network stack as its guest: a
 * child process in a private network namespace owns a TAP device
 * configured as 10.0.2.15/24; this process (still in the host namespace)
 * carries the TAP's frames through the core, whose sockets reach servers
 * on the host's 127.0.0.1.  curl and dig in the namespace act as guest
 * programs.  Prints TAP; skips when no namespace or TAP device can be had.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "plugins/net-socket/ns.h"

/* Bytes each way for curl; NETSOCK_TAP_MB=N changes it (a throughput check). */
static unsigned DATA_LEN = 4u << 20;
#define DEADLINE_S 90

static int tap_fd = -1;
static GHashTable *watched; /* fd -> events */
static uint8_t *data_out;   /* what the host server sends */
static uint8_t *data_in;    /* what the guest uploads */
static size_t data_in_len;
static char workdir[] = "/tmp/netsock-tap-XXXXXX";

/* ---- the core's embedding ---------------------------------------------- */

static bool cb_output(void *o, const uint8_t *frame, size_t len)
{
    return write(tap_fd, frame, len) == (ssize_t)len;
}

static void cb_watch(void *o, int fd, unsigned events)
{
    if (events)
        g_hash_table_replace(watched, GINT_TO_POINTER(fd), GUINT_TO_POINTER(events));
    else
        g_hash_table_remove(watched, GINT_TO_POINTER(fd));
}

static uint64_t cb_now(void *o)
{
    return (uint64_t)g_get_monotonic_time() * 1000u;
}

static void cb_log(void *o, int level, const char *msg)
{
    if (level <= 2)
        printf("# core: %s\n", msg);
}

static const NsCallbacks callbacks = {
    .output = cb_output, .watch = cb_watch, .now_ns = cb_now, .log = cb_log,
};

/* ---- host-side servers (threads, blocking I/O) ------------------------- */

static int listen_loopback(int type, uint16_t *port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t sl = sizeof sa;
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0 ||
        (type == SOCK_STREAM && listen(fd, 4) < 0))
        abort();
    *port = ntohs(sa.sin_port);
    return fd;
}

/* A minimal HTTP server: GET sends data_out, PUT stores the body. */
static void *http_thread(void *arg)
{
    int lfd = (int)(intptr_t)arg;

    for (;;) {
        int c = accept(lfd, NULL, NULL);
        char req[4096];
        size_t got = 0;
        char *end, *cl;

        if (c < 0)
            return NULL;
        while (got < sizeof req - 1) {
            ssize_t n = recv(c, req + got, sizeof req - 1 - got, 0);
            if (n <= 0)
                break;
            got += (size_t)n;
            req[got] = 0;
            if ((end = strstr(req, "\r\n\r\n")))
                break;
        }
        req[got] = 0;
        end = strstr(req, "\r\n\r\n");
        if (!end) {
            close(c);
            continue;
        }
        if (!strncmp(req, "GET ", 4)) {
            char hdr[128];
            int h = snprintf(hdr, sizeof hdr,
                             "HTTP/1.0 200 OK\r\nContent-Length: %u\r\n\r\n", DATA_LEN);
            size_t off = 0;
            if (send(c, hdr, (size_t)h, MSG_NOSIGNAL) != h)
                goto next;
            while (off < DATA_LEN) {
                ssize_t n = send(c, data_out + off, DATA_LEN - off, MSG_NOSIGNAL);
                if (n <= 0)
                    break;
                off += (size_t)n;
            }
        } else if (!strncmp(req, "PUT ", 4) &&
                   (cl = strcasestr(req, "Content-Length:"))) {
            size_t want = strtoul(cl + 15, NULL, 10), have;
            static const char ok[] = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
            if (want > DATA_LEN)
                goto next;
            have = got - (size_t)(end + 4 - req);
            memcpy(data_in, end + 4, have);
            while (have < want) {
                ssize_t n = recv(c, data_in + have, want - have, 0);
                if (n <= 0)
                    break;
                have += (size_t)n;
            }
            data_in_len = have;
            send(c, ok, sizeof ok - 1, MSG_NOSIGNAL);
        }
    next:
        close(c);
    }
}

/* A resolver that answers every A query with 192.0.2.77 (never contacted). */
static void *dns_thread(void *arg)
{
    int fd = (int)(intptr_t)arg;

    for (;;) {
        uint8_t q[512], r[600];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
        static const uint8_t answer[] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4,
                                          192, 0, 2, 77 };
        size_t qend = 12;

        if (n < 12)
            continue;
        /* Keep the question only (drop dig's EDNS record), add the answer. */
        while (qend < (size_t)n && q[qend])
            qend += 1u + q[qend];
        qend += 5;
        if (qend > (size_t)n)
            continue;
        memcpy(r, q, qend);
        r[2] = 0x81;
        r[3] = 0x80;
        r[6] = 0;
        r[7] = 1; /* one answer */
        memset(r + 8, 0, 4);
        memcpy(r + qend, answer, sizeof answer);
        sendto(fd, r, qend + sizeof answer, 0, (struct sockaddr *)&from, fl);
    }
    return NULL;
}

/* Host side of the forward test (a thread): results in fwd_result. */
static uint16_t fwd_port;
static volatile int fwd_done;
static char fwd_result[256];

static int connect_fwd(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = { .tv_sec = 20 };

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(fwd_port);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void *fwd_thread(void *arg)
{
    uint8_t *buf = g_malloc(1 << 20);
    size_t got = 0;
    bool pattern_ok = true;
    char reply[32] = "";
    ssize_t n;
    int fd;

    /* 1: the guest sends 1 MiB and closes. */
    fd = connect_fwd();
    while (fd >= 0 && (n = recv(fd, buf, 1 << 20, 0)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != (uint8_t)(got + (size_t)i))
                pattern_ok = false;
        got += (size_t)n;
    }
    if (fd >= 0)
        close(fd);
    /* 2: we send 1 MiB, shut down writing, and read the count. */
    fd = connect_fwd();
    if (fd >= 0) {
        size_t off = 0;
        memset(buf, 0x5a, 1 << 20);
        while (off < (1u << 20) && (n = send(fd, buf + off, (1u << 20) - off, MSG_NOSIGNAL)) > 0)
            off += (size_t)n;
        shutdown(fd, SHUT_WR);
        n = recv(fd, reply, sizeof reply - 1, MSG_WAITALL);
        if (n > 0)
            reply[n] = 0;
        close(fd);
    }
    snprintf(fwd_result, sizeof fwd_result, "%s %zu %s",
             pattern_ok && got == (1u << 20) ? "down-ok" : "down-bad", got,
             strcmp(reply, "1048576") == 0 ? "up-ok" : "up-bad");
    g_free(buf);
    fwd_done = 1;
    return NULL;
}

/* ---- the guest side: a child in its own network namespace --------------- */

static int send_fd(int sock, int fd)
{
    char byte = 'T';
    struct iovec iov = { &byte, 1 };
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = u.buf, .msg_controllen = sizeof u.buf };
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    return sendmsg(sock, &mh, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
    char byte;
    struct iovec iov = { &byte, 1 };
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = u.buf, .msg_controllen = sizeof u.buf };
    struct cmsghdr *c;
    int fd;

    if (recvmsg(sock, &mh, 0) != 1 || byte != 'T')
        return -1;
    c = CMSG_FIRSTHDR(&mh);
    if (!c || c->cmsg_type != SCM_RIGHTS)
        return -1;
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

/* A guest server for the port forward test: the first connection gets
 * 1 MiB, the second is read to its end and answered with its length. */
static const char guest_server_py[] =
    "import socket,os\n"
    "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
    "s.bind(('0.0.0.0',8080)); s.listen(4)\n"
    "open(os.environ['READY'],'w').close()\n"
    "for i in range(2):\n"
    "  c,_=s.accept()\n"
    "  if i==0:\n"
    "    c.sendall(bytes(range(256))*4096)\n"
    "  else:\n"
    "    n=0\n"
    "    while True:\n"
    "      d=c.recv(65536)\n"
    "      if not d: break\n"
    "      n+=len(d)\n"
    "    c.sendall(str(n).encode())\n"
    "  c.close()\n";

static bool have_guest_server;

/* Runs in the namespace; its results go back as lines on ctl. */
static void guest_main(int ctl, uint16_t http_port)
{
    struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
    int tfd;
    char cmd[512];
    FILE *out;

    if (unshare(CLONE_NEWNET) < 0) {
        dprintf(ctl, "skip cannot create a network namespace: %s\n", strerror(errno));
        _exit(0);
    }
    tfd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    strcpy(ifr.ifr_name, "tap0");
    if (tfd < 0 || ioctl(tfd, TUNSETIFF, &ifr) < 0) {
        dprintf(ctl, "skip no TAP device in the namespace: %s\n", strerror(errno));
        _exit(0);
    }
    if (system("ip link set lo up && ip link set tap0 address 52:54:00:12:34:56 && "
               "ip addr add 10.0.2.15/24 dev tap0 && ip link set tap0 up && "
               "ip route add default via 10.0.2.2") != 0) {
        dprintf(ctl, "skip could not configure tap0 with ip(8)\n");
        _exit(0);
    }
    /* The forward test's server, if python3 is there. */
    if (system("command -v python3 >/dev/null 2>&1") == 0) {
        char *script = g_build_filename(workdir, "server.py", NULL);
        char *ready = g_build_filename(workdir, "server.ready", NULL);
        g_file_set_contents(script, guest_server_py, -1, NULL);
        snprintf(cmd, sizeof cmd, "READY=%s timeout %d python3 %s &", ready, DEADLINE_S, script);
        if (system(cmd) == 0)
            for (int i = 0; i < 500 && !g_file_test(ready, G_FILE_TEST_EXISTS); i++)
                g_usleep(10000);
        dprintf(ctl, "ready%s\n", g_file_test(ready, G_FILE_TEST_EXISTS) ? " server" : "");
        g_free(script);
        g_free(ready);
    } else {
        dprintf(ctl, "ready\n");
    }
    send_fd(ctl, tfd);
    close(tfd);

    out = fdopen(dup(ctl), "w");
    setvbuf(out, NULL, _IOLBF, 0);
    snprintf(cmd, sizeof cmd,
             "curl -sS --max-time 30 -o %s/down http://10.0.2.2:%u/data", workdir, http_port);
    {
        gint64 t0 = g_get_monotonic_time();
        int rc = system(cmd);
        fprintf(out, "result download %d %.3f\n", rc, (g_get_monotonic_time() - t0) / 1e6);
    }
    snprintf(cmd, sizeof cmd,
             "curl -sS --max-time 30 -T %s/up http://10.0.2.2:%u/up -o /dev/null",
             workdir, http_port);
    {
        gint64 t0 = g_get_monotonic_time();
        int rc = system(cmd);
        fprintf(out, "result upload %d %.3f\n", rc, (g_get_monotonic_time() - t0) / 1e6);
    }
    if (system("command -v dig >/dev/null 2>&1") == 0) {
        snprintf(cmd, sizeof cmd,
                 "dig @10.0.2.3 +tries=1 +time=3 +short lilyvm.test A > %s/dig", workdir);
        fprintf(out, "result dns %d\n", system(cmd));
    } else {
        fprintf(out, "result dns skip\n");
    }
    fprintf(out, "done\n");
    _exit(0);
}

/* ---- the driver ------------------------------------------------------- */

static bool file_equals(const char *path, const uint8_t *want, size_t len)
{
    gchar *buf = NULL;
    gsize n = 0;
    bool eq = g_file_get_contents(path, &buf, &n, NULL) && n == len &&
              memcmp(buf, want, len) == 0;

    g_free(buf);
    return eq;
}

int main(void)
{
    int sp[2], ctl;
    uint16_t http_port, dns_port;
    int http_fd = listen_loopback(SOCK_STREAM, &http_port);
    int dns_fd = listen_loopback(SOCK_DGRAM, &dns_port);
    pthread_t th;
    pid_t child;
    NsConfig cfg;
    NsCtx *ctx;
    GError *err = NULL;
    GString *lines = g_string_new("");
    gint64 end;
    bool done = false;
    char *path;
    int results = 0;
    char *s;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getenv("NETSOCK_TAP_MB"))
        DATA_LEN = (unsigned)CLAMP(atoi(getenv("NETSOCK_TAP_MB")), 1, 1024) << 20;
    if (!mkdtemp(workdir)) {
        printf("1..0 # SKIP no temporary directory\n");
        return 0;
    }
    data_out = g_malloc(DATA_LEN);
    data_in = g_malloc(DATA_LEN);
    for (size_t i = 0; i < DATA_LEN; i++)
        data_out[i] = (uint8_t)(g_random_int() >> 7);
    path = g_build_filename(workdir, "up", NULL);
    g_assert_true(g_file_set_contents(path, (const char *)data_out, DATA_LEN, NULL));
    g_free(path);

    /* Fork before any thread exists: the child runs programs. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
        abort();
    child = fork();
    if (child == 0) {
        close(sp[0]);
        guest_main(sp[1], http_port);
    }
    close(sp[1]);
    ctl = sp[0];
    pthread_create(&th, NULL, http_thread, (void *)(intptr_t)http_fd);
    pthread_detach(th);
    pthread_create(&th, NULL, dns_thread, (void *)(intptr_t)dns_fd);
    pthread_detach(th);

    /* First line: ready or skip. */
    {
        char line[256];
        size_t n = 0;
        while (n < sizeof line - 1 && read(ctl, line + n, 1) == 1 && line[n] != '\n')
            n++;
        line[n] = 0;
        if (strncmp(line, "ready", 5) != 0) {
            printf("1..0 # SKIP %s\n", n > 5 ? line + 5 : "the namespace child failed");
            waitpid(child, NULL, 0);
            return 0;
        }
        have_guest_server = strstr(line, "server") != NULL;
    }
    tap_fd = recv_fd(ctl);
    if (tap_fd < 0) {
        printf("1..0 # SKIP could not receive the TAP descriptor\n");
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        return 0;
    }
    fcntl(tap_fd, F_SETFL, O_NONBLOCK);
    fcntl(ctl, F_SETFL, O_NONBLOCK);

    watched = g_hash_table_new(NULL, NULL);
    ns_config_default(&cfg);
    cfg.resolver = INADDR_LOOPBACK;
    cfg.resolver_port = dns_port;
    {
        /* tcp:127.0.0.1:(free port)-:8080 */
        static NsFwdSpec fwd = { .proto = NS_IPPROTO_TCP, .host_addr = INADDR_LOOPBACK,
                                 .guest_port = 8080 };
        int probe = listen_loopback(SOCK_STREAM, &fwd_port);
        close(probe);
        fwd.host_port = fwd_port;
        cfg.fwds = &fwd;
        cfg.nfwds = 1;
    }
    ctx = ns_new(&cfg, &callbacks, NULL, &ns_sock_posix, NULL, &err);
    g_assert_no_error(err);
    if (have_guest_server) {
        pthread_create(&th, NULL, fwd_thread, NULL);
        pthread_detach(th);
    } else {
        fwd_done = 1;
    }

    end = g_get_monotonic_time() + DEADLINE_S * G_USEC_PER_SEC;
    while (!(done && fwd_done) && g_get_monotonic_time() < end) {
        guint n = g_hash_table_size(watched) + 2, i = 2;
        struct pollfd *p = g_new0(struct pollfd, n);
        GHashTableIter it;
        gpointer k, v;

        p[0].fd = tap_fd;
        p[0].events = POLLIN;
        p[1].fd = ctl;
        p[1].events = POLLIN;
        g_hash_table_iter_init(&it, watched);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            p[i].fd = GPOINTER_TO_INT(k);
            p[i].events = (short)GPOINTER_TO_UINT(v);
            i++;
        }
        poll(p, n, 10);
        if (p[0].revents & POLLIN) {
            uint8_t frame[NS_FRAME_MAX];
            for (int b = 0; b < 64; b++) {
                ssize_t r = read(tap_fd, frame, sizeof frame);
                if (r <= 0)
                    break;
                ns_input(ctx, frame, (size_t)r);
            }
        }
        if (p[1].revents & (POLLIN | POLLHUP)) {
            char buf[256];
            ssize_t r;
            while ((r = read(ctl, buf, sizeof buf)) > 0)
                g_string_append_len(lines, buf, r);
            if (strstr(lines->str, "done\n") || r == 0)
                done = true;
        }
        for (i = 2; i < n; i++) {
            gpointer ev;
            if (p[i].revents &&
                g_hash_table_lookup_extended(watched, GINT_TO_POINTER(p[i].fd), NULL, &ev) &&
                (p[i].revents & (GPOINTER_TO_UINT(ev) | POLLERR | POLLHUP)))
                ns_sock_event(ctx, p[i].fd, (unsigned)p[i].revents);
        }
        ns_tick(ctx);
        g_free(p);
        if (getenv("NETSOCK_TAP_DEBUG")) {
            static gint64 last;
            if (g_get_monotonic_time() - last > 2 * G_USEC_PER_SEC) {
                GString *d = g_string_new("");
                last = g_get_monotonic_time();
                ns_tcp_dump(ctx, d);
                for (int k = 0; k < NS_ST_COUNT; k++)
                    if (ns_stat_get(ctx, k) && (k == NS_ST_TCP_OUT_OF_ORDER || k == NS_ST_TX_DROPPED || k == NS_ST_TCP_BAD))
                        g_string_append_printf(d, "%s=%" G_GUINT64_FORMAT " ", ns_stat_names[k], ns_stat_get(ctx, k));
                g_string_append_c(d, '\n');
                printf("# state:\n%s", d->str);
                g_string_free(d, TRUE);
            }
        }
    }
    if (!done)
        kill(child, SIGKILL);
    waitpid(child, NULL, 0);

    printf("1..5\n");
    s = strstr(lines->str, "result download ");
    path = g_build_filename(workdir, "down", NULL);
    if (s && atoi(s + 16) == 0 && file_equals(path, data_out, DATA_LEN))
        printf("ok %d - curl downloads %u MiB from a host loopback server intact\n", ++results, DATA_LEN >> 20);
    else
        printf("not ok %d - curl downloads %u MiB from a host loopback server intact\n", ++results, DATA_LEN >> 20);
    g_unlink(path);
    g_free(path);

    s = strstr(lines->str, "result upload ");
    if (s && atoi(s + 14) == 0 && data_in_len == DATA_LEN &&
        memcmp(data_in, data_out, DATA_LEN) == 0)
        printf("ok %d - curl uploads %u MiB to a host loopback server intact\n", ++results, DATA_LEN >> 20);
    else
        printf("not ok %d - curl uploads %u MiB to a host loopback server intact"
               " (received %zu bytes)\n", ++results, DATA_LEN >> 20, data_in_len);

    s = strstr(lines->str, "result dns ");
    path = g_build_filename(workdir, "dig", NULL);
    if (s && !strncmp(s + 11, "skip", 4)) {
        printf("ok %d # SKIP dig not installed (apt-get install bind9-dnsutils)\n", ++results);
    } else {
        gchar *answer = NULL;
        bool ok = s && atoi(s + 11) == 0 && g_file_get_contents(path, &answer, NULL, NULL) &&
                  strstr(answer, "192.0.2.77");
        printf("%s %d - dig through the DNS forwarder gets the fake resolver's answer\n",
               ok ? "ok" : "not ok", ++results);
        if (!ok && answer)
            printf("# dig said: %s\n", answer);
        g_free(answer);
    }
    g_unlink(path);
    g_free(path);

    if (!have_guest_server) {
        printf("ok %d # SKIP python3 not installed: no guest server for the forward test\n", ++results);
        printf("ok %d # SKIP python3 not installed: no guest server for the forward test\n", ++results);
    } else {
        printf("%s %d - hostfwd: 1 MiB from a guest server reaches a host client intact\n",
               fwd_done && strstr(fwd_result, "down-ok") ? "ok" : "not ok", ++results);
        printf("%s %d - hostfwd: 1 MiB from a host client reaches the guest server, then half-close\n",
               fwd_done && strstr(fwd_result, "up-ok") ? "ok" : "not ok", ++results);
        printf("# forward test: %s\n", fwd_done ? fwd_result : "did not finish");
    }
    if (!done)
        printf("# the guest side did not finish within %d s; its output:\n", DEADLINE_S);
    {
        char **l = g_strsplit(lines->str, "\n", -1);
        for (char **q = l; *q; q++)
            if (**q)
                printf("# guest: %s\n", *q);
        g_strfreev(l);
    }
    for (const char *const *f = (const char *const[]){ "up", "server.py", "server.ready", NULL }; *f; f++) {
        path = g_build_filename(workdir, *f, NULL);
        g_unlink(path);
        g_free(path);
    }
    g_rmdir(workdir);
    ns_free(ctx);
    return 0;
}
