# Tests of the NE2000: the DP8390 register model on its own, and the plugin
# through the real loader once the core provides it.
NE2K_MODEL_TEST := $(B)/tests/ne2000/dp8390-test

$(NE2K_MODEL_TEST): $(B)/obj/tests/ne2000/dp8390-test.o $(B)/obj/plugins/nic-ne2000/dp8390.o
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDFLAGS_EXE) $(GLIB_LIBS)

# The plugins as built, dlopened under a minimal fake host.
NE2K_FAKE_HOST_TEST := $(B)/tests/ne2000/plugin-fake-host-test
NE2K_DRIVER_OBJ := $(B)/obj/tests/ne2000/ne2k-driver.o

$(NE2K_FAKE_HOST_TEST): $(B)/obj/tests/ne2000/plugin-fake-host-test.o $(NE2K_DRIVER_OBJ) \
		| $(B)/plugins/nic-ne2000.so $(B)/plugins/net-loopback.so $(B)/plugins/net-null.so
	@mkdir -p $(@D)
	$(CC) -o $@ $(filter %.o,$^) $(LDFLAGS_EXE) $(GLIB_LIBS) -ldl

TESTS += $(NE2K_MODEL_TEST) $(NE2K_FAKE_HOST_TEST)
UNIT_TESTS += $(NE2K_MODEL_TEST) $(NE2K_FAKE_HOST_TEST)
TEST_DEPS += $(NE2K_MODEL_TEST) $(NE2K_FAKE_HOST_TEST)
include fuzz/ne2000.mk
