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
#                                           docs/native.md and docs/cpu.md)
#
#   TESTKERNEL_CMDLINE  extra words for the test kernel (e.g. only=/cpu/)
#   LILYVM_DEADLINE     seconds per lilyvm run [120]
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
transports=${LILYVM_TRANSPORTS:-signal ptrace}
mode=host
[ "${1:-}" = --qemu ] && mode=qemu

for f in "$B/lilyvm" "$top/$kernel" "$B/plugins/cpu-ia32.so"; do
    if [ ! -e "$f" ]; then
        echo "1..0 # SKIP $f is not built"
        exit 0
    fi
done

# machine_conf TRANSPORT SERIAL_LINES: the machine description (relative paths:
# it is used from the top of the tree, here and inside QEMU).
machine_conf() {
    printf '[machine]\nkernel = %s\ncmdline = verbose %s\ntransport = %s\n' \
        "$kernel" "${TESTKERNEL_CMDLINE:-}" "$1"
    # Under TCG a trap costs ~1 ms (ptrace several): the ticks must leave a
    # preempted user process time to fault its pages back in and run.
    gap=20000
    [ "$1" = ptrace ] && gap=50000
    [ "$mode" = qemu ] && printf 'irq_min_gap_us = %s\n' "${LILYVM_IRQ_GAP_US:-$gap}"
    [ -n "${LILYVM_MACHINE_OPTS:-}" ] && printf '%s\n' "$LILYVM_MACHINE_OPTS"
    printf '[device serial0]\nplugin = console\niobase = 0x3f8\nirq = 4\n%s\n' "$2"
    printf '[device debug-exit]\nplugin = debug-exit\nstatus = plain\n'
    printf '[device pic]\nplugin = pic-i8259\n[device pit]\nplugin = pit-i8254\n'
}

log=$out/testkernel-lilyvm-$mode.log
: >"$log"
if [ "$mode" = host ]; then
    for t in $transports; do
        machine_conf "$t" "backend = file
path = $out/serial-$t.log" >"$out/testkernel-$t.conf"
        : >"$out/serial-$t.log"
        (cd "$top" && timeout "${LILYVM_DEADLINE:-120}" "$B/lilyvm" --stats \
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
    kimg=${LILYVM_TEST_KERNEL:-}
    [ -n "$kimg" ] && [ -r "$kimg" ] ||
        { echo "1..0 # SKIP no x86-64 kernel image: set LILYVM_TEST_KERNEL (see docs/native.md)"; exit 0; }
    command -v qemu-system-x86_64 >/dev/null 2>&1 ||
        { echo "1..0 # SKIP qemu-system-x86_64 not found"; exit 0; }
    for f in "$B/tests/native/qemu-init" "$B/tests/native/mkinitramfs"; do
        [ -x "$f" ] || { echo "1..0 # SKIP $f is not built (make check builds it)"; exit 0; }
    done
    sh=$(command -v dash || command -v sh)
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/lilyvm-cpu-qemu.XXXXXX") || exit 1
    trap 'rm -rf "$tmp"' EXIT INT TERM
    for t in $transports; do machine_conf "$t" "backend = stdio" >"$tmp/cpu-$t.conf"; done
    # lilyvm writes the guest's serial output and its own messages to the console.
    {
        echo "export LILYVM_PLUGIN_PATH=/build/plugins"
        for t in $transports; do
            echo "echo '@@@ BEGIN $t'"
            echo "/bin/timeout ${LILYVM_DEADLINE:-120} /build/lilyvm --stats ${LILYVM_DEBUG:+-d $LILYVM_DEBUG} -c /cpu-$t.conf </dev/null 2>&1"
            echo "echo \"@@@ END $t \$?\""
        done
    } >"$tmp/run.sh"
    printf '%s\n%s\n' "/bin/sh" "/run.sh" >"$tmp/qemu-cmd"
    set -- "$tmp/initramfs.cpio" proc tmp dev/console=c:5:1 dev/null=c:1:3 \
        init="$B/tests/native/qemu-init" qemu-cmd="$tmp/qemu-cmd" run.sh="$tmp/run.sh" \
        bin/sh="$sh" bin/timeout="$(command -v timeout)"
    for t in $transports; do set -- "$@" "cpu-$t.conf=$tmp/cpu-$t.conf"; done
    files="$B/lilyvm $top/$kernel $(find "$B/plugins" -name '*.so' | sort)"
    for f in $files; do set -- "$@" "${f#$top/}=$f"; done
    for lib in $(for f in $files $sh $(command -v timeout); do ldd "$f" 2>/dev/null; done | grep -o '/[^ ]*' | sort -u); do
        set -- "$@" "${lib#/}=$lib"
    done
    "$B/tests/native/mkinitramfs" "$@" || { echo "Bail out! cannot build the initramfs"; exit 1; }
    timeout "${LILYVM_QEMU_DEADLINE:-900}" qemu-system-x86_64 -M q35 \
        -cpu "${LILYVM_QEMU_CPU:-qemu64}" -smp "${LILYVM_QEMU_SMP:-2}" -m 512 \
        -display none -monitor none -serial stdio -no-reboot -kernel "$kimg" \
        -initrd "$tmp/initramfs.cpio" -append "console=ttyS0 quiet panic=-1" \
        </dev/null >"$log.raw" 2>&1
    tr -d '\r' <"$log.raw" >"$log"
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
    sub(/^(not )?ok [0-9]+ ?-? ?/, "", line)
    print (ok ? "ok " : "not ok ") n " - " t ": " line
    next
}
line ~ /^lilyvm|crashed|statistics|^  cpu\./ { if (nerr < 40) err[++nerr] = line }
line ~ /^#/ { print "# " t ": " substr(line, 3); next }
END { print "1.." n }
' "$log"
