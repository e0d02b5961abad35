# Install test: stages make install, builds the out-of-tree example plugin
# against it with pkg-config and runs it in the installed lilyvm.

INSTALL_TEST_GUEST := $(B)/tests/install/hello-guest.elf

$(INSTALL_TEST_GUEST): tests/install/hello-guest.S config.mk
	@mkdir -p $(@D)
	$(CC32) -m32 -nostdlib -static -no-pie -fno-pic -Wl,--build-id=none \
	    -Wl,-z,max-page-size=0x1000 -Wl,-Ttext=0x100000 -o $@ $<

TESTS += tests/install/install.sh
TEST_DEPS += $(INSTALL_TEST_GUEST)
