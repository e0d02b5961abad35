/*
 * Tests of the nic-ne2000, net-loopback and net-null plugins as built
 * (dlopen of the .so files in build/plugins) under a minimal fake host: ports, IRQ
 * lines, a link between two network ports, statistics.  The same driver
 * sequence runs through the real core in plugin-vm-test.c.
 */
#include <dlfcn.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include <lilyvm/lilyvm.h>

#include "tests/ne2000/ne2k-driver.h"

/* --- the fake host ------------------------------------------------------- */

struct LilyIrqLine {
    unsigned line;
    bool level;
    int raises;
};

struct LilyNetPort {
    const LilyNetOps *ops;
    void *opaque;
    LilyNetPort *peer;
    const char *netdev; /* the backend's own name, or the NIC's netdev option */
    bool is_backend;
};

struct LilyInstance {
    char *name;
    void *state;
    const LilyPluginDesc *desc;
};

typedef struct FakeHost {
    uint16_t pio_base;
    uint32_t pio_len;
    const LilyIoOps *pio_ops;
    void *pio_opaque;
    LilyIrqLine irqs[16];
    LilyNetPort *ports[4];
    unsigned nports;
    GHashTable *stats; /* "instance.name" -> count */
    unsigned warnings; /* log messages at LILY_LOG_WARN or worse */
    unsigned port_accesses; /* bus cycles the driver made (a rep is one) */
    void *dl[2];
} FakeHost;

static FakeHost host_state;

static const char *fake_instance_name(LilyInstance *inst)
{
    return inst->name;
}

static void fake_log(LilyInstance *inst, LilyLogLevel level, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (level <= LILY_LOG_WARN)
        host_state.warnings++;
    g_test_message("%s: %s", inst->name, msg);
}

static bool fake_log_enabled(LilyInstance *inst, LilyLogLevel level)
{
    return true;
}

static gboolean fake_pio_register(LilyInstance *inst, uint16_t base, uint32_t len,
                                  const LilyIoOps *ops, void *opaque, GError **error)
{
    host_state.pio_base = base;
    host_state.pio_len = len;
    host_state.pio_ops = ops;
    host_state.pio_opaque = opaque;
    return TRUE;
}

static LilyIrqLine *fake_irq_get(LilyInstance *inst, unsigned line, GError **error)
{
    if (line >= G_N_ELEMENTS(host_state.irqs)) {
        g_set_error(error, g_quark_from_static_string("fake-host"), 1, "no line %u", line);
        return NULL;
    }
    host_state.irqs[line].line = line;
    return &host_state.irqs[line];
}

static void fake_irq_set(LilyIrqLine *irq, bool level)
{
    if (level && !irq->level)
        irq->raises++;
    irq->level = level;
}

/* Backends attach first under their instance name; NICs find them by name. */
static LilyNetPort *fake_net_attach(LilyInstance *inst, const char *netdev,
                                    const LilyNetOps *ops, void *opaque,
                                    GError **error)
{
    LilyNetPort *p = g_new0(LilyNetPort, 1);

    p->ops = ops;
    p->opaque = opaque;
    p->is_backend = netdev == NULL;
    p->netdev = netdev ? netdev : inst->name;
    for (unsigned i = 0; i < host_state.nports; i++) {
        LilyNetPort *q = host_state.ports[i];
        if (!q->peer && q->is_backend != p->is_backend && strcmp(q->netdev, p->netdev) == 0) {
            q->peer = p;
            p->peer = q;
        }
    }
    if (!p->is_backend && !p->peer) {
        g_set_error(error, g_quark_from_static_string("fake-host"), 1,
                    "no netdev '%s'", netdev);
        g_free(p);
        return NULL;
    }
    g_assert_cmpuint(host_state.nports, <, G_N_ELEMENTS(host_state.ports));
    host_state.ports[host_state.nports++] = p;
    return p;
}

