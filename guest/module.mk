# Guest side: the SDK (guest/sdk) and the TAP test kernel (guest/testkernel),
# each built twice from the same sources: plain with CC32 (runs under QEMU)
# and rewritten with build/tools/lily-cc (runs under LilyVM).

GUEST_SDK_SRCS := $(addprefix guest/sdk/,crt0.S isr.S context.S string.c printf.c \
	serial.c debugexit.c pic.c pit.c desc.c trap.c paging.c)
GUEST_TK_SRCS := $(addprefix guest/testkernel/,main.c tap.c exc.c proc.c \
	t_cpu.c t_exc.c t_paging.c t_user.c t_irq.c bench.c)
# User programs run unmodified in either build, so they are always compiled
# plainly; their sections are renamed .user.* for the linker script.
GUEST_TK_USER_SRCS := guest/testkernel/user.c

OBJCOPY ?= objcopy
NM ?= nm
GUEST_GCC_INCLUDE := $(shell $(CC32) -m32 -print-file-name=include)
GUEST_CFLAGS := -m32 -march=i686 -std=gnu11 -O2 -g -ffreestanding -fno-pic -fno-pie \
	-fno-stack-protector -fno-asynchronous-unwind-tables -fno-omit-frame-pointer \
	-mgeneral-regs-only -nostdinc -isystem $(GUEST_GCC_INCLUDE) -Iguest/sdk/include \
	$(WARN)
GUEST_LDFLAGS := -m32 -nostdlib -static -no-pie -Wl,-T,guest/sdk/kernel.ld \
	-Wl,-z,max-page-size=0x1000 -Wl,--build-id=none
GUEST_LDSCRIPT := guest/sdk/kernel.ld

# The toolchain part provides lily-cc (and lily-check); until its module.mk
# names them, only the plain image is part of `make`.
LILY_CC := $(B)/tools/lily-cc
LILY_CHECK := $(B)/tools/lily-check
GUEST_HAVE_LILY_CC := $(shell grep -l 'lily-cc' tools/module.mk 2>/dev/null)
GUEST_HAVE_LILY_CHECK := $(shell grep -l 'lily-check' tools/module.mk 2>/dev/null)

# guest_flavour(name, compiler, extra prerequisite)
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

GUEST_TK_OBJS_$(1) := $(B)/guest/$(1)/sdk/crt0.o \
	$(patsubst guest/%.c,$(B)/guest/$(1)/%.o,$(GUEST_TK_SRCS)) \
	$(patsubst guest/%.c,$(B)/guest/user/%.user.o,$(GUEST_TK_USER_SRCS))
endef

$(eval $(call guest_flavour,plain,$(CC32),))
$(eval $(call guest_flavour,lily,$(LILY_CC),$(LILY_CC) $(B)/tools/lilycc-bin/as))

$(B)/guest/user/%.o: guest/%.c config.mk guest/module.mk
	@mkdir -p $(@D)
	$(CC32) $(GUEST_CFLAGS) -fno-tree-loop-distribute-patterns -MMD -MP -c -o $@ $<

# User code cannot call into the kernel's libc or libgcc (supervisor pages):
# refuse an object with undefined symbols.
$(B)/guest/user/%.user.o: $(B)/guest/user/%.o
	@undef=$$($(NM) -u $<); if [ -n "$$undef" ]; then \
	    echo "$<: user code must be self-contained, but it needs: $$undef" >&2; exit 1; fi
	$(OBJCOPY) --prefix-alloc-sections=.user $< $@

$(B)/guest/testkernel.elf: $(GUEST_TK_OBJS_plain) $(B)/guest/plain/libguestsdk.a $(GUEST_LDSCRIPT)
	$(CC32) $(GUEST_LDFLAGS) -o $@ $(GUEST_TK_OBJS_plain) $(B)/guest/plain/libguestsdk.a -lgcc

$(B)/guest/testkernel-lily.elf: $(GUEST_TK_OBJS_lily) $(B)/guest/lily/libguestsdk.a $(GUEST_LDSCRIPT) $(LILY_CC) $(if $(GUEST_HAVE_LILY_CHECK),$(LILY_CHECK))
	$(LILY_CC) $(GUEST_LDFLAGS) -o $@.tmp $(GUEST_TK_OBJS_lily) $(B)/guest/lily/libguestsdk.a -lgcc
	$(if $(GUEST_HAVE_LILY_CHECK),$(LILY_CHECK) $@.tmp)
	mv $@.tmp $@

GUESTS += $(B)/guest/testkernel.elf
ifneq ($(GUEST_HAVE_LILY_CC),)
GUESTS += $(B)/guest/testkernel-lily.elf
endif

.PHONY: guest-plain guest-lily
guest-plain: $(B)/guest/testkernel.elf
guest-lily: $(B)/guest/testkernel-lily.elf
