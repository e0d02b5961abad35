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
