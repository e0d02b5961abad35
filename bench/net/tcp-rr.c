/*
 * tcp-rr: TCP request/response latency for the network benchmarks.  The
 * server echoes fixed-size messages; the client times round trips one at a
 * time (TCP_NODELAY) and prints the median, 99th percentile and mean.
 *
 *   tcp-rr server ADDR PORT
 *   tcp-rr client ADDR PORT [COUNT [SIZE]]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RR_MAX_SIZE 65536
#define RR_WARMUP 50

static int rr_fail(const char *what)
{
    fprintf(stderr, "tcp-rr: %s: %s\n", what, strerror(errno));
    return 1;
}

static int rr_addr(const char *addr, const char *port, struct sockaddr_in *sin)
{
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)atoi(port));
    if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) {
        fprintf(stderr, "tcp-rr: '%s' is not an IPv4 address\n", addr);
        return -1;
    }
    return 0;
}

/* Move exactly len bytes; false at end of stream or on error. */
static int rr_full(int fd, char *buf, size_t len, int writing)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = writing ? send(fd, buf + done, len - done, MSG_NOSIGNAL)
                            : recv(fd, buf + done, len - done, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        done += (size_t)n;
    }
    return 1;
}

static void rr_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int rr_server(const char *addr, const char *port)
{
    struct sockaddr_in sin;
    if (rr_addr(addr, port, &sin) < 0)
        return 2;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *)&sin, sizeof sin) < 0)
        return rr_fail("bind");
    if (listen(ls, 8) < 0)
        return rr_fail("listen");
    static char buf[RR_MAX_SIZE];
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            return rr_fail("accept");
        }
        rr_nodelay(fd);
        /* The first 4 bytes say the message size; then echo until EOF. */
        uint32_t size;
        if (rr_full(fd, (char *)&size, sizeof size, 0) && size >= 1 && size <= RR_MAX_SIZE)
            while (rr_full(fd, buf, size, 0) && rr_full(fd, buf, size, 1))
                ;
        close(fd);
    }
}

static int rr_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int rr_client(const char *addr, const char *port, int count, uint32_t size)
{
    struct sockaddr_in sin;
    if (rr_addr(addr, port, &sin) < 0)
        return 2;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0)
        return rr_fail("connect");
    rr_nodelay(fd);
    if (!rr_full(fd, (char *)&size, sizeof size, 1))
        return rr_fail("send");
    char *buf = calloc(1, size);
    double *us = calloc((size_t)count, sizeof *us);
    for (int i = -RR_WARMUP; i < count; i++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (!rr_full(fd, buf, size, 1) || !rr_full(fd, buf, size, 0)) {
            fprintf(stderr, "tcp-rr: the server closed the connection after %d round trips\n",
                    i + RR_WARMUP);
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (i >= 0)
            us[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
    }
    close(fd);
    double sum = 0;
    for (int i = 0; i < count; i++)
        sum += us[i];
    qsort(us, (size_t)count, sizeof *us, rr_cmp);
    printf("median_us %.1f p99_us %.1f mean_us %.1f count %d size %u\n", us[count / 2],
           us[(int)((double)count * 0.99)], sum / count, count, size);
    free(us);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "server") == 0)
        return rr_server(argv[2], argv[3]);
    if (argc >= 4 && strcmp(argv[1], "client") == 0) {
        int count = argc > 4 ? atoi(argv[4]) : 2000;
        long size = argc > 5 ? atol(argv[5]) : 64;
        if (count < 1 || count > 10000000 || size < 1 || size > RR_MAX_SIZE) {
            fprintf(stderr, "tcp-rr: COUNT must be 1..10000000 and SIZE 1..%d\n", RR_MAX_SIZE);
            return 2;
        }
        return rr_client(argv[2], argv[3], count, (uint32_t)size);
    }
    fprintf(stderr, "usage: tcp-rr server ADDR PORT | tcp-rr client ADDR PORT [COUNT [SIZE]]\n");
    return 2;
}
