#!/bin/sh
# Boots the plain test kernel in bench mode under qemu-system-i386 and checks
# that every metric is reported as "# bench <name> <cycles> ..." (the numbers
# are shown, never judged) and that the run ends with debug-exit success.
. "$(dirname "$0")/qemu-lib.sh"

metrics="null-syscall ctx-switch page-fault cli-sti pushf-popf inb int-iret cr0-rw cr3-reload compute"
qemu_find
log=$logdir/testkernel-qemu-bench.log
qemu_boot "$top/build/guest/testkernel.elf" "$log" -append bench

guest_lines "$log" | grep -a '^# bench ' || true
n=0
failed=0
for m in $metrics; do
    n=$((n + 1))
    cycles=$(guest_lines "$log" | awk -v m="$m" '$1 == "#" && $2 == "bench" && $3 == m && $4 ~ /^[0-9]+$/ { print $4; exit }')
    if [ -n "$cycles" ] && guest_lines "$log" | grep -a -q -E "^ok [0-9]+ - /bench/$m\$"; then
        echo "ok $n - bench $m reported: $cycles cycles"
    else
        echo "not ok $n - bench $m reported"
        failed=1
    fi
done
n=$((n + 1))
if [ "$status" -eq 1 ]; then
    echo "ok $n - QEMU exit status $status: $(status_meaning)"
else
    echo "not ok $n - QEMU exit status $status: $(status_meaning)"
    failed=1
fi
[ "$failed" -eq 0 ] || echo "# serial log: $log"
echo "1..$n"
