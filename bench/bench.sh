#!/bin/sh
# make bench: one table of per-operation costs -- LilyVM (signal and ptrace
# transports), QEMU TCG and the host natively -- with ratios between them.
# Measures, never judges.  See docs/benchmarks.md.
#
# usage: bench/bench.sh [--quick] [--out DIR]
#   --quick    fewer iterations (the format check in make check uses it)
#   --out DIR  where raw.tsv, report.md and the logs go (default build/bench)
# Environment: QEMU (default: config.mk's QEMU), LILYVM (default
# build/lilyvm), LILYVM_DEADLINE (seconds for all runs of one transport;
# 60, quick 20), QEMU_DEADLINE (seconds per QEMU run),
# BENCH_RUNS (runs of each guest and of host-ops; default 3, quick 1),
# NATIVE_BENCH_TRIPS (lily-native-bench's round trips; 2000, quick 100),
# BENCH_NESTED (auto: run bench/nested.sh when LilyVM cannot run here; 0; 1),
# LILYVM_ARGS (more lilyvm arguments for both LilyVM columns).

set -u
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/bench
quick=0
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --out)
        [ $# -ge 2 ] || { echo "bench.sh: --out needs a directory" >&2; exit 2; }
        out=$2
        shift ;;
    -h | --help) sed -n '2,15s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1' (accepted: --quick, --out DIR)" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)

hostops=$top/build/bench/host-ops
native_bench=$top/build/tools/lily-native-bench
lilyvm=${LILYVM:-$top/build/lilyvm}
kernel_plain=$top/build/guest/testkernel.elf
kernel_lily=$top/build/guest/testkernel-lily.elf
if [ "$quick" -eq 1 ]; then
    hostops_args=--quick
    runs=${BENCH_RUNS:-1}
    trips=${NATIVE_BENCH_TRIPS:-100}
    LILYVM_DEADLINE=${LILYVM_DEADLINE:-20}
else
    hostops_args=
    runs=${BENCH_RUNS:-3}
    trips=${NATIVE_BENCH_TRIPS:-2000}
    LILYVM_DEADLINE=${LILYVM_DEADLINE:-60}
fi
QEMU_DEADLINE=${QEMU_DEADLINE:-60}

# first_words TEXT: its first sentence on one line, at most 200 characters
# (a reason in the table; the whole message stays in the log).
first_words() {
    printf '%s' "$1" | tr '\n\t' '  ' | sed 's/\. [A-Z].*/./' | cut -c1-200
}

# Column state: a reason while the column has no results (then it is n/a),
# and whether it takes part in further rounds.
hostops_na="" qemu_na="" signal_na="" ptrace_na="" nb_na=""
hostops_stop=0 qemu_stop=0 signal_stop=0 ptrace_stop=0
signal_used=0 ptrace_used=0

# has_results LOG: the guest finished its bench mode in LOG.
has_results() {
    tr -d '\r' <"$1" | grep -a -q '^# bench done'
}

: >"$out/host-ops.txt"
: >"$out/qemu.log"
: >"$out/lilyvm-signal.log"
: >"$out/lilyvm-ptrace.log"
if [ ! -x "$hostops" ]; then
    hostops_na="build/bench/host-ops is not built (run make bench)"
    hostops_stop=1
fi
qemu=${QEMU:-}
if [ -z "$qemu" ] && [ -f "$top/config.mk" ]; then
    qemu=$(sed -n 's/^QEMU *= *//p' "$top/config.mk")
fi
if [ -z "$qemu" ] || [ ! -x "$qemu" ]; then
    qemu_na="qemu-system-i386 not found (apt-get install qemu-system-x86, then re-run ./configure)"
    qemu_stop=1
elif [ ! -f "$kernel_plain" ]; then
    qemu_na="build/guest/testkernel.elf is not built"
    qemu_stop=1
else
    "$qemu" --version 2>/dev/null | head -n 1 >"$out/qemu.version"
