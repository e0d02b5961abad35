#!/bin/sh
# nslookup in the demo kernel: through QEMU's DNS at 10.0.2.3 (which asks the
# host's resolver), and through a DNS server of ours on 127.0.0.1, reached
# from the guest as 10.0.2.2:PORT, for a name with a known A record.
. "$(dirname "$0")/lib.sh"
guestnet_setup
log=$logdir/dns.log
port=$(free_port)
# The name QEMU's DNS is asked for: answered by the host's resolver only
# where it can reach the Internet.
name=${GUESTNET_DNS_NAME:-example.com}
want=$(getent ahostsv4 "$name" 2>/dev/null | awk 'NR == 1 { print $1 }')

python3 "$(dirname "$0")/dns-server.py" "$port" "$GUESTNET_DEADLINE" \
    demo.lilyvm.test=192.0.2.42 >"$logdir/dns-server.log" 2>&1 &
server=$!
for _ in $(seq 50); do
    grep -q ready "$logdir/dns-server.log" 2>/dev/null && break
    sleep 0.1
done
boot_demo "$log" "run=nslookup demo.lilyvm.test 10.0.2.2:$port;nslookup missing.lilyvm.test 10.0.2.2:$port;nslookup $name;poweroff"
kill "$server" 2>/dev/null
wait "$server" 2>/dev/null

check "guest powered off by itself (QEMU status $status)" [ "$status" -eq 1 ]
check "A record from our server: demo.lilyvm.test is 192.0.2.42" \
    has "$log" '^demo\.lilyvm\.test has address 192\.0\.2\.42$'
check "NXDOMAIN from our server is reported as such" \
    has "$log" '^nslookup: missing\.lilyvm\.test: no such name$'
# QEMU's DNS answers with whatever the host's resolver says.
if [ -n "$want" ]; then
    check "$name through QEMU's DNS at 10.0.2.3 is $want, as on the host" \
        has "$log" "^$name has address $(echo "$want" | sed 's/\./\\./g')\$"
else
    check "QEMU's DNS at 10.0.2.3 answered for $name (the host cannot resolve it: an error answer, not a timeout)" \
        has "$log" "^nslookup: $name: (no such name|server failure|no address record in the answer)\$"
    n=$((n + 1))
    echo "ok $n - $name resolved through QEMU's DNS # SKIP the host's resolver cannot resolve $name (no Internet here)"
fi
finish "$log"
