# Real applications (curl, iperf3, dig, python servers) through the network
# backends, inside lily-netns namespaces; loopback only.
TESTS += tests/netharness/net-socket.sh tests/netharness/net-slirp.sh
TEST_DEPS += $(LILY_NETNS)

include bench/net/module.mk