fi
lily_missing=""
[ -x "$lilyvm" ] || lily_missing="build/lilyvm is not built"
[ -n "$lily_missing" ] || [ -f "$kernel_lily" ] ||
    lily_missing="build/guest/testkernel-lily.elf is not built (no lily-cc)"
if [ -n "$lily_missing" ]; then
    signal_na=$lily_missing ptrace_na=$lily_missing
    signal_stop=1 ptrace_stop=1
fi

# A later run that fails leaves the earlier runs' results standing.
# run_hostops N: the native column's run N.
run_hostops() {
    [ "$hostops_stop" -eq 0 ] || return
    echo "bench: native host operations, run $1/$runs (build/bench/host-ops $hostops_args)" >&2
    "$hostops" $hostops_args >"$out/host-ops.$1.txt" 2>"$out/host-ops.err"
    st=$?
    if [ $st -ne 0 ] || ! grep -q '^# host-ops done' "$out/host-ops.$1.txt"; then
        echo "bench: host-ops run $1 failed (exit $st)" >&2
        [ "$1" -gt 1 ] || hostops_na="host-ops failed (exit $st): $(first_words "$(head -n 2 "$out/host-ops.err")")"
        hostops_stop=1
        return
    fi
    cat "$out/host-ops.$1.txt" >>"$out/host-ops.txt"
}

# run_qemu N: the QEMU column's run N (the plain test kernel).
run_qemu() {
    [ "$qemu_stop" -eq 0 ] || return
    echo "bench: QEMU TCG, testkernel.elf bench, run $1/$runs" >&2
    timeout "$QEMU_DEADLINE" "$qemu" -kernel "$kernel_plain" -nographic -serial stdio \
        -monitor none -display none -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        -no-reboot -append bench </dev/null >"$out/qemu.$1.log" 2>&1
    st=$?
    if ! has_results "$out/qemu.$1.log"; then
        echo "bench: QEMU run $1 gave no results (exit $st)" >&2
        [ "$1" -gt 1 ] || qemu_na="QEMU gave no bench results (exit $st, log build/bench/qemu.$1.log)"
        qemu_stop=1
        return
    fi
    cat "$out/qemu.$1.log" >>"$out/qemu.log"
}

# run_lilyvm NAME N [ARGS...]: LilyVM column NAME's run N (the rewritten
# test kernel).  All runs of one transport share LILYVM_DEADLINE seconds: a
# further run starts only if twice the average so far still fits.  NAME is
# signal or ptrace (it selects the state variables).
run_lilyvm() {
    name=$1 round=$2
    shift 2
    eval "stop=\$${name}_stop used=\$${name}_used"
    [ "$stop" -eq 0 ] || return
    if [ "$round" -gt 1 ] && [ $((used + 2 * used / (round - 1))) -gt "$LILYVM_DEADLINE" ]; then
        eval "${name}_stop=1"
        return
    fi
    log=$out/lilyvm-$name.log
    echo "bench: LilyVM ($name transport), testkernel-lily.elf bench, run $round/$runs" >&2
    start=$(date +%s)
    timeout $((LILYVM_DEADLINE - used)) "$lilyvm" --stats --kernel "$kernel_lily" --cmdline bench \
        ${LILYVM_ARGS:-} "$@" \
        </dev/null >"$log.$round" 2>"$log.err"
    st=$?
    eval "${name}_used=$((used + $(date +%s) - start))"
    if has_results "$log.$round"; then
        cat "$log.$round" >>"$log"
        return
    fi
    eval "${name}_stop=1"
    echo "bench: LilyVM ($name) run $round gave no results (exit $st)" >&2
    [ "$round" -eq 1 ] || return
    msg=$(grep -a -m 1 '^lilyvm:' "$log.err")
    [ -n "$msg" ] || msg=$(grep -a -v '^[[:space:]]*$' "$log.err" | tail -n 1)
    case $st in
    123) reason="$(first_words "$msg") (exit 123: no CPU plugin)" ;;
    124) reason="${msg:+$(first_words "$msg") }(exit 124: the guest crashed, or no results within ${LILYVM_DEADLINE} s)" ;;
    *) reason="$(first_words "${msg:-no bench results}") (exit $st)" ;;
    esac
    eval "${name}_na=\$reason"
}

