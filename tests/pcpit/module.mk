# PIC/PIT tests: the 8259A and 8254 models on their own, and both plugins in
# machines the real core builds, with a test CPU (pcpit-cpu) that shows INTR
# and acknowledges, and a device that drives IRQ lines (pcpit-lines).
TPCPIT := $(B)/tests/pcpit
PCPIT_TESTS := $(TPCPIT)/i8259-test $(TPCPIT)/i8254-test $(TPCPIT)/vm-test
PCPIT_PLUGINS := $(TPCPIT)/plugins/pcpit-cpu.so $(TPCPIT)/plugins/pcpit-lines.so

$(TPCPIT)/plugins/%.so: $(B)/pic/tests/pcpit/plugins/%.o
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-z,defs -o $@ $^ $(LDFLAGS_HOST) $(GLIB_LIBS)

$(TPCPIT)/i8259-test: $(B)/obj/tests/pcpit/i8259-test.o $(B)/obj/plugins/pic-i8259/i8259.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $^ $(GLIB_LIBS)

$(TPCPIT)/i8254-test: $(B)/obj/tests/pcpit/i8254-test.o $(B)/obj/plugins/pit-i8254/i8254.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $^ $(GLIB_LIBS)

$(B)/obj/tests/pcpit/vm-test.o: CFLAGS_EXE += -DPCPIT_PLUGIN_DIR='"$(abspath $(TPCPIT))/plugins"'
$(TPCPIT)/vm-test: $(B)/obj/tests/pcpit/vm-test.o $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $< $(CORE_LIBS)

TESTS += $(PCPIT_TESTS) tests/pcpit/lilyvm-plugins.sh
UNIT_TESTS += $(PCPIT_TESTS)
TEST_DEPS += $(PCPIT_TESTS) $(PCPIT_PLUGINS) $(B)/plugins/pic-i8259.so \
	$(B)/plugins/pit-i8254.so $(B)/lilyvm

