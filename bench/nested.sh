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

kimg=${LILYVM_TEST_KERNEL:-$(ls "$B"/hostkernel/root/boot/vmlinuz-* 2>/dev/null | head -n 1)}
[ -n "$kimg" ] || na "no x86-64 kernel image (set LILYVM_TEST_KERNEL, or run tests/native/fetch-kernel.sh build/hostkernel)"
[ -r "$kimg" ] || na "the kernel image $kimg is not readable"
command -v qemu-system-x86_64 >/dev/null 2>&1 || na "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
qemu_i386=/usr/libexec/qemu-system-i386
[ -x "$qemu_i386" ] || qemu_i386=$(command -v qemu-system-i386 || true)
for f in "$B/lilyvm" "$B/guest/testkernel-lily.elf" "$B/guest/testkernel.elf" "$B/bench/host-ops" \
    "$B/tools/lily-native-bench" "$B/tests/native/qemu-init" "$B/tests/native/mkinitramfs"; do
    [ -e "$f" ] || na "$f is not built (make bench and make check build it)"
done
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lily-nested-bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# The programs bench.sh uses, from this host, with their libraries.
sh=$(command -v dash || command -v sh)
progs="awk cat cut date dirname grep head mkdir nproc sed sort tail timeout tr uname wc"
set -- "$tmp/initramfs.cpio" proc tmp dev/console=c:5:1 dev/null=c:1:3 \
    init="$B/tests/native/qemu-init" qemu-cmd="$tmp/qemu-cmd" run.sh="$tmp/run.sh" \
    bin/sh="$sh" bench/bench.sh="$top/bench/bench.sh" bench/render.sh="$top/bench/render.sh"
elves="$sh"
for p in $progs; do
    path=$(command -v "$p") || na "$p is not installed"
    path=$(readlink -f "$path")
    set -- "$@" "bin/$p=$path"
    elves="$elves $path"
done
files="$B/lilyvm $B/bench/host-ops $B/tools/lily-native-bench $B/guest/testkernel.elf \
$B/guest/testkernel-lily.elf $(find "$B/plugins" -name '*.so' | sort)"
for f in $files; do set -- "$@" "build/${f#"$B"/}=$f"; done
elves="$elves $files"

# QEMU-i386 inside, when its files are all here: the binary finds its TCG
# module and firmware relative to /usr/libexec.
qemu_inside=
if [ -n "$qemu_i386" ] && [ -x "$qemu_i386" ] && [ "$(head -c 4 "$qemu_i386" | od -An -c | tr -d ' ')" = '177ELF' ]; then
    qemu_inside=/usr/libexec/qemu-system-i386
    set -- "$@" "usr/libexec/qemu-system-i386=$qemu_i386"
    elves="$elves $qemu_i386"
    for f in /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-i386.so /usr/share/qemu/kvmvapic.bin \
        /usr/share/qemu/multiboot_dma.bin /usr/share/qemu/linuxboot_dma.bin \
        /usr/share/seabios/bios-256k.bin /usr/share/seabios/vgabios-stdvga.bin \
        /usr/lib/ipxe/qemu/efi-e1000.rom; do
        if [ -e "$f" ]; then
            set -- "$@" "${f#/}=$(readlink -f "$f")"
            case $f in *.so) elves="$elves $f" ;; esac
        fi
    done
fi
for lib in $(for f in $elves; do ldd "$f" 2>/dev/null; done | grep -o '/[^ ]*' | sort -u); do
    set -- "$@" "${lib#/}=$lib"
done

# Inside: bench.sh with its usual columns; its raw table and the counters
# of the last lilyvm run of each transport (--stats) come back on the console.
{
    echo "export PATH=/bin LILYVM_PLUGIN_PATH=/build/plugins BENCH_RUNS=$runs BENCH_NESTED=0"
    echo "export LILYVM_DEADLINE=$deadline QEMU_DEADLINE=$deadline QEMU=${qemu_inside:-/nonexistent}"
    # A trap costs about a millisecond under TCG: unpaced, the timer
    # interrupt arrives every few traps and the guest makes no progress
    # (docs/cpu.md, irq_min_gap_us).
    echo "export LILYVM_ARGS='--set machine.irq_min_gap_us=$gap ${NESTED_LILYVM_ARGS:-}'"
    echo "/bin/sh /bench/bench.sh --out /tmp/b >/tmp/b.txt 2>/tmp/b.err"
    echo "echo \"@@@ STATUS \$?\""
    echo "echo '@@@ RAW'; cat /tmp/b/raw.tsv"
    echo "echo '@@@ LOG'; cat /tmp/b.err"
    for t in signal ptrace; do
        echo "echo '@@@ STATS $t'"
        echo "grep -E '^ *(cpu|mmu)[.]' /tmp/b/lilyvm-$t.log.err"
    done
    echo "echo '@@@ END'"
} >"$tmp/run.sh"
printf '%s\n%s\n' /bin/sh /run.sh >"$tmp/qemu-cmd"
"$B/tests/native/mkinitramfs" "$@" >/dev/null || na "cannot build the initramfs"

echo "bench: the same table inside an x86-64 VM under qemu-system-x86_64 TCG (up to $deadline s per column)" >&2
start=$(date +%s)
timeout $((deadline * 4 + 120)) qemu-system-x86_64 -M q35 -cpu "${LILYVM_QEMU_CPU:-qemu64}" \
    -smp 2 -m 1536 -display none -monitor none -serial stdio -no-reboot -kernel "$kimg" \
    -initrd "$tmp/initramfs.cpio" -append "console=ttyS0 quiet panic=-1 no_timer_check" \
    </dev/null >"$tmp/console" 2>&1
qst=$?
tr -d '\r' <"$tmp/console" >"$out/console.log"
# section NAME: the lines after "@@@ NAME" up to the next marker.
section() { awk -v s="$1" '/^@@@ / { inside = (substr($0, 5) == s); next } inside' "$out/console.log"; }
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
