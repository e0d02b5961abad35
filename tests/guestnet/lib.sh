# Shared by the guestnet tests: find QEMU, pick free loopback ports and boot
# build/guest/demo.elf on QEMU's user networking with a deadline.  Sourced.
top=$(cd "$(dirname "$0")/../.." && pwd)
logdir=$top/build/tests/guestnet
# GUESTNET_KERNEL: another image (the rewritten one runs under QEMU too).
kernel=${GUESTNET_KERNEL:-$top/build/guest/demo.elf}
flavour=$(basename "$kernel" .elf)
GUESTNET_DEADLINE=${GUESTNET_DEADLINE:-60}
mkdir -p "$logdir"

# skip_all REASON: the whole script cannot run here.
skip_all() {
    echo "1..0 # SKIP $1"
    exit 0
}

# guestnet_setup: $qemu, or skip with the reason.
guestnet_setup() {
    qemu=${QEMU:-}
    if [ -z "$qemu" ] && [ -f "$top/config.mk" ]; then
        qemu=$(sed -n 's/^QEMU *= *//p' "$top/config.mk")
    fi
    [ -n "$qemu" ] && [ -x "$qemu" ] ||
        skip_all "qemu-system-i386 not found (apt-get install qemu-system-x86, then re-run ./configure)"
    [ -f "$kernel" ] || skip_all "$kernel is not built (run make)"
    command -v python3 >/dev/null || skip_all "python3 is needed for free ports and servers"
}

# free_port: a TCP port on 127.0.0.1 that nobody listens on right now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# boot_demo LOG CMDLINE [EXTRA NETDEV OPTIONS]: run the demo until it powers
# off or the deadline passes; sets $status (1 = debug-exit success, 124 = deadline).
boot_demo() {
    log=$1 cmdline=$2 netopts=${3:-}
    timeout "$GUESTNET_DEADLINE" "$qemu" -display none -nodefaults -no-reboot -m 32 \
        -kernel "$kernel" -append "$cmdline" -serial stdio \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        -device ne2k_isa,netdev=n0,iobase=0x300,irq=9 \
        -netdev "user,id=n0$netopts" </dev/null >"$log" 2>&1
    status=$?
}

n=0
failed=0
# check DESCRIPTION COMMAND...: one TAP line from the command's status.
check() {
    desc=$1
    shift
    n=$((n + 1))
    if "$@"; then
        echo "ok $n - $desc"
    else
        echo "not ok $n - $desc"
        failed=1
    fi
}

# has LOG PATTERN: an extended regex matches a line of the serial log.
has() {
    tr -d '\r' <"$1" | grep -a -q -E "$2"
}

# finish LOG: the plan, and the log's tail when something failed.
finish() {
    if [ "$failed" -ne 0 ]; then
        echo "# serial log $1 (QEMU exit status $status):"
        tr -d '\r' <"$1" | tail -n 30 | sed 's/^/#   /'
    fi
    echo "1..$n"
}
