# Tests of the NE2000: the DP8390 register model on its own, and the plugin
# through the real loader once the core provides it.
NE2K_MODEL_TEST := $(B)/tests/ne2000/dp8390-test

$(NE2K_MODEL_TEST): $(B)/obj/tests/ne2000/dp8390-test.o $(B)/obj/plugins/nic-ne2000/dp8390.o
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDFLAGS_EXE) $(GLIB_LIBS)

TESTS += $(NE2K_MODEL_TEST)
UNIT_TESTS += $(NE2K_MODEL_TEST)
TEST_DEPS += $(NE2K_MODEL_TEST)
include fuzz/ne2000.mk