static bool fake_net_can_send(LilyNetPort *port)
{
    return port->peer && port->peer->ops->can_receive(port->peer->opaque);
}

static bool fake_net_send(LilyNetPort *port, const uint8_t *frame, size_t len)
{
    if (!fake_net_can_send(port))
        return false;
    port->peer->ops->receive(port->peer->opaque, frame, len);
    return true;
}

static void fake_net_ready(LilyNetPort *port)
{
    if (port->peer)
        port->peer->ops->ready(port->peer->opaque);
}

static void fake_net_detach(LilyNetPort *port)
{
    for (unsigned i = 0; i < host_state.nports; i++) {
        if (host_state.ports[i] == port) {
            host_state.ports[i] = host_state.ports[--host_state.nports];
            break;
        }
    }
    if (port->peer)
        port->peer->peer = NULL;
    g_free(port);
}

static void fake_stat_add(LilyInstance *inst, const char *name, uint64_t delta)
{
    g_autofree char *key = g_strdup_printf("%s.%s", inst->name, name);
    uint64_t v = GPOINTER_TO_SIZE(g_hash_table_lookup(host_state.stats, key));

    g_hash_table_insert(host_state.stats, g_steal_pointer(&key),
                        GSIZE_TO_POINTER(v + delta));
}

static uint64_t stat(const char *key)
{
    return GPOINTER_TO_SIZE(g_hash_table_lookup(host_state.stats, key));
}

static const LilyHost fake_host = {
    .size = sizeof(LilyHost),
    .abi_major = LILYVM_ABI_MAJOR,
    .abi_minor = LILYVM_ABI_MINOR,
    .instance_name = fake_instance_name,
    .log = fake_log,
    .log_enabled = fake_log_enabled,
    .pio_register = fake_pio_register,
    .irq_get = fake_irq_get,
    .irq_set = fake_irq_set,
    .net_attach = fake_net_attach,
    .net_send = fake_net_send,
    .net_can_send = fake_net_can_send,
    .net_ready = fake_net_ready,
    .net_detach = fake_net_detach,
    .stat_add = fake_stat_add,
};

/* --- plugin loading ------------------------------------------------------ */

static char *plugin_dir;

static const LilyPluginDesc *load_plugin(const char *name, unsigned slot)
{
    g_autofree char *path = g_strdup_printf("%s/%s.so", plugin_dir, name);
    LilyPluginEntryFn entry;
    const LilyPluginDesc *desc;

    host_state.dl[slot] = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!host_state.dl[slot])
        g_error("cannot load %s: %s", path, dlerror());
    entry = (LilyPluginEntryFn)dlsym(host_state.dl[slot], LILYVM_PLUGIN_ENTRY_SYMBOL);
    g_assert_nonnull(entry);
    desc = entry();
    g_assert_cmpuint(desc->abi_major, ==, LILYVM_ABI_MAJOR);
    g_assert_cmpuint(desc->size, ==, sizeof(LilyPluginDesc));
    g_assert_cmpstr(desc->name, ==, name);
    return desc;
}

static size_t count_options(const LilyPluginDesc *desc)
{
    size_t n = 0;

    while (desc->options[n].name)
        n++;
    return n;
}

/* Option values as the core would give them: the defaults, then overrides. */
static LilyOptValue *default_values(const LilyPluginDesc *desc)
{
    size_t n = count_options(desc);
    LilyOptValue *v = g_new0(LilyOptValue, n + 1);

    for (size_t i = 0; i < n; i++) {
        const LilyOption *o = &desc->options[i];
        if (!o->def)
            continue;
        v[i].present = true;
        v[i].s = o->def;
        if (o->type == LILY_OPT_INT)
            v[i].i = g_ascii_strtoll(o->def, NULL, 0);
        else if (o->type == LILY_OPT_MAC)
            g_assert_cmpint(sscanf(o->def, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx",
                                   &v[i].mac[0], &v[i].mac[1], &v[i].mac[2],
                                   &v[i].mac[3], &v[i].mac[4], &v[i].mac[5]), ==, 6);
    }
    return v;
}

