#!/bin/sh
# The rewritten demo kernel under LilyVM inside an x86-64 Linux under QEMU
# (for hosts without compatibility mode, docs/native.md), once per transport,
# all in one QEMU boot: DHCP from net-socket, ping to the gateway 10.0.2.2,
# wget of a generated file from netpeer's HTTP server on the nested Linux's
# 127.0.0.1 (byte count and SHA-256 against sha256sum here), a 404, the
# guest's web page fetched by the nested Linux through a hostfwd, poweroff.
#
#   LILYVM_TEST_KERNEL   x86-64 kernel image for QEMU; skipped without one
#   LILYVM_DEADLINE      seconds per lilyvm run inside QEMU [480]
#   LILYVM_QEMU_DEADLINE seconds for the whole QEMU run [90 + the lilyvm
#                        deadlines]
#   LILYVM_IRQ_GAP_US    [machine] irq_min_gap_us [20000; ptrace 50000]: a
#                        trap costs about a millisecond under TCG, several
#                        with ptrace (docs/cpu.md); a halted CPU takes its
#                        interrupt at once, so the gap does not slow the
#                        demo's idle loop
#   LILYVM_TRANSPORTS    transports to run [signal ptrace]
#   LILYVM_WGET_SIZE     bytes of the file the guest fetches [1048576; ptrace
#                        65536: each trap costs several times more there]
#   LILYVM_DEBUG         lilyvm -d categories (e.g. cpu,nic0,net0)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=$top/build
out=$B/tests/guestnet
mkdir -p "$out"
kernel=build/guest/demo-lily.elf
netpeer=$B/tests/guestnet/netpeer
transports=${LILYVM_TRANSPORTS:-signal ptrace}
deadline=${LILYVM_DEADLINE:-480}
qemu_deadline=${LILYVM_QEMU_DEADLINE:-$((90 + deadline * $(echo "$transports" | wc -w)))}
# Inside the nested Linux: netpeer's HTTP server on 127.0.0.1:8000 (the
# guest's 10.0.2.2:8000), the guest's port 80 forwarded from 127.0.0.1:8080.
http_port=8000
fwd_port=8080

# size T: the bytes transport T's guest fetches.
size() {
    if [ -n "${LILYVM_WGET_SIZE:-}" ]; then
        echo "$LILYVM_WGET_SIZE"
    elif [ "$1" = ptrace ]; then
        echo 65536
    else
        echo 1048576
    fi
}
# cmdline T: the demo's script; "serve 2" keeps the guest up until the
# nested Linux fetched its page twice.
cmdline() {
    echo "run=ifconfig;ping 10.0.2.2 3;wget http://10.0.2.2:$http_port/blob-$1.bin;wget http://10.0.2.2:$http_port/missing;serve 2 600;httpd;ifconfig;poweroff"
}

skip() { echo "1..0 # SKIP $*"; exit 0; }

. "$top/tests/nested-lib.sh"
kimg=${LILYVM_TEST_KERNEL:-}
why=$(nested_why_not "$kimg")
[ -z "$why" ] || skip "$why"
command -v sha256sum >/dev/null 2>&1 || skip "sha256sum not found (coreutils)"
for f in "$B/lilyvm" "$top/$kernel" "$netpeer"; do
    [ -e "$f" ] || skip "$f is not built (make check builds it)"
done
for p in cpu-ia32 mmu console debug-exit pic-i8259 pit-i8254 nic-ne2000 net-socket; do
    [ -e "$B/plugins/$p.so" ] || skip "the $p plugin is not built"
done
started=$(date +%s)

# machine_conf TRANSPORT: the demo machine; the serial log goes to a file in
# the initramfs so that it stays apart from lilyvm's own messages (and the
# client can wait for the guest's prompt in it).
machine_conf() {
    gap=20000
    [ "$1" = ptrace ] && gap=50000
    printf '[machine]\nkernel = %s\ncmdline = %s\ntransport = %s\nirq_min_gap_us = %s\n' \
        "$kernel" "$(cmdline "$1")" "$1" "${LILYVM_IRQ_GAP_US:-$gap}"
    printf '[device serial0]\nplugin = console\niobase = 0x3f8\nirq = 4\nbackend = file\npath = /tmp/serial-%s.log\n' "$1"
    printf '[device debug-exit]\nplugin = debug-exit\nstatus = plain\n'
    # Paced, the timer is pending at every opportunity; rotating priorities
    # give the NIC's IRQ 9 its turn (docs/cpu.md, "Interrupt pacing").
    printf '[device pic]\nplugin = pic-i8259\nrotate = on\n[device pit]\nplugin = pit-i8254\n'
    printf '[device nic0]\nplugin = nic-ne2000\niobase = 0x300\nirq = 9\nnetdev = net0\n'
    printf '[netdev net0]\nplugin = net-socket\nhostfwd = tcp:127.0.0.1:%s-:80\n' "$fwd_port"
}

sh=$(command -v dash || command -v sh)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lilyvm-demo-qemu.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/www"
for t in $transports; do
    "$netpeer" pattern "$(size "$t")" >"$tmp/www/blob-$t.bin" ||
        { echo "Bail out! netpeer cannot write the test file"; exit 1; }
    machine_conf "$t" >"$tmp/demo-$t.conf"
