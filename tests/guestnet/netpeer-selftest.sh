#!/bin/sh
# netpeer (the host side of the nested-QEMU network runs) on this host's
# 127.0.0.1: the pattern is deterministic, the HTTP server and client move a
# file intact, refuse what they should, and the TCP echo answers a call.
top=$(cd "$(dirname "$0")/../.." && pwd)
np=$top/build/tests/guestnet/netpeer
if [ ! -x "$np" ]; then
    echo "1..0 # SKIP $np is not built (make check builds it)"
    exit 0
fi
if ! command -v sha256sum >/dev/null 2>&1; then
    echo "1..0 # SKIP sha256sum not found (coreutils)"
    exit 0
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/netpeer-selftest.XXXXXX") || exit 1
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$dir"' EXIT INT TERM

n=0
check() {
    n=$((n + 1))
    desc=$1
    shift
    if "$@"; then echo "ok $n - $desc"; else echo "not ok $n - $desc"; fi
}

mkdir "$dir/www"
"$np" pattern 300000 >"$dir/www/blob.bin"
"$np" pattern 300000 >"$dir/again.bin"
"$np" pattern 1000 >"$dir/prefix.bin"
check "pattern: two runs give the same bytes" cmp -s "$dir/www/blob.bin" "$dir/again.bin"
check "pattern: a shorter file is a prefix of a longer one" \
    sh -c 'head -c 1000 "$1" | cmp -s - "$2"' sh "$dir/www/blob.bin" "$dir/prefix.bin"
check "pattern: 300000 bytes" [ "$(wc -c <"$dir/www/blob.bin")" -eq 300000 ]

"$np" serve -u 0 -t 0 -h 0 -d "$dir/www" -T 30 >"$dir/serve.out" 2>&1 &
server=$!
for _ in $(seq 50); do
    [ -s "$dir/serve.out" ] && break
    sleep 0.1
done
ports=$(sed -n 's/^serve: udp echo \([0-9]*\), tcp echo \([0-9]*\), http \([0-9]*\) .*/\2 \3/p' "$dir/serve.out")
check "serve: says which ports it took ($(head -n 1 "$dir/serve.out"))" [ -n "$ports" ]
set -- $ports
tcp=${1:-1} http=${2:-1}

"$np" get -T 10 -o "$dir/got.bin" 127.0.0.1 "$http" blob.bin >"$dir/get.out" 2>&1
check "get: HTTP 200 and the byte count" grep -q '^get: HTTP 200, 300000 bytes' "$dir/get.out"
check "get: the body is the file (SHA-256)" \
    [ "$(sha256sum <"$dir/got.bin" | cut -d' ' -f1)" = "$(sha256sum <"$dir/www/blob.bin" | cut -d' ' -f1)" ]
"$np" get -T 10 127.0.0.1 "$http" missing >"$dir/404.out" 2>&1
check "get: a missing file is a 404" grep -q '^get: HTTP 404, ' "$dir/404.out"
"$np" get -T 10 127.0.0.1 "$http" ../serve.out >"$dir/up.out" 2>&1
check "serve: a path out of the directory is a 404" grep -q '^get: HTTP 404, ' "$dir/up.out"
"$np" call -T 10 127.0.0.1 "$tcp" 'hello from the host' >"$dir/call.out" 2>&1
check "call: the TCP echo sent the line back" grep -q -x 'call: got hello from the host' "$dir/call.out"

: >"$dir/log"
(sleep 1; echo 'guest: listening now' >>"$dir/log") &
"$np" call -w "$dir/log:listening now" -T 10 127.0.0.1 "$tcp" 'after the wait' >"$dir/wait.out" 2>&1
check "call -w: waits for the text, then calls" grep -q -x 'call: got after the wait' "$dir/wait.out"
closed=$("$np" freeport)
"$np" get -T 2 127.0.0.1 "$closed" x >"$dir/closed.out" 2>&1
check "get: a closed port is retried until the deadline, then reported" \
    grep -q '^get: no answer from 127.0.0.1' "$dir/closed.out"
"$np" serve -h 1 >/dev/null 2>"$dir/usage.err"
check "serve: -h without -d is refused with the reason" grep -q 'needs -d DIR' "$dir/usage.err"
echo "1..$n"
