#!/bin/sh
# Real applications through a LilyVM network backend: lily-netns puts them
# in a namespace whose TAP link the backend serves, and the servers they talk
# to run on this side's 127.0.0.1.  Everything runs inside a private network
# and mount namespace of its own (loopback only, nothing leaves the machine).
#   backend-tests.sh BACKEND      (net-socket, net-slirp)
# TAP output; skips with a reason when namespaces, TAP or tools are missing.
backend=${1:?usage: backend-tests.sh BACKEND}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
netns=$root/build/tools/lily-netns
helper=$here/nh-helper.py
ntests=12

skip_all() {
    echo "1..0 # SKIP $*"
    exit 0
}

[ -x "$netns" ] || skip_all "$netns is not built"
[ -f "$root/build/plugins/$backend.so" ] || skip_all "build/plugins/$backend.so is not built"
# The system interpreter starts much faster than version-manager shims.
if [ -x /usr/bin/python3 ]; then py=/usr/bin/python3; else py=$(command -v python3); fi
[ -n "$py" ] || skip_all "python3 is not installed"

# Isolation: re-run this script in fresh network and mount namespaces, so
# that its servers, ports and resolv.conf are private.
if [ -z "$NH_ISOLATED" ]; then
    if [ "$(id -u)" = 0 ]; then ns="unshare -n -m"; else ns="unshare -r -n -m"; fi
    $ns true 2>/dev/null || skip_all "cannot create network namespaces here ($ns failed)"
    NH_ISOLATED=1 exec $ns "$0" "$@"
fi
ip link set lo up 2>/dev/null || skip_all "cannot bring up loopback in a private namespace"
if [ ! -c /dev/net/tun ]; then skip_all "no /dev/net/tun"; fi
if ! "$netns" --backend net-null --no-resolv -- true 2>/tmp/nh-probe.$$; then
    why=$(head -n 1 /tmp/nh-probe.$$)
    rm -f /tmp/nh-probe.$$
    skip_all "lily-netns cannot make its namespace and TAP here: $why"
fi
rm -f /tmp/nh-probe.$$

tmp=$(mktemp -d /tmp/lily-netharness.XXXXXX)
pids=
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# Resolver for the backend: net-socket is told with dns-forward; net-slirp
# reads /etc/resolv.conf, replaced here for this mount namespace only.
case $backend in
net-socket) dns_port=5353; set -- --set dns-forward=127.0.0.1:$dns_port ;;
*) dns_port=53; set -- ;;
esac
echo "nameserver 127.0.0.1" >"$tmp/resolv.conf"
mount --bind "$tmp/resolv.conf" /etc/resolv.conf 2>/dev/null

n=0
ok() {
    n=$((n + 1))
    echo "ok $n - $backend: $1"
    [ -f "$tmp/times" ] && cat "$tmp/times" && rm -f "$tmp/times"
}
skip() { n=$((n + 1)); echo "ok $n # SKIP $backend: $1"; }
fail() {
    n=$((n + 1))
    echo "not ok $n - $backend: $1"
    [ -f "$tmp/times" ] && cat "$tmp/times" && rm -f "$tmp/times"
    [ -f "$tmp/log" ] && sed 's/^/# /' "$tmp/log" | tail -n 20
}
# Run a command in the namespace; its output and errors go to $tmp/log.
inns() {
    t0=$(date +%s%N)
    "$netns" --backend "$backend" "$@" >"$tmp/log" 2>&1
    rc=$?
    echo "# $(( ($(date +%s%N) - t0) / 1000000 )) ms in the namespace" >>"$tmp/times"
    return $rc
}
bg() {
    "$@" >/dev/null 2>&1 &
    pids="$pids $!"
}
have() { command -v "$1" >/dev/null; }

echo "1..$ntests"

# Servers on this side's loopback.
mkdir "$tmp/www"
head -c 100M /dev/urandom >"$tmp/www/big"
head -c 2000 /dev/urandom >"$tmp/www/small"
big_sum=$(sha256sum <"$tmp/www/big" | cut -d' ' -f1)
small_sum=$(sha256sum <"$tmp/www/small" | cut -d' ' -f1)
(cd "$tmp/www" && exec $py -m http.server --bind 127.0.0.1 8000 >/dev/null 2>&1) &
pids="$pids $!"
bg $py "$helper" upload-server 127.0.0.1 8001
bg $py "$helper" dns-server 127.0.0.1 $dns_port 192.0.2.77
have iperf3 && bg iperf3 -s -B 127.0.0.1 -p 5201
$py "$helper" wait-port 127.0.0.1 8000 10 && $py "$helper" wait-port 127.0.0.1 8001 10 ||
    { for i in $(seq $ntests); do echo "not ok $i - servers did not start"; done; exit 1; }

# 1: the gateway answers ping.
if inns "$@" -- $py "$helper" ping 10.0.2.2 3; then
    ok "ping the gateway 10.0.2.2"
else
    fail "ping the gateway 10.0.2.2"
fi