static int option_index(const LilyPluginDesc *desc, const char *name)
{
    for (int i = 0; desc->options[i].name; i++)
        if (strcmp(desc->options[i].name, name) == 0)
            return i;
    g_error("%s has no option %s", desc->name, name);
}

typedef struct Machine {
    const LilyPluginDesc *nic_desc, *net_desc;
    LilyInstance nic, net;
    Ne2kBus bus;
} Machine;

static uint32_t bus_in(void *ctx, uint16_t port, unsigned size)
{
    host_state.port_accesses++;
    g_assert_cmpuint(port, >=, host_state.pio_base);
    g_assert_cmpuint(port, <, host_state.pio_base + host_state.pio_len);
    return host_state.pio_ops->read(host_state.pio_opaque, port - host_state.pio_base, size);
}

static void bus_out(void *ctx, uint16_t port, unsigned size, uint32_t value)
{
    host_state.port_accesses++;
    g_assert_cmpuint(port, >=, host_state.pio_base);
    g_assert_cmpuint(port, <, host_state.pio_base + host_state.pio_len);
    host_state.pio_ops->write(host_state.pio_opaque, port - host_state.pio_base, size, value);
}

static void bus_ins(void *ctx, uint16_t port, unsigned size, void *buf, uint32_t count)
{
    host_state.port_accesses++;
    host_state.pio_ops->read_rep(host_state.pio_opaque, port - host_state.pio_base,
                                 size, buf, count);
}

static void bus_outs(void *ctx, uint16_t port, unsigned size, const void *buf,
                     uint32_t count)
{
    host_state.port_accesses++;
    host_state.pio_ops->write_rep(host_state.pio_opaque, port - host_state.pio_base,
                                  size, buf, count);
}

/* Create backend `backend` (named net0) and a NIC on it; FALSE with error. */
static gboolean machine_up(Machine *m, const char *backend, const char *mac,
                           GError **error)
{
    g_autofree LilyOptValue *nv = NULL;
    g_autofree LilyOptValue *bv = NULL;
    int i;

    memset(&host_state, 0, sizeof host_state);
    host_state.stats = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    memset(m, 0, sizeof *m);
    m->net_desc = load_plugin(backend, 1);
    m->nic_desc = load_plugin("nic-ne2000", 0);

    m->net.name = g_strdup("net0");
    bv = default_values(m->net_desc);
    if (!m->net_desc->init(&m->net, &fake_host, bv, &m->net.state, error))
        return FALSE;

    m->nic.name = g_strdup("nic0");
    nv = default_values(m->nic_desc);
    i = option_index(m->nic_desc, "netdev");
    nv[i].present = nv[i].set = true;
    nv[i].s = "net0";
    if (mac) {
        i = option_index(m->nic_desc, "mac");
        nv[i].set = true;
        nv[i].s = mac;
        sscanf(mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &nv[i].mac[0], &nv[i].mac[1],
               &nv[i].mac[2], &nv[i].mac[3], &nv[i].mac[4], &nv[i].mac[5]);
    }
    if (!m->nic_desc->init(&m->nic, &fake_host, nv, &m->nic.state, error)) {
        m->net_desc->fini(m->net.state);
        m->net.state = NULL;
        return FALSE;
    }
    m->bus = (Ne2kBus){ .in = bus_in, .out = bus_out, .ins = bus_ins,
                        .outs = bus_outs, .ctx = m, .iobase = host_state.pio_base };
    return TRUE;
}

static void machine_down(Machine *m)
{
    if (m->nic.state)
        m->nic_desc->fini(m->nic.state);
    if (m->net.state)
        m->net_desc->fini(m->net.state);
    g_free(m->nic.name);
    g_free(m->net.name);
    g_assert_cmpuint(host_state.nports, ==, 0);
    g_hash_table_unref(host_state.stats);
    for (unsigned i = 0; i < 2; i++)
        if (host_state.dl[i])
            dlclose(host_state.dl[i]);
}

