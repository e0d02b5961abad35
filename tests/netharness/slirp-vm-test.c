/*
 * net-slirp under the real core: a VM whose only instance is a net-slirp
 * netdev, with this test attached as its NIC.  Frames are built by hand:
 * ARP, ping of the gateway, a DHCP DISCOVER, option errors.  No namespace
 * and no traffic leaves the process (the gateway answers by itself).
 */
#include <string.h>

#include "src/core/core.h"

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

typedef struct FakeNic {
    GPtrArray *frames;  /* GByteArray * received from the backend */
} FakeNic;

static bool nic_can_receive(void *opaque)
{
    return true;
}

static void nic_receive(void *opaque, const uint8_t *frame, size_t len)
{
    FakeNic *nic = opaque;
    GByteArray *b = g_byte_array_sized_new((guint)len);
    g_byte_array_append(b, frame, (guint)len);
    g_ptr_array_add(nic->frames, b);
}

static const LilyNetOps nic_ops = { .can_receive = nic_can_receive, .receive = nic_receive };

typedef struct Rig {
    LilyVm *vm;
    LilyNetPort *port;
    FakeNic nic;
} Rig;

static bool rig_start(Rig *r, const char *extra, GError **error)
{
    char *conf = g_strdup_printf("[machine]\nmemory = 1M\ncpu = none\nmmu = none\n\n"
                                 "[netdev net0]\nplugin = net-slirp\n%s", extra ? extra : "");
    r->vm = vm_new();
    r->nic.frames = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
    gboolean ok = vm_load_plugins(r->vm, error) &&
                  vm_configure_data(r->vm, conf, "slirp-vm-test.conf", error) &&
                  vm_realize(r->vm, error);
    g_free(conf);
    if (ok)
        r->port = net_attach(r->vm, NULL, "net0", &nic_ops, &r->nic, error);
    return ok && r->port;
}

static void rig_stop(Rig *r)
{
    if (r->port)
        net_detach(r->port);
    vm_free(r->vm);
    g_ptr_array_free(r->nic.frames, TRUE);
}

