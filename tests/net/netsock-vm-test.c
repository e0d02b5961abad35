/*
 * net-socket under the real core: a VM with an NE2000 linked to a
 * net-socket netdev, driven through the card's ports by a guest-like
 * driver, with the core's main loop servicing the backend's sockets and
 * timers.  Only loopback (127.0.0.1) traffic.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "src/core/vm.h"
#include "tests/ne2000/ne2k-driver.h"

#define NIC_BASE 0x300
#define GUEST 0x0a00020fu
#define GW 0x0a000202u

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t gw_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };

static uint32_t io_in(void *ctx, uint16_t port, unsigned size)
{
    return bus_pio_read(ctx, port, size);
}

static void io_out(void *ctx, uint16_t port, unsigned size, uint32_t v)
{
    bus_pio_write(ctx, port, size, v);
}

typedef struct Machine {
    LilyVm *vm;
    Ne2kBus bus;
} Machine;

static void machine_start(Machine *m, const char *extra)
{
    GError *err = NULL;
    char *conf = g_strdup_printf("[machine]\nmemory = 4M\n\n"
                                 "[device nic0]\nplugin = nic-ne2000\n"
                                 "iobase = 0x300\nnetdev = net0\n\n"
                                 "[netdev net0]\nplugin = net-socket\n"
                                 "dns-forward = 127.0.0.1\n%s",
                                 extra ? extra : "");
    uint8_t mac[6];

    m->vm = vm_new();
    g_assert_true(vm_load_plugins(m->vm, &err));
    g_assert_no_error(err);
    if (!vm_configure_data(m->vm, conf, "netsock-vm.conf", &err) ||
        !vm_realize(m->vm, &err))
        g_error("VM setup failed: %s", err->message);
    g_free(conf);
    m->bus = (Ne2kBus){ .in = io_in, .out = io_out, .ctx = m->vm, .iobase = NIC_BASE };
    g_assert_true(ne2k_drv_probe(&m->bus, mac));
    g_assert_cmpmem(mac, 6, guest_mac, 6);
    ne2k_drv_init(&m->bus, mac, 0x04); /* accept broadcast */
}

