# lily-nested (tools/lily-nested): the demo run inside QEMU, its console,
# exit status and port forwards.  Each script skips without QEMU or a kernel
# image with its e1000 driver (lily-nested --fetch).
TESTS += tests/nested/demo-run.sh tests/nested/demo-fwd.sh tests/nested/console-pty.sh
TEST_DEPS += $(B)/tools/lily-nested $(LILY_NESTED_HELPERS) $(B)/lilyvm
ifneq ($(GUEST_HAVE_LILY_CC),)
TEST_DEPS += $(B)/guest/demo-lily.elf
endif
