#!/bin/sh
# The NE2000 guest kernel under QEMU's ne2k_isa, cabled to a UDP socket that
# sends every frame back to the card: the reference the LilyVM card is held
# to (tests/ne2000/guest-lilyvm.sh runs the same checks on nic-ne2000).
# Prints the guest's TAP; skips with the reason when QEMU is missing.
kernel=build/tests/ne2000/ne2k-guest.elf
log=build/tests/ne2000/guest-qemu.log
qemu=$(sed -n 's/^QEMU *= *//p' config.mk 2>/dev/null)

if [ -z "$qemu" ]; then
    echo "1..0 # SKIP qemu-system-i386 not found by configure (apt-get install qemu-system-x86)"
    exit 0
fi
if [ ! -f "$kernel" ]; then
    echo "1..0 # SKIP $kernel is not built (make $kernel)"
    exit 0
fi
# A port of our own for the socket that talks to itself.
port=$((20000 + $$ % 20000))
# "qemu" tells the guest which known departures of QEMU's card to report
# rather than fail (see tests/ne2000/guest/ne2k-guest.c).
timeout 60 "$qemu" -display none -nodefaults -no-reboot -m 32 \
    -kernel "$kernel" -append qemu -serial stdio \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -device ne2k_isa,netdev=n0,iobase=0x300,irq=9 \
    -netdev socket,id=n0,udp=127.0.0.1:$port,localaddr=127.0.0.1:$port \
    >"$log" 2>&1
rc=$?
if ! grep -q '^1\.\.' "$log"; then
    echo "1..1"
    echo "not ok 1 - /ne2000/guest/boot: no TAP from the guest (QEMU exit $rc), see $log"
    sed 's/^/# /' "$log" | tail -n 20
    exit 1
fi
grep -E '^(1\.\.|ok |not ok |# )' "$log"
# isa-debug-exit: status (code << 1) | 1, code 0 = every test passed.
if [ "$rc" -ne 1 ]; then
    echo "# QEMU exit status $rc (1 means the guest passed), see $log"
    exit 1
fi
