# cpu-ia32 tests: the trap-path core without a guest process (unit), and the
# test kernel booted under LilyVM with both transports (here, or in QEMU).
CPU_TEST := $(B)/tests/cpu/cpu-test
CPU_TEST_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(CPU_IA32_CORE_SRCS))

$(CPU_TEST): $(B)/obj/tests/cpu/cpu-test.o $(CPU_TEST_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $^ $(ZYDIS_LIBS) $(GLIB_LIBS)

TESTS += $(CPU_TEST) tests/cpu/testkernel-lilyvm.sh tests/cpu/testkernel-lilyvm-qemu.sh \
	tests/cpu/cpu-options.sh
UNIT_TESTS += $(CPU_TEST)
TEST_DEPS += $(CPU_TEST) $(B)/lilyvm $(B)/plugins/cpu-ia32.so

# The in-guest fast path against the VM's emulation (no guest process).
CPU_LOCAL_TEST := $(B)/tests/cpu/local-test
$(CPU_LOCAL_TEST): $(B)/obj/tests/cpu/local-test.o $(CPU_TEST_OBJS) \
		$(patsubst %.c,$(B)/obj/%.o,$(CPU_IA32_LOCAL_SRCS))
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $^ $(ZYDIS_LIBS) $(GLIB_LIBS)

TESTS += $(CPU_LOCAL_TEST)
UNIT_TESTS += $(CPU_LOCAL_TEST)
TEST_DEPS += $(CPU_LOCAL_TEST)
