/*
 * The LilyVM network demo kernel: brings the NE2000 up with DHCP, serves a
 * page on port 80 and offers a shell on COM1 (ifconfig, ping, nslookup,
 * wget, httpd status, poweroff).  "run=CMD;CMD..." on the Multiboot command
 * line runs commands at boot.
 */
#include <stdio.h>
#include <string.h>
#include <lily/cpu.h>
#include <lily/debugexit.h>
#include <lily/desc.h>
#include <lily/multiboot.h>
#include <lily/paging.h>
#include <lily/pic.h>
#include <lily/pit.h>
#include <lily/serial.h>
#include <lily/trap.h>

#include "../net/net.h"
#include "sha256.h"

#define TIMER_HZ 1000
#define NE2K_IRQ 9
#define LINE_MAX 256
#define CMDLINE_MAX 1024

void kmain(uint32_t magic, uint32_t mbi_phys);

static char boot_cmds[CMDLINE_MAX];
static int have_timer;
static uint32_t httpd_requests;
static struct tcp_conn *httpd_listener;

static void com1_write(const char *s, unsigned len)
{
    serial_write(SERIAL_COM1, s, len);
}

static void timer_irq(struct trap_frame *f)
{
    net_tick(1000 / TIMER_HZ);
    pic_eoi(0);
}

/* Without timer interrupts, time is estimated from the number of polls. */
static void idle_no_timer(void)
{
    static unsigned polls;
    if (++polls % 2000 == 0)
        net_tick(1);
}

static void idle(void)
{
    /* Interrupts stay enabled in the main loop; hlt waits for the next tick. */
    hlt();
}

/* ---- small parsing helpers ---- */

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

/* Split line into at most max words in place; returns the count. */
static int split(char *line, char **argv, int max)
{
    int n = 0;
    while (*line && n < max) {
        while (*line == ' ' || *line == '\t')
            *line++ = 0;
        if (!*line)
            break;
        argv[n++] = line;
        while (*line && *line != ' ' && *line != '\t')
            line++;
    }
    return n;
}

static int resolve(const char *host, ip4_t *ip)
{
    const char *err = "";
    if (dns_resolve(host, ip, 5000, &err) == 0)
        return 0;
    printf("%s: cannot resolve: %s\n", host, err);
    return -1;
}

static void httpd_pump(void);

/* One wait of the shell's loops: the network, then httpd's long answers. */
static void demo_wait(void)
{
    net_wait();
    httpd_pump();
}

/* Wait up to ms for *flag to become non-zero, serving the network meanwhile. */
static void wait_for(volatile int *flag, uint32_t ms)
{
    uint32_t start = net_now_ms;
    while (!*flag && net_now_ms - start < ms)
        demo_wait();
}

/* ---- commands ---- */

static void cmd_help(int argc, char **argv);

