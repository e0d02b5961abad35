# Guest side: the SDK (guest/sdk) and the TAP test kernel (guest/testkernel),
# each built twice from the same sources: plain with CC32 (runs under QEMU)
# and rewritten with build/tools/lily-cc (runs under LilyVM).  Other guest
# kernels use the guest_kernel macro below from guest/NAME/module.mk.

GUEST_SDK_SRCS := $(addprefix guest/sdk/,crt0.S isr.S context.S string.c printf.c \
	serial.c debugexit.c pic.c pit.c desc.c trap.c paging.c)

OBJCOPY ?= objcopy
NM ?= nm
GUEST_GCC_INCLUDE := $(shell $(CC32) -m32 -print-file-name=include)
# -mgeneral-regs-only: kernel code never touches x87/SSE state, so user
# processes' FPU registers survive traps without a save.
GUEST_CFLAGS := -m32 -march=i586 -std=gnu11 -O2 -g -ffreestanding -fno-pic -fno-pie \
	-fno-stack-protector -fcf-protection=none -fno-asynchronous-unwind-tables \
	-fno-omit-frame-pointer -mgeneral-regs-only -nostdinc -isystem $(GUEST_GCC_INCLUDE) \
	-Iguest/sdk/include -Iinclude $(WARN)
GUEST_LDSCRIPT := guest/sdk/kernel.ld
GUEST_LDFLAGS := -m32 -nostdlib -static -no-pie -Wl,-T,$(GUEST_LDSCRIPT) \
	-Wl,-z,max-page-size=0x1000 -Wl,--build-id=none

# The toolchain part (tools/module.mk, included before this file) provides
# lily-cc, run with lily-as from its -B directory, and lily-check; the
# rewritten images are part of `make` only when it builds them.
LILY_CC := $(B)/tools/lily-cc
LILY_CC_DEPS := $(LILY_CC) $(B)/tools/lily-as $(B)/tools/lilycc-bin/as
LILY_CHECK := $(B)/tools/lily-check
GUEST_HAVE_LILY_CC := $(filter $(LILY_CC),$(BINS))
GUEST_HAVE_LILY_CHECK := $(filter $(LILY_CHECK),$(BINS))

# Pattern rules per flavour: build/guest/FLAVOUR/X.o from guest/X.c or .S.
# guest_flavour(flavour, compiler, extra prerequisites)
define guest_flavour
$(B)/guest/$(1)/%.o: guest/%.c config.mk guest/module.mk $(3)
	@mkdir -p $$(@D)
	$(2) $$(GUEST_CFLAGS) -DLILY_FLAVOUR='"$(1)"' -MMD -MP -c -o $$@ $$<

$(B)/guest/$(1)/%.o: guest/%.S config.mk guest/module.mk $(3)
	@mkdir -p $$(@D)
	$(2) $$(GUEST_CFLAGS) -D__ASSEMBLY__ -MMD -MP -c -o $$@ $$<

$(B)/guest/$(1)/libguestsdk.a: $(patsubst guest/%,$(B)/guest/$(1)/%.o,$(basename $(filter-out %/crt0.S,$(GUEST_SDK_SRCS))))
	@rm -f $$@
	$(AR) rcs $$@ $$^
endef
$(eval $(call guest_flavour,plain,$(CC32),))
$(eval $(call guest_flavour,lily,$(LILY_CC),$(LILY_CC_DEPS)))

# User programs run unmodified in either build, so they are always compiled
# plainly, then their sections are renamed .user.* for the linker script.
# User code cannot call into the kernel's libc or libgcc (supervisor pages):
# an object with undefined symbols is refused.
$(B)/guest/user/%.o: guest/%.c config.mk guest/module.mk
	@mkdir -p $(@D)
	$(CC32) $(GUEST_CFLAGS) -fno-tree-loop-distribute-patterns -MMD -MP -c -o $@ $<

$(B)/guest/user/%.user.o: $(B)/guest/user/%.o
	@undef=$$($(NM) -u $<); if [ -n "$$undef" ]; then \
	    echo "$<: user code must be self-contained, but it needs: $$undef" >&2; exit 1; fi
	$(OBJCOPY) --prefix-alloc-sections=.user $< $@

# guest_kernel(name, kernel sources, user sources): build/guest/NAME.elf
# (plain) and build/guest/NAME-lily.elf (rewritten).  lily-check inspects the
# kernel's code only: the .user section holds user programs, which LilyVM
# runs unmodified (at CPL 3 the sensitive instructions behave as they should).
# (objcopy's stderr is dropped: it warns about the now empty user segment.)
define guest_kernel
GUEST_OBJS_$(1)_plain := $(B)/guest/plain/sdk/crt0.o $(patsubst guest/%,$(B)/guest/plain/%.o,$(basename $(2))) \
	$(patsubst guest/%.c,$(B)/guest/user/%.user.o,$(3))
GUEST_OBJS_$(1)_lily := $(B)/guest/lily/sdk/crt0.o $(patsubst guest/%,$(B)/guest/lily/%.o,$(basename $(2))) \
	$(patsubst guest/%.c,$(B)/guest/user/%.user.o,$(3))

$(B)/guest/$(1).elf: $$(GUEST_OBJS_$(1)_plain) $(B)/guest/plain/libguestsdk.a $(GUEST_LDSCRIPT)
	$(CC32) $(GUEST_LDFLAGS) -o $$@ $$(GUEST_OBJS_$(1)_plain) $(B)/guest/plain/libguestsdk.a -lgcc

$(B)/guest/$(1)-lily.elf: $$(GUEST_OBJS_$(1)_lily) $(B)/guest/lily/libguestsdk.a $(GUEST_LDSCRIPT) \
		$(LILY_CC_DEPS) $(if $(GUEST_HAVE_LILY_CHECK),$(LILY_CHECK))
	$(LILY_CC) $(GUEST_LDFLAGS) -o $$@.tmp $$(GUEST_OBJS_$(1)_lily) $(B)/guest/lily/libguestsdk.a
	$(if $(GUEST_HAVE_LILY_CHECK),$(OBJCOPY) --remove-section=.user $$@.tmp $$@.kernel-only 2>/dev/null)
	$(if $(GUEST_HAVE_LILY_CHECK),$(LILY_CHECK) $$@.kernel-only)
	rm -f $$@.kernel-only
	mv $$@.tmp $$@

GUESTS += $(B)/guest/$(1).elf $(if $(GUEST_HAVE_LILY_CC),$(B)/guest/$(1)-lily.elf)
endef

$(eval $(call guest_kernel,testkernel,$(addprefix guest/testkernel/,main.c tap.c exc.c \
	proc.c t_cpu.c t_exc.c t_paging.c t_user.c t_irq.c t_dev.c t_net.c bench.c lowmem.S),guest/testkernel/user.c))

# The /net tests link the network library (guest/net/module.mk builds it):
# the link lines read these lists late, the prerequisites are named here.
GUEST_OBJS_testkernel_plain += $(B)/guest/plain/libguestnet.a
GUEST_OBJS_testkernel_lily += $(B)/guest/lily/libguestnet.a
$(B)/guest/testkernel.elf: $(B)/guest/plain/libguestnet.a
$(B)/guest/testkernel-lily.elf: $(B)/guest/lily/libguestnet.a

# Further guest kernels (guest/NAME/module.mk) build on the rules above.
include $(filter-out guest/module.mk,$(wildcard guest/*/module.mk))
