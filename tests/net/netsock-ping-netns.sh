#!/bin/sh
# Runs the ping-socket test of netsock-test inside a private network
# namespace where unprivileged ping sockets are allowed, so the forwarding
# path is checked even on hosts whose net.ipv4.ping_group_range forbids
# them (the host's own setting is never touched).  TAP; skips when no
# network namespace can be made.
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/build/tests/net/netsock-test

if [ ! -x "$bin" ]; then
    echo "1..0 # SKIP $bin is not built"
    exit 0
fi
if [ "$(id -u)" = 0 ]; then
    ns="unshare -n"
else
    ns="unshare -r -n"
fi
if ! $ns true 2>/dev/null; then
    echo "1..0 # SKIP cannot create a network namespace here ($ns failed)"
    exit 0
fi
echo "1..1"
out=$($ns sh -c '
    ip link set lo up 2>/dev/null || exit 77
    echo "0 2147483647" > /proc/sys/net/ipv4/ping_group_range || exit 77
    exec "$1" -p /netsock/icmp/ping-socket' sh "$bin" 2>&1)
rc=$?
if [ $rc = 77 ]; then
    echo "ok 1 # SKIP could not set up loopback or ping_group_range in the namespace"
elif [ $rc = 0 ] && ! printf '%s\n' "$out" | grep -q 'ping sockets refused'; then
    echo "ok 1 - ICMP echo forwarded through a ping socket (private netns)"
else
    echo "not ok 1 - ICMP echo forwarded through a ping socket (private netns)"
    printf '%s\n' "$out" | sed 's/^/# /'
fi
