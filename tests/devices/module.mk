# Device tests: the UART register model on its own, the console and
# debug-exit plugins loaded from build/plugins through a fake host, and the
# same plugins in machines the real core builds from config text.
DEVICE_TESTS := $(B)/tests/devices/uart-test $(B)/tests/devices/plugin-test \
	$(B)/tests/devices/vm-test

$(B)/tests/devices/uart-test: $(B)/obj/tests/devices/uart-test.o \
		$(B)/obj/plugins/console/uart16550.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $^ $(GLIB_LIBS)

$(B)/tests/devices/plugin-test: $(B)/obj/tests/devices/plugin-test.o \
		$(B)/obj/tests/devices/fakehost.o $(B)/obj/tests/devices/scratch.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $^ $(GLIB_LIBS) -ldl -lutil

$(B)/tests/devices/vm-test: $(B)/obj/tests/devices/vm-test.o $(B)/obj/tests/devices/scratch.o \
		$(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $(filter %.o,$^) $(CORE_LIBS) -lutil

TESTS += $(DEVICE_TESTS)
UNIT_TESTS += $(DEVICE_TESTS)
TEST_DEPS += $(DEVICE_TESTS) $(B)/plugins/console.so $(B)/plugins/debug-exit.so

# lilyvm itself with the test kernel: exit status and serial log (needs a
# CPU plugin to run the guest; skips until there is one).
TESTS += tests/devices/lilyvm-exit.sh
TEST_DEPS += $(B)/lilyvm
