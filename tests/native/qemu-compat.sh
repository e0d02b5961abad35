#!/bin/sh
# Runs a test program inside an x86-64 Linux kernel under QEMU, so that
# compatibility mode is tested even on hosts that give processes no 32-bit
# code segment (PVM).  Prints the inner TAP.
#
#   tests/native/qemu-compat.sh [PROGRAM [ARG...]]
#
# PROGRAM (default build/tests/native/test-native, a path relative to the
# top of the tree) runs from this directory inside build/tools/lily-nested's
# initramfs, which holds it, the files under build/plugins and build/guest
# at the same paths, and the shared libraries they need.
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
. "$(dirname "$0")/../nested-lib.sh"
if [ $# -eq 0 ]; then set -- "$B/tests/native/test-native"; fi

why=$(nested_why_not "${LILYVM_TEST_KERNEL:-}")
[ -z "$why" ] || { echo "1..0 # SKIP $why"; exit 0; }
[ -x "$1" ] || { echo "Bail out! $1 is missing: run make first"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lilyvm-qemu.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
program=$1
shift
files=
for dir in "$B/plugins" "$B/guest"; do
    [ -d "$dir" ] && files="$files --file $dir"
done
# shellcheck disable=SC2086
nested_run 900 "$tmp/console" "$LILYVM_TEST_KERNEL" $files --run "$program" -- "$@"
status=$?
grep -E '^(ok |not ok |1\.\.|# |Bail out!)' "$tmp/console"
if [ "$status" != 0 ]; then
    echo "# the test inside QEMU ended with status '$status'; console output:"
    tail -20 "$tmp/console" | sed 's/^/#   /'
    exit 1
fi
