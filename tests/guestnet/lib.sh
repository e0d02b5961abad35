# Shared by the guestnet tests: find QEMU, pick free loopback ports and boot
# build/guest/demo.elf on QEMU's user networking with a deadline.  Sourced.
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/tap-lib.sh"
logdir=$top/build/tests/guestnet
# GUESTNET_KERNEL: another image (the rewritten one runs under QEMU too).
kernel=${GUESTNET_KERNEL:-$top/build/guest/demo.elf}
flavour=$(basename "$kernel" .elf)
GUESTNET_DEADLINE=${GUESTNET_DEADLINE:-60}
mkdir -p "$logdir"

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

# finish LOG: the plan, and the log's tail when something failed.
finish() {
    if [ "$failed" -ne 0 ]; then
        echo "# serial log $1 (QEMU exit status $status):"
        tr -d '\r' <"$1" | tail -n 30 | sed 's/^/#   /'
    fi
    echo "1..$n"
}