static void cmd_ifconfig(int argc, char **argv)
{
    char a[16], m[16], r[16], d[16];
    const uint8_t *mac = net_if.mac;

    if (!net_if.up) {
        printf("eth0: no NE2000 at %#x\n", NE2K_DEFAULT_IOBASE);
        return;
    }
    printf("eth0: ne2000 at %#x, mac %02x:%02x:%02x:%02x:%02x:%02x\n", NE2K_DEFAULT_IOBASE,
           mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    printf("  inet %s netmask %s router %s dns %s lease %us\n", ip4_format(net_if.addr, a),
           ip4_format(net_if.mask, m), ip4_format(net_if.router, r), ip4_format(net_if.dns, d),
           (unsigned)net_if.lease_s);
    printf("  rx %u frames (%u dropped), tx %u frames (%u errors)\n", (unsigned)net_if.rx_frames,
           (unsigned)net_if.rx_dropped, (unsigned)net_if.tx_frames, (unsigned)net_if.tx_errors);
    if (net_if.irq >= 0)
        printf("  irq %d, %u interrupts\n", net_if.irq, (unsigned)net_if.irqs);
    else
        printf("  polled (no interrupt)\n");
}

static void cmd_dhcp(int argc, char **argv)
{
    char a[16];
    if (dhcp_run(10000) < 0) {
        printf("dhcp: no answer\n");
        return;
    }
    printf("dhcp: bound to %s\n", ip4_format(net_if.addr, a));
}

#define PING_MAX 100

static struct {
    uint16_t id;
    uint32_t received;
    uint32_t rtt_min, rtt_max, rtt_sum; /* microseconds */
    uint64_t sent_tsc[PING_MAX + 1];     /* by sequence number */
    volatile int got;
} ping_state;

/* TSC cycles per microsecond: from tsc_khz= on the command line, else
 * measured once against the 1 kHz tick (which a slow VM may deliver late);
 * 0 without a timer (round trips are then timed in whole ms). */
static uint32_t tsc_per_us;

static void tsc_calibrate(void)
{
    uint32_t start, cycles;
    uint64_t t0;

    if (tsc_per_us || !have_timer)
        return;
    start = net_now_ms;
    while (net_now_ms == start)
        hlt();
    start = net_now_ms;
    t0 = rdtsc();
    while (net_now_ms - start < 50)
        hlt();
    cycles = (uint32_t)(rdtsc() - t0);
    tsc_per_us = cycles / 50000 ? cycles / 50000 : 1;
}

/* Round trip of the echo with this sequence number, in microseconds. */
static uint32_t ping_rtt_us(uint16_t seq, uint32_t rtt_ms)
{
    uint64_t d;

    if (!tsc_per_us || seq > PING_MAX || !ping_state.sent_tsc[seq])
        return rtt_ms * 1000;
    d = rdtsc() - ping_state.sent_tsc[seq];
    if (d >> 32)
        return rtt_ms * 1000;
    return (uint32_t)d / tsc_per_us;
}

static void ping_reply(ip4_t from, uint16_t id, uint16_t seq, uint32_t sent_ms)
{
    char a[16];
    uint32_t rtt_ms = net_now_ms - sent_ms, rtt;

    if (id != ping_state.id)
        return;
    rtt = ping_rtt_us(seq, rtt_ms);
    if (!ping_state.received || rtt < ping_state.rtt_min)
        ping_state.rtt_min = rtt;
    if (rtt > ping_state.rtt_max)
        ping_state.rtt_max = rtt;
    ping_state.rtt_sum += rtt;
    ping_state.received++;
    ping_state.got = 1;
    printf("reply from %s: icmp_seq=%u time=%u ms\n", ip4_format(from, a), seq, (unsigned)rtt_ms);
}

static void cmd_ping(int argc, char **argv)
{
    unsigned long count = 4;
    ip4_t ip;
    char a[16];

    if (argc < 2 || (argc > 2 && (parse_uint(argv[2], PING_MAX, &count) < 0 || count == 0))) {
        printf("usage: ping HOST [COUNT (1-100)]\n");
        return;
    }
    if (resolve(argv[1], &ip) < 0)
        return;
    tsc_calibrate();
    memset(&ping_state, 0, sizeof ping_state);
    ping_state.id = (uint16_t)net_random();
    icmp_on_reply = ping_reply;
    printf("PING %s (%s)\n", argv[1], ip4_format(ip, a));
    for (unsigned seq = 1; seq <= count; seq++) {
        uint32_t start = net_now_ms;
        ping_state.got = 0;
        ping_state.sent_tsc[seq] = rdtsc();
        icmp_ping(ip, ping_state.id, (uint16_t)seq);
        wait_for(&ping_state.got, 1000);
        /* One request a second, as ping does. */
        while (seq < count && net_now_ms - start < 1000)
            demo_wait();
    }
    icmp_on_reply = NULL;
    printf("%u packets transmitted, %u received\n", (unsigned)count,
           (unsigned)ping_state.received);
    if (ping_state.received) {
        uint32_t avg = (ping_state.rtt_sum + ping_state.received / 2) / ping_state.received;
        printf("rtt min/avg/max = %u.%03u/%u.%03u/%u.%03u ms\n",
               (unsigned)(ping_state.rtt_min / 1000), (unsigned)(ping_state.rtt_min % 1000),
               (unsigned)(avg / 1000), (unsigned)(avg % 1000),
               (unsigned)(ping_state.rtt_max / 1000), (unsigned)(ping_state.rtt_max % 1000));
    }
}

static void cmd_nslookup(int argc, char **argv)
{
    ip4_t ip;
    char a[16];
    const char *err = "";

    ip4_t server = net_if.dns;
    unsigned long port = 53;

    if (argc < 2 || argc > 3) {
        printf("usage: nslookup NAME [SERVER[:PORT]]\n");
        return;
    }
    if (argc == 3) {
        char *colon = strchr(argv[2], ':');
        if (colon)
            *colon = 0;
        if (ip4_parse(argv[2], &server) < 0 ||
            (colon && (parse_uint(colon + 1, 65535, &port) < 0 || port == 0))) {
            printf("nslookup: bad server %s (a.b.c.d or a.b.c.d:port)\n", argv[2]);
            return;
        }
    }
    if (dns_query(argv[1], server, (uint16_t)port, &ip, 5000, &err) < 0) {
        printf("nslookup: %s: %s\n", argv[1], err);
        return;
    }
    printf("%s has address %s\n", argv[1], ip4_format(ip, a));
}

/* ---- wget ---- */

static struct {
    struct sha256 sha;
    uint32_t body, total;
    char head[1024];
    unsigned head_len;
    int in_body, status;
    volatile int done; /* 1 closed, 2 reset/failed */
    uint32_t last_ms, start_ms;
} wg;

static void wget_data(struct tcp_conn *c, const uint8_t *data, size_t len)
{
    wg.total += (uint32_t)len;
    wg.last_ms = net_now_ms;
    while (!wg.in_body && len) {
        /* Collect the header up to the blank line. */
        if (wg.head_len < sizeof wg.head - 1)
            wg.head[wg.head_len++] = (char)*data;
        wg.head[wg.head_len] = 0;
        data++;
        len--;
        if (wg.head_len >= 4 && memcmp(wg.head + wg.head_len - 4, "\r\n\r\n", 4) == 0)
            wg.in_body = 1;
        else if (wg.head_len >= sizeof wg.head - 1) {
            tcp_abort(c);
            wg.done = 2;
            return;
        }
    }
    if (len) {
        sha256_update(&wg.sha, data, len);
        wg.body += (uint32_t)len;
    }
}

/*
 * The Content-Length the response header (NUL-terminated, status line
 * first) declares: 0 and *len set when one holds a decimal count that fits
 * 32 bits, -1 when there is none or it cannot be read.
 */
static int wget_content_length(const char *head, uint32_t *len)
{
    static const char name[] = "content-length:";
    const char *l = strchr(head, '\n');

    for (; l; l = strchr(l, '\n')) {
        unsigned i;
        l++;
        for (i = 0; name[i]; i++) {
            char ch = l[i];
            if (ch >= 'A' && ch <= 'Z')
                ch = (char)(ch - 'A' + 'a');
            if (ch != name[i])
                break;
        }
        if (name[i])
            continue;
        const char *v = l + i;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v < '0' || *v > '9')
            return -1;
        uint32_t n = 0;
        for (; *v >= '0' && *v <= '9'; v++) {
            uint32_t d = (uint32_t)(*v - '0');
            if (n > (0xffffffffu - d) / 10)
                return -1; /* more than the 32-bit byte count could reach */
            n = n * 10 + d;
        }
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v != '\r' && *v != '\n')
            return -1;
        *len = n;
        return 0;
    }
    return -1;
}