static bool have_slirp(void)
{
    LilyVm *vm = vm_new();
    vm_load_plugins(vm, NULL);
    bool ok = registry_find(vm_registry(vm), "net-slirp") != NULL;
    vm_free(vm);
    if (!ok)
        g_test_skip("build/plugins/net-slirp.so is not built (libslirp-dev missing?)");
    return ok;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint16_t csum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)(p[len - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static size_t eth(uint8_t *f, const uint8_t *dst, uint16_t type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, guest_mac, 6);
    put16(f + 12, type);
    return 14;
}

/* An IPv4 header at f (20 bytes) for a payload of len bytes. */
static void ip4(uint8_t *f, uint8_t proto, const uint8_t *src, const uint8_t *dst, size_t len)
{
    memset(f, 0, 20);
    f[0] = 0x45;
    put16(f + 2, (uint16_t)(20 + len));
    f[8] = 64;
    f[9] = proto;
    memcpy(f + 12, src, 4);
    memcpy(f + 16, dst, 4);
    put16(f + 10, csum(f, 20));
}

/* The first received frame of EtherType type, or NULL. */
static GByteArray *find_frame(Rig *r, uint16_t type, uint8_t ip_proto)
{
    for (guint i = 0; i < r->nic.frames->len; i++) {
        GByteArray *b = g_ptr_array_index(r->nic.frames, i);
        if (b->len >= 14 && get16(b->data + 12) == type &&
            (type != 0x0800 || (b->len >= 34 && b->data[23] == ip_proto)))
            return b;
    }
    return NULL;
}

/* Ask who has the gateway's address (this also tells libslirp our MAC). */
static void send_arp_request(Rig *r)
{
    static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    static const uint8_t me[4] = { 10, 0, 2, 15 }, gw[4] = { 10, 0, 2, 2 };
    uint8_t f[64] = { 0 };
    size_t n = eth(f, bcast, 0x0806);
    put16(f + n, 1);          /* Ethernet */
    put16(f + n + 2, 0x0800); /* IPv4 */
    f[n + 4] = 6;
    f[n + 5] = 4;
    put16(f + n + 6, 1);      /* request */
    memcpy(f + n + 8, guest_mac, 6);
    memcpy(f + n + 14, me, 4);
    memcpy(f + n + 24, gw, 4);
    g_assert_true(net_send(r->port, f, 60));
}

static void test_arp_gateway(void)
{
    if (!have_slirp())
        return;
    Rig r = { 0 };
    GError *err = NULL;
    g_assert_true(rig_start(&r, NULL, &err));
    g_assert_no_error(err);

    static const uint8_t gw[4] = { 10, 0, 2, 2 };
    send_arp_request(&r);
    vm_run_for(r.vm, 10 * 1000 * 1000);

    GByteArray *reply = find_frame(&r, 0x0806, 0);
    g_assert_nonnull(reply);
    g_assert_cmpuint(reply->len, >=, 42);
    g_assert_cmpint(get16(reply->data + 20), ==, 2);           /* a reply */
    g_assert_cmpmem(reply->data + 28, 4, gw, 4);               /* from the gateway */
    g_assert_cmpmem(reply->data + 32, 6, guest_mac, 6);        /* to us */
    rig_stop(&r);
}

static void test_ping_gateway(void)
{
    if (!have_slirp())
        return;
    Rig r = { 0 };
    GError *err = NULL;
    g_assert_true(rig_start(&r, NULL, &err));
    g_assert_no_error(err);

    send_arp_request(&r);
    static const uint8_t gw_mac_any[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
    static const uint8_t me[4] = { 10, 0, 2, 15 }, gw[4] = { 10, 0, 2, 2 };
    uint8_t f[128] = { 0 };
    size_t n = eth(f, gw_mac_any, 0x0800);
    uint8_t *icmp = f + n + 20;
    icmp[0] = 8;                 /* echo request */
    put16(icmp + 4, 0x4c59);     /* id */
    put16(icmp + 6, 1);          /* seq */
    memcpy(icmp + 8, "lilyvm-slirp-ping", 17);
    put16(icmp + 2, csum(icmp, 25));
    ip4(f + n, 1, me, gw, 25);
    g_assert_true(net_send(r.port, f, n + 45));
    vm_run_for(r.vm, 20 * 1000 * 1000);

    GByteArray *reply = find_frame(&r, 0x0800, 1);
    g_assert_nonnull(reply);
    g_assert_cmpuint(reply->len, >=, 14 + 20 + 25);
    const uint8_t *ri = reply->data + 14 + (reply->data[14] & 15) * 4;
    g_assert_cmpint(ri[0], ==, 0);                    /* echo reply */
    g_assert_cmpint(get16(ri + 4), ==, 0x4c59);
    g_assert_cmpmem(ri + 8, 17, "lilyvm-slirp-ping", 17);
    g_assert_cmpmem(reply->data + 26, 4, gw, 4);      /* source: the gateway */
    rig_stop(&r);
}

static void test_dhcp_offer(void)
{
    if (!have_slirp())
        return;
    Rig r = { 0 };
    GError *err = NULL;
    g_assert_true(rig_start(&r, "guest = 10.0.2.20\n", &err));
    g_assert_no_error(err);

    static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    static const uint8_t any[4] = { 0, 0, 0, 0 }, all[4] = { 255, 255, 255, 255 };
    uint8_t f[400] = { 0 };
    size_t n = eth(f, bcast, 0x0800);
    uint8_t *udp = f + n + 20, *bootp = udp + 8;
    bootp[0] = 1;               /* BOOTREQUEST */
    bootp[1] = 1;
    bootp[2] = 6;
    memcpy(bootp + 4, "\x12\x34\x56\x78", 4);
    memcpy(bootp + 28, guest_mac, 6);
    static const uint8_t opts[] = { 0x63, 0x82, 0x53, 0x63, 53, 1, 1, 255 };
    memcpy(bootp + 236, opts, sizeof opts);
    size_t blen = 236 + sizeof opts + 16;
    put16(udp, 68);
    put16(udp + 2, 67);
    put16(udp + 4, (uint16_t)(8 + blen));
    ip4(f + n, 17, any, all, 8 + blen);  /* UDP checksum 0: none */
    g_assert_true(net_send(r.port, f, n + 20 + 8 + blen));
    vm_run_for(r.vm, 20 * 1000 * 1000);

    GByteArray *offer = find_frame(&r, 0x0800, 17);
    g_assert_nonnull(offer);
    g_assert_cmpuint(offer->len, >=, 14 + 20 + 8 + 240);
    const uint8_t *ob = offer->data + 14 + 20 + 8;
    static const uint8_t want[4] = { 10, 0, 2, 20 };
    g_assert_cmpint(ob[0], ==, 2);                    /* BOOTREPLY */
    g_assert_cmpmem(ob + 4, 4, "\x12\x34\x56\x78", 4); /* our xid */
    g_assert_cmpmem(ob + 16, 4, want, 4);             /* yiaddr = the guest option */
    rig_stop(&r);
}

static void test_bad_options(void)
{
    if (!have_slirp())
        return;
    static const char *const bad[][2] = {
        { "net = 10.0.2.0/33\n", "net = 10.0.2.0/33" },
        { "guest = 192.168.1.5\n", "inside 'net'" },
        { "guest = 10.0.2.2\n", "must differ" },
        { "mtu = 70000\n", "mtu" },
        { "hostfwd = tcp:127.0.0.1:0-:80\n", "hostfwd" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        Rig r = { 0 };
        GError *err = NULL;
        g_assert_false(rig_start(&r, bad[i][0], &err));
        g_assert_nonnull(err);
        if (!strstr(err->message, bad[i][1]))
            g_error("config '%s': message '%s' does not mention '%s'", bad[i][0],
                    err->message, bad[i][1]);
        g_error_free(err);
        rig_stop(&r);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/net-slirp/arp/gateway", test_arp_gateway);
    g_test_add_func("/net-slirp/icmp/ping-gateway", test_ping_gateway);
    g_test_add_func("/net-slirp/dhcp/offer", test_dhcp_offer);
    g_test_add_func("/net-slirp/options/refused", test_bad_options);
    return g_test_run();
}