# 2: the backend's DHCP server leases the addresses lily-netns configured.
if inns "$@" -- $py "$helper" dhcp tap0 &&
    grep -qx "address 10.0.2.15" "$tmp/log" && grep -qx "router 10.0.2.2" "$tmp/log" &&
    grep -qx "dns 10.0.2.3" "$tmp/log" && grep -qx "netmask 255.255.255.0" "$tmp/log"; then
    ok "DHCP lease: 10.0.2.15/24, router 10.0.2.2, DNS 10.0.2.3"
else
    fail "DHCP lease: 10.0.2.15/24, router 10.0.2.2, DNS 10.0.2.3"
fi

# 3: a 100 MB download from a host server, checked by SHA-256.
if have curl; then
    if inns "$@" -- sh -c "curl -sS --max-time 60 http://10.0.2.2:8000/big | sha256sum" &&
        grep -q "^$big_sum" "$tmp/log"; then
        ok "100 MB HTTP download from host loopback, SHA-256 matches"
    else
        fail "100 MB HTTP download from host loopback, SHA-256 matches"
    fi
else
    skip "curl is not installed"
fi

# 4: a 100 MB upload; the server answers with the SHA-256 it computed.
if have curl; then
    if inns "$@" -- curl -sS --max-time 20 -T "$tmp/www/big" http://10.0.2.2:8001/up &&
        grep -q "^$big_sum 104857600" "$tmp/log"; then
        ok "100 MB HTTP upload to host loopback, SHA-256 matches"
    else
        fail "100 MB HTTP upload to host loopback, SHA-256 matches"
    fi
else
    skip "curl is not installed"
fi

# 5, 6: iperf3 both ways, briefly.
for dir in "" -R; do
    what="iperf3 ${dir:+(-R) }namespace $([ -z "$dir" ] && echo '->' || echo '<-') host, 2 s"
    if ! have iperf3; then
        skip "iperf3 is not installed"
    elif inns "$@" -- iperf3 -c 10.0.2.2 -p 5201 -t 2 $dir -f m &&
        grep -q "receiver" "$tmp/log"; then
        ok "$what: $(grep receiver "$tmp/log" | awk '{print $7, $8}')"
    else
        fail "$what"
    fi
done

# 7: a DNS query to the backend's DNS address reaches the host's resolver.
if have dig; then
    if inns "$@" -- dig +short +time=2 +tries=2 @10.0.2.3 lily.example A &&
        grep -qx "192.0.2.77" "$tmp/log"; then
        ok "DNS query to 10.0.2.3 answered by the host-side resolver"
    else
        fail "DNS query to 10.0.2.3 answered by the host-side resolver"
    fi
else
    skip "dig is not installed"
fi

# 8: name lookups inside use resolv.conf, which names the DNS address.
if inns "$@" -- $py -c 'import socket; print(socket.gethostbyname("www.lily.example"))' &&
    grep -qx "192.0.2.77" "$tmp/log"; then
    ok "getaddrinfo inside uses the backend's DNS address (resolv.conf)"
else
    fail "getaddrinfo inside uses the backend's DNS address (resolv.conf)"
fi

# 9: an inbound connection through a port forward to a server inside.
rm -f "$tmp/fwd-ready" "$tmp/fwd-done"
inns "$@" --set hostfwd=tcp:127.0.0.1:8080-:80 -- sh -c "
    cd '$tmp/www' && $py -m http.server --bind 0.0.0.0 80 >/dev/null 2>&1 &
    $py '$helper' wait-port 127.0.0.1 80 10 && touch '$tmp/fwd-ready'
    i=0; while [ ! -f '$tmp/fwd-done' ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i+1)); done
    kill \$!" &
fwdpid=$!
i=0
while [ ! -f "$tmp/fwd-ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
got=$(curl -sS --max-time 10 http://127.0.0.1:8080/small 2>&1 | sha256sum | cut -d' ' -f1)
touch "$tmp/fwd-done"
wait $fwdpid
if [ "$got" = "$small_sum" ]; then
    ok "inbound TCP through hostfwd 127.0.0.1:8080 -> :80 inside"
else
    fail "inbound TCP through hostfwd 127.0.0.1:8080 -> :80 inside (got $got)"
fi

# 10: 50 connections at once.
if have curl; then
    if inns "$@" -- sh -c "
        for i in \$(seq 50); do
            curl -sS --max-time 30 -o '$tmp/par.'\$i http://10.0.2.2:8000/small &
        done
        wait
        for i in \$(seq 50); do sha256sum <'$tmp/par.'\$i; done | sort | uniq -c" &&
        grep -q "^ *50 $small_sum" "$tmp/log"; then
        ok "50 parallel HTTP downloads, all intact"
    else
        fail "50 parallel HTTP downloads, all intact"
    fi
else
    skip "curl is not installed"
fi

# 11: lily-netns exits with the command's status.
inns "$@" -- sh -c 'exit 7'
rc=$?
if [ $rc = 7 ]; then ok "exit status of the command (7)"; else fail "exit status 7, got $rc"; fi

# 12: a bad backend option is refused with a message naming it.
if ! inns "$@" --set no-such-key=1 -- true && grep -q "no-such-key" "$tmp/log"; then
    ok "an unknown backend option is refused and named"
else
    fail "an unknown backend option is refused and named"
fi
