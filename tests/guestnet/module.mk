# The network demo kernel (guest/demo, guest/net) under QEMU's ne2k_isa on
# user networking: DHCP and ping, DNS, wget from a host server, httpd
# reached through a host forward.  Each script skips when QEMU is missing.
TESTS += tests/guestnet/dhcp-ping.sh tests/guestnet/dns.sh tests/guestnet/wget.sh \
	tests/guestnet/httpd.sh
TEST_DEPS += $(B)/guest/demo.elf
ifneq ($(GUEST_HAVE_LILY_CC),)
TESTS += tests/guestnet/dhcp-ping-lily.sh tests/guestnet/lilyvm-demo.sh tests/guestnet/lilyvm-demo-qemu.sh
TEST_DEPS += $(B)/guest/demo-lily.elf
endif

# The library itself on the host, over a fake card (test-stack.c): ARP
# holding, ICMP, TCP retransmission, ordering, close and reset.
GUESTNET_STACK_TEST := $(B)/tests/guestnet/test-stack
$(GUESTNET_STACK_TEST): $(B)/obj/tests/guestnet/test-stack.o \
		$(patsubst %.c,$(B)/obj/%.o,$(addprefix guest/net/,net.c tcp.c dhcp.c dns.c))
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDFLAGS_EXE) $(GLIB_LIBS)
TESTS += $(GUESTNET_STACK_TEST)
UNIT_TESTS += $(GUESTNET_STACK_TEST)
TEST_DEPS += $(GUESTNET_STACK_TEST)

# netpeer: echo and HTTP servers, an HTTP client, a one-line caller and a
# test-file generator for the host side of the nested-QEMU runs (no python3
# in their initramfs).  Static, like the initramfs's init.
$(B)/tests/guestnet/netpeer: tests/guestnet/netpeer.c
	@mkdir -p $(@D)
	$(CC) -static -O2 -Wall -Wextra -o $@ $<
TEST_DEPS += $(B)/tests/guestnet/netpeer
TESTS += tests/guestnet/netpeer-selftest.sh
