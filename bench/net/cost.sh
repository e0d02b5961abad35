#!/bin/sh
# What a network backend costs per byte, less noisy than throughput on a
# shared machine: a fixed iperf3 transfer (or a fixed number of 64-byte
# round trips) from a lily-netns namespace to host 127.0.0.1, measuring
# lily-netns alone (not the command in the namespace): its CPU time per MB
# (perf stat --no-inherit) and its syscalls per MB or per round trip
# (strace -c, a separate run since tracing slows it).  Not a test.
#
#   bench/net/cost.sh [BACKEND...]   default: net-socket net-slirp
#   NET_COST_MTUS ("1500 65520"), NET_COST_MB (200: MB per transfer at MTU
#   1500, four times that above), NET_COST_RR (3000 round trips),
#   NET_COST_ROUNDS (1) change the run; rounds alternate the backends.
root=$(cd "$(dirname "$0")/../.." && pwd)
netns=$root/build/tools/lily-netns
rr=$root/build/bench/net/tcp-rr
mtus=${NET_COST_MTUS:-"1500 65520"}
mb=${NET_COST_MB:-200}
rrn=${NET_COST_RR:-3000}
rounds=${NET_COST_ROUNDS:-1}
port=${NET_COST_PORT:-15501}
backends=${*:-"net-socket net-slirp"}

for t in iperf3 python3; do
    command -v $t >/dev/null || { echo "bench/net/cost: $t is not installed; skipped"; exit 0; }
done
for f in "$netns" "$rr"; do
    [ -x "$f" ] || { echo "bench/net/cost: $f is not built (make bench builds it)"; exit 1; }
done
have_perf=; perf stat --no-inherit -e task-clock true >/dev/null 2>&1 && have_perf=1
have_strace=; command -v strace >/dev/null && have_strace=1
[ -n "$have_perf$have_strace" ] || { echo "bench/net/cost: neither perf nor strace works here; skipped"; exit 0; }

tmp=$(mktemp -d /tmp/lily-netcost.XXXXXX)
trap 'kill $spid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM

# measure BACKEND MTU KIND(up|down|rr) AMOUNT -> one result line
measure() {
    b=$1 mtu=$2 kind=$3 n=$4
    port=$((port + 1))
    if [ $kind = rr ]; then
        "$rr" server 127.0.0.1 $port >/dev/null 2>&1 &
        cmd="$rr client 10.0.2.2 $port $n 64 >/dev/null"
    else
        iperf3 -s -B 127.0.0.1 -p $port >/dev/null 2>&1 &
        R=; [ $kind = down ] && R=-R
        cmd="iperf3 -c 10.0.2.2 -p $port -n ${n}M $R -J >$tmp/ip.json"
    fi
    spid=$!
    python3 -c "import socket,time
for i in range(100):
    try: socket.create_connection(('127.0.0.1', $port)).close(); break
    except OSError: time.sleep(0.05)"
    ms=-; calls=-; mbit=-
    if [ -n "$have_perf" ]; then
        perf stat --no-inherit -x, -e task-clock -o "$tmp/perf" \
            "$netns" --backend $b --mtu $mtu -- sh -c "$cmd" 2>/dev/null &&
            ms=$(grep task-clock "$tmp/perf" | cut -d, -f1)
        [ $kind = rr ] || mbit=$(python3 -c "import json
print('%.0f' % (json.load(open('$tmp/ip.json'))['end']['sum_received']['bits_per_second'] / 1e6))" 2>/dev/null)
    fi
    if [ -n "$have_strace" ]; then
        strace -c -o "$tmp/strace" "$netns" --backend $b --mtu $mtu -- sh -c "$cmd" 2>/dev/null &&
            calls=$(awk '$NF == "total" { print $(NF-2) }' "$tmp/strace")
        # wait4 is lily-netns waiting for its command, not work
        w=$(awk '$NF == "wait4" { print $(NF-1) }' "$tmp/strace")
        [ "$calls" != - ] && calls=$((calls - ${w:-0}))
    fi
    kill $spid 2>/dev/null; wait $spid 2>/dev/null
    python3 - "$b" "$mtu" "$kind" "$n" "$ms" "$calls" "$mbit" <<'PY'
import sys
b, mtu, kind, n, ms, calls, mbit = sys.argv[1:]
n = float(n)
unit = "round trip" if kind == "rr" else "MB"
cpu = "%.2f ms" % (float(ms) / n) if ms != "-" else "-"
if kind == "rr" and ms != "-":
    cpu = "%.1f us" % (float(ms) * 1000 / n)
sc = "%.1f" % (float(calls) / n) if calls != "-" else "-"
print("| %s | %s | %s | %s per %s | %s | %s |" % (b, mtu, kind, cpu, unit, sc, mbit))
PY
}

echo "| backend | MTU | what | lily-netns CPU | syscalls per unit | Mbit/s (CPU run) |"
echo "|---|---|---|---:|---:|---:|"
for r in $(seq $rounds); do
    for mtu in $mtus; do
        n=$mb; [ $mtu -gt 16000 ] && n=$((mb * 4))
        for kind in up down rr; do
            for b in $backends; do
                [ -f "$root/build/plugins/$b.so" ] || continue
                if [ $kind = rr ]; then measure $b $mtu rr $rrn; else measure $b $mtu $kind $n; fi
            done
        done
    done
done
