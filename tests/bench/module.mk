# Benchmark table (bench/) and its format check.  bench/module.mk lives
# outside the automatically included trees, so it is included from here.
include bench/module.mk

TESTS += tests/bench/bench-smoke.sh
TEST_DEPS += $(BENCH_TABLE_DEPS)