static void make_frame(uint8_t *buf, size_t len, const uint8_t dst[6], uint8_t seed)
{
    memcpy(buf, dst, 6);
    memcpy(buf + 6, (const uint8_t[6]){ 0x02, 0, 0, 0, 0, 0x09 }, 6);
    buf[12] = 0x88;
    buf[13] = 0xb5; /* local experimental ethertype */
    for (size_t i = 14; i < len; i++)
        buf[i] = (uint8_t)(seed ^ (i * 3));
}

/* --- tests --------------------------------------------------------------- */

static void test_descriptor(void)
{
    const LilyPluginDesc *d = load_plugin("nic-ne2000", 0);
    const LilyOption *o = d->options;

    g_assert_cmpint(d->kind, ==, LILY_PLUGIN_DEVICE);
    g_assert_cmpstr(o[option_index(d, "iobase")].def, ==, "0x300");
    g_assert_cmpstr(o[option_index(d, "irq")].def, ==, "9");
    g_assert_cmpstr(o[option_index(d, "mac")].def, ==, "52:54:00:12:34:56");
    g_assert_cmpuint(o[option_index(d, "netdev")].flags & LILY_OPT_F_REQUIRED, ==,
                     LILY_OPT_F_REQUIRED);
    dlclose(host_state.dl[0]);
    d = load_plugin("net-loopback", 0);
    g_assert_cmpint(d->kind, ==, LILY_PLUGIN_NETDEV);
    dlclose(host_state.dl[0]);
    d = load_plugin("net-null", 0);
    g_assert_cmpint(d->kind, ==, LILY_PLUGIN_NETDEV);
    dlclose(host_state.dl[0]);
}

static void test_probe(void)
{
    Machine m;
    uint8_t mac[6];
    g_autoptr(GError) error = NULL;

    g_assert_true(machine_up(&m, "net-null", NULL, &error));
    g_assert_cmpuint(host_state.pio_base, ==, 0x300);
    g_assert_cmpuint(host_state.pio_len, ==, 0x20);
    g_assert_true(ne2k_drv_probe(&m.bus, mac));
    g_assert_cmpmem(mac, 6, ((const uint8_t[6]){ 0x52, 0x54, 0, 0x12, 0x34, 0x56 }), 6);
    machine_down(&m);
}

static void test_mac_option(void)
{
    Machine m;
    uint8_t mac[6];
    g_autoptr(GError) error = NULL;

    g_assert_true(machine_up(&m, "net-null", "02:11:22:33:44:55", &error));
    g_assert_true(ne2k_drv_probe(&m.bus, mac));
    g_assert_cmpmem(mac, 6, ((const uint8_t[6]){ 2, 0x11, 0x22, 0x33, 0x44, 0x55 }), 6);
    machine_down(&m);
}

static void test_multicast_mac_refused(void)
{
    Machine m;
    g_autoptr(GError) error = NULL;

    g_assert_false(machine_up(&m, "net-null", "01:00:5e:00:00:01", &error));
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "multicast"));
    g_assert_nonnull(strstr(error->message, "01:00:5e:00:00:01"));
    machine_down(&m);
}

