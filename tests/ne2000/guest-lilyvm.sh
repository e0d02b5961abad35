#!/bin/sh
# The NE2000 guest kernel (rewritten build) under LilyVM: nic-ne2000 at
# 0x300/IRQ 9 cabled to net-loopback, the same checks QEMU's ne2k_isa passes
# in tests/ne2000/guest-qemu.sh.  Prints the guest's TAP; skips with the
# reason while the machine's other plugins or a CPU plugin are missing.
lilyvm=build/lilyvm
kernel=build/tests/ne2000/ne2k-guest-lily.elf
log=build/tests/ne2000/guest-lilyvm.log

missing=
for p in pic-i8259 console debug-exit nic-ne2000 net-loopback; do
    [ -f "build/plugins/$p.so" ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "1..0 # SKIP plugins not built:$missing"
    exit 0
fi
if [ ! -x "$lilyvm" ] || [ ! -f "$kernel" ]; then
    echo "1..0 # SKIP $lilyvm or $kernel is not built"
    exit 0
fi
conf=$(mktemp "${TMPDIR:-/tmp}/ne2k-guest.XXXXXX") || exit 1
trap 'rm -f "$conf"' EXIT INT TERM
cat >"$conf" <<CONF
[machine]
memory = 32M
kernel = $kernel

[device pic]
plugin = pic-i8259

[device serial0]
plugin = console
iobase = 0x3f8
irq = 4
backend = stdio

[device debug-exit]
plugin = debug-exit
iobase = 0xf4

[device nic0]
plugin = nic-ne2000
iobase = 0x300
irq = 9
netdev = net0

[netdev net0]
plugin = net-loopback
CONF
timeout 120 "$lilyvm" -c "$conf" >"$log" 2>&1
rc=$?
if [ "$rc" -eq 123 ]; then
    echo "1..0 # SKIP no CPU plugin yet: lilyvm built the machine but cannot run it"
    exit 0
fi
if ! grep -q '^1\.\.' "$log"; then
    echo "1..1"
    echo "not ok 1 - /ne2000/guest/boot: no TAP from the guest (lilyvm exit $rc), see $log"
    sed 's/^/# /' "$log" | tail -n 20
    exit 1
fi
grep -E '^(1\.\.|ok |not ok |# )' "$log"
if [ "$rc" -ne 0 ]; then
    echo "# lilyvm exit status $rc (0 means the guest passed), see $log"
    exit 1
fi