static uint16_t csum(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)(p[len - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, (uint16_t)v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

/* A UDP/IPv4 frame from the guest; returns its length. */
static size_t build_udp(uint8_t *f, uint32_t src, uint32_t dst, uint16_t sport,
                        uint16_t dport, const void *data, size_t len)
{
    uint8_t *ip = f + 14, *u = ip + 20;
    uint32_t ps;

    memcpy(f, gw_mac, 6);
    memcpy(f + 6, guest_mac, 6);
    put16(f + 12, 0x0800);
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(28 + len));
    ip[8] = 64;
    ip[9] = 17;
    put32(ip + 12, src);
    put32(ip + 16, dst);
    put16(ip + 10, csum(0, ip, 20));
    put16(u, sport);
    put16(u + 2, dport);
    put16(u + 4, (uint16_t)(8 + len));
    put16(u + 6, 0);
    memcpy(u + 8, data, len);
    ps = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 17 + 8 + (uint32_t)len;
    put16(u + 6, csum(ps, u, 8 + len));
    return 14 + 28 + len;
}

/* Run the VM until the card holds a frame matching (proto, dport). */
static size_t wait_frame(Machine *m, uint8_t *buf, size_t cap, uint8_t proto,
                         uint16_t dport)
{
    for (int i = 0; i < 200; i++) {
        size_t n;
        vm_run_for(m->vm, 10 * 1000 * 1000);
        while ((n = ne2k_drv_recv(&m->bus, buf, cap)) > 0) {
            if (n >= 38 && get16(buf + 12) == 0x0800 && buf[23] == proto &&
                get16(buf + 36) == dport)
                return n;
        }
    }
    return 0;
}

static void test_dhcp_through_ne2000(void)
{
    Machine m;
    uint8_t bootp[300] = { 1, 1, 6 };
    uint8_t f[1600];
    size_t n;
    char *dir = g_dir_make_tmp("netsock-pcap-XXXXXX", NULL);
    char *pcap = g_build_filename(dir, "net0.pcap", NULL);
    char *extra = g_strdup_printf("pcap = %s\n", pcap);
    gchar *cap = NULL;
    gsize cap_len = 0;

    g_assert_nonnull(dir);
    machine_start(&m, extra);
    put32(bootp + 4, 0xcafe0001);
    memcpy(bootp + 28, guest_mac, 6);
    put32(bootp + 236, 0x63825363);
    bootp[240] = 53;
    bootp[241] = 1;
    bootp[242] = 1; /* DISCOVER */
    bootp[243] = 255;
    n = build_udp(f, 0, 0xffffffffu, 68, 67, bootp, sizeof bootp);
    ne2k_drv_send(&m.bus, f, n);
    n = wait_frame(&m, f, sizeof f, 17, 68);
    g_assert_cmpuint(n, >=, 14 + 28 + 240);
    g_assert_cmpmem(f, 6, guest_mac, 6);
    g_assert_cmphex(get32(f + 26), ==, GW);               /* IP source */
    g_assert_cmphex(get32(f + 42 + 4), ==, 0xcafe0001);   /* xid */
    g_assert_cmphex(get32(f + 42 + 16), ==, GUEST);       /* yiaddr */
    vm_free(m.vm);

    /* pcap = FILE in the [netdev] group: both frames were captured. */
    g_assert_true(g_file_get_contents(pcap, &cap, &cap_len, NULL));
    g_assert_cmpuint(cap_len, >=, 24 + 2 * (16 + 14 + 28 + 240));
    g_assert_cmphex(*(uint32_t *)cap, ==, 0xa1b2c3d4);
    g_free(cap);
    g_unlink(pcap);
    g_rmdir(dir);
    g_free(extra);
    g_free(pcap);
    g_free(dir);
}

static void test_udp_through_ne2000(void)
{
    Machine m;
    struct sockaddr_in sa = { .sin_family = AF_INET }, from;
    socklen_t sl = sizeof sa, fl = sizeof from;
    int srv = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    uint8_t f[1600];
    char buf[64];
    size_t n;
    ssize_t r = -1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_assert_cmpint(bind(srv, (struct sockaddr *)&sa, sizeof sa), ==, 0);
    g_assert_cmpint(getsockname(srv, (struct sockaddr *)&sa, &sl), ==, 0);

    machine_start(&m, NULL);
    n = build_udp(f, GUEST, GW, 45000, ntohs(sa.sin_port), "to host", 7);
    ne2k_drv_send(&m.bus, f, n);
    for (int i = 0; i < 200 && r < 0; i++) {
        struct pollfd p = { .fd = srv, .events = POLLIN };
        if (poll(&p, 1, 10) == 1)
            r = recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        else
            vm_run_for(m.vm, 1000 * 1000);
    }
    g_assert_cmpint(r, ==, 7);
    g_assert_cmpmem(buf, 7, "to host", 7);
    g_assert_cmpint(sendto(srv, "to guest", 8, 0, (struct sockaddr *)&from, fl), ==, 8);

    /* The reply comes in through the core's main loop and the card. */
    n = wait_frame(&m, f, sizeof f, 17, 45000);
    g_assert_cmpuint(n, >=, 42 + 8);
    g_assert_cmphex(get32(f + 26), ==, GW);
    g_assert_cmpuint(get16(f + 34), ==, ntohs(sa.sin_port));
    g_assert_cmpmem(f + 42, get16(f + 38) - 8u, "to guest", 8);
    close(srv);
    vm_free(m.vm);
}

static void test_hostfwd_through_ne2000(void)
{
    Machine m;
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t sl = sizeof sa;
    int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), cli;
    uint8_t f[1600];
    char *extra;
    size_t n;
    uint16_t port;

    /* A port that is free right now. */
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_assert_cmpint(bind(probe, (struct sockaddr *)&sa, sizeof sa), ==, 0);
    g_assert_cmpint(getsockname(probe, (struct sockaddr *)&sa, &sl), ==, 0);
    port = ntohs(sa.sin_port);
    close(probe);
    extra = g_strdup_printf("hostfwd = tcp::%u-:80\n", port);
    machine_start(&m, extra);
    g_free(extra);

    /* The guest has said something, so the backend knows its MAC. */
    n = build_udp(f, GUEST, GW, 45001, 9, "x", 1);
    ne2k_drv_send(&m.bus, f, n);
    vm_run_for(m.vm, 1000 * 1000);

    cli = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    connect(cli, (struct sockaddr *)&sa, sizeof sa);
    n = wait_frame(&m, f, sizeof f, 6, 80);
    g_assert_cmpuint(n, >=, 54);
    g_assert_cmpmem(f, 6, guest_mac, 6);
    g_assert_cmphex(get32(f + 26), ==, GW);
    g_assert_cmphex(f[47] & 0x3f, ==, 0x02); /* SYN */
    close(cli);
    vm_free(m.vm);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/netsock/vm/dhcp-through-ne2000", test_dhcp_through_ne2000);
    g_test_add_func("/netsock/vm/udp-through-ne2000", test_udp_through_ne2000);
    g_test_add_func("/netsock/vm/hostfwd-through-ne2000", test_hostfwd_through_ne2000);
    return g_test_run();
}
