# libFuzzer target for the net-socket core (needs FUZZ_CC from configure).
# Included from tests/net/module.mk; guarded so a fuzz/*.mk glob may include
# it too.  tests/net/netsock-fuzz.sh runs it briefly in make check;
# `make fuzz-netsock` runs it for FUZZ_TIME seconds.
ifndef NETSOCK_FUZZ_MK
NETSOCK_FUZZ_MK := 1

NETSOCK_FUZZ := $(B)/fuzz/netsock_fuzz
FUZZ_TIME ?= 60

.PHONY: fuzz-netsock
ifneq ($(FUZZ_CC),)
$(NETSOCK_FUZZ): fuzz/netsock_fuzz.c $(NETSOCK_CORE_SRCS) plugins/net-socket/ns.h config.mk
	@mkdir -p $(@D)
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-I. -Iinclude $(GLIB_CFLAGS) -o $@ fuzz/netsock_fuzz.c $(NETSOCK_CORE_SRCS) $(GLIB_LIBS)

# New inputs go to the build tree; the committed seeds are only read.
fuzz-netsock: $(NETSOCK_FUZZ)
	@mkdir -p $(B)/fuzz/corpus-netsock
	$(NETSOCK_FUZZ) -max_total_time=$(FUZZ_TIME) -max_len=4096 \
	    -artifact_prefix=$(B)/fuzz/ $(B)/fuzz/corpus-netsock fuzz/corpus/netsock

TEST_DEPS += $(NETSOCK_FUZZ)
else
fuzz-netsock:
	@echo "fuzz-netsock: skipped, FUZZ_CC is empty (configure found no clang with libFuzzer; apt-get install clang libclang-rt-14-dev)"
endif

fuzz: fuzz-netsock

endif
