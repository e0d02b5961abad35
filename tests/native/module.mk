# Native execution: transport tests (both transports) and the trap benchmark.

NATIVE_TEST := $(B)/tests/native/test-native
NATIVE_BENCH := $(B)/tools/lily-native-bench
NATIVE_BLOBS := $(B)/obj/tests/native/guest-blobs.o

$(B)/obj/tests/native/%.o: tests/native/%.S tests/native/guest-layout.h tests/native/guest-blobs.inc config.mk
	@mkdir -p $(@D)
	$(CC) -I. -c -o $@ $<

$(NATIVE_TEST): $(B)/obj/tests/native/test-native.o $(NATIVE_BLOBS) $(NATIVE_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $^ $(GLIB_LIBS)

$(NATIVE_BENCH): $(B)/obj/tests/native/bench-native.o $(NATIVE_BLOBS) $(NATIVE_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $^ $(GLIB_LIBS)

TESTS += $(NATIVE_TEST)
TEST_DEPS += $(NATIVE_TEST)
BENCH_DEPS += $(NATIVE_BENCH)

# The signal transport's adaptive spinning (budgets, correctness; no timing).
NATIVE_HANDOVER_TEST := $(B)/tests/native/test-handover
$(NATIVE_HANDOVER_TEST): $(B)/obj/tests/native/test-handover.o $(NATIVE_BLOBS) $(NATIVE_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $^ $(GLIB_LIBS)

TESTS += $(NATIVE_HANDOVER_TEST)
TEST_DEPS += $(NATIVE_HANDOVER_TEST)

.PHONY: bench-native
bench-native: $(NATIVE_BENCH)
	$(NATIVE_BENCH)

# Compatibility mode under QEMU, for hosts without it (skipped unless
# LILYVM_TEST_KERNEL names a kernel image): the test program inside
# build/tools/lily-nested's x86-64 Linux (built by all).
TESTS += tests/native/qemu-compat.sh
