#!/bin/sh
# make bench, guest network table: the demo guest's own ping, its wget of a
# file from a host web server, and the host fetching from the demo's httpd
# through the port forward -- under QEMU (qemu-system-i386, user net) and
# under LilyVM (nic-ne2000 + net-socket), each on this host and inside the
# nested x86-64 Linux of lily-nested, so that the two designs are compared
# on the same substrate.  Measures, never judges (docs/benchmarks.md).
#
# usage: bench/guest/run.sh [--quick] [--out DIR]
#   --quick    1 MiB transfers, 3 pings (default 4 MiB, 10 pings)
#   --out DIR  results and logs (default build/bench/guest)
# Environment: BENCH_GUEST_MIB, BENCH_GUEST_PINGS, BENCH_GUEST_DEADLINE
# (seconds per guest run, default 900), BENCH_GUEST_CASES (which columns:
# default "qemu-host lily-host qemu-nested lily-nested"), QEMU (default:
# config.mk's), LILY_NESTED_KERNEL (lily-nested's kernel image),
# BENCH_GUEST_NESTED_OPTS (more lily-nested options for both nested columns,
# e.g. "--smp 1"), BENCH_GUEST_LILYVM_ARGS (more lilyvm arguments for both
# LilyVM columns, e.g. "--set machine.spin=2000 --set machine.cpus=0,1").
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/bench/guest
quick=0
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --out)
        [ $# -ge 2 ] || { echo "bench/guest/run.sh: --out needs a directory" >&2; exit 2; }
        out=$2
        shift ;;
    -h | --help) sed -n '2,19s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "bench/guest/run.sh: unknown argument '$1' (accepted: --quick, --out DIR)" >&2; exit 2 ;;
    esac
    shift
done
if [ "$quick" -eq 1 ]; then
    mib=${BENCH_GUEST_MIB:-1}
    pings=${BENCH_GUEST_PINGS:-3}
else
    mib=${BENCH_GUEST_MIB:-4}
    pings=${BENCH_GUEST_PINGS:-10}
fi
deadline=${BENCH_GUEST_DEADLINE:-900}
cases=${BENCH_GUEST_CASES:-qemu-host lily-host qemu-nested lily-nested}
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
cd "$top" || exit 1

B=$top/build
lilyvm=$B/lilyvm
nested=$B/tools/lily-nested
probe=$B/tools/lily-nested-probe
demo_plain=$B/guest/demo.elf
demo_lily=$B/guest/demo-lily.elf
qemu=${QEMU:-}
if [ -z "$qemu" ] && [ -f config.mk ]; then
    qemu=$(sed -n 's/^QEMU *= *//p' config.mk)
fi
# Debian's qemu-system-i386 is a shell wrapper around the real binary: the
# nested Linux gets the binary itself.
qemu_bin=$qemu
[ -x /usr/libexec/qemu-system-i386 ] && qemu_bin=/usr/libexec/qemu-system-i386

for tool in python3 curl perl; do
    command -v "$tool" >/dev/null || { echo "bench/guest: $tool is needed" >&2; exit 1; }
done

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The file the guests fetch, served from this host's 127.0.0.1.
www=$out/www
rm -rf "$www"
mkdir -p "$www"
head -c $((mib * 1048576)) /dev/urandom >"$www/blob.bin"
blob_size=$((mib * 1048576))
blob_sum=$(sha256sum "$www/blob.bin" | cut -d' ' -f1)
hport=$(free_port)
python3 -m http.server "$hport" --bind 127.0.0.1 --directory "$www" >"$out/http-server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null' EXIT
trap 'exit 130' INT TERM
for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$hport/" && break
    sleep 0.2
done

# Debian's QEMU loads its TCG accelerator as a module.
qemu_modules=
for m in /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-i386.so; do
    [ -f "$m" ] && qemu_modules="$qemu_modules --file $m"
done

# The TSC rate, for the guest's ping statistics (the guest's own timer is
# unreliable in a slow VM; its rdtsc is the host's under LilyVM and TCG).
tsc_khz=
if [ -x "$B/bench/host-ops" ]; then
    tsc_khz=$("$B/bench/host-ops" --quick 2>/dev/null |
        awk '$1 == "#" && $2 == "tsc-hz" { printf "%d", $3 / 1000; exit }')
fi

# Lines of a run's console, each stamped with this host's wall clock.
stamp() {
    perl -MTime::HiRes=time -ne 'BEGIN { $| = 1 } s/\r//g; printf "%.3f %s", time, $_'
}

