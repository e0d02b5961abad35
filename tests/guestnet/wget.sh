#!/bin/sh
# wget in the demo kernel: a file served by python3's http.server on
# 127.0.0.1 (the guest reaches it as 10.0.2.2:PORT through QEMU's user
# networking) arrives whole: the byte count and SHA-256 the guest prints
# are those of the file.  Also a missing file (404) and a refused port.
. "$(dirname "$0")/lib.sh"
guestnet_setup
command -v sha256sum >/dev/null || skip_all "sha256sum not found"
command -v curl >/dev/null || skip_all "curl not found (to see the server is up)"
log=$logdir/wget.log
www=$logdir/www
rm -rf "$www"
mkdir -p "$www"
# 300000 bytes: many segments, more than the guest's receive window.
head -c 300000 /dev/urandom >"$www/blob.bin"
printf 'small file\n' >"$www/small.txt"
size=$(wc -c <"$www/blob.bin" | tr -d ' ')
sum=$(sha256sum "$www/blob.bin" | cut -d' ' -f1)
small_sum=$(sha256sum "$www/small.txt" | cut -d' ' -f1)
port=$(free_port)
closed=$(free_port)

(cd "$www" && exec timeout "$GUESTNET_DEADLINE" python3 -m http.server "$port" --bind 127.0.0.1) \
    >"$logdir/wget-server.log" 2>&1 &
server=$!
for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/small.txt" && break
    sleep 0.2
done
boot_demo "$log" "run=wget http://10.0.2.2:$port/blob.bin;wget http://10.0.2.2:$port/small.txt;wget http://10.0.2.2:$port/missing;wget http://10.0.2.2:$closed/;poweroff"
kill "$server" 2>/dev/null
wait "$server" 2>/dev/null

check "guest powered off by itself (QEMU status $status)" [ "$status" -eq 1 ]
check "blob.bin: HTTP 200 and $size bytes" has "$log" "^wget: HTTP 200, $size bytes\$"
check "blob.bin: the guest's SHA-256 is sha256sum's ($sum)" has "$log" "^sha256 $sum\$"
check "small.txt: 11 bytes and the right SHA-256" has "$log" "^sha256 $small_sum\$"
check "a missing file: HTTP 404" has "$log" '^wget: HTTP 404, [0-9]+ bytes$'
check "a closed port: refused" has "$log" '^wget: connection refused or reset$'
finish "$log"
