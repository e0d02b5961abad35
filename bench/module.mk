# make bench: one table of per-operation costs (LilyVM under both transports,
# QEMU TCG, the host natively) from bench/bench.sh; host-ops measures the
# native column.  Included from tests/bench/module.mk.

BENCH_HOSTOPS := $(B)/bench/host-ops

$(BENCH_HOSTOPS): $(B)/obj/bench/host-ops.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_EXE) -o $@ $^

# What the table reads: the test kernel (QEMU), its rewritten build (LilyVM),
# lilyvm with its plugins (built by all), the transport benchmark, the
# mmu plugin's workload test (mapping operations per fault and per switch).
# bench/nested.sh (hosts without compatibility mode) runs the table inside
# build/tools/lily-nested (built by all too).
BENCH_TABLE_DEPS := $(BENCH_HOSTOPS) $(B)/tools/lily-native-bench $(B)/guest/testkernel.elf $(B)/tests/mmu/mmu-test \
	$(if $(GUEST_HAVE_LILY_CC),$(B)/guest/testkernel-lily.elf)
BENCH_DEPS += $(BENCH_TABLE_DEPS)

.PHONY: bench-table
bench: bench-table
bench-table: all $(BENCH_TABLE_DEPS)
	bench/bench.sh