done
# Per transport: the HTTP server, lilyvm in the background, the two page
# fetches through the forward once the guest is in "serve", then lilyvm's
# status and every log between markers.  Every path is this host's:
# lily-nested packs the files where they are and starts in $top.
{
    echo "export LILYVM_PLUGIN_PATH=$B/plugins"
    for t in $transports; do
        echo "echo '@@@ BEGIN $t'"
        echo "$netpeer serve -h $http_port -d $tmp/www -T $deadline >/tmp/peer-$t 2>&1 &"
        echo "peer=\$!"
        echo "timeout $deadline $B/lilyvm --stats ${LILYVM_DEBUG:+-d $LILYVM_DEBUG} -c $tmp/demo-$t.conf </dev/null >/tmp/out-$t 2>&1 &"
        echo "vm=\$!"
        # The clients end with the VM at the latest.
        echo "($netpeer get -w '/tmp/serial-$t.log:demo> serve' -T $deadline -o /tmp/page-$t.html 127.0.0.1 $fwd_port / &&"
        echo " $netpeer get -T 60 -o /tmp/page2-$t.html 127.0.0.1 $fwd_port again) >/tmp/get-$t 2>&1 &"
        echo "clients=\$!"
        echo "wait \$vm"
        echo "echo \"@@@ STATUS $t \$?\""
        echo "kill \$peer \$clients 2>/dev/null"
        echo "echo '@@@ SERIAL $t'; cat /tmp/serial-$t.log"
        echo "echo; echo '@@@ PAGE $t'; cat /tmp/page-$t.html"
        echo "echo; echo '@@@ GET $t'; cat /tmp/get-$t /tmp/peer-$t"
        echo "echo '@@@ OUTPUT $t'; cat /tmp/out-$t"
        echo "echo '@@@ END $t'"
    done
} >"$tmp/run.sh"

log=$out/lilyvm-demo-qemu.log
rm -f "$out"/lilyvm-demo-qemu-*
cd "$top" || exit 1
nested_run "$qemu_deadline" "$log" "$kimg" --file "$tmp" --file "$B/lilyvm" --file "$B/plugins" \
    --file "$top/$kernel" --file "$netpeer" --file "$(command -v timeout)" --file "$(command -v cat)" \
    --run "$sh" -- "$tmp/run.sh"
qstatus=$?

# section T PART: one part (SERIAL, PAGE, GET or OUTPUT) of transport T's run.
section() { nested_section "$log" "$2 $1"; }

n=0
failed=0
bad=0
# check T DESCRIPTION COMMAND...: one TAP line.
check() {
    n=$((n + 1))
    desc="$1: $2"
    shift 2
    if "$@"; then
        echo "ok $n - $desc"
    else
        echo "not ok $n - $desc"
        bad=1
    fi
}
# has FILE REGEX: a line of FILE matches.
has() { grep -a -q -E "$2" "$1"; }

for t in $transports; do
    status=$(sed -n "s/^@@@ STATUS $t //p" "$log")
    serial=$out/lilyvm-demo-qemu-$t.serial
    page=$out/lilyvm-demo-qemu-$t.page
    section "$t" SERIAL >"$serial"
    section "$t" PAGE >"$page"
    section "$t" GET >"$out/lilyvm-demo-qemu-$t.get"
    section "$t" OUTPUT >"$out/lilyvm-demo-qemu-$t.out"
    bad=0
    size=$(size "$t")
    sum=$(sha256sum "$tmp/www/blob-$t.bin" | cut -d' ' -f1)
    check "$t" "lilyvm ended with status 0 (the guest powered off; got '${status:-none}', 124 = timeout or crash)" \
        [ "$status" = 0 ]
    check "$t" "DHCP gave 10.0.2.15 (ifconfig)" has "$serial" '^  inet 10\.0\.2\.15 '
    check "$t" "ping 10.0.2.2: 3 sent, 3 replies" \
        sh -c 'grep -a -q -E "^3 packets transmitted, 3 received\$" "$1" &&
               grep -a -q -E "^reply from 10\.0\.2\.2: " "$1"' sh "$serial"
    check "$t" "wget blob-$t.bin from the nested host: HTTP 200, $size bytes" \
        has "$serial" "^wget: HTTP 200, $size bytes\$"
    check "$t" "wget blob-$t.bin: the guest's SHA-256 is sha256sum's ($sum)" has "$serial" "^sha256 $sum\$"
    check "$t" "wget of a missing file: HTTP 404" has "$serial" '^wget: HTTP 404, [0-9]+ bytes$'
    check "$t" "the nested host fetched the guest's page through hostfwd 127.0.0.1:$fwd_port" \
        has "$page" 'Hello from the LilyVM demo kernel'
    check "$t" "the page names the guest's address" has "$page" 'Guest 10\.0\.2\.15'
    check "$t" "a second GET through the forward got HTTP 200 too" \
        sh -c '[ "$(grep -c "^get: HTTP 200, " "$1")" -eq 2 ]' sh "$out/lilyvm-demo-qemu-$t.get"
    check "$t" "the guest counted the 2 requests (serve)" has "$serial" '^serve: 2 requests served$'
    irqs=$(sed -n 's/^  irq 9, \([0-9]*\) interrupts$/\1/p' "$serial" | tail -n 1)
    echo "# $t: ifconfig at the end: IRQ 9 taken ${irqs:-?} times"
    if [ "$bad" -ne 0 ]; then
        failed=1
        echo "# $t: serial log:"
        tail -n 40 "$serial" | sed 's/^/#   /'
        echo "# $t: clients and server in the nested Linux:"
        sed 's/^/#   /' "$out/lilyvm-demo-qemu-$t.get"
        echo "# $t: lilyvm output:"
        tail -n 40 "$out/lilyvm-demo-qemu-$t.out" | sed 's/^/#   /'
    fi
done
if [ "$failed" -ne 0 ]; then
    echo "# QEMU ended with status $qstatus (124 = deadline); console log: $log"
    if ! grep -q '^@@@ ' "$log"; then tail -n 20 "$log" | sed 's/^/#   /'; fi
fi
echo "# runtime: $(($(date +%s) - started)) s for transports: $transports"
echo "1..$n"
