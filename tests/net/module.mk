# net-socket tests: the pure core driven by a mini guest stack over real
# loopback sockets, and a bounded fuzzer run.
NETSOCK_TEST := $(B)/tests/net/netsock-test
NETSOCK_TEST_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(NETSOCK_CORE_SRCS) \
	tests/net/miniguest.c tests/net/netsock-test.c)

$(NETSOCK_TEST): $(NETSOCK_TEST_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDFLAGS_EXE) $(GLIB_LIBS)

# The plugin as the core loads it (dlopen), with a fake host table.
NETSOCK_PLUGIN_TEST := $(B)/tests/net/netsock-plugin-test
$(NETSOCK_PLUGIN_TEST): $(B)/obj/tests/net/netsock-plugin-test.o $(B)/plugins/net-socket.so
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(LDFLAGS_EXE) $(GLIB_LIBS)

# The real core: an NE2000 linked to net-socket, driven through its ports.
NETSOCK_VM_TEST := $(B)/tests/net/netsock-vm-test
$(NETSOCK_VM_TEST): $(B)/obj/tests/net/netsock-vm-test.o $(B)/obj/tests/ne2000/ne2k-driver.o \
		$(CORE_LIB) | $(B)/plugins/net-socket.so $(B)/plugins/nic-ne2000.so
	@mkdir -p $(@D)
	$(CC) -o $@ $(filter %.o,$^) $(LDFLAGS_EXE) $(CORE_LIBS)

TESTS += $(NETSOCK_TEST) $(NETSOCK_PLUGIN_TEST) $(NETSOCK_VM_TEST)
UNIT_TESTS += $(NETSOCK_TEST) $(NETSOCK_PLUGIN_TEST) $(NETSOCK_VM_TEST)
TEST_DEPS += $(NETSOCK_TEST) $(NETSOCK_PLUGIN_TEST) $(NETSOCK_VM_TEST)

include fuzz/netsock.mk
TESTS += tests/net/netsock-fuzz.sh tests/net/netsock-ping-netns.sh

# The real Linux stack as the guest: a TAP device in a private network
# namespace, curl and dig as guest programs (skips without namespaces).
NETSOCK_TAP_TEST := $(B)/tests/net/netsock-tap-test
$(NETSOCK_TAP_TEST): $(patsubst %.c,$(B)/obj/%.o,$(NETSOCK_CORE_SRCS) tests/net/netsock-tap-test.c)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDFLAGS_EXE) $(GLIB_LIBS) -lpthread
TESTS += $(NETSOCK_TAP_TEST)
TEST_DEPS += $(NETSOCK_TAP_TEST)