static void wget_event(struct tcp_conn *c, enum tcp_event ev)
{
    if (ev == TCP_EV_PEER_CLOSED) {
        tcp_close(c);
        wg.done = 1;
    } else if (ev == TCP_EV_RESET) {
        wg.done = wg.done ? wg.done : 2;
    } else if (ev == TCP_EV_CLOSED) {
        wg.done = wg.done ? wg.done : 1;
    }
}

static void cmd_wget(int argc, char **argv)
{
    char host[128], req[400], a[16];
    const char *url, *p, *path;
    unsigned long port = 80;
    struct tcp_conn *c;
    ip4_t ip;
    uint8_t digest[32];
    size_t hl;

    if (argc != 2 || strncmp(argv[1], "http://", 7) != 0) {
        printf("usage: wget http://HOST[:PORT]/PATH\n");
        return;
    }
    url = argv[1] + 7;
    for (p = url; *p && *p != ':' && *p != '/'; p++)
        ;
    hl = (size_t)(p - url);
    if (hl == 0 || hl >= sizeof host) {
        printf("wget: bad host in %s\n", argv[1]);
        return;
    }
    memcpy(host, url, hl);
    host[hl] = 0;
    if (*p == ':') {
        char num[8];
        const char *q = ++p;
        while (*p && *p != '/')
            p++;
        if ((size_t)(p - q) >= sizeof num) {
            printf("wget: bad port in %s (1-65535)\n", argv[1]);
            return;
        }
        memcpy(num, q, (size_t)(p - q));
        num[p - q] = 0;
        if (parse_uint(num, 65535, &port) < 0 || port == 0) {
            printf("wget: bad port in %s (1-65535)\n", argv[1]);
            return;
        }
    }
    path = *p ? p : "/";
    if (resolve(host, &ip) < 0)
        return;
    memset(&wg, 0, sizeof wg);
    sha256_init(&wg.sha);
    snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: lilyvm-demo\r\n"
             "Connection: close\r\n\r\n", path, host);
    if (strlen(req) >= sizeof req - 1) {
        printf("wget: path too long\n");
        return;
    }
    printf("wget: connecting to %s:%u\n", ip4_format(ip, a), (unsigned)port);
    c = tcp_connect(ip, (uint16_t)port, wget_data, wget_event, NULL);
    if (!c) {
        printf("wget: no free TCP connection\n");
        return;
    }
    tcp_send(c, req, strlen(req));
    wg.start_ms = wg.last_ms = net_now_ms;
    /* Give up after 15 s without data. */
    while (!wg.done && net_now_ms - wg.last_ms < 15000)
        demo_wait();
    if (!wg.done) {
        tcp_abort(c);
        printf("wget: timed out after %u bytes\n", (unsigned)wg.total);
        return;
    }
    if (wg.done == 2 && !wg.in_body) {
        printf("wget: connection refused or reset\n");
        return;
    }
    sha256_final(&wg.sha, digest);
    {
        const char *sp = strchr(wg.head, ' ');
        char status[4] = "?";
        if (sp && strlen(sp) > 3) {
            memcpy(status, sp + 1, 3);
            status[3] = 0;
        }
        printf("wget: HTTP %s, %u bytes%s\n", status, (unsigned)wg.body,
               wg.done == 2 ? " (connection reset)" : "");
    }
    {
        /* The body must be as long as the server said it would be. */
        uint32_t clen;
        if (wget_content_length(wg.head, &clen) == 0 && wg.body != clen)
            printf("wget: %s body: %u of %u bytes\n", wg.body < clen ? "short" : "long",
                   (unsigned)wg.body, (unsigned)clen);
    }
    printf("sha256 ");
    for (unsigned i = 0; i < 32; i++)
        printf("%02x", digest[i]);
    printf("\n");
    {
        /* From the request to the end of the body, by the guest's clock. */
        uint32_t ms = wg.last_ms - wg.start_ms;
        uint32_t kib = wg.body / 1024;
        uint32_t kib_s = !ms ? 0 : kib < 4000000 ? kib * 1000 / ms : kib / ms * 1000;
        printf("wget: %u bytes in %u ms, %u KiB/s\n", (unsigned)wg.body, (unsigned)ms,
               (unsigned)kib_s);
    }
}

