# Shared by the QEMU guest tests: find QEMU, boot a kernel with a deadline,
# relay the guest's TAP and judge QEMU's exit status.  Sourced, not run.
# Guest debug-exit convention: the guest writes 0 (success) or 1 (failure);
# QEMU's isa-debug-exit exits with (value << 1) | 1, so 1 = success, 3 = failure.

top=$(cd "$(dirname "$0")/../.." && pwd)
logdir=$top/build/tests/guest
QEMU_DEADLINE=${QEMU_DEADLINE:-60}

# qemu_find: set $qemu from $QEMU or config.mk, or print a TAP skip and exit.
qemu_find() {
    qemu=${QEMU:-}
    if [ -z "$qemu" ] && [ -f "$top/config.mk" ]; then
        qemu=$(sed -n 's/^QEMU *= *//p' "$top/config.mk")
    fi
    if [ -z "$qemu" ] || [ ! -x "$qemu" ]; then
        echo "1..0 # SKIP qemu-system-i386 not found (apt-get install qemu-system-x86, then re-run ./configure)"
        exit 0
    fi
}

# qemu_boot KERNEL LOG [EXTRA QEMU ARGS...]: run to completion or deadline; sets $status.
qemu_boot() {
    kernel=$1 log=$2
    shift 2
    mkdir -p "$logdir"
    if [ ! -f "$kernel" ]; then
        echo "1..1"
        echo "not ok 1 - $kernel exists (run make first)"
        exit 0
    fi
    timeout "$QEMU_DEADLINE" "$qemu" -kernel "$kernel" -nographic -serial stdio \
        -monitor none -display none -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        -no-reboot "$@" </dev/null >"$log" 2>&1
    status=$?
}

# The exit status that means success: 1 for QEMU; a harness running the
# kernel under LilyVM (which exits with the debug-exit value) sets 0, and
# its own runner name, before calling relay_tap.
success_status=1
runner=QEMU

# status_meaning: what QEMU's exit status says about the guest.
status_meaning() {
    if [ "$runner" != QEMU ]; then
        case $status in
        0) echo "guest reported success through debug-exit" ;;
        1) echo "guest reported failure through debug-exit" ;;
        124) echo "deadline passed" ;;
        *) echo "unexpected $runner exit status" ;;
        esac
        return
    fi
    case $status in
    1) echo "guest reported success through debug-exit" ;;
    3) echo "guest reported failure through debug-exit" ;;
    0) echo "QEMU ended without debug-exit (guest reset, triple fault or shutdown)" ;;
    124) echo "deadline of ${QEMU_DEADLINE}s passed" ;;
    *) echo "unexpected QEMU exit status" ;;
    esac
}

# guest_lines LOG: the TAP lines of the serial log (firmware output before
# the kernel is left out; the kernel starts with a newline to stay apart).
guest_lines() {
    tr -d '\r' <"$1" | grep -a -E '^(#|ok [0-9]|not ok [0-9]|1\.\.[0-9]|Bail out!)'
}

# relay_tap LOG: re-emit the guest's results as ours (numbered from 1), then
# check that all planned results came and that QEMU's status means success.
# Prints no plan: the caller adds its own checks and then "1..N".
relay_tap() {
    guest_lines "$1" | awk -v status="$status" -v good="$success_status" -v runner="$runner" \
        -v meaning="$(status_meaning)" -v logfile="$1" '
        /^1\.\.[0-9]+/ { planned = substr($0, 4) + 0; next }
        /^Bail out!/ { print "# guest: " $0; bailed = 1; next }
        /^#/ { print; next }
        /^(not )?ok [0-9]+/ {
            n++
            ok = ($1 == "ok")
            sub(/^(not )?ok [0-9]+ */, "")
            printf "%sok %d %s\n", ok ? "" : "not ", n, $0
            last = $0; sub(/^- /, "", last)
            if (!ok) failed++
            next
        }
        END {
            printf "%sok %d - guest printed all %d planned results (got %d)%s\n",
                (planned > 0 && n == planned && !bailed) ? "" : "not ", n + 1, planned, n,
                bailed ? ", then bailed out" : ""
            printf "%sok %d - %s exit status %d: %s\n", status == good ? "" : "not ", n + 2, runner, status, meaning
            if (n != planned && !bailed)
                printf "# the guest stopped after result %d (%s); boot it with the command line word \"verbose\" to see which test ran next\n", n, n ? last : "none"
            if (status != good || failed || n != planned || bailed)
                print "# serial log: " logfile
        }'
}

# results LOG: the guest result lines only ("ok N - name", "not ok N - name").
results() {
    guest_lines "$1" | grep -a -E '^(not )?ok [0-9]'
}
