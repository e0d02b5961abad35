# Loader tests: the test program is built from tests/loader/*.c and
# src/core/loader.c alone (no core library), with three small Multiboot
# kernels assembled by the 32-bit compiler beside it.

LOADER_TEST_DIR := $(B)/tests/loader
LOADER_TEST := $(LOADER_TEST_DIR)/test-loader
LOADER_TEST_KERNELS := $(addprefix $(LOADER_TEST_DIR)/,kernel-low.elf kernel-high.elf kernel-aout.elf)
LOADER_TEST_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/loader/*.c) src/core/loader.c)

# Freestanding, position-dependent, one page per section so that file
# offsets follow load addresses (the address-fields kernel relies on it).
LOADER_KERNEL_FLAGS := -m32 -nostdlib -static -no-pie -fno-pic -Wl,--build-id=none \
	-Wl,-z,max-page-size=0x1000

$(LOADER_TEST): $(LOADER_TEST_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $^ $(GLIB_LIBS)

$(LOADER_TEST_DIR)/kernel-low.elf: tests/loader/kernel.S tests/loader/low.ld config.mk
	@mkdir -p $(@D)
	$(CC32) $(LOADER_KERNEL_FLAGS) -Wl,-T,tests/loader/low.ld -o $@ $<

$(LOADER_TEST_DIR)/kernel-high.elf: tests/loader/kernel.S tests/loader/high.ld config.mk
	@mkdir -p $(@D)
	$(CC32) $(LOADER_KERNEL_FLAGS) -Wl,-T,tests/loader/high.ld -o $@ $<

$(LOADER_TEST_DIR)/kernel-aout.elf: tests/loader/kernel.S tests/loader/low.ld config.mk
	@mkdir -p $(@D)
	$(CC32) $(LOADER_KERNEL_FLAGS) -DADDRESS_FIELDS -Wl,-T,tests/loader/low.ld -o $@ $<

TESTS += $(LOADER_TEST)
UNIT_TESTS += $(LOADER_TEST)
TEST_DEPS += $(LOADER_TEST) $(LOADER_TEST_KERNELS)

# libFuzzer target (needs FUZZ_CC from configure: clang with -fsanitize=fuzzer).
# make fuzz-loader runs it for FUZZ_TIME seconds, seeded with the test kernels.
LOADER_FUZZER := $(B)/fuzz/loader_fuzz
FUZZ_TIME ?= 60

.PHONY: fuzz-loader
ifneq ($(FUZZ_CC),)
$(LOADER_FUZZER): tests/loader/fuzz/loader_fuzz.c src/core/loader.c src/core/loader.h config.mk
	@mkdir -p $(@D)
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -I. -Iinclude $(GLIB_CFLAGS) -o $@ tests/loader/fuzz/loader_fuzz.c src/core/loader.c \
	    $(GLIB_LIBS)

# New inputs go to the build tree, starting from the three test kernels.
fuzz-loader: $(LOADER_FUZZER) $(LOADER_TEST_KERNELS)
	@mkdir -p $(B)/fuzz/corpus-loader
	cp $(LOADER_TEST_KERNELS) $(B)/fuzz/corpus-loader/
	$(LOADER_FUZZER) -max_total_time=$(FUZZ_TIME) -max_len=65536 \
	    -artifact_prefix=$(B)/fuzz/ $(B)/fuzz/corpus-loader

TEST_DEPS += $(LOADER_FUZZER)
else
fuzz-loader:
	@echo "fuzz-loader: skipped, FUZZ_CC is empty (configure found no clang with libFuzzer; apt-get install clang libclang-rt-14-dev)"
endif

fuzz: fuzz-loader