static void test_loopback_roundtrip(void)
{
    Machine m;
    uint8_t mac[6], frame[98], back[200];
    g_autoptr(GError) error = NULL;
    LilyIrqLine *irq;

    g_assert_true(machine_up(&m, "net-loopback", NULL, &error));
    irq = &host_state.irqs[9];
    g_assert_true(ne2k_drv_probe(&m.bus, mac));
    ne2k_drv_init(&m.bus, mac, 0x04);
    g_assert_false(irq->level);

    make_frame(frame, sizeof frame, mac, 0x5a);
    host_state.port_accesses = 0;
    g_assert_true(ne2k_drv_send(&m.bus, frame, sizeof frame));
    g_test_message("a send took %u port accesses", host_state.port_accesses);
    host_state.port_accesses = 0;
    /* Sent, echoed, received: both interrupts are up on line 9. */
    g_assert_true(irq->level);
    g_assert_cmphex(ne2k_drv_isr(&m.bus) & 0x03, ==, 0x03);
    g_assert_cmpuint(ne2k_drv_recv(&m.bus, back, sizeof back), ==, sizeof frame);
    g_test_message("a receive took %u port accesses", host_state.port_accesses);
    g_assert_cmpmem(back, sizeof frame, frame, sizeof frame);
    g_assert_cmpuint(ne2k_drv_recv(&m.bus, back, sizeof back), ==, 0);
    ne2k_drv_ack(&m.bus, 0x03);
    g_assert_false(irq->level);
    g_assert_cmpuint(stat("nic0.tx_frames"), ==, 1);
    g_assert_cmpuint(stat("nic0.rx_frames"), ==, 1);
    g_assert_cmpuint(stat("net0.echoed_frames"), ==, 1);
    machine_down(&m);
}

static void test_loopback_backpressure(void)
{
    enum { FRAMES = 40 };
    Machine m;
    uint8_t mac[6], frame[1000], back[1100];
    g_autoptr(GError) error = NULL;
    unsigned got = 0;

    g_assert_true(machine_up(&m, "net-loopback", NULL, &error));
    g_assert_true(ne2k_drv_probe(&m.bus, mac));
    ne2k_drv_init(&m.bus, mac, 0x04);
    /* More frames than the ring holds: the rest wait in the backend. */
    for (unsigned i = 0; i < FRAMES; i++) {
        make_frame(frame, sizeof frame, mac, (uint8_t)i);
        g_assert_true(ne2k_drv_send(&m.bus, frame, sizeof frame));
    }
    g_assert_cmpuint(stat("net0.queued_frames"), >, 0);
    g_assert_cmphex(ne2k_drv_isr(&m.bus) & 0x10, ==, 0); /* no overwrite */
    /* Draining the ring lets the queued frames in, in order, none lost. */
    for (;;) {
        size_t len = ne2k_drv_recv(&m.bus, back, sizeof back);
        if (len == 0)
            break;
        g_assert_cmpuint(len, ==, sizeof frame);
        make_frame(frame, sizeof frame, mac, (uint8_t)got);
        g_assert_cmpmem(back, len, frame, sizeof frame);
        got++;
        g_assert_cmpuint(got, <=, FRAMES);
    }
    g_assert_cmpuint(got, ==, FRAMES);
    g_assert_cmpuint(stat("nic0.rx_overflow"), ==, 0);
    g_assert_cmpuint(stat("net0.dropped_frames"), ==, 0);
    machine_down(&m);
}

static void test_null_backend(void)
{
    Machine m;
    uint8_t mac[6], frame[60], back[100];
    g_autoptr(GError) error = NULL;

    g_assert_true(machine_up(&m, "net-null", NULL, &error));
    g_assert_true(ne2k_drv_probe(&m.bus, mac));
    ne2k_drv_init(&m.bus, mac, 0x04);
    make_frame(frame, sizeof frame, mac, 1);
    g_assert_true(ne2k_drv_send(&m.bus, frame, sizeof frame));
    g_assert_true(ne2k_drv_send(&m.bus, frame, sizeof frame));
    g_assert_cmpuint(stat("net0.dropped_frames"), ==, 2);
    g_assert_cmpuint(stat("net0.dropped_bytes"), ==, 2 * sizeof frame);
    g_assert_cmpuint(ne2k_drv_recv(&m.bus, back, sizeof back), ==, 0);
    g_assert_cmphex(ne2k_drv_isr(&m.bus) & 0x03, ==, 0x02);
    machine_down(&m);
}

