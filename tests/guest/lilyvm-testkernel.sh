#!/bin/sh
# Boots the rewritten test kernel under LilyVM and re-emits every guest TAP
# result as one of ours (the same relay as the QEMU runs), then checks that
# LilyVM's exit status is 0 (debug-exit 0, status mapping "plain").
# Skipped, with the reason, while LilyVM cannot run a kernel yet.  The kernel
# runs with "verbose" so that a hang shows which test it happened in;
# TESTKERNEL_CMDLINE adds words (e.g. only=/cpu/,/exc/).
. "$(dirname "$0")/qemu-lib.sh"

lilyvm=$top/build/lilyvm
kernel=$top/build/guest/testkernel-lily.elf
LILYVM_DEADLINE=${LILYVM_DEADLINE:-120}
runner=LilyVM
success_status=0

if [ ! -x "$lilyvm" ] || [ ! -f "$kernel" ]; then
    echo "1..0 # SKIP build/lilyvm or $kernel not built"
    exit 0
fi
plugins=$("$lilyvm" --list-plugins 2>/dev/null)
for need in console debug-exit; do
    if ! printf '%s\n' "$plugins" | grep -q "^$need "; then
        echo "1..0 # SKIP the $need plugin is not built"
        exit 0
    fi
done

mkdir -p "$logdir"
log=$logdir/testkernel-lilyvm.log
conf=$logdir/testkernel-lilyvm.conf
{
    printf '[machine]\nkernel = %s\ncmdline = verbose %s\n' "$kernel" "${TESTKERNEL_CMDLINE:-}"
    printf '[device serial0]\nplugin = console\niobase = 0x3f8\nirq = 4\nbackend = file\npath = %s\n' "$log"
    printf '[device debug-exit]\nplugin = debug-exit\nstatus = plain\n'
    # The interrupt controller and timer, under whatever name they are built.
    printf '%s\n' "$plugins" | awk '($2 == "device" || $2 == "irqchip") && $1 ~ /(^|-)(pic|i8259|8259|pit|i8254|8254)($|-)/ { print $1 }' |
        while read -r p; do printf '[device %s]\nplugin = %s\n' "$p" "$p"; done
} >"$conf"
: >"$log"
timeout "$LILYVM_DEADLINE" "$lilyvm" -c "$conf" </dev/null >"$log.out" 2>&1
status=$?
case $status in
123)
    echo "1..0 # SKIP LilyVM has no CPU plugin yet: it builds the machine but cannot run it"
    exit 0 ;;
125)
    echo "1..0 # SKIP LilyVM cannot run this machine on this host (exit 125): $(head -n 1 "$log.out")"
    exit 0 ;;
esac

out=$(relay_tap "$log")
printf '%s\n' "$out"
[ "$status" -ne 0 ] && sed 's/^/# lilyvm: /' "$log.out" | head -20
echo "1..$(printf '%s\n' "$out" | grep -c -E '^(not )?ok ')"
