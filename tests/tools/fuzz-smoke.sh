#!/bin/sh
# Short, bounded libFuzzer runs of the lily-as rewriter and lily-check's ELF
# reader (a few thousand inputs each from small seeds), so `make check`
# catches a crash the seeds already reach.  Prints TAP; skips with the reason
# when configure found no libFuzzer.
B=${B:-build}
fuzz_cc=$(sed -n 's/^FUZZ_CC *= *//p' config.mk 2>/dev/null)

echo "1..2"
if [ -z "$fuzz_cc" ]; then
    echo "ok 1 # SKIP FUZZ_CC is empty: no clang with libFuzzer (apt-get install clang libclang-rt-14-dev)"
    echo "ok 2 # SKIP FUZZ_CC is empty: no clang with libFuzzer (apt-get install clang libclang-rt-14-dev)"
    exit 0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/lily-tools-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$work/seeds-as" "$work/seeds-elf" "$work/new-as" "$work/new-elf" "$B/fuzz"
cp tests/tools/data/*.s tests/tools/data/*.S "$work/seeds-as/"
if command -v as >/dev/null && as --32 -o "$work/seeds-elf/plain.o" tests/tools/data/plain.s 2>/dev/null; then
    :
else
    printf '\177ELF\001\001\001' >"$work/seeds-elf/header"
fi

# run N NAME FUZZER SEEDS NEW: one bounded run, reported as test N
run() {
    log=$B/fuzz/$2-smoke.log
    if [ ! -x "$3" ]; then
        echo "not ok $1 - /tools/fuzz/$2: $3 is not built (make $3)"
    elif "$3" -runs=5000 -seed=1 -max_len=4096 -artifact_prefix="$work/" "$5" "$4" >"$log" 2>&1; then
        echo "ok $1 - /tools/fuzz/$2"
    else
        cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$B/fuzz/" 2>/dev/null
        echo "not ok $1 - /tools/fuzz/$2: the fuzzer failed, see $log (reproducer copied to $B/fuzz/)"
        tail -n 20 "$log" | sed 's/^/# /'
    fi
}
run 1 lilyas "$B/fuzz/lilyas_fuzz" "$work/seeds-as" "$work/new-as"
run 2 lilycheck-elf "$B/fuzz/lilycheck_elf_fuzz" "$work/seeds-elf" "$work/new-elf"
