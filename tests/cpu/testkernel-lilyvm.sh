#!/bin/sh
# Boots the rewritten test kernel (build/guest/testkernel-lily.elf) under
# LilyVM with the cpu-ia32 plugin, once per transport (signal, ptrace), and
# re-emits the guest's TAP results as ours, prefixed with the transport.
#
#   tests/cpu/testkernel-lilyvm.sh          run here; on a host without
#                                           compatibility mode (PVM) every
#                                           transport is skipped with the reason
#   tests/cpu/testkernel-lilyvm.sh --qemu   run the same inside an x86-64 Linux
#                                           under QEMU (LILYVM_TEST_KERNEL, see
#                                           docs/native.md and docs/cpu.md), with
#                                           an NE2000 on net-socket and the /net
#                                           group's peers (netpeer) in that Linux
#
# With --qemu every guest result must pass, none skipped, and the names must
# be those of a reference run of the same kernel under qemu-system-i386 (an
# ne2k_isa on user networking, netpeer as the peers here).
#
#   TESTKERNEL_CMDLINE  extra words for the test kernel (e.g. only=/net/
#                       with LILYVM_TRANSPORTS=ptrace for a quick look at
#                       one group; the others then count as skips and fail
#                       the "none skipped" check)
#   LILYVM_DEADLINE     seconds per lilyvm run [120; --qemu 600: ptrace
#                       under TCG on a loaded host has needed over 300]
#   LILYVM_TRANSPORTS   which transports [signal ptrace]
#   LILYVM_DEBUG        lilyvm --debug categories (e.g. cpu: every trap)
#   LILYVM_MACHINE_OPTS extra [machine] lines (e.g. "fast_path = false")
#   LILYVM_IRQ_GAP_US   --qemu: [machine] irq_min_gap_us [20000; ptrace 50000]: a trap costs
#                       about a millisecond under nested emulation, so the
#                       test kernel's 1 kHz timer would leave it no time
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=$top/build
out=$B/tests/cpu
mkdir -p "$out"
kernel=build/guest/testkernel-lily.elf
netpeer=$B/tests/guestnet/netpeer
transports=${LILYVM_TRANSPORTS:-signal ptrace}
mode=host
[ "${1:-}" = --qemu ] && mode=qemu
deadline=120
[ "$mode" = qemu ] && deadline=600
deadline=${LILYVM_DEADLINE:-$deadline}
started=$(date +%s)
# --qemu: the /net group's peers in the nested Linux (its 127.0.0.1 is the
# guest's 10.0.2.2): UDP and TCP echo, and a forward to the guest's port 80.
udp_port=7001
tcp_port=7002
fwd_port=8081
net_words=
[ "$mode" = qemu ] && net_words="udpecho=$udp_port tcpecho=$tcp_port"

for f in "$B/lilyvm" "$top/$kernel" "$B/plugins/cpu-ia32.so"; do
    if [ ! -e "$f" ]; then
        echo "1..0 # SKIP $f is not built"
        exit 0
    fi
done

# machine_conf TRANSPORT SERIAL_LINES: the machine description (relative paths:
# it is used from the top of the tree, here and inside QEMU).
machine_conf() {
    printf '[machine]\nkernel = %s\ncmdline = verbose %s %s\ntransport = %s\n' \
        "$kernel" "$net_words" "${TESTKERNEL_CMDLINE:-}" "$1"
    # Under TCG a trap costs ~1 ms (ptrace several): the ticks must leave a
    # preempted user process time to fault its pages back in and run.
    gap=20000
    [ "$1" = ptrace ] && gap=50000
    [ "$mode" = qemu ] && printf 'irq_min_gap_us = %s\n' "${LILYVM_IRQ_GAP_US:-$gap}"
    [ -n "${LILYVM_MACHINE_OPTS:-}" ] && printf '%s\n' "$LILYVM_MACHINE_OPTS"
    printf '[device serial0]\nplugin = console\niobase = 0x3f8\nirq = 4\n%s\n' "$2"
    printf '[device debug-exit]\nplugin = debug-exit\nstatus = plain\n'
    printf '[device pic]\nplugin = pic-i8259\n'
    # Paced, the timer is pending at every opportunity; rotating priorities
    # give the NIC's IRQ 9 its turn (docs/cpu.md, "Interrupt pacing").
    [ "$mode" = qemu ] && printf 'rotate = on\n'
    printf '[device pit]\nplugin = pit-i8254\n'
    if [ "$mode" = qemu ]; then
        printf '[device nic0]\nplugin = nic-ne2000\niobase = 0x300\nirq = 9\nnetdev = net0\n'
        printf '[netdev net0]\nplugin = net-socket\nhostfwd = tcp:127.0.0.1:%s-:80\n' "$fwd_port"
    fi
}

