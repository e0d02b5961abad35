#!/bin/sh
# The demo's web page fetched from this host through both forwards while the
# demo runs under lily-nested: this host's 127.0.0.1:PORT -> QEMU's user
# net -> the nested Linux's relay -> lilyvm's hostfwd -> the guest's port 80.
. "$(dirname "$0")/lib.sh"
nested_setup
command -v curl >/dev/null || skip_all "curl not found"
command -v python3 >/dev/null || skip_all "python3 not found (free ports)"
out=$logdir/demo-fwd.out
log=$logdir/demo-fwd.console
port=$(free_port)
rm -f "$out" "$logdir/page1" "$logdir/page2"

# shellcheck disable=SC2086
timeout "$NESTED_DEADLINE" "$nested" $kernel_args --log "$log" --fwd "tcp:$port" -- \
    -c examples/demo.conf --set "net0.hostfwd=tcp:127.0.0.1:$port-:80" \
    --cmdline 'run=serve 2 240;poweroff' </dev/null >"$out" 2>&1 &
vm=$!
# QEMU accepts a forwarded connection before anything listens inside, so
# wait for the guest's shell before fetching (bounded by the deadline).
waited=0
until { [ -f "$out" ] && has "$out" '^demo> serve'; } || [ "$waited" -ge "$NESTED_DEADLINE" ] || ! kill -0 "$vm" 2>/dev/null; do
    sleep 1
    waited=$((waited + 1))
done
curl -s -m 120 -o "$logdir/page1" "http://127.0.0.1:$port/"
c1=$?
curl -s -m 120 -o "$logdir/page2" "http://127.0.0.1:$port/second"
c2=$?
wait "$vm"
status=$?

check "first GET through the forwards (curl status $c1)" [ "$c1" -eq 0 ]
check "... the guest's page" has "$logdir/page1" 'Hello from the LilyVM demo kernel'
check "second GET (curl status $c2): the guest counts request 2" has "$logdir/page2" 'Guest 10\.0\.2\.15, request 2,'
check "the guest saw both requests" has "$out" '^serve: 2 requests served$'
check "lily-nested ended with lilyvm's status 0 ($status)" [ "$status" -eq 0 ]
if [ "$failed" -ne 0 ]; then
    show "$out"
    show "$log"
fi
echo "1..$n"
