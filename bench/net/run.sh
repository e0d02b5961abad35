#!/bin/sh
# Network backend benchmark: TCP throughput both ways (iperf3) and TCP
# request/response latency (tcp-rr) from a namespace to servers on host
# 127.0.0.1, through net-socket and net-slirp (in lily-netns), through
# pasta, and over native loopback, at each MTU.  Prints a table and the
# ratios net-socket/net-slirp and net-socket/pasta.  Not a test: nothing
# asserts a speed.  Loopback and namespace addresses only.
#
#   bench/net/run.sh        NET_BENCH_SECONDS (3), NET_BENCH_MTUS ("1500 65520"),
#                           NET_BENCH_RR_COUNT (5000) change the run.
root=$(cd "$(dirname "$0")/../.." && pwd)
netns=$root/build/tools/lily-netns
rr=$root/build/bench/net/tcp-rr
secs=${NET_BENCH_SECONDS:-3}
mtus=${NET_BENCH_MTUS:-"1500 65520"}
rr_count=${NET_BENCH_RR_COUNT:-5000}
port_ip=${NET_BENCH_PORT:-15401}
port_rr=$((port_ip + 1))  # iperf3 servers take the odd ports above

if [ -x /usr/bin/python3 ]; then py=/usr/bin/python3; else py=python3; fi
for t in iperf3 $py; do
    command -v $t >/dev/null || { echo "bench/net: $t is not installed; skipped"; exit 0; }
done
for f in "$netns" "$rr"; do
    [ -x "$f" ] || { echo "bench/net: $f is not built (make bench builds it)"; exit 1; }
done

tmp=$(mktemp -d /tmp/lily-netbench.XXXXXX)
pids=
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

"$rr" server 127.0.0.1 $port_rr >/dev/null 2>&1 &
pids="$pids $!"
sleep 0.5

# The client side: both iperf3 directions, then the latency run, against
# server address $1; results in $tmp/$2.*  A stalled transfer is cut short.
limit=$((secs * 2 + 20))
client_script() {
    cat <<EOF
timeout $limit iperf3 -c $1 -p $port_ip -t $secs -O 1 -J >$tmp/$2.up.json 2>/dev/null
timeout $limit iperf3 -c $1 -p $port_ip -t $secs -O 1 -R -J >$tmp/$2.down.json 2>/dev/null
timeout $limit $rr client $1 $port_rr $rr_count 64 >$tmp/$2.rr 2>/dev/null
EOF
}

pasta_runas=
[ "$(id -u)" = 0 ] && pasta_runas="--runas 0"  # pasta drops root unless told

run() {  # NAME MTU: one path at one MTU
    name=$1 mtu=$2 tag=$1-$2
    # A fresh iperf3 server per path: a stalled test must not block the next.
    port_ip=$((port_ip + 2))
    iperf3 -s -B 127.0.0.1 -p $port_ip >/dev/null 2>&1 &
    ipid=$!
    $py -c "import socket,time
for i in range(100):
    try: socket.create_connection(('127.0.0.1', $port_ip)).close(); break
    except OSError: time.sleep(0.05)"
    run_path "$name" "$mtu" "$tag"
    kill $ipid 2>/dev/null
    wait $ipid 2>/dev/null
    echo "$name $mtu" >>"$tmp/runs"
}

run_path() {
    name=$1 mtu=$2 tag=$3
    case $name in
    native)
        sh -c "$(client_script 127.0.0.1 "$tag")" ;;
    pasta)
        command -v pasta >/dev/null || return 0
        pasta -q $pasta_runas --config-net -4 -a 10.0.2.15 -n 24 -g 10.0.2.2 -m "$mtu" \
            -- sh -c "$(client_script 10.0.2.2 "$tag")" >/dev/null 2>&1 ;;
    *)
        [ -f "$root/build/plugins/$name.so" ] || return 0
        "$netns" --backend "$name" --mtu "$mtu" -- sh -c "$(client_script 10.0.2.2 "$tag")" \
            >/dev/null 2>"$tmp/$tag.err" ;;
    esac
}

echo "bench/net: ${secs}s iperf3 each way and $rr_count 64-byte round trips per path"
for mtu in $mtus; do
    for name in net-socket net-slirp pasta; do
        printf '  %s, MTU %s...\n' "$name" "$mtu"
        run "$name" "$mtu"
    done
done
printf '  native loopback...\n'
run native lo

$py - "$tmp" <<'EOF'
import json, os, sys
tmp = sys.argv[1]

def mbps(path):
    try:
        with open(path) as f:
            return json.load(f)["end"]["sum_received"]["bits_per_second"] / 1e6
    except (OSError, ValueError, KeyError):
        return None

def rr(path):
    try:
        with open(path) as f:
            w = f.read().split()
        return float(w[1]), float(w[3])
    except (OSError, ValueError, IndexError):
        return None, None

rows = {}
for line in open(os.path.join(tmp, "runs")):
    name, mtu = line.split()
    tag = "%s-%s" % (name, mtu)
    med, p99 = rr(os.path.join(tmp, tag + ".rr"))
    rows[(name, mtu)] = (mbps(os.path.join(tmp, tag + ".up.json")),
                         mbps(os.path.join(tmp, tag + ".down.json")), med, p99)

def f(v, fmt):
    return fmt % v if v is not None else "-"

print()
print("| path | MTU | ns->host Mbit/s | host->ns Mbit/s | RR median us | RR p99 us |")
print("|---|---|---:|---:|---:|---:|")
for (name, mtu), (up, down, med, p99) in rows.items():
    print("| %s | %s | %s | %s | %s | %s |" % (name, mtu, f(up, "%.0f"), f(down, "%.0f"),
                                              f(med, "%.1f"), f(p99, "%.1f")))

def ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "-"

print()
print("net-socket relative to the others (throughput: >1 is faster; latency: <1 is faster)")
print()
print("| MTU | vs | ns->host | host->ns | RR median |")
print("|---|---|---:|---:|---:|")
for mtu in sorted({m for (_, m) in rows if m != "lo"}, key=int):
    ns = rows.get(("net-socket", mtu))
    if not ns:
        continue
    for other in ("net-slirp", "pasta"):
        o = rows.get((other, mtu))
        if o:
            print("| %s | %s | %s | %s | %s |" % (mtu, other, ratio(ns[0], o[0]),
                                                 ratio(ns[1], o[1]), ratio(ns[2], o[2])))
EOF
for e in "$tmp"/*.err; do
    [ -s "$e" ] && { echo "stderr of $(basename "$e" .err):"; sed 's/^/  /' "$e"; }
done
exit 0
