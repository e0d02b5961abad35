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

# A guest kernel running the same driver on the card, built like the test
# kernel (guest/module.mk): plain for QEMU's ne2k_isa, rewritten for LilyVM.
# ne2k_guest_flavour(flavour, compiler, extra prerequisites)
define ne2k_guest_flavour
$(B)/tests/ne2000/guest/$(1)/%.o: tests/ne2000/guest/%.c config.mk tests/ne2000/module.mk $(3)
	@mkdir -p $$(@D)
	$(2) $$(GUEST_CFLAGS) -MMD -MP -c -o $$@ $$<
$(B)/tests/ne2000/guest/$(1)/ne2k-driver.o: tests/ne2000/ne2k-driver.c config.mk tests/ne2000/module.mk $(3)
	@mkdir -p $$(@D)
	$(2) $$(GUEST_CFLAGS) -MMD -MP -c -o $$@ $$<
NE2K_GUEST_OBJS_$(1) := $(B)/guest/$(1)/sdk/crt0.o $(B)/tests/ne2000/guest/$(1)/ne2k-guest.o \
	$(B)/tests/ne2000/guest/$(1)/ne2k-driver.o
endef
$(eval $(call ne2k_guest_flavour,plain,$(CC32),))
$(eval $(call ne2k_guest_flavour,lily,$(LILY_CC),$(LILY_CC) $(B)/tools/lilycc-bin/as))

NE2K_GUEST := $(B)/tests/ne2000/ne2k-guest.elf
$(NE2K_GUEST): $(NE2K_GUEST_OBJS_plain) $(B)/guest/plain/libguestsdk.a $(GUEST_LDSCRIPT)
	$(CC32) $(GUEST_LDFLAGS) -o $@ $(NE2K_GUEST_OBJS_plain) $(B)/guest/plain/libguestsdk.a -lgcc

NE2K_GUEST_LILY := $(B)/tests/ne2000/ne2k-guest-lily.elf
$(NE2K_GUEST_LILY): $(NE2K_GUEST_OBJS_lily) $(B)/guest/lily/libguestsdk.a $(GUEST_LDSCRIPT) $(LILY_CC)
	$(LILY_CC) $(GUEST_LDFLAGS) -o $@.tmp $(NE2K_GUEST_OBJS_lily) $(B)/guest/lily/libguestsdk.a -lgcc
	$(if $(GUEST_HAVE_LILY_CHECK),$(LILY_CHECK) $@.tmp)
	mv $@.tmp $@

TESTS += tests/ne2000/guest-qemu.sh
TEST_DEPS += $(NE2K_GUEST)
ifneq ($(GUEST_HAVE_LILY_CC),)
TESTS += tests/ne2000/guest-lilyvm.sh
TEST_DEPS += $(NE2K_GUEST_LILY)
endif
