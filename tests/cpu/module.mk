# cpu-ia32 tests: the trap-path core without a guest process (unit), and the
# test kernel booted under LilyVM with both transports (here, or in QEMU).
CPU_TEST := $(B)/tests/cpu/cpu-test
CPU_TEST_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(CPU_IA32_CORE_SRCS))

$(CPU_TEST): $(B)/obj/tests/cpu/cpu-test.o $(CPU_TEST_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $^ $(ZYDIS_LIBS) $(GLIB_LIBS)

TESTS += $(CPU_TEST) tests/cpu/testkernel-lilyvm.sh tests/cpu/testkernel-lilyvm-qemu.sh
UNIT_TESTS += $(CPU_TEST)
TEST_DEPS += $(CPU_TEST) $(B)/lilyvm $(B)/plugins/cpu-ia32.so
