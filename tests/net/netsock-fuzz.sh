#!/bin/sh
# Bounded libFuzzer run of the net-socket core (TAP): replays the seed
# corpus, then fuzzes for a short, fixed budget.  Skips when configure found
# no clang with libFuzzer (FUZZ_CC empty in config.mk).
root=$(cd "$(dirname "$0")/../.." && pwd)
fuzz_cc=$(sed -n 's/^FUZZ_CC = *//p' "$root/config.mk" 2>/dev/null)
bin=$root/build/fuzz/netsock_fuzz
seeds=$root/fuzz/corpus/netsock
runs=${NETSOCK_FUZZ_RUNS:-20000}
secs=${NETSOCK_FUZZ_SECONDS:-30}

if [ -z "$fuzz_cc" ]; then
    echo "1..0 # SKIP FUZZ_CC is empty: configure found no clang with libFuzzer (apt-get install clang libclang-rt-14-dev)"
    exit 0
fi
if [ ! -x "$bin" ]; then
    echo "1..0 # SKIP $bin is not built (run make fuzz)"
    exit 0
fi

echo "1..2"
work=$(mktemp -d "${TMPDIR:-/tmp}/netsock-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM

# 1: every seed runs clean (a list of files: no fuzzing, no corpus writes).
if "$bin" -runs=1 "$seeds"/* >"$work/seeds.log" 2>&1; then
    echo "ok 1 - seed corpus replays cleanly"
else
    echo "not ok 1 - seed corpus replays cleanly"
    sed 's/^/# /' "$work/seeds.log" | tail -40
fi

# 2: a bounded fuzzing run; new inputs go to a scratch corpus, crashes to
# the scratch directory (shown below on failure).
mkdir "$work/corpus"
if "$bin" -runs="$runs" -max_total_time="$secs" -max_len=4096 -timeout=10 \
        -rss_limit_mb=1024 -artifact_prefix="$work/" \
        "$work/corpus" "$seeds" >"$work/fuzz.log" 2>&1; then
    echo "ok 2 - $runs fuzzing runs (at most ${secs}s) without a crash"
else
    echo "not ok 2 - fuzzing found a crash"
    sed 's/^/# /' "$work/fuzz.log" | tail -60
    for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
        [ -f "$f" ] && echo "# input: $(od -An -tx1 "$f" | tr -d '\n' | head -c 2000)"
    done
fi
