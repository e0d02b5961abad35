# The network demo kernel (guest/demo, guest/net) under QEMU's ne2k_isa on
# user networking: DHCP and ping, DNS, wget from a host server, httpd
# reached through a host forward.  Each script skips when QEMU is missing.
TESTS += tests/guestnet/dhcp-ping.sh tests/guestnet/dns.sh tests/guestnet/wget.sh \
	tests/guestnet/httpd.sh
TEST_DEPS += $(B)/guest/demo.elf
ifneq ($(GUEST_HAVE_LILY_CC),)
TESTS += tests/guestnet/dhcp-ping-lily.sh tests/guestnet/lilyvm-demo.sh
TEST_DEPS += $(B)/guest/demo-lily.elf
endif
