#!/bin/sh
# Boots the rewritten (lily-cc) test kernel under qemu-system-i386: the SDK
# points the rewrite vectors at a plain iret there, so every rewrite site
# runs its original instruction.  Re-emits the guest's TAP and checks that
# the results are the same, name for name, as the plain build's.
. "$(dirname "$0")/qemu-lib.sh"

kernel=$top/build/guest/testkernel-lily.elf
if [ ! -f "$kernel" ] && [ ! -x "$top/build/tools/lily-cc" ]; then
    echo "1..0 # SKIP no rewritten kernel: the lily-cc toolchain is not part of this tree"
    exit 0
fi
qemu_find
log=$logdir/testkernel-lily-qemu.log
plain_log=$logdir/testkernel-qemu-for-lily.log
qemu_boot "$kernel" "$log"
out=$(relay_tap "$log")
printf '%s\n' "$out"
n=$(printf '%s\n' "$out" | grep -c -E '^(not )?ok ')

n=$((n + 1))
lily_status=$status
qemu_boot "$top/build/guest/testkernel.elf" "$plain_log"
if [ "$status" -eq 1 ] && [ "$lily_status" -eq 1 ] &&
   [ "$(results "$log")" = "$(results "$plain_log")" ]; then
    echo "ok $n - rewritten and plain builds print the same results"
else
    echo "not ok $n - rewritten and plain builds print the same results"
    results "$plain_log" >"$plain_log.results"
    results "$log" >"$log.results"
    diff "$plain_log.results" "$log.results" | sed 's/^/# /'
    echo "# serial logs: $plain_log $log"
fi
echo "1..$n"
