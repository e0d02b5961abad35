# Guest tests: the test kernel under QEMU (plain, rewritten, bench mode, with
# a network card) and under LilyVM (skipped until it can run a kernel), the
# TAP relay those scripts share, and the SDK's libc checked on the host.
TESTS += tests/guest/qemu-testkernel.sh tests/guest/qemu-bench.sh
# The /net group with an NE2000 on user networking and loopback echo peers.
TESTS += tests/guest/qemu-testkernel-net.sh
TEST_DEPS += $(B)/guest/testkernel.elf
ifneq ($(GUEST_HAVE_LILY_CC),)
TESTS += tests/guest/qemu-testkernel-lily.sh tests/guest/lilyvm-testkernel.sh
TEST_DEPS += $(B)/guest/testkernel-lily.elf
endif
TESTS += tests/guest/relay-selftest.sh
UNIT_TESTS += tests/guest/relay-selftest.sh

# The SDK libc compiled freestanding for the host, every symbol renamed
# sdk_*, so the test compares it with glibc in one program.
TGUEST := $(B)/tests/guest
TGUEST_LIBC_SRCS := guest/sdk/printf.c guest/sdk/string.c
$(TGUEST)/sdk-%.o: guest/sdk/%.c config.mk tests/guest/module.mk
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O2 -g $(WARN) -ffreestanding -fno-builtin -fno-stack-protector -fPIE \
	    -nostdinc -isystem $(shell $(CC) -print-file-name=include) -Iguest/sdk/include \
	    -c -o $@.tmp.o $<
	$(OBJCOPY) --prefix-symbols=sdk_ $@.tmp.o $@
	rm -f $@.tmp.o

$(TGUEST)/test-sdk-libc: $(B)/obj/tests/guest/test-sdk-libc.o \
		$(patsubst guest/sdk/%.c,$(TGUEST)/sdk-%.o,$(TGUEST_LIBC_SRCS))
	$(CC) $(LDFLAGS_EXE) -o $@ $^ $(GLIB_LIBS)

TESTS += $(TGUEST)/test-sdk-libc
UNIT_TESTS += $(TGUEST)/test-sdk-libc
TEST_DEPS += $(TGUEST)/test-sdk-libc

# make bench: the bench mode of the test kernel, as a table.
BENCH_DEPS += $(B)/guest/testkernel.elf $(if $(GUEST_HAVE_LILY_CC),$(B)/guest/testkernel-lily.elf)
.PHONY: bench-guest
bench-guest: $(B)/guest/testkernel.elf $(if $(GUEST_HAVE_LILY_CC),$(B)/guest/testkernel-lily.elf)
	tests/guest/bench-guest.sh
