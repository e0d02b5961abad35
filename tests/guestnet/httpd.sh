#!/bin/sh
# The demo kernel's web server: QEMU forwards 127.0.0.1:PORT on the host to
# the guest's port 80; once the console shows the guest listening, curl
# fetches the page (retrying, bounded), and the guest counts the requests
# it served.
. "$(dirname "$0")/lib.sh"
guestnet_setup
command -v curl >/dev/null || skip_all "curl not found"
log=$logdir/httpd.log
page=$logdir/httpd-page.html
port=$(free_port)
rm -f "$page"

# QEMU runs in the background; its exit status comes back through a file.
(boot_demo "$log" "run=serve 3 40;httpd;poweroff" ",hostfwd=tcp:127.0.0.1:$port-:80"
 echo "$status" >"$log.status") &
qemu_job=$!
# Knock only once the guest listens: a connection QEMU accepts earlier stays
# held in its user network until the guest is up, and then arrives as one
# request too many.  demo> follows httpd_start() on the console.
for _ in $(seq 200); do
    grep -q '^demo> serve' "$log" 2>/dev/null && break
    kill -0 "$qemu_job" 2>/dev/null || break
    sleep 0.2
done
got=0
for _ in $(seq 100); do
    if curl -s -f -m 5 -o "$page" "http://127.0.0.1:$port/"; then
        got=1
        break
    fi
    sleep 0.3
done
curl -s -f -m 5 -o /dev/null "http://127.0.0.1:$port/again" && got=$((got + 1))
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/")
wait "$qemu_job"
status=$(cat "$log.status" 2>/dev/null || echo unknown)

check "guest powered off by itself after serving 3 requests (QEMU status $status)" [ "$status" = 1 ]
check "curl got the guest's page through the forward" grep -q 'Hello from the LilyVM demo kernel' "$page"
check "the page names the guest's address" grep -q 'Guest 10\.0\.2\.15' "$page"
check "a second GET succeeded too" [ "$got" -eq 2 ]
check "POST is refused with 405 (got $code)" [ "$code" = 405 ]
check "the guest counted 3 requests" has "$log" '^serve: 3 requests served$'
check "httpd status shows them" has "$log" '^httpd: listening on port 80, 3 requests served$'
finish "$log"
