# Real applications (curl, iperf3, dig, python servers) through the network
# backends, inside lily-netns namespaces; loopback only.
TESTS += tests/netharness/net-socket.sh tests/netharness/net-slirp.sh \
	tests/netharness/net-socket-mtu65520.sh
TEST_DEPS += $(LILY_NETNS)


# net-slirp under the real core with this test as its NIC (no namespace).
SLIRP_VM_TEST := $(B)/tests/netharness/slirp-vm-test
$(SLIRP_VM_TEST): $(B)/obj/tests/netharness/slirp-vm-test.o $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $(filter %.o,$^) $(CORE_LIBS)
TESTS += $(SLIRP_VM_TEST)
UNIT_TESTS += $(SLIRP_VM_TEST)
TEST_DEPS += $(SLIRP_VM_TEST)
