# Guest tests: the plain test kernel under QEMU (tests and bench mode).
TESTS += tests/guest/qemu-testkernel.sh tests/guest/qemu-bench.sh
TEST_DEPS += $(B)/guest/testkernel.elf
