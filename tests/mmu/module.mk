# Tests of the mmu plugin: build/plugins/mmu.so loaded with dlopen under a
# fake host (RAM buffer with page tables, one MMIO region), its operations
# applied to a model of the guest process's mappings.
MMU_TEST := $(B)/tests/mmu/mmu-test

$(B)/obj/tests/mmu/mmu-test.o: CFLAGS_EXE += -DMMU_PLUGIN_PATH='"$(abspath $(B))/plugins/mmu.so"'
$(MMU_TEST): $(B)/obj/tests/mmu/mmu-test.o | $(B)/plugins/mmu.so
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $< $(GLIB_LIBS) -ldl

TESTS += $(MMU_TEST)
UNIT_TESTS += $(MMU_TEST)
TEST_DEPS += $(MMU_TEST) $(B)/plugins/mmu.so
