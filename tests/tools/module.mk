# Tests of the rewriting toolchain: the rewriter core (GTest) and lily-as,
# lily-cc and lily-check driven as programs (shell TAP).

$(B)/tests/tools/lilyas-rewrite-test: $(B)/obj/tests/tools/lilyas-rewrite-test.o $(B)/obj/tools/lilyas-rewrite.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $^ $(GLIB_LIBS)

TOOLS_TESTS := $(B)/tests/tools/lilyas-rewrite-test tests/tools/toolchain.sh
TESTS += $(TOOLS_TESTS)
UNIT_TESTS += $(TOOLS_TESTS)
TEST_DEPS += $(B)/tests/tools/lilyas-rewrite-test $(B)/tools/lily-as $(B)/tools/lilycc-bin/as \
	$(B)/tools/lily-cc $(B)/tools/lily-check

# libFuzzer targets (FUZZ_CC from configure): the rewriter and the ELF reader.
TOOLS_FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I. -Iinclude $(GLIB_CFLAGS)
TOOLS_FUZZERS := $(B)/fuzz/lilyas_fuzz $(B)/fuzz/lilycheck_elf_fuzz
FUZZ_TIME ?= 60

.PHONY: fuzz-tools
ifneq ($(FUZZ_CC),)
$(B)/fuzz/lilyas_fuzz: tests/tools/fuzz-lilyas.c tools/lilyas-rewrite.c tools/lilyas-rewrite.h \
		include/lilyvm/rewrite.h config.mk
	@mkdir -p $(@D)
	$(FUZZ_CC) $(TOOLS_FUZZ_FLAGS) -o $@ tests/tools/fuzz-lilyas.c tools/lilyas-rewrite.c $(GLIB_LIBS)

$(B)/fuzz/lilycheck_elf_fuzz: tests/tools/fuzz-lilycheck-elf.c tools/lilycheck-elf.c tools/lilycheck-elf.h config.mk
	@mkdir -p $(@D)
	$(FUZZ_CC) $(TOOLS_FUZZ_FLAGS) -o $@ tests/tools/fuzz-lilycheck-elf.c tools/lilycheck-elf.c $(GLIB_LIBS)

# New inputs go to the build tree.
fuzz-tools: $(TOOLS_FUZZERS)
	@mkdir -p $(B)/fuzz/corpus-lilyas $(B)/fuzz/corpus-lilycheck-elf
	cp -n tests/tools/data/*.s tests/tools/data/*.S $(B)/fuzz/corpus-lilyas/
	$(B)/fuzz/lilyas_fuzz -max_total_time=$(FUZZ_TIME) -artifact_prefix=$(B)/fuzz/ $(B)/fuzz/corpus-lilyas
	$(B)/fuzz/lilycheck_elf_fuzz -max_total_time=$(FUZZ_TIME) -artifact_prefix=$(B)/fuzz/ \
	    $(B)/fuzz/corpus-lilycheck-elf

TEST_DEPS += $(TOOLS_FUZZERS)
else
fuzz-tools:
	@echo "fuzz-tools: skipped, FUZZ_CC is empty (configure found no clang with libFuzzer; apt-get install clang libclang-rt-14-dev)"
endif

fuzz: fuzz-tools
TESTS += tests/tools/fuzz-smoke.sh
TESTS += tests/tools/testkernel-check.sh
