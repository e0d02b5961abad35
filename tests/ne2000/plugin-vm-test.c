/*
 * The NE2000 through the real core: plugin loader, config file, port bus,
 * IRQ lines and network links, driven by the guest-like driver.
 */
#include <glib.h>
#include <string.h>

#include "src/core/core.h"
#include "src/core/vm.h"
#include "tests/ne2000/ne2k-driver.h"

static const char loopback_conf[] =
    "[device nic0]\n"
    "plugin = nic-ne2000\n"
    "netdev = net0\n"
    "\n"
    "[netdev net0]\n"
    "plugin = net-loopback\n";

static uint32_t vm_in(void *ctx, uint16_t port, unsigned size)
{
    return bus_pio_read(ctx, port, size);
}

static void vm_out(void *ctx, uint16_t port, unsigned size, uint32_t value)
{
    bus_pio_write(ctx, port, size, value);
}

static void vm_ins(void *ctx, uint16_t port, unsigned size, void *buf, uint32_t count)
{
    bus_pio_read_rep(ctx, port, size, buf, count);
}

static void vm_outs(void *ctx, uint16_t port, unsigned size, const void *buf,
                    uint32_t count)
{
    bus_pio_write_rep(ctx, port, size, buf, count);
}

static Ne2kBus vm_bus(LilyVm *vm, uint16_t iobase)
{
    return (Ne2kBus){ .in = vm_in, .out = vm_out, .ins = vm_ins, .outs = vm_outs,
                      .ctx = vm, .iobase = iobase };
}

/* A VM from config text with the plugins of the build tree. */
static LilyVm *vm_from(const char *text)
{
    LilyVm *vm = vm_new();
    GError *error = NULL;

    if (!vm_load_plugins(vm, &error) ||
        !vm_configure_data(vm, text, "ne2000-test.conf", &error) ||
        !vm_realize(vm, &error))
        g_error("cannot build the VM: %s", error->message);
    return vm;
}

/* The error message building a VM from text gives (caller frees). */
static char *vm_error(const char *text)
{
    LilyVm *vm = vm_new();
    GError *error = NULL;
    char *msg;

    g_assert_true(vm_load_plugins(vm, &error));
    if (vm_configure_data(vm, text, "ne2000-test.conf", &error))
        g_assert_false(vm_realize(vm, &error));
    g_assert_nonnull(error);
    msg = g_strdup(error->message);
    g_test_message("error as expected: %s", msg);
    g_error_free(error);
    vm_free(vm);
    return msg;
}

static void assert_contains(const char *msg, const char *needle)
{
    if (!strstr(msg, needle))
        g_error("message \"%s\" lacks \"%s\"", msg, needle);
}

static void make_frame(uint8_t *buf, size_t len, const uint8_t dst[6], uint8_t seed)
{
    memcpy(buf, dst, 6);
    memcpy(buf + 6, (const uint8_t[6]){ 0x02, 0, 0, 0, 0, 0x07 }, 6);
    buf[12] = 0x88;
    buf[13] = 0xb5;
    for (size_t i = 14; i < len; i++)
        buf[i] = (uint8_t)(seed + i);
}

