#!/bin/sh
# The rewritten demo kernel under LilyVM inside an x86-64 Linux under QEMU
# (for hosts without compatibility mode, docs/native.md): DHCP from
# net-socket, ping to the gateway 10.0.2.2 and poweroff, once per transport.
#
#   LILYVM_TEST_KERNEL   x86-64 kernel image for QEMU; skipped without one
#   LILYVM_DEADLINE      seconds per lilyvm run inside QEMU [60]
#   LILYVM_QEMU_DEADLINE seconds for the whole QEMU run [30 + the lilyvm
#                        deadlines]
#   LILYVM_IRQ_GAP_US    [machine] irq_min_gap_us [20000]: a trap costs about
#                        a millisecond under TCG (docs/cpu.md); a halted CPU
#                        takes its interrupt at once, so the gap does not
#                        slow the demo's idle loop
#   LILYVM_TRANSPORTS    transports to run [signal ptrace]
#   LILYVM_DEBUG         lilyvm -d categories (e.g. cpu,nic0,net0)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=$top/build
out=$B/tests/guestnet
mkdir -p "$out"
kernel=build/guest/demo-lily.elf
transports=${LILYVM_TRANSPORTS:-signal ptrace}
deadline=${LILYVM_DEADLINE:-60}
qemu_deadline=${LILYVM_QEMU_DEADLINE:-$((30 + deadline * $(echo "$transports" | wc -w)))}
cmdline="run=ifconfig;ping 10.0.2.2 3;poweroff"

skip() { echo "1..0 # SKIP $*"; exit 0; }

kimg=${LILYVM_TEST_KERNEL:-}
[ -n "$kimg" ] || skip "no x86-64 kernel image for QEMU: set LILYVM_TEST_KERNEL (tests/native/fetch-kernel.sh)"
[ -r "$kimg" ] || skip "LILYVM_TEST_KERNEL=$kimg is not readable"
command -v qemu-system-x86_64 >/dev/null 2>&1 || skip "qemu-system-x86_64 not found"
for f in "$B/lilyvm" "$top/$kernel" "$B/tests/native/qemu-init" "$B/tests/native/mkinitramfs"; do
    [ -e "$f" ] || skip "$f is not built (make check builds it)"
done
for p in cpu-ia32 mmu console debug-exit pic-i8259 pit-i8254 nic-ne2000 net-socket; do
    [ -e "$B/plugins/$p.so" ] || skip "the $p plugin is not built"
done

# machine_conf TRANSPORT: the demo machine; the serial log goes to a file in
# the initramfs so that it stays apart from lilyvm's own messages.
machine_conf() {
    printf '[machine]\nkernel = %s\ncmdline = %s\ntransport = %s\nirq_min_gap_us = %s\n' \
        "$kernel" "$cmdline" "$1" "${LILYVM_IRQ_GAP_US:-20000}"
    printf '[device serial0]\nplugin = console\niobase = 0x3f8\nirq = 4\nbackend = file\npath = /tmp/serial-%s.log\n' "$1"
    printf '[device debug-exit]\nplugin = debug-exit\nstatus = plain\n'
    printf '[device pic]\nplugin = pic-i8259\n[device pit]\nplugin = pit-i8254\n'
    printf '[device nic0]\nplugin = nic-ne2000\niobase = 0x300\nirq = 9\nnetdev = net0\n'
    printf '[netdev net0]\nplugin = net-socket\n'
}

sh=$(command -v dash || command -v sh)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lilyvm-demo-qemu.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
for t in $transports; do machine_conf "$t" >"$tmp/demo-$t.conf"; done
{
    echo "export LILYVM_PLUGIN_PATH=/build/plugins"
    for t in $transports; do
        echo "echo '@@@ BEGIN $t'"
        echo "/bin/timeout $deadline /build/lilyvm --stats ${LILYVM_DEBUG:+-d $LILYVM_DEBUG} -c /demo-$t.conf </dev/null >/tmp/out-$t 2>&1"
        echo "echo \"@@@ STATUS $t \$?\""
        echo "echo '@@@ SERIAL $t'; /bin/cat /tmp/serial-$t.log"
        echo "echo; echo '@@@ OUTPUT $t'; /bin/cat /tmp/out-$t"
        echo "echo '@@@ END $t'"
    done
} >"$tmp/run.sh"
printf '%s\n%s\n' "/bin/sh" "/run.sh" >"$tmp/qemu-cmd"
set -- "$tmp/initramfs.cpio" proc tmp dev/console=c:5:1 dev/null=c:1:3 \
    init="$B/tests/native/qemu-init" qemu-cmd="$tmp/qemu-cmd" run.sh="$tmp/run.sh" \
    bin/sh="$sh" bin/timeout="$(command -v timeout)" bin/cat="$(command -v cat)"