/* ---- httpd ---- */

/* GET /bytes/N answers N bytes of this pattern (streamed by httpd_pump). */
#define HTTPD_BYTES_MAX (64ul << 20)
#define HTTPD_PATTERN_LEN 1024

struct httpd_conn {
    char req[512];
    unsigned len;
    int answered;
    uint32_t to_stream; /* bytes of /bytes/N still to send */
    uint32_t streamed;
};
static struct httpd_conn httpd_conns[TCP_CONNS];
static char httpd_pattern[HTTPD_PATTERN_LEN];

/* The body of /bytes/N: 64-character lines of the alphabet, rotating. */
static void httpd_pattern_init(void)
{
    for (unsigned i = 0; i < HTTPD_PATTERN_LEN; i++)
        httpd_pattern[i] = i % 64 == 63 ? '\n' : (char)('a' + (i / 64 + i % 64) % 26);
}

/* Any /bytes/N answer still being sent? */
static int httpd_streaming(void)
{
    for (unsigned i = 0; i < TCP_CONNS; i++)
        if (httpd_conns[i].to_stream)
            return 1;
    return 0;
}

/* Refill the send buffers of /bytes/N answers; close those that are done. */
static void httpd_pump(void)
{
    for (unsigned i = 0; i < TCP_CONNS; i++) {
        struct httpd_conn *h = &httpd_conns[i];
        struct tcp_conn *c = &tcp_conns[i];

        if (!h->to_stream)
            continue;
        if (c->user != h || (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT)) {
            h->to_stream = 0;
            continue;
        }
        for (;;) {
            uint32_t off = h->streamed % HTTPD_PATTERN_LEN;
            uint32_t n = HTTPD_PATTERN_LEN - off;
            size_t sent;

            if (n > h->to_stream)
                n = h->to_stream;
            sent = tcp_send(c, httpd_pattern + off, n);
            h->streamed += (uint32_t)sent;
            h->to_stream -= (uint32_t)sent;
            if (!h->to_stream) {
                tcp_close(c);
                break;
            }
            if (sent < n)
                break;
        }
    }
}

