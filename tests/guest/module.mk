# Guest tests: the test kernel under QEMU (plain, rewritten, bench mode).
TESTS += tests/guest/qemu-testkernel.sh tests/guest/qemu-bench.sh
TEST_DEPS += $(B)/guest/testkernel.elf
ifneq ($(GUEST_HAVE_LILY_CC),)
TESTS += tests/guest/qemu-testkernel-lily.sh
TEST_DEPS += $(B)/guest/testkernel-lily.elf
endif
TESTS += tests/guest/relay-selftest.sh
UNIT_TESTS += tests/guest/relay-selftest.sh
