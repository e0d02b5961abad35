# Core tests: GTest programs linked with build/liblilycore.a, the test
# plugins they load (tests/core/plugins) and deliberately broken plugins
# the registry must refuse (tests/core/bad).

TCORE := $(B)/tests/core

TCORE_PLUGINS := $(patsubst tests/core/plugins/%.c,$(TCORE)/plugins/%.so,$(wildcard tests/core/plugins/*.c))
$(TCORE)/plugins/%.so: $(B)/pic/tests/core/plugins/%.o
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-z,defs -o $@ $^ $(LDFLAGS_HOST) $(GLIB_LIBS)

TCORE_BAD := $(addprefix $(TCORE)/bad/,bad-major.so bad-minor.so bad-options.so bad-corekey.so bad-mmu.so no-entry.so \
	dup-a.so dup-b.so garbage.so missing-lib.so)
$(TCORE)/bad/%.so: $(B)/pic/tests/core/bad/%.o
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-z,defs -o $@ $^ $(LDFLAGS_HOST) $(GLIB_LIBS)
$(TCORE)/bad/dup-a.so $(TCORE)/bad/dup-b.so: $(B)/pic/tests/core/bad/dup.o
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-z,defs -o $@ $^ $(LDFLAGS_HOST) $(GLIB_LIBS)
$(TCORE)/bad/garbage.so:
	@mkdir -p $(@D)
	printf 'this is not an ELF shared object\n' > $@
# Linked against a library that is deleted right after, as on a host
# where a plugin's dependency is not installed.
$(TCORE)/bad/missing-lib.so: $(B)/pic/tests/core/bad/missing-lib.o tests/core/bad/missing-dep.c
	@mkdir -p $(@D) $(TCORE)/missing
	$(CC) -shared -fPIC $(SAN_FLAGS) -o $(TCORE)/missing/liblilymissing.so tests/core/bad/missing-dep.c
	$(CC) -shared -Wl,-z,defs -o $@ $< $(LDFLAGS_HOST) -L$(TCORE)/missing -llilymissing $(GLIB_LIBS)
	rm -rf $(TCORE)/missing

TCORE_TESTS := $(patsubst tests/core/%.c,$(TCORE)/%,$(wildcard tests/core/test-*.c))
$(B)/obj/tests/core/%.o: CFLAGS_EXE += -DTEST_CORE_DIR='"$(abspath $(TCORE))"' \
	-DTEST_LILYVM='"$(abspath $(B))/lilyvm"' -DTEST_SRC_DIR='"$(abspath .)"'
$(TCORE)/test-%: $(B)/obj/tests/core/test-%.o $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $< $(CORE_LIBS)

TESTS += $(TCORE_TESTS)
UNIT_TESTS += $(TCORE_TESTS)
TEST_DEPS += $(TCORE_TESTS) $(TCORE_PLUGINS) $(TCORE_BAD) $(B)/lilyvm

# Keep the plugin objects make would otherwise treat as intermediate.

# libFuzzer target for the config reader (needs FUZZ_CC from configure).
# make fuzz-config runs it for FUZZ_TIME seconds from tests/core/fuzz/corpus.
CONFIG_FUZZER := $(B)/fuzz/config_fuzz
FUZZ_TIME ?= 60

.PHONY: fuzz-config
ifneq ($(FUZZ_CC),)
$(CONFIG_FUZZER): tests/core/fuzz/config_fuzz.c $(CORE_SRCS) $(wildcard src/core/*.h) config.mk
	@mkdir -p $(@D)
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -I. -Iinclude $(GLIB_CFLAGS) -DFUZZ_PLUGIN_DIR='"$(abspath $(TCORE))/plugins"' \
	    -o $@ tests/core/fuzz/config_fuzz.c $(CORE_SRCS) -ldl $(GLIB_LIBS)

fuzz-config: $(CONFIG_FUZZER) $(TCORE_PLUGINS)
	@mkdir -p $(B)/fuzz/corpus-config
	cp tests/core/fuzz/corpus/* $(B)/fuzz/corpus-config/
	$(CONFIG_FUZZER) -max_total_time=$(FUZZ_TIME) -max_len=4096 \
	    -artifact_prefix=$(B)/fuzz/ $(B)/fuzz/corpus-config

TEST_DEPS += $(CONFIG_FUZZER)
else
fuzz-config:
	@echo "fuzz-config: skipped, FUZZ_CC is empty (configure found no clang with libFuzzer; apt-get install clang libclang-rt-14-dev)"
endif

fuzz: fuzz-config

# make bench: core dispatch costs (prints numbers, asserts nothing).
$(TCORE)/bench-core: $(B)/obj/tests/core/bench-core.o $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $< $(CORE_LIBS)
BENCH_DEPS += $(TCORE)/bench-core $(TCORE_PLUGINS)
.PHONY: bench-core
bench: bench-core
bench-core: $(TCORE)/bench-core $(TCORE_PLUGINS)
	$(TCORE)/bench-core