log=$out/testkernel-lilyvm-$mode.log
: >"$log"
if [ "$mode" = host ]; then
    for t in $transports; do
        machine_conf "$t" "backend = file
path = $out/serial-$t.log" >"$out/testkernel-$t.conf"
        : >"$out/serial-$t.log"
        (cd "$top" && timeout "$deadline" "$B/lilyvm" --stats \
            -c "$out/testkernel-$t.conf" </dev/null >"$out/lilyvm-$t.out" 2>&1)
        status=$?
        {
            echo "@@@ BEGIN $t"
            tr -d '\r' <"$out/serial-$t.log"
            sed 's/^/@@@ STDERR /' "$out/lilyvm-$t.out"
            echo "@@@ END $t $status"
        } >>"$log"
    done
else
    . "$top/tests/nested-lib.sh"
    kimg=${LILYVM_TEST_KERNEL:-}
    why=$(nested_why_not "$kimg")
    [ -z "$why" ] || { echo "1..0 # SKIP $why"; exit 0; }
    [ -x "$netpeer" ] || { echo "1..0 # SKIP $netpeer is not built (make check builds it)"; exit 0; }
    for p in nic-ne2000 net-socket; do
        [ -e "$B/plugins/$p.so" ] || { echo "1..0 # SKIP the $p plugin is not built"; exit 0; }
    done
    sh=$(command -v dash || command -v sh)
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/lilyvm-cpu-qemu.XXXXXX") || exit 1
    trap 'rm -rf "$tmp"' EXIT INT TERM
    for t in $transports; do machine_conf "$t" "backend = file
path = /tmp/serial-$t.log" >"$tmp/cpu-$t.conf"; done
    # Per transport: the echo peers, the caller that answers the guest's
    # "listening on 80" through the forward, lilyvm; then the serial log,
    # lilyvm's output and the caller's result.  Every path is this host's:
    # lily-nested packs the files where they are and starts in $top.
    {
        echo "export LILYVM_PLUGIN_PATH=$B/plugins"
        for t in $transports; do
            echo "$netpeer serve -u $udp_port -t $tcp_port -T $deadline >/tmp/peer-$t 2>&1 &"
            echo "peer=\$!"
            echo "$netpeer call -w '/tmp/serial-$t.log:# net: listening on 80' -T $deadline 127.0.0.1 $fwd_port 'hello from the host' >/tmp/call-$t 2>&1 &"
            echo "call=\$!"
            echo "timeout $deadline $B/lilyvm --stats ${LILYVM_DEBUG:+-d $LILYVM_DEBUG} -c $tmp/cpu-$t.conf </dev/null >/tmp/out-$t 2>&1"
            echo "status=\$?"
            echo "kill \$peer \$call 2>/dev/null"
            echo "echo '@@@ BEGIN $t'"
            echo "cat /tmp/serial-$t.log /tmp/out-$t"
            echo "echo \"@@@ END $t \$status\""
            echo "echo '@@@ CALL $t'; cat /tmp/call-$t /tmp/peer-$t"
        done
    } >"$tmp/run.sh"
    cd "$top" || exit 1
    nested_run "${LILYVM_QEMU_DEADLINE:-$((60 + deadline * $(echo "$transports" | wc -w)))}" \
        "$log" "$kimg" --file "$tmp" --file "$B/lilyvm" --file "$B/plugins" --file "$top/$kernel" \
        --file "$netpeer" --file "$(command -v timeout)" --file "$(command -v cat)" \
        --run "$sh" -- "$tmp/run.sh"
