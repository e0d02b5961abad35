# The guest network library (NE2000 driver, IPv4 stack) as
# build/guest/FLAVOUR/libguestnet.a for the plain and rewritten flavours;
# the pattern rules of guest/module.mk compile the objects.
GUEST_NET_SRCS := $(addprefix guest/net/,ne2k.c net.c dhcp.c dns.c tcp.c)
GUEST_NET_LIB_plain := $(B)/guest/plain/libguestnet.a
GUEST_NET_LIB_lily := $(B)/guest/lily/libguestnet.a

$(GUEST_NET_LIB_plain): $(patsubst guest/%.c,$(B)/guest/plain/%.o,$(GUEST_NET_SRCS)) guest/net/module.mk
	@rm -f $@
	$(AR) rcs $@ $(filter %.o,$^)

$(GUEST_NET_LIB_lily): $(patsubst guest/%.c,$(B)/guest/lily/%.o,$(GUEST_NET_SRCS)) guest/net/module.mk
	@rm -f $@
	$(AR) rcs $@ $(filter %.o,$^)
