#!/bin/sh
# wget in the demo kernel: a file served by python3's http.server on
# 127.0.0.1 (the guest reaches it as 10.0.2.2:PORT through QEMU's user
# networking) arrives whole: the byte count and SHA-256 the guest prints
# are those of the file.  Also a missing file (404), a refused port, and a
# server whose Content-Length promises more than it sends (a short body).
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
# The liar: every response declares 1000 bytes and sends 600, then closes.
liar=$(free_port)
timeout "$GUESTNET_DEADLINE" python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(4)
while True:
    c, _ = s.accept()
    req = b""
    while b"\r\n\r\n" not in req:
        d = c.recv(4096)
        if not d:
            break
        req += d
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n"
              + b"x" * 600)
    c.close()
' "$liar" >"$logdir/wget-liar.log" 2>&1 &
liar_pid=$!
for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/small.txt" && break
    sleep 0.2
done
for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$liar/"
    [ $? -ne 7 ] && break # 7: not listening yet
    sleep 0.2
done
boot_demo "$log" "run=wget http://10.0.2.2:$port/blob.bin;wget http://10.0.2.2:$port/small.txt;wget http://10.0.2.2:$port/missing;wget http://10.0.2.2:$closed/;wget http://10.0.2.2:$liar/short;poweroff"
kill "$server" "$liar_pid" 2>/dev/null
wait "$server" "$liar_pid" 2>/dev/null

check "guest powered off by itself (QEMU status $status)" [ "$status" -eq 1 ]
check "blob.bin: HTTP 200 and $size bytes" has "$log" "^wget: HTTP 200, $size bytes\$"
check "blob.bin: the guest's SHA-256 is sha256sum's ($sum)" has "$log" "^sha256 $sum\$"
check "small.txt: 11 bytes and the right SHA-256" has "$log" "^sha256 $small_sum\$"
check "a missing file: HTTP 404" has "$log" '^wget: HTTP 404, [0-9]+ bytes$'
check "a closed port: refused" has "$log" '^wget: connection refused or reset$'
check "Content-Length 1000, 600 bytes sent: HTTP 200, 600 bytes" has "$log" '^wget: HTTP 200, 600 bytes$'
check "... and the guest reports the short body" has "$log" '^wget: short body: 600 of 1000 bytes$'
check "no length mismatch reported for the honest server" \
    [ "$(tr -d '\r' <"$log" | grep -a -c -E '^wget: (short|long) body:')" -eq 1 ]
finish "$log"