fi

# Relay: every guest result becomes ours; a transport that could not run is
# one skip (compatibility mode missing) or one failure (anything else).
awk '
function finish(t, status) {
    if (status == 125 && compat != "") {
        n++; print "ok " n " # SKIP " t ": " compat
    } else if (status != 0 || results == 0) {
        n++; print "not ok " n " - " t ": lilyvm ended with status " status " after " results " guest results"
        for (i = 1; i <= nerr && i <= 15; i++) print "# " t ": " err[i]
    } else {
        n++; print "ok " n " - " t ": lilyvm ended with status 0 (guest reported success)"
    }
}
/^@@@ BEGIN / { t = $3; inside = 1; results = 0; compat = ""; nerr = 0; next }
/^@@@ END / { finish($3, $4 + 0); inside = 0; next }
!inside { next }
{ line = $0; sub(/^@@@ STDERR /, "", line) }
line ~ /cannot run 32-bit guest code/ { compat = line; sub(/^.*natively[^:]*: /, "", compat) }
line ~ /^(ok|not ok) [0-9]+/ {
    results++; n++
    ok = (line ~ /^ok/)
    sub(/^(not )?ok [0-9]+ *(- )?/, "", line)
    print (ok ? "ok " : "not ok ") n " - " t ": " line
    next
}
line ~ /^lilyvm|crashed|statistics|^  cpu\./ { if (nerr < 40) err[++nerr] = line }
line ~ /^#/ { print "# " t ": " substr(line, 3); next }
' "$log" >"$out/testkernel-lilyvm-$mode.tap"
cat "$out/testkernel-lilyvm-$mode.tap"
n=$(grep -c -E '^(not )?ok ' "$out/testkernel-lilyvm-$mode.tap")
if [ "$mode" = host ]; then
    echo "1..$n"
    exit 0
fi

# --qemu: the whole TAP must pass, /net included, and match QEMU's names.

# names FILE: the guest's result names, in order, without directives.
names() {
    grep -a -E '^(not )?ok [0-9]+' "$1" | sed -E 's/^(not )?ok [0-9]+ *(- )?//; s/ # .*$//'
}
# check DESCRIPTION COMMAND...: one TAP line.
check() {
    n=$((n + 1))
    desc=$1
    shift
    if "$@"; then echo "ok $n - $desc"; else echo "not ok $n - $desc"; fi
}

# The reference: the same kernel and command line under qemu-system-i386
# with an ne2k_isa on user networking, netpeer as the peers on this host.
ref=$out/testkernel-qemu-net-reference.log
ref_skip=
qemu=${QEMU:-}
[ -z "$qemu" ] && [ -f "$top/config.mk" ] && qemu=$(sed -n 's/^QEMU *= *//p' "$top/config.mk")
if [ -z "$qemu" ] || [ ! -x "$qemu" ]; then
    ref_skip="qemu-system-i386 not found: no reference run to compare names with"
