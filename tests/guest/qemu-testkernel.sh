#!/bin/sh
# Boots the plain test kernel under qemu-system-i386 and re-emits every guest
# TAP result as one of ours, then checks that the guest printed all it
# planned and that QEMU's exit status says success (debug-exit 0).
# TESTKERNEL_CMDLINE sets the kernel's command line (e.g. only=/paging/).
. "$(dirname "$0")/qemu-lib.sh"

qemu_find
log=$logdir/testkernel-qemu.log
qemu_boot "$top/build/guest/testkernel.elf" "$log" ${TESTKERNEL_CMDLINE:+-append "$TESTKERNEL_CMDLINE"}
out=$(relay_tap "$log")
printf '%s\n' "$out"
echo "1..$(printf '%s\n' "$out" | grep -c -E '^(not )?ok ')"