# Rounds: every column's run N before any column's run N + 1, so that a
# slow spell of the shared host hits all columns alike.
round=1
while [ $round -le "$runs" ]; do
    run_hostops $round
    run_qemu $round
    run_lilyvm signal $round
    run_lilyvm ptrace $round --set machine.transport=ptrace
    round=$((round + 1))
done

tsc_hz=$(sed -n 's/^# tsc-hz \([0-9][0-9]*\)$/\1/p' "$out/host-ops.txt" | sort -n |
    awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }')
if [ -z "$tsc_hz" ]; then
    # Without host-ops' calibration: the nominal clock (TSC ticks at it on
    # hosts with constant_tsc); the µs are then approximate.
    tsc_hz=$(awk '/^cpu MHz/ { printf "%.0f", $4 * 1e6; exit }' /proc/cpuinfo)
fi

# --- LilyVM transports alone: lily-native-bench ----------------------------
echo "bench: transport round trips (build/tools/lily-native-bench $trips)" >&2
if [ -x "$native_bench" ]; then
    "$native_bench" "$trips" >"$out/native-bench.txt" 2>"$out/native-bench.err"
    st=$?
    [ $st -eq 0 ] || nb_na="lily-native-bench failed (exit $st): $(first_words "$(tail -n 1 "$out/native-bench.err")")"
else
    : >"$out/native-bench.txt"
    nb_na="build/tools/lily-native-bench is not built"
fi

