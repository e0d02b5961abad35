# libFuzzer target for the DP8390 register model (needs FUZZ_CC from
# configure: clang with -fsanitize=fuzzer).  Included from
# tests/ne2000/module.mk; guarded so that a fuzz/*.mk glob may include it too.
ifndef NE2K_FUZZ_MK
NE2K_FUZZ_MK := 1

NE2K_FUZZER := $(B)/fuzz/ne2000_fuzz
NE2K_FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
# Seconds one `make fuzz` spends on this target.
FUZZ_TIME ?= 60

.PHONY: fuzz-ne2000
ifneq ($(FUZZ_CC),)
$(NE2K_FUZZER): fuzz/ne2000_fuzz.c plugins/nic-ne2000/dp8390.c plugins/nic-ne2000/dp8390.h config.mk
	@mkdir -p $(@D)
	$(FUZZ_CC) $(NE2K_FUZZ_FLAGS) -I. -o $@ fuzz/ne2000_fuzz.c plugins/nic-ne2000/dp8390.c

# New inputs go to the build tree; the committed seeds are only read.
fuzz-ne2000: $(NE2K_FUZZER)
	@mkdir -p $(B)/fuzz/corpus-ne2000
	$(NE2K_FUZZER) -max_total_time=$(FUZZ_TIME) -artifact_prefix=$(B)/fuzz/ \
	    $(B)/fuzz/corpus-ne2000 fuzz/corpus/ne2000

TEST_DEPS += $(NE2K_FUZZER)
else
fuzz-ne2000:
	@echo "fuzz-ne2000: skipped, FUZZ_CC is empty (configure found no clang with libFuzzer; apt-get install clang libclang-rt-14-dev)"
endif

fuzz: fuzz-ne2000
TESTS += tests/ne2000/fuzz-smoke.sh

endif
