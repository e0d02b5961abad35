#!/bin/sh
# The signal transport's hand-over under nested emulation: boots lily-nested's
# x86-64 Linux (qemu-system-x86_64, TCG here) with a chosen number of vCPUs and runs
# the test kernel's bench under lilyvm once per case (spin budget, CPU
# pinning), plus lily-native-bench's raw round trips.  Reports wall time per
# crossing and the guest's own per-operation medians.  Not a test: nothing
# asserts a time.  See docs/benchmarks.md ("Hand-over under nested TCG").
#
# usage: bench/handover.sh [--smp N] [--trips N] [--out DIR] [CASE...]
#   CASE is NAME=SPEC, SPEC a comma-free list of words joined by '+':
#     spin:N      [machine] spin = N            (default 0)
#     spin_adaptive:B  [machine] spin_adaptive = B (default true)
#     cpus:A/B    [machine] cpus = A,B          (VM on A, guest process on B)
#     taskset:A   lilyvm (both processes) started under taskset -c A
#     transport:ptrace, fast_path:false, gap:US   the [machine] key of that name
#   e.g. base=spin:0 split=spin:2000+cpus:0/1 same=taskset:0
#   Default cases: base=spin:0 spin=spin:2000 split=spin:2000+cpus:0/1
#   same=spin:0+cpus:0/0 (the split ones need --smp 2 or more).
#   --trips N: lily-native-bench round trips per case (default 0: not run).
# Environment: LILYVM_TEST_KERNEL (x86-64 kernel image; default the one
# tests/native/fetch-kernel.sh unpacked under build/hostkernel),
# HANDOVER_DEADLINE (seconds per lilyvm run inside; 600), NESTED_IRQ_GAP_US
# ([machine] irq_min_gap_us inside; 20000, as bench/nested.sh).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
B=$top/build
out=$B/bench/handover
smp=2
trips=0
usage() { sed -n '2,24s/^# \{0,1\}//p' "$0"; }
while [ $# -gt 0 ]; do
    case $1 in
    --smp | --trips | --out)
        [ $# -ge 2 ] || { echo "handover.sh: $1 needs a value" >&2; exit 2; }
        case $1 in
        --smp) smp=$2 ;;
        --trips) trips=$2 ;;
        --out) out=$2 ;;
        esac
        shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "handover.sh: unknown option '$1' (accepted: --smp N, --trips N, --out DIR)" >&2; exit 2 ;;
    *) break ;;
    esac
    shift
done
case $smp in '' | *[!0-9]* | 0) echo "handover.sh: --smp '$smp': expected 1 to 8" >&2; exit 2 ;; esac
[ "$smp" -le 8 ] || { echo "handover.sh: --smp '$smp': expected 1 to 8" >&2; exit 2; }
case $trips in '' | *[!0-9]*) echo "handover.sh: --trips '$trips': expected a number" >&2; exit 2 ;; esac
[ $# -gt 0 ] || set -- base=spin:0 spin=spin:2000 split=spin:2000+cpus:0/1 same=spin:0+cpus:0/0
deadline=${HANDOVER_DEADLINE:-600}
gap=${NESTED_IRQ_GAP_US:-20000}

na() { echo "bench/handover: not run: $*"; exit 0; }
kimg=${LILYVM_TEST_KERNEL:-$(ls "$B"/hostkernel/root/boot/vmlinuz-* 2>/dev/null | head -n 1)}
{ [ -n "$kimg" ] && [ -r "$kimg" ]; } || na "no readable x86-64 kernel image (set LILYVM_TEST_KERNEL, or run tests/native/fetch-kernel.sh build/hostkernel)"
command -v qemu-system-x86_64 >/dev/null 2>&1 || na "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
for f in "$B/lilyvm" "$B/guest/testkernel-lily.elf" "$B/tools/lily-native-bench" "$B/tools/lily-nested"; do
    [ -e "$f" ] || na "$f is not built (make bench builds it)"
done

# The inner script: one lilyvm run per case, each framed by markers.  Every
# file keeps its path here (lily-nested packs them with their libraries).
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lily-handover.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
files=
for p in cat date grep head nproc taskset timeout tr; do
    path=$(command -v "$p") || na "$p is not installed"
    files="$files --file $path"
done
for f in "$tmp" "$B/lilyvm" "$B/plugins" "$B/tools/lily-native-bench" "$B/guest/testkernel-lily.elf"; do
    files="$files --file $f"
done
{
    echo "export PATH=/usr/bin:/bin LILYVM_PLUGIN_PATH=$B/plugins"
    echo "echo '@@@ CPUINFO'; grep -m 1 'cpu MHz' /proc/cpuinfo; nproc"
    for c in "$@"; do
        name=${c%%=*}
        spec=${c#*=}
        case $name in '' | *[!A-Za-z0-9_-]*) echo "handover.sh: case '$c': the name must be [A-Za-z0-9_-]+" >&2; exit 2 ;; esac
        [ "$name" != "$c" ] || { echo "handover.sh: case '$c': expected NAME=SPEC" >&2; exit 2; }
        pre='' sets="--set machine.irq_min_gap_us=$gap"
        for w in $(echo "$spec" | tr '+' ' '); do
            key=${w%%:*} val=${w#*:}
            case $key in
            spin | spin_adaptive | transport | fast_path) sets="$sets --set machine.$key=$val" ;;
            gap) sets="$sets --set machine.irq_min_gap_us=$val" ;;
            cpus) sets="$sets --set machine.cpus=$(echo "$val" | tr / ,)" ;;
            taskset) pre="taskset -c $val" ;;
            *) echo "handover.sh: case '$c': unknown word '$w' (accepted: spin:N, spin_adaptive:B, cpus:A/B, taskset:A, transport:T, fast_path:B, gap:US)" >&2; exit 2 ;;
            esac
        done
        echo "t0=\$(date +%s%N)"
        echo "timeout $deadline $pre $B/lilyvm --stats --kernel $B/guest/testkernel-lily.elf --cmdline bench $sets </dev/null >/tmp/o 2>/tmp/e"
        echo "st=\$?; t1=\$(date +%s%N)"
        echo "echo \"@@@ CASE $name \$st \$(((t1 - t0) / 1000000)) $spec\""
        echo "grep -a '^# bench ' /tmp/o; grep -a -E '^ *cpu[.](crossings|local_traps|traps) ' /tmp/e; grep -a '^lilyvm:' /tmp/e | grep -v nameserver | head -n 3"
    done
    if [ "$trips" -gt 0 ]; then
        echo "echo '@@@ NATIVE'; timeout $deadline $B/tools/lily-native-bench $trips"
    fi
    echo "echo '@@@ END'"
} >"$tmp/run.sh" || exit 2

