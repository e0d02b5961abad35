#!/bin/sh
# The rewritten demo kernel under LilyVM's default machine (NE2000 at 0x300,
# IRQ 9, on net-socket, whose addresses match QEMU's user networking): DHCP,
# ping to the gateway, and the page fetched through a host forward.
# Skipped, with the reason, while LilyVM cannot run a kernel yet.
. "$(dirname "$0")/lib.sh"
lilyvm=$top/build/lilyvm
kernel=$top/build/guest/demo-lily.elf
[ -x "$lilyvm" ] && [ -f "$kernel" ] || skip_all "build/lilyvm or $kernel not built"
plugins=$("$lilyvm" --list-plugins 2>/dev/null)
for need in console debug-exit nic-ne2000 net-socket; do
    printf '%s\n' "$plugins" | grep -q "^$need " || skip_all "the $need plugin is not built"
done
command -v python3 >/dev/null || skip_all "python3 is needed to pick a free port"
command -v curl >/dev/null || skip_all "curl not found"
log=$logdir/lilyvm-demo.log
page=$logdir/lilyvm-demo-page.html
port=$(free_port)
rm -f "$page" "$log.status"
: >"$log"

(timeout "$GUESTNET_DEADLINE" "$lilyvm" --kernel "$kernel" \
    --cmdline "run=ifconfig;ping 10.0.2.2 3;serve 1 30;poweroff" \
    --set serial0.backend=file --set "serial0.path=$log" \
    --set "net0.hostfwd=tcp:127.0.0.1:$port-:80" </dev/null >"$log.out" 2>&1
 echo $? >"$log.status") &
job=$!
# Until LilyVM stops (no CPU plugin: at once) or the page comes.
for _ in $(seq 100); do
    [ -s "$log.status" ] && break
    curl -s -f -m 5 -o "$page" "http://127.0.0.1:$port/" && break
    sleep 0.3
done
wait "$job"
status=$(cat "$log.status")
case $status in
123) skip_all "LilyVM has no CPU plugin yet: it builds the machine but cannot run it" ;;
125) if grep -q "cannot run 32-bit guest code" "$log.out"; then
         skip_all "this host cannot run 32-bit guest code (see docs/native.md)"
     fi
     echo "1..1"
     echo "not ok 1 - LilyVM accepts the demo machine: $(head -n 1 "$log.out")"
     exit 0 ;;
esac
check "guest powered off by itself (LilyVM status $status, 0 = debug-exit 0)" [ "$status" -eq 0 ]
check "DHCP bound the guest to 10.0.2.15" has "$log" '^dhcp: bound to 10\.0\.2\.15$'
check "ping 10.0.2.2: 3 sent, 3 received" has "$log" '^3 packets transmitted, 3 received$'
check "curl got the guest's page through the forward" grep -q 'Hello from the LilyVM demo kernel' "$page"
finish "$log"
