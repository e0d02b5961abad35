#!/bin/sh
# Runs a test program inside an x86-64 Linux kernel under QEMU, so that
# compatibility mode is tested even on hosts that give processes no 32-bit
# code segment (PVM).  Prints the inner TAP.
#
#   tests/native/qemu-compat.sh [PROGRAM [ARG...]]
#
# PROGRAM (default build/tests/native/test-native, a path relative to the
# top of the tree) runs from / of the initramfs, which holds it, the files
# under build/plugins and build/guest at the same relative paths, and the
# shared libraries they need.
#
#   LILYVM_TEST_KERNEL  an x86-64 bzImage with IA32_EMULATION, e.g. from
#                       `apt-get download linux-image-6.1.0-56-amd64` and
#                       `dpkg-deb -x` (docs/native.md); skipped without one
#   LILYVM_QEMU_CPU     QEMU -cpu model [qemu64]; not an Intel model: TCG
#                       runs `syscall` in compatibility mode where Intel
#                       CPUs raise #UD, and Linux, leaving MSR_CSTAR at 0 on
#                       Intel, then crashes (test syscall, compat32)
#   LILYVM_QEMU_SMP     vCPUs [2]
set -u
B=${B:-build}
if [ $# -eq 0 ]; then set -- "$B/tests/native/test-native"; fi
test_bin=$1
init_bin=$B/tests/native/qemu-init
mkinitramfs=$B/tests/native/mkinitramfs

skip() { echo "1..0 # SKIP $*"; exit 0; }

kernel=${LILYVM_TEST_KERNEL:-}
[ -n "$kernel" ] || skip "no x86-64 kernel image: set LILYVM_TEST_KERNEL (see docs/native.md)"
[ -r "$kernel" ] || skip "LILYVM_TEST_KERNEL=$kernel is not readable"
command -v qemu-system-x86_64 >/dev/null 2>&1 || skip "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
for f in "$test_bin" "$init_bin" "$mkinitramfs"; do
    [ -x "$f" ] || { echo "Bail out! $f is missing: run make first"; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lilyvm-qemu.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

for arg in "$@"; do printf '%s\n' "$arg"; done >"$tmp/qemu-cmd"
files="$test_bin"
for dir in "$B/plugins" "$B/guest"; do
    [ -d "$dir" ] && files="$files $(find "$dir" -type f | sort)"
done
set -- "$tmp/initramfs.cpio" proc tmp dev/console=c:5:1 dev/null=c:1:3 \
    init="$init_bin" qemu-cmd="$tmp/qemu-cmd"
for f in $files; do
    set -- "$@" "${f#./}=$f"
done
# Libraries of every ELF file in the image, each once.
for lib in $(for f in $files; do ldd "$f" 2>/dev/null; done | grep -o '/[^ ]*' | sort -u); do
    set -- "$@" "${lib#/}=$lib"
done
"$mkinitramfs" "$@" || { echo "Bail out! cannot build the initramfs"; exit 1; }

timeout 900 qemu-system-x86_64 -M q35 -cpu "${LILYVM_QEMU_CPU:-qemu64}" \
    -smp "${LILYVM_QEMU_SMP:-2}" -m 512 -display none -monitor none -serial stdio \
    -no-reboot -kernel "$kernel" -initrd "$tmp/initramfs.cpio" \
    -append "console=ttyS0 quiet panic=-1 no_timer_check" </dev/null >"$tmp/console" 2>&1
tr -d '\r' <"$tmp/console" | grep -E '^(ok |not ok |1\.\.|# |Bail out!)'
status=$(tr -d '\r' <"$tmp/console" | sed -n 's/^LILYVM-QEMU-STATUS //p')
if [ "$status" != 0 ]; then
    echo "# the test inside QEMU ended with status '${status:-none}'; console output:"
    tr -d '\r' <"$tmp/console" | tail -20 | sed 's/^/#   /'
    exit 1
fi