for t in $transports; do set -- "$@" "demo-$t.conf=$tmp/demo-$t.conf"; done
files="$B/lilyvm $top/$kernel $(find "$B/plugins" -name '*.so' | sort)"
for f in $files; do set -- "$@" "${f#"$top"/}=$f"; done
for lib in $(for f in $files $sh $(command -v timeout) $(command -v cat); do ldd "$f" 2>/dev/null; done |
        grep -o '/[^ ]*' | sort -u); do
    set -- "$@" "${lib#/}=$lib"
done
"$B/tests/native/mkinitramfs" "$@" >/dev/null || { echo "Bail out! cannot build the initramfs"; exit 1; }

log=$out/lilyvm-demo-qemu.log
rm -f "$out"/lilyvm-demo-qemu-*
timeout "$qemu_deadline" qemu-system-x86_64 -M q35 \
    -cpu "${LILYVM_QEMU_CPU:-qemu64}" -smp "${LILYVM_QEMU_SMP:-2}" -m 512 \
    -display none -monitor none -serial stdio -no-reboot -kernel "$kimg" \
    -initrd "$tmp/initramfs.cpio" -append "console=ttyS0 quiet panic=-1" \
    </dev/null >"$tmp/console" 2>&1
qstatus=$?
tr -d '\r' <"$tmp/console" >"$log"

# section T PART: one part (SERIAL or OUTPUT) of transport T's run.
section() {
    awk -v t="$1" -v part="$2" '
        /^@@@ / { inside = ($2 == part && $3 == t); next }
        inside' "$log"
}

n=0
failed=0
for t in $transports; do
    status=$(sed -n "s/^@@@ STATUS $t //p" "$log")
    section "$t" SERIAL >"$out/lilyvm-demo-qemu-$t.serial"
    section "$t" OUTPUT >"$out/lilyvm-demo-qemu-$t.out"
    bad=0
    n=$((n + 1))
    if [ "$status" = 0 ]; then
        echo "ok $n - $t: lilyvm ended with status 0 (the guest powered off)"
    else
        echo "not ok $n - $t: lilyvm ended with status '${status:-none}' (0 = poweroff, 124 = timeout or crash)"
        bad=1
    fi
    n=$((n + 1))
    if grep -a -q -E '^  inet 10\.0\.2\.15 ' "$out/lilyvm-demo-qemu-$t.serial"; then
        echo "ok $n - $t: DHCP gave 10.0.2.15 (ifconfig)"
    else
        echo "not ok $n - $t: DHCP gave 10.0.2.15 (ifconfig)"
        bad=1
    fi
    n=$((n + 1))
    if grep -a -q -E '^3 packets transmitted, 3 received$' "$out/lilyvm-demo-qemu-$t.serial" &&
        grep -a -q -E '^reply from 10\.0\.2\.2: ' "$out/lilyvm-demo-qemu-$t.serial"; then
        echo "ok $n - $t: ping 10.0.2.2: 3 sent, 3 replies"
    else
        echo "not ok $n - $t: ping 10.0.2.2: 3 sent, 3 replies"
        bad=1
    fi
    if [ "$bad" -ne 0 ]; then
        failed=1
        echo "# $t: serial log:"
        tail -n 40 "$out/lilyvm-demo-qemu-$t.serial" | sed 's/^/#   /'
        echo "# $t: lilyvm output:"
        tail -n 40 "$out/lilyvm-demo-qemu-$t.out" | sed 's/^/#   /'
    fi
done
if [ "$failed" -ne 0 ]; then
    echo "# QEMU ended with status $qstatus (124 = deadline); console log: $log"
    if ! grep -q '^@@@ ' "$log"; then tail -n 20 "$log" | sed 's/^/#   /'; fi
fi
echo "1..$n"
