#!/bin/sh
# The benchmark table of bench/bench.sh, measured inside an x86-64 Linux
# under qemu-system-x86_64 (TCG): for hosts that give user processes no
# 32-bit code segment (docs/native.md), where LilyVM's columns are n/a.
# LilyVM (both transports), QEMU-i386 and the native operations then all run
# on the same emulated CPU, so their ratios compare the designs; absolute
# numbers say nothing about real hardware.  Not a test: nothing asserts a
# time.  See docs/benchmarks.md.
#
# usage: bench/nested.sh [--out DIR]     (default build/bench/nested)
# Environment: LILYVM_TEST_KERNEL (x86-64 kernel image; default the one
# tests/native/fetch-kernel.sh unpacked under build/hostkernel),
# NESTED_DEADLINE (seconds for each column's runs inside; 900), NESTED_RUNS
# (runs of each column inside; 1), NESTED_IRQ_GAP_US ([machine]
# irq_min_gap_us for LilyVM inside; 20000), NESTED_LILYVM_ARGS (more lilyvm
# arguments for both LilyVM columns inside, e.g. "--set machine.cpus=0,1").
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
B=$top/build
out=$B/bench/nested
while [ $# -gt 0 ]; do
    case $1 in
    --out)
        [ $# -ge 2 ] || { echo "nested.sh: --out needs a directory" >&2; exit 2; }
        out=$2
        shift ;;
    -h | --help) sed -n '2,17s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "nested.sh: unknown argument '$1' (accepted: --out DIR)" >&2; exit 2 ;;
    esac
    shift
done
deadline=${NESTED_DEADLINE:-900}
gap=${NESTED_IRQ_GAP_US:-20000}
runs=${NESTED_RUNS:-1}

# na REASON: no nested table, and why (make bench goes on).
na() { echo "bench/nested: not run: $*"; exit 0; }

. "$top/tests/nested-lib.sh"
kimg=${LILYVM_TEST_KERNEL:-$(ls "$B"/hostkernel/root/boot/vmlinuz-* 2>/dev/null | head -n 1)}
why=$(nested_why_not "$kimg")
[ -z "$why" ] || na "$why"
qemu_i386=/usr/libexec/qemu-system-i386
[ -x "$qemu_i386" ] || qemu_i386=$(command -v qemu-system-i386 || true)
for f in "$B/lilyvm" "$B/guest/testkernel-lily.elf" "$B/guest/testkernel.elf" "$B/bench/host-ops" \
    "$B/tools/lily-native-bench"; do
    [ -e "$f" ] || na "$f is not built (make bench and make check build it)"
done
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lily-nested-bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# What bench.sh runs, at this host's paths (lily-nested adds the libraries):
# the programs it calls, lilyvm with its plugins, both test kernels, the
# native columns' programs.
sh=$(command -v dash || command -v sh)
files=
for p in awk cat cut date dirname grep head mkdir nproc sed sort tail timeout tr uname wc; do
    path=$(command -v "$p") || na "$p is not installed"
    files="$files --file $path"
done
for f in "$tmp" "$top/bench/bench.sh" "$top/bench/render.sh" "$B/lilyvm" "$B/plugins" \
    "$B/bench/host-ops" "$B/tools/lily-native-bench" "$B/guest/testkernel.elf" \
    "$B/guest/testkernel-lily.elf" "$B/tests/mmu/mmu-test"; do
    [ -e "$f" ] || continue # mmu-test: built by make check; bench.sh says n/a without it
    files="$files --file $f"
done

# QEMU-i386 inside, when its files are all here, where it was built to find
# them (its TCG module, its firmware).
qemu_inside=
if [ -n "$qemu_i386" ] && [ -x "$qemu_i386" ] && [ "$(head -c 4 "$qemu_i386" | od -An -c | tr -d ' ')" = '177ELF' ]; then
    qemu_inside=$qemu_i386
    files="$files --file $qemu_i386"
    for f in /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-i386.so /usr/share/qemu/kvmvapic.bin \
        /usr/share/qemu/multiboot_dma.bin /usr/share/qemu/linuxboot_dma.bin \
        /usr/share/seabios/bios-256k.bin /usr/share/seabios/vgabios-stdvga.bin \
        /usr/lib/ipxe/qemu/efi-e1000.rom; do
        [ -e "$f" ] && files="$files --file $f"
    done
fi

# Inside: bench.sh with its usual columns; its raw table and the counters
# of the last lilyvm run of each transport (--stats) come back on the console.
{
    echo "export LILYVM_PLUGIN_PATH=$B/plugins BENCH_RUNS=$runs BENCH_NESTED=0"
    echo "export LILYVM_DEADLINE=$deadline QEMU_DEADLINE=$deadline QEMU=${qemu_inside:-/nonexistent}"
    # A trap costs about a millisecond under TCG: unpaced, the timer
    # interrupt arrives every few traps and the guest makes no progress
    # (docs/cpu.md, irq_min_gap_us).
    echo "export LILYVM_ARGS='--set machine.irq_min_gap_us=$gap ${NESTED_LILYVM_ARGS:-}'"
    echo "$sh $top/bench/bench.sh --out /tmp/b >/tmp/b.txt 2>/tmp/b.err"
    echo "echo \"@@@ STATUS \$?\""
    echo "echo '@@@ RAW'; cat /tmp/b/raw.tsv"
    echo "echo '@@@ LOG'; cat /tmp/b.err"
    for t in signal ptrace; do
        echo "echo '@@@ STATS $t'"
        echo "grep -E '^ *(cpu|mmu)[.]' /tmp/b/lilyvm-$t.log.err"
    done
    echo "echo '@@@ END'"
} >"$tmp/run.sh"

echo "bench: the same table inside an x86-64 VM under qemu-system-x86_64 TCG (up to $deadline s per column)" >&2
start=$(date +%s)
# shellcheck disable=SC2086
nested_run $((deadline * 4 + 120)) "$out/console.log" "$kimg" --memory 1536 $files \
    --run "$sh" -- "$tmp/run.sh"
qst=$?
# section NAME: the lines after "@@@ NAME" up to the next marker.
section() { nested_section "$out/console.log" "$1"; }
section RAW >"$out/raw.tsv"
section LOG >"$out/bench.err"
if ! grep -q '^row' "$out/raw.tsv"; then
    na "no table came back (QEMU exit $qst after $(($(date +%s) - start)) s; console log $out/console.log)"
fi
for t in signal ptrace; do section "STATS $t" >"$out/stats-$t.txt"; done
echo
echo "Inside an x86-64 VM under QEMU TCG ($(($(date +%s) - start)) s): every column ran on the same emulated CPU."
"$top/bench/render.sh" "$out/raw.tsv" "$out/report.md"
for t in signal ptrace; do
    if [ -s "$out/stats-$t.txt" ]; then
        echo "lilyvm --stats of the last bench run, $t transport:"
        sed 's/^ */  /' "$out/stats-$t.txt"
    fi
done