load0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "handover: lily-nested --smp $smp; host load $load0" >&2
start=$(date +%s)
# shellcheck disable=SC2086
timeout $((deadline * 8 + 120)) "$B/tools/lily-nested" --kernel-image "$kimg" --smp "$smp" --memory 1024 \
    $files --run "$(command -v dash || command -v sh)" -- "$tmp/run.sh" </dev/null >"$tmp/console" 2>&1
qst=$?
load1=$(cut -d' ' -f1-3 /proc/loadavg)
tr -d '\r' <"$tmp/console" >"$out/console.log"
grep -q '^@@@ END' "$out/console.log" ||
    echo "handover: the run did not finish (lily-nested exit $qst; console log $out/console.log)" >&2

# Table: per case the wall time per crossing and the guest's medians, the
# TSC rate from the nested kernel's calibration (its /proc/cpuinfo).
awk -v smp="$smp" -v load0="$load0" -v load1="$load1" -v secs=$(($(date +%s) - start)) '
/^@@@ CPUINFO/ { sec = "cpu"; next }
/^@@@ CASE / { sec = "case"; n++; name[n] = $3; st[n] = $4; wall[n] = $5; spec[n] = $6; next }
/^@@@ NATIVE/ { sec = "native"; next }
/^@@@ / { sec = ""; next }
sec == "cpu" && /cpu MHz/ { mhz = $NF + 0; next }
sec == "case" && /^# bench / { m[n, $3] = $4; next }
sec == "case" && /cpu[.]crossings/ { cross[n] = $2; next }
sec == "case" && /cpu[.]local_traps/ { local[n] = $2; next }
sec == "case" && /^lilyvm:/ { msg[n] = $0; next }
sec == "native" { native = native "    " $0 "\n" }
function us(c) { return (c == "" || mhz == 0) ? "-" : sprintf("%.1f", c / mhz) }
END {
    printf "nested x86-64 TCG, -smp %d, TSC %.0f MHz; %d s; host load before %s, after %s\n", smp, mhz, secs, load0, load1
    printf "%-8s %-26s %4s %7s %9s %9s %8s %8s %8s %8s\n", "case", "spec", "exit", "wall s", "crossings",
        "us/cross", "inb us", "syscall", "ctxsw", "cli-sti"
    for (i = 1; i <= n; i++) {
        pc = cross[i] ? sprintf("%.0f", wall[i] * 1000 / cross[i]) : "-"
        printf "%-8s %-26s %4s %7.1f %9s %9s %8s %8s %8s %8s\n", name[i], spec[i], st[i], wall[i] / 1000,
            cross[i] == "" ? "-" : cross[i], pc, us(m[i, "inb"]), us(m[i, "null-syscall"]),
            us(m[i, "ctx-switch"]), us(m[i, "cli-sti"])
        if (msg[i] != "") print "    " msg[i]
    }
    if (native != "") printf "lily-native-bench inside:\n%s", native
}' "$out/console.log" | tee "$out/report.txt"