else
    : >"$ref.raw"
    "$netpeer" serve -u 0 -t 0 -T 150 >"$ref.peer" 2>&1 &
    ref_peer=$!
    for _ in $(seq 50); do
        [ -s "$ref.peer" ] && break
        sleep 0.1
    done
    ports=$(sed -n 's/^serve: udp echo \([0-9]*\), tcp echo \([0-9]*\),.*/\1 \2/p' "$ref.peer")
    ref_fwd=$("$netpeer" freeport)
    if [ -z "$ports" ] || [ -z "$ref_fwd" ]; then
        ref_skip="netpeer gave no ports for the reference run: $(head -n 1 "$ref.peer")"
        kill "$ref_peer" 2>/dev/null
    else
        set -- $ports
        "$netpeer" call -w "$ref.raw:# net: listening on 80" -T 150 127.0.0.1 "$ref_fwd" \
            'hello from the host' >"$ref.call" 2>&1 &
        ref_call=$!
        timeout 150 "$qemu" -kernel "$top/$kernel" -nographic -serial stdio -monitor none \
            -display none -device isa-debug-exit,iobase=0xf4,iosize=0x04 -no-reboot -m 32 \
            -append "verbose udpecho=$1 tcpecho=$2 ${TESTKERNEL_CMDLINE:-}" \
            -device ne2k_isa,netdev=n0,iobase=0x300,irq=9 \
            -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$ref_fwd-:80" </dev/null >"$ref.raw" 2>&1
        ref_status=$?
        tr -d '\r' <"$ref.raw" >"$ref"
        kill "$ref_peer" "$ref_call" 2>/dev/null
        wait "$ref_peer" "$ref_call" 2>/dev/null
        check "reference: qemu-system-i386 ran the same kernel with an ne2k_isa, all passed (status $ref_status, 1 = success)" \
            sh -c '[ "$1" -eq 1 ] && ! grep -a -q -E "^not ok |# SKIP" "$2"' sh "$ref_status" "$ref"
    fi
fi

for t in $transports; do
    awk -v t="$t" '$1 == "@@@" && $2 == "BEGIN" { inside = ($3 == t); next }
        $1 == "@@@" && $2 == "END" { inside = 0 } inside' "$log" >"$out/testkernel-$t-qemu.serial"
    awk -v t="$t" '$1 == "@@@" { inside = ($2 == "CALL" && $3 == t); next } inside' "$log" \
        >"$out/testkernel-$t-qemu.call"
    results=$(names "$out/testkernel-$t-qemu.serial" | wc -l)
    failed=$(grep -a -c -E '^not ok [0-9]+' "$out/testkernel-$t-qemu.serial")
    skipped=$(grep -a -E '^ok [0-9]+' "$out/testkernel-$t-qemu.serial" | grep -c '# SKIP')
    net=$(names "$out/testkernel-$t-qemu.serial" | grep -c '^/net/')
    planned=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$out/testkernel-$t-qemu.serial" | head -n 1)
    check "$t: all ${planned:-?} planned guest results passed, none skipped ($results results, $failed failed, $skipped skipped)" \
        [ "$results" -gt 0 -a "$results" = "${planned:-none}" -a "$failed" -eq 0 -a "$skipped" -eq 0 ]
    check "$t: the /net group ran: DHCP lease, ping, UDP and TCP echo, accepted call ($net results)" \
        [ "$net" -eq 5 ]
    check "$t: the nested host's call through hostfwd 127.0.0.1:$fwd_port got the guest's answer" \
        grep -q -x 'call: got lilyvm: hello from the host' "$out/testkernel-$t-qemu.call"
    if [ -n "$ref_skip" ]; then
        n=$((n + 1))
        echo "ok $n # SKIP $t: $ref_skip"
    elif [ "$(names "$ref")" = "$(names "$out/testkernel-$t-qemu.serial")" ]; then
        n=$((n + 1))
        echo "ok $n - $t: the result names are those of the QEMU reference run, in order"
    else
        n=$((n + 1))
        echo "not ok $n - $t: the result names are those of the QEMU reference run, in order"
        names "$ref" >"$ref.names"
        names "$out/testkernel-$t-qemu.serial" >"$out/testkernel-$t-qemu.names"
        diff "$ref.names" "$out/testkernel-$t-qemu.names" | head -n 20 | sed 's/^/# /'
    fi
done
echo "# runtime: $(($(date +%s) - started)) s (transports: $transports; logs: $log, $ref)"
echo "1..$n"