static void httpd_data(struct tcp_conn *c, const uint8_t *data, size_t len)
{
    struct httpd_conn *h = c->user;
    char body[512], head[160], a[16];
    int bl;

    if (!h || h->answered)
        return;
    for (size_t i = 0; i < len && h->len < sizeof h->req - 1; i++)
        h->req[h->len++] = (char)data[i];
    h->req[h->len] = 0;
    /* Answer once the header is complete (or the buffer is full). */
    {
        int found = 0;
        for (unsigned i = 0; i + 3 < h->len && !found; i++)
            found = memcmp(h->req + i, "\r\n\r\n", 4) == 0;
        if (!found && h->len < sizeof h->req - 1)
            return;
    }
    h->answered = 1;
    httpd_requests++;
    if (strncmp(h->req, "GET ", 4) != 0 && strncmp(h->req, "HEAD ", 5) != 0) {
        bl = snprintf(body, sizeof body, "only GET and HEAD are served\n");
        snprintf(head, sizeof head, "HTTP/1.0 405 Method Not Allowed\r\nContent-Type: text/plain\r\n"
                 "Content-Length: %d\r\nConnection: close\r\n\r\n", bl);
    } else if (strncmp(h->req, "GET /bytes/", 11) == 0) {
        unsigned long n = 0;
        char num[12];
        unsigned i;

        for (i = 0; i < sizeof num - 1 && h->req[11 + i] >= '0' && h->req[11 + i] <= '9'; i++)
            num[i] = h->req[11 + i];
        num[i] = 0;
        if (parse_uint(num, HTTPD_BYTES_MAX, &n) == 0) {
            snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %lu\r\nConnection: close\r\n\r\n", n);
            tcp_send(c, head, strlen(head));
            h->to_stream = (uint32_t)n;
            h->streamed = 0;
            httpd_pump();
            if (!n)
                tcp_close(c);
            return;
        }
        bl = snprintf(body, sizeof body, "/bytes/N: N is 0 to %lu\n", HTTPD_BYTES_MAX);
        snprintf(head, sizeof head, "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\n"
                 "Content-Length: %d\r\nConnection: close\r\n\r\n", bl);
    } else {
        bl = snprintf(body, sizeof body,
                      "<!DOCTYPE html>\n<html><head><title>LilyVM demo</title></head><body>\n"
                      "<h1>Hello from the LilyVM demo kernel</h1>\n"
                      "<p>Guest %s, request %u, up %u s.</p>\n</body></html>\n",
                      ip4_format(net_if.addr, a), (unsigned)httpd_requests,
                      (unsigned)(net_now_ms / 1000));
        snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n"
                 "Content-Length: %d\r\nConnection: close\r\n\r\n", bl);
    }
    tcp_send(c, head, strlen(head));
    if (h->req[0] == 'G')
        tcp_send(c, body, (size_t)bl);
    tcp_close(c);
}

static void httpd_event(struct tcp_conn *c, enum tcp_event ev)
{
    if (ev == TCP_EV_PEER_CLOSED)
        tcp_close(c);
}

static void httpd_accept(struct tcp_conn *c)
{
    struct httpd_conn *h = &httpd_conns[c - tcp_conns];
    memset(h, 0, sizeof *h);
    c->user = h;
    c->on_data = httpd_data;
    c->on_event = httpd_event;
}

static void httpd_start(void)
{
    if (!httpd_pattern[0])
        httpd_pattern_init();
    if (!httpd_listener)
        httpd_listener = tcp_listen(80, httpd_accept);
}