static void test_loopback_roundtrip(void)
{
    LilyVm *vm = vm_from(loopback_conf);
    Ne2kBus bus = vm_bus(vm, 0x300);
    uint8_t mac[6], frame[142], back[1600];

    g_assert_true(ne2k_drv_probe(&bus, mac));
    g_assert_cmpmem(mac, 6, ((const uint8_t[6]){ 0x52, 0x54, 0, 0x12, 0x34, 0x56 }), 6);
    ne2k_drv_init(&bus, mac, 0x04);
    g_assert_cmpint(vm_irq_level(vm, 9), ==, 0);

    make_frame(frame, sizeof frame, mac, 0x11);
    g_assert_true(ne2k_drv_send(&bus, frame, sizeof frame));
    g_assert_cmpint(vm_irq_level(vm, 9), ==, 1);
    g_assert_cmphex(ne2k_drv_isr(&bus) & 0x03, ==, 0x03); /* PTX and PRX */
    g_assert_cmpuint(ne2k_drv_recv(&bus, back, sizeof back), ==, sizeof frame);
    g_assert_cmpmem(back, sizeof frame, frame, sizeof frame);
    g_assert_cmpuint(ne2k_drv_recv(&bus, back, sizeof back), ==, 0);
    ne2k_drv_ack(&bus, 0x03);
    g_assert_cmpint(vm_irq_level(vm, 9), ==, 0);

    /* A broadcast comes back too; a frame for another station does not. */
    make_frame(frame, sizeof frame, (const uint8_t[6]){ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 2);
    g_assert_true(ne2k_drv_send(&bus, frame, sizeof frame));
    g_assert_cmpuint(ne2k_drv_recv(&bus, back, sizeof back), ==, sizeof frame);
    make_frame(frame, sizeof frame, (const uint8_t[6]){ 0x02, 1, 2, 3, 4, 5 }, 3);
    g_assert_true(ne2k_drv_send(&bus, frame, sizeof frame));
    g_assert_cmpuint(ne2k_drv_recv(&bus, back, sizeof back), ==, 0);
    vm_free(vm);
}

static void test_backpressure(void)
{
    enum { FRAMES = 50 };
    LilyVm *vm = vm_from(loopback_conf);
    Ne2kBus bus = vm_bus(vm, 0x300);
    uint8_t mac[6], frame[1514], back[1600];
    unsigned got = 0;
    size_t len;

    g_assert_true(ne2k_drv_probe(&bus, mac));
    ne2k_drv_init(&bus, mac, 0x04);
    for (unsigned i = 0; i < FRAMES; i++) {
        make_frame(frame, sizeof frame, mac, (uint8_t)i);
        g_assert_true(ne2k_drv_send(&bus, frame, sizeof frame));
    }
    /* The ring took what it could without overwriting anything ... */
    g_assert_cmphex(ne2k_drv_isr(&bus) & 0x10, ==, 0);
    /* ... and the rest arrives, in order, as the guest frees the ring. */
    while ((len = ne2k_drv_recv(&bus, back, sizeof back)) != 0) {
        g_assert_cmpuint(len, ==, sizeof frame);
        make_frame(frame, sizeof frame, mac, (uint8_t)got);
        g_assert_cmpmem(back, len, frame, sizeof frame);
        got++;
        g_assert_cmpuint(got, <=, FRAMES);
    }
    g_assert_cmpuint(got, ==, FRAMES);
    vm_free(vm);
}

static void test_two_cards(void)
{
    LilyVm *vm = vm_from("[device nic0]\nplugin = nic-ne2000\nnetdev = net0\n"
                         "[device nic1]\nplugin = nic-ne2000\niobase = 0x320\nirq = 10\n"
                         "mac = 52:54:00:12:34:57\nnetdev = net1\n"
                         "[netdev net0]\nplugin = net-null\n"
                         "[netdev net1]\nplugin = net-loopback\n");
    Ne2kBus bus0 = vm_bus(vm, 0x300), bus1 = vm_bus(vm, 0x320);
    uint8_t mac0[6], mac1[6], frame[60], back[100];

    g_assert_true(ne2k_drv_probe(&bus0, mac0));
    g_assert_true(ne2k_drv_probe(&bus1, mac1));
    g_assert_cmphex(mac1[5], ==, 0x57);
    ne2k_drv_init(&bus0, mac0, 0x04);
    ne2k_drv_init(&bus1, mac1, 0x04);
    make_frame(frame, sizeof frame, mac1, 0);
    g_assert_true(ne2k_drv_send(&bus1, frame, sizeof frame));
    g_assert_cmpint(vm_irq_level(vm, 10), ==, 1);
    g_assert_cmpint(vm_irq_level(vm, 9), ==, 0);
    g_assert_cmpuint(ne2k_drv_recv(&bus1, back, sizeof back), ==, sizeof frame);
    make_frame(frame, sizeof frame, mac0, 0);
    g_assert_true(ne2k_drv_send(&bus0, frame, sizeof frame));
    g_assert_cmpint(vm_irq_level(vm, 9), ==, 1);
    g_assert_cmpuint(ne2k_drv_recv(&bus0, back, sizeof back), ==, 0);
    vm_free(vm);
}

/*
 * With the default backend: an ARP request for the gateway gets its answer
 * through net-socket, the card and the driver.  Skipped when net-socket is
 * not built.
 */
static void test_net_socket_arp(void)
{
    static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    static const uint8_t guest_ip[4] = { 10, 0, 2, 15 }, gw_ip[4] = { 10, 0, 2, 2 };
    LilyVm *vm = vm_new();
    GError *error = NULL;
    Ne2kBus bus = vm_bus(vm, 0x300);
    uint8_t mac[6], req[42], back[1600];
    size_t len = 0;

    g_assert_true(vm_load_plugins(vm, &error));
    if (!vm_configure_data(vm, "[device nic0]\nplugin = nic-ne2000\nnetdev = net0\n"
                           "[netdev net0]\nplugin = net-socket\nrestrict = true\n",
                           "ne2000-test.conf", &error)) {
        if (strstr(error->message, "net-socket")) {
            g_test_skip(error->message);
            g_error_free(error);
            vm_free(vm);
            return;
        }
        g_error("%s", error->message);
    }
    if (!vm_realize(vm, &error))
        g_error("%s", error->message);

    g_assert_true(ne2k_drv_probe(&bus, mac));
    ne2k_drv_init(&bus, mac, 0x04);
    /* who-has 10.0.2.2 tell 10.0.2.15 */
    memcpy(req, bcast, 6);
    memcpy(req + 6, mac, 6);
    memcpy(req + 12, (const uint8_t[]){ 0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1 }, 10);
    memcpy(req + 22, mac, 6);
    memcpy(req + 28, guest_ip, 4);
    memset(req + 32, 0, 6);
    memcpy(req + 38, gw_ip, 4);
    g_assert_true(ne2k_drv_send(&bus, req, sizeof req));
    for (int i = 0; i < 100 && len == 0; i++) {
        len = ne2k_drv_recv(&bus, back, sizeof back);
        if (len == 0)
            vm_run_for(vm, 10 * 1000 * 1000);
    }
    /* The reply, padded to the Ethernet minimum by the card. */
    g_assert_cmpuint(len, ==, 60);
    g_assert_cmpmem(back, 6, mac, 6);
    g_assert_cmphex(back[12] << 8 | back[13], ==, 0x0806);
    g_assert_cmphex(back[20] << 8 | back[21], ==, 2); /* reply */
    g_assert_cmpmem(back + 28, 4, gw_ip, 4);
    g_assert_cmpmem(back + 32, 6, mac, 6);
    g_assert_cmpmem(back + 38, 4, guest_ip, 4);
    g_assert_cmpint(vm_irq_level(vm, 9), ==, 1);
    vm_free(vm);
}

static void test_config_errors(void)
{
    g_autofree char *no_netdev = vm_error("[device nic0]\nplugin = nic-ne2000\n");
    g_autofree char *bad_netdev = vm_error("[device nic0]\nplugin = nic-ne2000\nnetdev = nope\n");
    g_autofree char *bad_irq = vm_error("[device nic0]\nplugin = nic-ne2000\nirq = 16\n"
                                        "netdev = n\n[netdev n]\nplugin = net-null\n");
    g_autofree char *bad_mac = vm_error("[device nic0]\nplugin = nic-ne2000\n"
                                        "mac = 03:00:00:00:00:01\nnetdev = n\n"
                                        "[netdev n]\nplugin = net-null\n");
    g_autofree char *clash = vm_error("[device a]\nplugin = nic-ne2000\nnetdev = n\n"
                                      "[device b]\nplugin = nic-ne2000\nnetdev = m\n"
                                      "[netdev n]\nplugin = net-null\n"
                                      "[netdev m]\nplugin = net-null\n");

    assert_contains(no_netdev, "netdev");
    assert_contains(bad_netdev, "nope");
    assert_contains(bad_irq, "irq");
    assert_contains(bad_mac, "multicast");
    assert_contains(bad_mac, "03:00:00:00:00:01");
    /* Two cards at the default ports. */
    assert_contains(clash, "0x300");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ne2000/vm/loopback-roundtrip", test_loopback_roundtrip);
    g_test_add_func("/ne2000/vm/backpressure", test_backpressure);
    g_test_add_func("/ne2000/vm/two-cards", test_two_cards);
    g_test_add_func("/ne2000/vm/net-socket-arp", test_net_socket_arp);
    g_test_add_func("/ne2000/vm/config-errors", test_config_errors);
    return g_test_run();
}