# --- Assemble raw.tsv ---------------------------------------------------------
# One line per row: id | label | signal | ptrace | QEMU | native sources.
# A source is guest:METRIC (the column's own guest log), host:NAME
# (host-ops), nb:TRANSPORT:FIELD:CASE (lily-native-bench; FIELD median or
# extra, CASE as printed), or na:REASON; "@NOTE" after a source says what the
# cell measures when that is not obvious.
no_qemu="na:no counterpart: QEMU handles guest traps and mappings inside its own process"
nb_note="guest code in 64-bit mode at low addresses (no compatibility mode on this host)"
cat >"$out/rows.spec" <<EOF
null-syscall|null-syscall|guest:null-syscall|guest:null-syscall|guest:null-syscall|host:null-syscall@native: syscall(SYS_getppid)
ctx-switch|ctx-switch|guest:ctx-switch|guest:ctx-switch|guest:ctx-switch|host:ctx-switch@native: pipe ping-pong between two processes pinned to one CPU (a real context switch); one switch = half a round trip, write+read system calls included
page-fault|page-fault|guest:page-fault|guest:page-fault|guest:page-fault|host:page-fault@native: first write to a fresh anonymous page (kernel allocates, zeroes, maps) minus a write to a mapped page
cli-sti|cli-sti|guest:cli-sti|guest:cli-sti|guest:cli-sti|na:cli/sti are privileged in user mode (#GP); the host has no unprivileged equivalent
pushf-popf|pushf-popf|guest:pushf-popf|guest:pushf-popf|guest:pushf-popf|host:pushf-popf@native: pushfq; popfq in 64-bit user mode, which runs without a trap
inb|inb|guest:inb|guest:inb|guest:inb|host:trap-int3@native: no port I/O in user mode; shown is a trap round trip int3 -> SIGTRAP handler -> sigreturn in one process, the least a trapped inb costs
int-iret|int-iret|guest:int-iret|guest:int-iret|guest:int-iret|host:trap-int3@native: no IDT gate in user mode; shown is a trap round trip int3 -> SIGTRAP handler -> sigreturn in one process
cr0-rw|cr0-rw|guest:cr0-rw|guest:cr0-rw|guest:cr0-rw|na:mov to/from cr0 and cr3 are privileged in user mode; the host has no unprivileged equivalent
cr3-reload|cr3-reload|guest:cr3-reload|guest:cr3-reload|guest:cr3-reload|na:mov to/from cr0 and cr3 are privileged in user mode; the host has no unprivileged equivalent
compute|compute|guest:compute|guest:compute|guest:compute|host:compute@native: the same C loop (100000 xorshift32 rounds) compiled for x86-64: 32-bit code cannot run natively on this host
trap-int3|transport: int3 trip|nb:signal:median:int3, spin 2000, split CPUs@lily-native-bench, signal transport: spin 2000, VM and guest process on different CPUs; $nb_note|nb:ptrace:median:int3@lily-native-bench, ptrace transport, not pinned; $nb_note|$no_qemu|nb:(none):median:int3 handled in-process@native: int3 -> empty SIGTRAP handler -> sigreturn in one process (lily-native-bench's reference)
trap-gp|transport: #GP trip|nb:signal:median:#GP (cli), spin 2000, split CPUs@lily-native-bench, signal transport: spin 2000, VM and guest process on different CPUs; $nb_note|nb:ptrace:median:#GP (cli), precise (2 stops)@lily-native-bench, ptrace transport, precise fault record (2 stops); $nb_note|$no_qemu|host:trap-gp@native: cli -> #GP -> SIGSEGV handler steps over it -> sigreturn in one process
pf-map|transport: #PF + map|nb:signal:median:#PF, VM maps the page, split CPUs@lily-native-bench, signal transport: spin 2000, VM and guest process on different CPUs; $nb_note|nb:ptrace:median:#PF, VM maps the page (2 stops + op)@lily-native-bench, ptrace transport, precise fault record (2 stops) plus the op signal; $nb_note|$no_qemu|host:page-fault@native: first write to a fresh anonymous page (kernel allocates, zeroes, maps) minus a write to a mapped page
map-op|transport: map op|nb:signal:extra:int3 + 16 map ops, split CPUs@lily-native-bench, signal transport: extra cost per op of 16 MAP ops in one trip (best trips), VM and guest process on different CPUs|nb:ptrace:extra:int3 + 16 map ops@lily-native-bench, ptrace transport: extra cost per op of 16 MAP ops in one trip (best trips)|$no_qemu|host:mmap-page@native: mmap(MAP_SHARED + MAP_FIXED) of one memfd page over a mapped, untouched page
EOF

cols="signal ptrace qemu native"
{
    printf '# tsc_hz\t%s\n' "$tsc_hz"
    printf '# quick\t%s\n' "$quick"
    printf '# date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf '# host\t%s, %s CPUs, Linux %s%s\n' \
        "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" "$(nproc)" "$(uname -r)" \
        "$(grep -q '^flags.* hypervisor' /proc/cpuinfo && printf ', under a hypervisor')"
    [ -s "$out/qemu.version" ] && printf '# qemu\t%s\n' "$(cat "$out/qemu.version")"
    printf 'row\tlabel\tcolumn\tcycles\tmin_cycles\tus\truns\tsamples\tbatch\tsource\tnote\n'
} >"$out/raw.tsv"

for f in qemu.log lilyvm-signal.log lilyvm-ptrace.log; do
    tr -d '\r' <"$out/$f" | grep -a '^# bench ' >"$out/$f.bench"
done

awk -F'|' -v hz="$tsc_hz" -v cols="$cols" \
    -v na_signal="$signal_na" -v na_ptrace="$ptrace_na" -v na_qemu="$qemu_na" \
    -v na_native="$hostops_na" -v na_nb="$nb_na" \
    -v f_signal="$out/lilyvm-signal.log.bench" -v f_ptrace="$out/lilyvm-ptrace.log.bench" \
    -v f_qemu="$out/qemu.log.bench" -v f_host="$out/host-ops.txt" -v f_nb="$out/native-bench.txt" '
    # "# bench NAME MEDIAN min MIN samples N batch K" lines of FILE (one
    # set per run): the median of each run, the overall minimum.
    function load_bench(file, key,    line, f, n, k) {
        while ((getline line < file) > 0) {
            n = split(line, f, " ")
            if (f[1] == "#" && f[2] == "bench" && n >= 10 && f[4] ~ /^[0-9]+$/) {
                k = key SUBSEP f[3]
                cnt[k]++
                val[k, cnt[k]] = f[4] + 0
                if (!(k in gmin) || f[6] + 0 < gmin[k])
                    gmin[k] = f[6] + 0
                gsamples[k] = f[8]
                gbatch[k] = f[10]
            } else if (f[1] == "#" && f[2] == "n/a" && n >= 3)
                nadst[key, f[3]] = substr(line, index(line, f[3]) + length(f[3]) + 1)
        }
        close(file)
    }
    # The median over the runs (the lower middle for an even count).
    function run_median(k,    a, i, j, n, x) {
        n = cnt[k]
        for (i = 1; i <= n; i++) {
            x = val[k, i]
            for (j = i - 1; j >= 1 && a[j] > x; j--)
                a[j + 1] = a[j]
            a[j + 1] = x
        }
        return a[int((n + 1) / 2)]
    }
    function isnum(s) { return s ~ /^-?[0-9]+(\.[0-9]+)?$/ }
    # lily-native-bench: "TRANSPORT CASE... MIN MEDIAN [EXTRA]" or "... failed".
    function load_nb(file,    line, f, n, k, c, i) {
        while ((getline line < file) > 0) {
            if (line ~ /^#/ || line ~ /^transport /)
                continue
            n = split(line, f, " ")
            k = 0
            while (k < 3 && n - k > 2 && isnum(f[n - k]))
                k++
            if (f[n] == "failed")
                k = 1
            c = f[2]
            for (i = 3; i <= n - k; i++)
                c = c " " f[i]
            if (f[n] == "failed") { nb[f[1], c, "failed"] = 1; continue }
            nb[f[1], c, "min"] = f[n - k + 1]
            nb[f[1], c, "median"] = f[n - k + 2]
            if (k == 3)
                nb[f[1], c, "extra"] = f[n]
        }
        close(file)
    }
    function emit(row, label, col, cyc, mincyc, us, runs, samples, batch, src, note) {
        printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row, label, col, cyc, mincyc, us, runs, samples, batch, src, note
    }
    function emit_na(row, label, col, src, why) {
        emit(row, label, col, "n/a", "", "", "", "", "", src, why)
    }
    function emit_bench(row, label, col, k, src, note,    med) {
        med = run_median(k)
        emit(row, label, col, med, gmin[k], us_of(med), cnt[k], gsamples[k], gbatch[k], src, note)
    }
    function us_of(c) { return hz > 0 ? sprintf("%.4f", c * 1e6 / hz) : "?" }
    function cyc_of(u) { return hz > 0 ? sprintf("%.0f", u * hz / 1e6) : "?" }
    BEGIN {
        load_bench(f_signal, "signal"); load_bench(f_ptrace, "ptrace")
        load_bench(f_qemu, "qemu"); load_bench(f_host, "host")
        load_nb(f_nb)
        colna["signal"] = na_signal; colna["ptrace"] = na_ptrace
        colna["qemu"] = na_qemu; colna["native"] = na_native
        ncols = split(cols, colname, " ")
    }
    {
        row = $1; label = $2
        for (i = 1; i <= ncols; i++) {
            col = colname[i]
            spec = $(i + 2); note = ""
            if (spec !~ /^na:/ && (p = index(spec, "@")) > 0) {
                note = substr(spec, p + 1); spec = substr(spec, 1, p - 1)
            }
            if (spec ~ /^na:/) {
                emit_na(row, label, col, "-", substr(spec, 4))
            } else if (spec ~ /^guest:/) {
                m = substr(spec, 7)
                if (colna[col] != "")
                    emit_na(row, label, col, spec, colna[col])
                else if (!((col, m) in cnt))
                    emit_na(row, label, col, spec, "the guest reported no " m " result")
                else
                    emit_bench(row, label, col, col SUBSEP m, spec, note)
            } else if (spec ~ /^host:/) {
                m = substr(spec, 6)
                if (colna["native"] != "")
                    emit_na(row, label, col, spec, colna["native"])
                else if (!(("host", m) in cnt))
                    emit_na(row, label, col, spec, (("host", m) in nadst) ? nadst["host", m] : "host-ops printed no " m " result")
                else
                    emit_bench(row, label, col, "host" SUBSEP m, spec, note)
            } else if (spec ~ /^nb:/) {
                split(substr(spec, 4), v, ":")
                t = v[1]; field = v[2]
                c = substr(spec, 4 + length(t) + length(field) + 2)
                if (na_nb != "")
                    emit_na(row, label, col, spec, na_nb)
                else if ((t, c, "failed") in nb)
                    emit_na(row, label, col, spec, "lily-native-bench: case \"" c "\" failed (build/bench/native-bench.err)")
                else if (!((t, c, field) in nb))
                    emit_na(row, label, col, spec, "lily-native-bench printed no " field " for \"" c "\"")
                else {
                    u = nb[t, c, field]
                    emit(row, label, col, cyc_of(u), field == "median" ? cyc_of(nb[t, c, "min"]) : "", sprintf("%.4f", u), 1, "", "", spec, note)
                }
            }
        }
    }' "$out/rows.spec" >>"$out/raw.tsv"

# --- Render: text on stdout, Markdown in report.md ----------------------------
"$top/bench/render.sh" "$out/raw.tsv" "$out/report.md"

# --- Host mapping operations per guest page fault and per context switch ----
# Counted, not timed: the mmu plugin's workload in tests/mmu/mmu-test (four
# guest processes sharing a kernel, 50 switches) reports the host mapping
# operations (one mmap/munmap/mprotect each) it asks for per guest page
# fault, per context switch and per kernel/user transition.  Appended to
# the report below the table, on stdout too.
mmu_test=$top/build/tests/mmu/mmu-test
{
    echo
    echo "Host mapping operations (one syscall each) asked for by the mmu plugin"
    echo "in tests/mmu/mmu-test's workload (docs/mmu.md §5):"
    echo
    if [ -x "$mmu_test" ] &&
        "$mmu_test" -p /mmu/workload/context-switch >"$out/mmu-workload.txt" 2>&1 &&
        grep -q '^# fault-around' "$out/mmu-workload.txt"; then
        sed -n 's/^# \(fault-around.*\)/    \1/p; s/^# \((4 processes.*\)/    \1/p' \
            "$out/mmu-workload.txt"
    else
        echo "    n/a: $mmu_test did not run or printed no counts (make check builds it;"
        echo "    output in $out/mmu-workload.txt)"
    fi
} | tee -a "$out/report.md"

# --- Nested: the same table inside an x86-64 VM -------------------------------
# Where this host cannot run LilyVM (no 32-bit code segment: exit 125), the
# LilyVM columns are n/a; bench/nested.sh then measures every column inside
# an x86-64 Linux under QEMU TCG.  BENCH_NESTED=0 skips it, =1 forces it.
nested=${BENCH_NESTED:-auto}
if [ "$quick" -eq 0 ] && { [ "$nested" = 1 ] ||
    { [ "$nested" = auto ] && case $signal_na in *"(exit 125)"*) true ;; *) false ;; esac; }; }; then
    "$top/bench/nested.sh" --out "$out/nested"
fi