static void cmd_httpd(int argc, char **argv)
{
    httpd_start();
    printf("httpd: %s on port 80, %u requests served\n",
           httpd_listener ? "listening" : "not listening", (unsigned)httpd_requests);
}

static void cmd_serve(int argc, char **argv)
{
    unsigned long n, secs = 60;
    uint32_t start = net_now_ms;

    if (argc < 2 || parse_uint(argv[1], 1000000, &n) < 0 ||
        (argc > 2 && parse_uint(argv[2], 3600, &secs) < 0)) {
        printf("usage: serve N [SECONDS (at most 3600, default 60)]\n");
        return;
    }
    httpd_start();
    while ((httpd_requests < n || httpd_streaming()) && net_now_ms - start < secs * 1000)
        demo_wait();
    /* Let the last answer and its FIN go out. */
    start = net_now_ms;
    while (net_now_ms - start < 200)
        demo_wait();
    printf("serve: %u requests served\n", (unsigned)httpd_requests);
}

static void cmd_sleep(int argc, char **argv)
{
    unsigned long secs;
    uint32_t start = net_now_ms;

    if (argc != 2 || parse_uint(argv[1], 3600, &secs) < 0) {
        printf("usage: sleep SECONDS (at most 3600)\n");
        return;
    }
    while (net_now_ms - start < secs * 1000)
        demo_wait();
}

static void cmd_ps(int argc, char **argv)
{
    char a[16];

    printf("tasks: shell (COM1), httpd (port 80, %u requests), net poll, timer %s\n",
           (unsigned)httpd_requests, have_timer ? "1 kHz" : "absent");
    printf("uptime %u ms, echo requests answered %u\n", (unsigned)net_now_ms,
           (unsigned)icmp_echo_answered);
    printf("tcp:\n");
    for (unsigned i = 0; i < TCP_CONNS; i++) {
        struct tcp_conn *c = &tcp_conns[i];
        if (c->state == TCP_CLOSED)
            continue;
        printf("  %u: port %u -> %s:%u %s (%u retransmits)\n", i, c->lport,
               ip4_format(c->rip, a), c->rport, tcp_state_name(c->state),
               (unsigned)c->retransmits);
    }
    printf("arp:\n");
    for (unsigned i = 0; i < ARP_ENTRIES; i++) {
        const struct arp_entry *e = &arp_cache[i];
        if (!e->state)
            continue;
        printf("  %s %02x:%02x:%02x:%02x:%02x:%02x%s\n", ip4_format(e->ip, a), e->mac[0],
               e->mac[1], e->mac[2], e->mac[3], e->mac[4], e->mac[5],
               e->state == 1 ? " (waiting)" : "");
    }
}

static void cmd_poweroff(int argc, char **argv)
{
    printf("poweroff\n");
    debug_exit(DEBUG_EXIT_SUCCESS);
}

static const struct {
    const char *name;
    void (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    { "help", cmd_help, "this list" },
    { "ps", cmd_ps, "tasks, TCP connections and the ARP cache" },
    { "ifconfig", cmd_ifconfig, "the interface and its address" },
    { "dhcp", cmd_dhcp, "ask DHCP for an address again" },
    { "ping", cmd_ping, "ping HOST [COUNT]: ICMP echo" },
    { "nslookup", cmd_nslookup, "nslookup NAME [SERVER[:PORT]]: DNS A record" },
    { "wget", cmd_wget, "wget http://HOST[:PORT]/PATH: byte count and SHA-256 of the body" },
    { "httpd", cmd_httpd, "status of the web server on port 80" },
    { "serve", cmd_serve, "serve N [SECONDS]: wait until httpd has served N requests" },
    { "sleep", cmd_sleep, "sleep SECONDS (the network is served meanwhile)" },
    { "poweroff", cmd_poweroff, "end the run (debug-exit 0)" },
};

static void cmd_help(int argc, char **argv)
{
    for (unsigned i = 0; i < sizeof commands / sizeof commands[0]; i++)
        printf("  %-9s %s\n", commands[i].name, commands[i].help);
}

static void run_command(char *line)
{
    char *argv[8];
    int argc = split(line, argv, 8);

    if (argc == 0)
        return;
    for (unsigned i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[0], commands[i].name) == 0) {
            commands[i].fn(argc, argv);
            return;
        }
    printf("%s: unknown command (try help)\n", argv[0]);
}

