# Tests of the NE2000: the DP8390 register model on its own, the plugins
# under a fake host, and the plugins through the real core (CORE_LIB and
# CORE_LIBS come from src/core/module.mk, included before this file).
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

# The same driver through the real core (loader, config, bus, IRQ, links).
NE2K_VM_TEST := $(B)/tests/ne2000/plugin-vm-test
$(NE2K_VM_TEST): $(B)/obj/tests/ne2000/plugin-vm-test.o $(NE2K_DRIVER_OBJ) $(CORE_LIB) \
		| $(B)/plugins/nic-ne2000.so $(B)/plugins/net-loopback.so $(B)/plugins/net-null.so
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $(filter %.o,$^) $(CORE_LIBS)

TESTS += $(NE2K_VM_TEST)
UNIT_TESTS += $(NE2K_VM_TEST)
TEST_DEPS += $(NE2K_VM_TEST)

# The libFuzzer target and its bounded smoke run.
include fuzz/ne2000.mk