# Why a case cannot run here, or nothing.
why_not() {
    case $1 in
    qemu-host | qemu-nested)
        [ -n "$qemu" ] && [ -x "$qemu" ] || { echo "qemu-system-i386 not found"; return; }
        [ -f "$demo_plain" ] || { echo "build/guest/demo.elf is not built"; return; } ;;
    lily-host | lily-nested)
        [ -x "$lilyvm" ] || { echo "build/lilyvm is not built"; return; }
        [ -f "$demo_lily" ] || { echo "build/guest/demo-lily.elf is not built (no lily-cc)"; return; } ;;
    esac
    case $1 in
    lily-host)
        if ! "$probe" -q 2>"$out/probe.err"; then
            echo "$(sed 's/^lily-nested-probe: //' "$out/probe.err" | cut -d: -f1) (lily-nested-probe): LilyVM runs only nested here"
        fi ;;
    qemu-nested | lily-nested)
        [ -x "$nested" ] || { echo "build/tools/lily-nested is not built"; return; }
        "$nested" --print-kernel >/dev/null 2>&1 ||
            echo "lily-nested has no kernel with its e1000 driver (run build/tools/lily-nested --fetch)" ;;
    esac
}

# Where a case runs, for the column heading.
where() {
    if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then accel=KVM; else accel=TCG; fi
    case $1 in
    qemu-host) echo "QEMU i386 TCG, on this host" ;;
    lily-host) echo "LilyVM, on this host" ;;
    qemu-nested) echo "QEMU i386 TCG, nested in x86-64 $accel" ;;
    lily-nested) echo "LilyVM, nested in x86-64 $accel" ;;
    esac
}

# run_case CASE: boots the demo with the boot script, fetches from its web
# server once it serves, and leaves CASE.out (stamped console), CASE.status
# and CASE.curl behind.
run_case() {
    c=$1
    fport=$(free_port)
    script="${tsc_khz:+tsc_khz=$tsc_khz }run=ping 10.0.2.2 $pings;wget http://10.0.2.2:$hport/blob.bin;serve 2 $deadline;poweroff"
    qemu_args="-display none -nodefaults -no-reboot -m 32 -kernel $demo_plain -serial stdio
        -device isa-debug-exit,iobase=0xf4,iosize=0x04
        -device ne2k_isa,netdev=n0,iobase=0x300,irq=9
        -netdev user,id=n0,hostfwd=tcp:127.0.0.1:$fport-:80"
    : >"$out/$c.curl"
    echo "bench/guest: $(where "$c") ..." >&2
    start=$(perl -MTime::HiRes=time -e 'printf "%.3f", time')
    echo "$start start" >"$out/$c.out"
    (
        case $c in
        qemu-host)
            # shellcheck disable=SC2086
            timeout "$deadline" "$qemu" $qemu_args -append "$script" ;;
        lily-host)
            # shellcheck disable=SC2086
            timeout "$deadline" "$lilyvm" -c examples/demo.conf ${BENCH_GUEST_LILYVM_ARGS:-} \
                --set "net0.hostfwd=tcp:127.0.0.1:$fport-:80" --cmdline "$script" ;;
        qemu-nested)
            # shellcheck disable=SC2086
            timeout "$deadline" "$nested" --log "$out/$c.console" --memory 1024 ${BENCH_GUEST_NESTED_OPTS:-} \
                --to-host "tcp:$hport" --fwd "tcp:$fport" --run "$qemu_bin" \
                --file "$demo_plain" --file /usr/share/seabios --file /usr/share/qemu/linuxboot_dma.bin \
                --file /usr/share/qemu/multiboot_dma.bin --file /usr/share/qemu/kvmvapic.bin \
                $qemu_modules -- $qemu_args -append "$script" ;;
        lily-nested)
            # shellcheck disable=SC2086
            timeout "$deadline" "$nested" --log "$out/$c.console" ${BENCH_GUEST_NESTED_OPTS:-} \
                --to-host "tcp:$hport" --fwd "tcp:$fport" -- -c examples/demo.conf \
                ${BENCH_GUEST_LILYVM_ARGS:-} --set "net0.hostfwd=tcp:127.0.0.1:$fport-:80" --cmdline "$script" ;;
        esac
        echo "$?" >"$out/$c.status"
    ) </dev/null 2>&1 | stamp >>"$out/$c.out" &
    job=$!
    # Fetch once the guest serves (QEMU takes connections before that).
    waited=0
    until grep -q ' demo> serve' "$out/$c.out" || [ "$waited" -ge "$deadline" ] || ! kill -0 "$job" 2>/dev/null; do
        sleep 1
        waited=$((waited + 1))
    done
    if grep -q ' demo> serve' "$out/$c.out"; then
        curl -s -o /dev/null -m "$deadline" -w 'bytes %{http_code} %{size_download} %{time_total}\n' \
            "http://127.0.0.1:$fport/bytes/$blob_size" >>"$out/$c.curl"
        curl -s -o /dev/null -m 60 -w 'page %{http_code} %{size_download} %{time_total}\n' \
            "http://127.0.0.1:$fport/" >>"$out/$c.curl"
    fi
    wait "$job"
}

