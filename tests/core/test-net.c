/* Network links: NIC <-> backend delivery, back-pressure and pcap capture. */
#include "tests/core/testutil.h"

typedef struct Nic {
    bool full;
    int received;
    int ready;
    uint8_t last[64];
    size_t last_len;
} Nic;

static bool nic_can_receive(void *opaque)
{
    return !((Nic *)opaque)->full;
}

static void nic_receive(void *opaque, const uint8_t *frame, size_t len)
{
    Nic *n = opaque;
    n->received++;
    n->last_len = MIN(len, sizeof n->last);
    memcpy(n->last, frame, n->last_len);
}

static void nic_ready(void *opaque)
{
    ((Nic *)opaque)->ready++;
}

static const LilyNetOps nic_ops = { nic_can_receive, nic_receive, nic_ready };

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void test_pcap_and_delivery(void)
{
    char *pcap = g_build_filename(g_get_tmp_dir(), "lilyvm-test-net.pcap", NULL);
    char *conf = g_strdup_printf("[netdev net0]\nplugin = test-net\necho = on\npcap = %s\n"
                                 "[device r]\nplugin = test-regs\n", pcap);
    LilyVm *vm = test_vm_from(conf);
    g_free(conf);
    const LilyHost *h = hostapi_table();
    LilyInstance *r = vm_find_instance(vm, "r");
    Nic nic = { 0 };
    GError *err = NULL;
    LilyNetPort *port = h->net_attach(r, "net0", &nic_ops, &nic, &err);
    g_assert_no_error(err);
    g_assert_nonnull(port);

    uint8_t frame[60];
    for (size_t i = 0; i < sizeof frame; i++)
        frame[i] = (uint8_t)i;
    g_assert_true(h->net_can_send(port));
    g_assert_true(h->net_send(port, frame, sizeof frame));
    g_assert_cmpint(nic.received, ==, 1);  /* echoed back by test-net */
    g_assert_cmpmem(nic.last, nic.last_len, frame, sizeof frame);

    /* A full NIC refuses the echo: only the outgoing frame crosses. */
    nic.full = true;
    frame[0] = 0xaa;
    g_assert_true(h->net_send(port, frame, 42));
    g_assert_cmpint(nic.received, ==, 1);
    nic.full = false;
    h->net_ready(port);  /* test-net has no ready(): nothing to call, nothing breaks */

    g_assert_false(h->net_send(port, frame, 0));
    vm_free(vm);

    char *data = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(pcap, &data, &len, NULL));
    const uint8_t *p = (const uint8_t *)data;
    g_assert_cmpuint(len, ==, 24 + 3 * 16 + 60 + 60 + 42);
    g_assert_cmphex(get32(p), ==, 0xa1b2c3d4);
    g_assert_cmpuint(p[4] | p[5] << 8, ==, 2);    /* version 2.4 (little-endian host) */
    g_assert_cmpuint(p[6] | p[7] << 8, ==, 4);
    g_assert_cmpuint(get32(p + 20), ==, 1);       /* LINKTYPE_ETHERNET */
    g_assert_cmpuint(get32(p + 16), >=, 1514);    /* snaplen */
    const uint8_t *rec = p + 24;
    g_assert_cmpuint(get32(rec + 8), ==, 60);     /* incl_len */
    g_assert_cmpuint(get32(rec + 12), ==, 60);    /* orig_len */
    g_assert_cmpuint(rec[16 + 59], ==, 59);
    rec += 16 + 60;
    g_assert_cmpuint(get32(rec + 8), ==, 60);     /* the echo */
    rec += 16 + 60;
    g_assert_cmpuint(get32(rec + 8), ==, 42);
    g_assert_cmpuint(rec[16], ==, 0xaa);
    g_free(data);
    g_unlink(pcap);
    g_free(pcap);
}

static void test_attach_errors(void)
{
    LilyVm *vm = test_vm_from("[netdev net0]\nplugin = test-net\n[device r]\n"
                              "plugin = test-regs\n");
    const LilyHost *h = hostapi_table();
    LilyInstance *r = vm_find_instance(vm, "r");
    Nic nic = { 0 };
    GError *err = NULL;
    g_assert_null(h->net_attach(r, "net9", &nic_ops, &nic, &err));
    test_assert_contains(err->message, "'net9' does not exist", "net0");
    g_clear_error(&err);
    g_assert_null(h->net_attach(r, NULL, &nic_ops, &nic, &err));
    test_assert_contains(err->message, "only a [netdev]");
    g_clear_error(&err);
    LilyNetPort *port = h->net_attach(r, "net0", &nic_ops, &nic, &err);
    g_assert_nonnull(port);
    g_assert_null(h->net_attach(r, "net0", &nic_ops, &nic, &err));
    test_assert_contains(err->message, "already used by r");
    g_clear_error(&err);
    /* After detaching nothing is delivered and the port can be taken again. */
    h->net_detach(port);
    g_assert_false(h->net_send(port, (const uint8_t *)"x", 1));
    g_assert_nonnull(h->net_attach(r, "net0", &nic_ops, &nic, &err));
    vm_free(vm);
}

static void test_no_backend(void)
{
    /* A netdev whose backend never attached: frames are refused, not lost silently. */
    LilyVm *vm = test_vm_from("[device r]\nplugin = test-regs\n");
    NetLink *link = net_link_new(vm, "lonely");
    Nic nic = { 0 };
    GError *err = NULL;
    LilyNetPort *port = net_attach(vm, vm_find_instance(vm, "r"), "lonely", &nic_ops, &nic,
                                   &err);
    g_assert_nonnull(port);
    g_assert_false(net_can_send(port));
    g_assert_false(net_send(port, (const uint8_t *)"abc", 3));
    g_assert_cmpuint(link->dropped, ==, 1);
    vm_free(vm);
}

static void test_pcap_error(void)
{
    char *msg = test_config_error("[netdev n]\nplugin = test-net\n"
                                  "pcap = /nonexistent/dir/x.pcap\n");
    test_assert_contains(msg, "test.conf:3", "pcap", "/nonexistent/dir/x.pcap");
    g_free(msg);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/core/net/pcap-and-delivery", test_pcap_and_delivery);
    g_test_add_func("/core/net/attach-errors", test_attach_errors);
    g_test_add_func("/core/net/no-backend", test_no_backend);
    g_test_add_func("/core/net/pcap-error", test_pcap_error);
    return g_test_run();
}
