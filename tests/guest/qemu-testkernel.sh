#!/bin/sh
# Boots the plain test kernel under qemu-system-i386 and re-emits every guest
# TAP result as one of ours, then checks that the guest printed all it
# planned and that QEMU's exit status says success (debug-exit 0).
. "$(dirname "$0")/qemu-lib.sh"

qemu_find
log=$logdir/testkernel-qemu.log
qemu_boot "$top/build/guest/testkernel.elf" "$log"

guest_lines "$log" | awk -v status="$status" -v meaning="$(status_meaning)" -v logfile="$log" '
    /^1\.\.[0-9]+/ { planned = substr($0, 4) + 0; next }
    /^Bail out!/ { print "# guest: " $0; bailed = 1; next }
    /^#/ { print; next }
    /^(not )?ok [0-9]+/ {
        n++
        ok = ($1 == "ok")
        sub(/^(not )?ok [0-9]+ */, "")
        printf "%sok %d %s\n", ok ? "" : "not ", n, $0
        if (!ok) failed++
        next
    }
    END {
        printf "%sok %d - guest printed all %d planned results (got %d)%s\n",
            (planned > 0 && n == planned && !bailed) ? "" : "not ", n + 1, planned, n,
            bailed ? ", then bailed out" : ""
        printf "%sok %d - QEMU exit status %d: %s\n", status == 1 ? "" : "not ", n + 2, status, meaning
        if (status != 1 || failed || n != planned || bailed)
            print "# serial log: " logfile
        printf "1..%d\n", n + 2
    }'