# metric CASE NAME: one number (or n/a) from a finished run.
metric() {
    f=$out/$1.out
    case $2 in
    boot) # wall seconds from the start to the DHCP lease
        awk 'NR == 1 { s = $1 } / dhcp: bound/ { printf "%.1f", $1 - s; exit }' "$f" ;;
    ping) # the guest's average round trip (TSC-timed)
        sed -n 's|.* rtt min/avg/max = [0-9.]*/\([0-9.]*\)/[0-9.]* ms$|\1|p' "$f" | head -n 1 ;;
    wget-guest) # KiB/s by the guest's clock
        sed -n 's/.* wget: \([0-9]*\) bytes in [0-9]* ms, \([0-9]*\) KiB\/s$/\1 \2/p' "$f" |
            awk -v n="$blob_size" '$1 == n { print $2; exit }' ;;
    wget-wall) # KiB/s by this host's clock, from the command's echo to its result
        awk -v n="$blob_size" '
            / demo> wget / { s = $1 }
            $0 ~ " wget: HTTP 200, " n " bytes$" && s { printf "%.0f", n / 1024 / ($1 - s); exit }' "$f" ;;
    wget-ok)
        grep -q " sha256 $blob_sum\$" "$f" && echo yes ;;
    fetch) # this host fetching /bytes/N through the forward, KiB/s
        awk -v n="$blob_size" '$1 == "bytes" && $2 == 200 && $3 == n && $4 > 0 { printf "%.0f", n / 1024 / $4 }' "$out/$1.curl" ;;
    page) # one GET of the small page through the forward, ms
        awk '$1 == "page" && $2 == 200 { printf "%.1f", $4 * 1000 }' "$out/$1.curl" ;;
    esac
}

: >"$out/guest-net.tsv"
heads=""
for c in $cases; do
    printf '%s\tlabel\t%s\n' "$c" "$(where "$c")" >>"$out/guest-net.tsv"
    reason=$(why_not "$c")
    if [ -n "$reason" ]; then
        echo "bench/guest: $(where "$c"): n/a: $reason" >&2
        printf '%s\tna\t%s\n' "$c" "$reason" >>"$out/guest-net.tsv"
        continue
    fi
    run_case "$c"
    st=$(cat "$out/$c.status" 2>/dev/null || echo none)
    # Ended well: the guest powered off (QEMU's status is then 1, LilyVM's 0).
    grep -q ' poweroff$' "$out/$c.out" || printf '%s\tstatus\t%s\n' "$c" "$st" >>"$out/guest-net.tsv"
    for m in boot ping wget-guest wget-wall wget-ok fetch page; do
        printf '%s\t%s\t%s\n' "$c" "$m" "$(metric "$c" "$m")" >>"$out/guest-net.tsv"
    done
done
kill "$server" 2>/dev/null

# The table: one column per case, n/a with the reason as a note.
awk -F '\t' -v mib="$mib" -v pings="$pings" -v cases="$cases" '
    function where(c) { return v[c, "label"] }
    { v[$1, $2] = $3 }
    END {
        n = split(cases, cs, " ")
        rows["boot"] = "start to DHCP lease, s (wall; nested: with the Linux boot)"
        rows["ping"] = "ping 10.0.2.2, avg RTT ms (guest TSC, " pings " pings)"
        rows["wget-wall"] = "guest wget " mib " MiB from host, KiB/s (wall)"
        rows["fetch"] = "host GET " mib " MiB from guest httpd via hostfwd, KiB/s"
        rows["page"] = "host GET of the small page via hostfwd, ms"
        order = "boot ping wget-wall fetch page"
        line = "| measure |"
        sep = "|---|"
        for (i = 1; i <= n; i++) { line = line " " where(cs[i]) " |"; sep = sep "---|" }
        print line; print sep
        split(order, ms, " ")
        nn = 0
        for (j = 1; j in ms; j++) {
            line = "| " rows[ms[j]] " |"
            for (i = 1; i <= n; i++) {
                c = cs[i]
                if ((c, "na") in v) {
                    if (!(c in note)) { note[c] = ++nn; notes[nn] = where(c) ": " v[c, "na"] }
                    cell = "n/a [" note[c] "]"
                } else {
                    cell = v[c, ms[j]] == "" ? "-" : v[c, ms[j]]
                    if (ms[j] ~ /^wget/ && cell != "-" && v[c, "wget-ok"] != "yes") cell = cell " (bad sha256)"
                }
                line = line " " cell " |"
            }
            print line
        }
        for (i = 1; i <= n; i++)
            if ((cs[i], "status") in v) {
                notes[++nn] = where(cs[i]) ": the guest did not power off; the run ended with status " v[cs[i], "status"] " (log: " cs[i] ".out)"
            }
        if (nn) print ""
        for (k = 1; k <= nn; k++) print "[" k "] " notes[k]
    }' "$out/guest-net.tsv" >"$out/guest-net.md"

{
    if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then accel="KVM"; else accel="TCG (no usable /dev/kvm)"; fi
    echo "Guest network: the demo guest under QEMU and LilyVM ($mib MiB transfers; \"nested\" = inside"
    echo "lily-nested's x86-64 Linux under qemu-system-x86_64 $accel; logs in ${out#"$top"/})"
    echo
    cat "$out/guest-net.md"
} | tee "$out/report.txt"
