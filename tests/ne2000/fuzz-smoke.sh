#!/bin/sh
# A short, bounded libFuzzer run of the DP8390 model over the seed corpus
# (20000 inputs), so `make check` catches a crash the seeds already reach.
# Prints TAP; skips with the reason when configure found no libFuzzer.
fuzzer=build/fuzz/ne2000_fuzz
fuzz_cc=$(sed -n 's/^FUZZ_CC *= *//p' config.mk 2>/dev/null)

echo "1..1"
if [ -z "$fuzz_cc" ]; then
    echo "ok 1 # SKIP FUZZ_CC is empty: no clang with libFuzzer (apt-get install clang libclang-rt-14-dev)"
    exit 0
fi
if [ ! -x "$fuzzer" ]; then
    echo "not ok 1 - /ne2000/fuzz/smoke: $fuzzer is not built (make $fuzzer)"
    exit 0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/ne2000-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
log=build/fuzz/ne2000-smoke.log
if "$fuzzer" -runs=20000 -seed=1 -artifact_prefix="$work/" "$work" fuzz/corpus/ne2000 >"$log" 2>&1; then
    echo "ok 1 - /ne2000/fuzz/smoke"
else
    cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* build/fuzz/ 2>/dev/null
    echo "not ok 1 - /ne2000/fuzz/smoke: the fuzzer failed, see $log (reproducer copied to build/fuzz/)"
    tail -n 20 "$log" | sed 's/^/# /'
fi