/* Words before run=: tsc_khz=N gives the TSC rate (a benchmark knows it). */
static void read_cmdline_word(const char *w)
{
    char num[12];
    unsigned long khz;
    unsigned i;

    if (strncmp(w, "tsc_khz=", 8) != 0)
        return;
    for (i = 0; i < sizeof num - 1 && w[8 + i] && w[8 + i] != ' '; i++)
        num[i] = w[8 + i];
    num[i] = 0;
    if (parse_uint(num, 100000000, &khz) == 0 && khz >= 1000)
        tsc_per_us = (uint32_t)(khz / 1000);
}

/* Copy the value of run= (to the end of the command line) into boot_cmds. */
static void read_cmdline(uint32_t magic, uint32_t mbi_phys)
{
    const struct multiboot_info *mbi;
    const char *p;

    if (magic != MULTIBOOT_BOOTLOADER_MAGIC || mbi_phys >= KERNEL_MAP_SIZE - sizeof *mbi)
        return;
    mbi = P2V(mbi_phys);
    if (!(mbi->flags & MULTIBOOT_INFO_CMDLINE) || mbi->cmdline >= KERNEL_MAP_SIZE - CMDLINE_MAX)
        return;
    p = P2V(mbi->cmdline);
    for (; *p; p++) {
        if (p != (const char *)P2V(mbi->cmdline) && p[-1] != ' ')
            continue;
        if (strncmp(p, "run=", 4) == 0) {
            strlcpy(boot_cmds, p + 4, sizeof boot_cmds);
            return;
        }
        read_cmdline_word(p);
    }
}

static void shell(void)
{
    char line[LINE_MAX];
    unsigned len = 0;

    printf("demo> ");
    for (;;) {
        int ch = serial_getc(SERIAL_COM1);
        if (ch < 0) {
            demo_wait();
            continue;
        }
        if (ch == '\r' || ch == '\n') {
            printf("\n");
            line[len] = 0;
            run_command(line);
            len = 0;
            printf("demo> ");
        } else if ((ch == 8 || ch == 127) && len) {
            len--;
            printf("\b \b");
        } else if (ch >= ' ' && ch < 127 && len < sizeof line - 1) {
            line[len++] = (char)ch;
            putchar(ch);
        }
    }
}

void kmain(uint32_t magic, uint32_t mbi_phys)
{
    char a[16];

    read_cmdline(magic, mbi_phys);
    desc_init();
    idt_init();
    paging_drop_identity();
    serial_init(SERIAL_COM1);
    console_set_output(com1_write);
    printf("\nLilyVM network demo (%s build)\n", LILY_FLAVOUR);

    pic_remap(VEC_IRQ0, VEC_IRQ0 + 8);
    trap_set_handler(VEC_IRQ0, timer_irq);
    pit_set_rate(TIMER_HZ);
    pic_unmask(0);
    sti();
    /* Without timer interrupts, hlt could wait forever: poll instead. */
    for (unsigned i = 0; i < 50000000 && !net_now_ms; i++)
        __asm__ volatile("pause");
    have_timer = net_now_ms != 0;
    if (have_timer)
        net_idle_hook = idle;
    else {
        net_idle_hook = idle_no_timer;
        printf("no timer interrupts: time is estimated from polling\n");
    }

    if (net_init(NE2K_DEFAULT_IOBASE) < 0) {
        printf("eth0: no NE2000 at %#x\n", NE2K_DEFAULT_IOBASE);
    } else {
        /* Frames end an idle hlt at once instead of at the next tick. */
        ne2k_irq_attach(NE2K_IRQ);
        if (dhcp_run(10000) < 0)
            printf("dhcp: no answer, interface unconfigured\n");
        else
            printf("dhcp: bound to %s\n", ip4_format(net_if.addr, a));
    }
    httpd_start();

    if (boot_cmds[0]) {
        char *cmd = boot_cmds;
        while (cmd) {
            char *semi = strchr(cmd, ';');
            if (semi)
                *semi = 0;
            printf("demo> %s\n", cmd);
            run_command(cmd);
            cmd = semi ? semi + 1 : NULL;
        }
    }
    shell();
}