static void test_port_decoding(void)
{
    Machine m;
    g_autoptr(GError) error = NULL;
    uint16_t words[2] = { 0xbeef, 0xcafe };
    uint32_t v;

    g_assert_true(machine_up(&m, "net-null", NULL, &error));
    /* A 16-bit register access is two byte cycles: RSAR0/1 in one go. */
    bus_out(&m, 0x308, 2, 0x4321);
    g_assert_cmphex(bus_in(&m, 0x308, 2), ==, 0x4321);
    /* The data port answers on 0x310..0x317, a 32-bit access moves 2 words. */
    bus_out(&m, 0x300, 1, 0x22);
    bus_out(&m, 0x30e, 1, 0x49);
    bus_out(&m, 0x30a, 2, 8);
    bus_out(&m, 0x308, 2, 0x4000);
    bus_out(&m, 0x300, 1, 0x12);
    bus_out(&m, 0x314, 4, (uint32_t)words[1] << 16 | words[0]);
    bus_ins(&m, 0x310, 2, words, 0); /* zero-count rep is harmless */
    bus_out(&m, 0x30a, 2, 4);
    bus_out(&m, 0x308, 2, 0x4000);
    bus_out(&m, 0x300, 1, 0x0a);
    v = bus_in(&m, 0x310, 4);
    g_assert_cmphex(v, ==, 0xcafebeef);
    /* Reading the reset port resets: RST in ISR, chip stopped. */
    bus_out(&m, 0x307, 1, 0xff);
    (void)bus_in(&m, 0x31f, 1);
    g_assert_cmphex(bus_in(&m, 0x307, 1), ==, 0x80);
    g_assert_cmphex(bus_in(&m, 0x300, 1) & 0x03, ==, 0x01);
    machine_down(&m);
}

static void test_ring_warning_once(void)
{
    Machine m;
    uint8_t mac[6], frame[60];
    g_autoptr(GError) error = NULL;

    g_assert_true(machine_up(&m, "net-loopback", NULL, &error));
    g_assert_true(ne2k_drv_probe(&m.bus, mac));
    g_assert_cmpuint(host_state.warnings, ==, 0);
    /* A driver laid out for QEMU's 32 KiB card: told once, not per frame. */
    ne2k_drv_init(&m.bus, mac, 0x04);
    bus_out(&m, 0x302, 1, 0xc0);
    make_frame(frame, sizeof frame, mac, 0);
    for (unsigned i = 0; i < 3; i++)
        g_assert_true(ne2k_drv_send(&m.bus, frame, sizeof frame));
    g_assert_cmpuint(stat("nic0.rx_frames"), ==, 3);
    g_assert_cmpuint(host_state.warnings, ==, 1);
    machine_down(&m);
}

int main(int argc, char **argv)
{
    g_autofree char *dir = g_path_get_dirname(argv[0]);

    g_test_init(&argc, &argv, NULL);
    /* build/tests/ne2000/<test> -> build/plugins */
    plugin_dir = g_build_filename(dir, "..", "..", "plugins", NULL);
    g_test_add_func("/ne2000/fake-host/descriptor", test_descriptor);
    g_test_add_func("/ne2000/fake-host/probe", test_probe);
    g_test_add_func("/ne2000/fake-host/mac-option", test_mac_option);
    g_test_add_func("/ne2000/fake-host/multicast-mac-refused", test_multicast_mac_refused);
    g_test_add_func("/ne2000/fake-host/port-decoding", test_port_decoding);
    g_test_add_func("/ne2000/fake-host/loopback-roundtrip", test_loopback_roundtrip);
    g_test_add_func("/ne2000/fake-host/loopback-backpressure", test_loopback_backpressure);
    g_test_add_func("/ne2000/fake-host/null-backend", test_null_backend);
    g_test_add_func("/ne2000/fake-host/ring-warning-once", test_ring_warning_once);
    return g_test_run();
}
