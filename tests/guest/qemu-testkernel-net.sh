#!/bin/sh
# Boots the plain test kernel with an NE2000 on QEMU user networking and
# only=/net: loopback UDP and TCP echo peers on the host, and the host's end
# of /net/tcp-accept (through hostfwd once the guest says it listens).
# Re-emits the guest's TAP, then adds the host side's own checks.
. "$(dirname "$0")/qemu-lib.sh"

qemu_find
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3 || true)
if [ -z "$py" ]; then
    echo "1..0 # SKIP python3 is needed for the host's echo peers"
    exit 0
fi
mkdir -p "$logdir"
log=$logdir/testkernel-net-qemu.log
peerdir=$logdir/testkernel-net-peer
rm -rf "$peerdir"
mkdir -p "$peerdir"
: >"$log"

# The host peers: UDP and TCP echo on 127.0.0.1 (ports written to files),
# and a watcher that connects to the forwarded port once the guest listens.
# They stop by themselves after the deadline.
"$py" - "$peerdir" "$log" "$QEMU_DEADLINE" <<'PY' &
import os, socket, sys, threading, time
d, log, deadline = sys.argv[1], sys.argv[2], float(sys.argv[3])
end = time.monotonic() + deadline + 5

def put(name, text):
    with open(os.path.join(d, name + ".tmp"), "w") as f:
        f.write(text)
    os.rename(os.path.join(d, name + ".tmp"), os.path.join(d, name))

u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
t = socket.socket()
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("127.0.0.1", 0))
t.listen(4)
f = socket.socket()
f.bind(("127.0.0.1", 0))
fwd = f.getsockname()[1]
f.close()

def udp_echo():
    u.settimeout(1)
    while time.monotonic() < end:
        try:
            data, peer = u.recvfrom(2048)
        except socket.timeout:
            continue
        u.sendto(data, peer)

def tcp_echo_one(c):
    c.settimeout(5)
    try:
        while True:
            data = c.recv(2048)
            if not data:
                break
            c.sendall(data)
    except OSError:
        pass
    c.close()

def tcp_echo():
    t.settimeout(1)
    while time.monotonic() < end:
        try:
            c, _ = t.accept()
        except socket.timeout:
            continue
        threading.Thread(target=tcp_echo_one, args=(c,), daemon=True).start()

def accept_side():
    # Wait for the guest's "# net: listening on 80", then call it once.
    while time.monotonic() < end:
        try:
            with open(log, "rb") as fh:
                if b"# net: listening on 80" in fh.read():
                    break
        except OSError:
            pass
        time.sleep(0.2)
    else:
        put("accept", "the guest never said it was listening\n")
        return
    line = b"hello from the host\n"
    try:
        c = socket.create_connection(("127.0.0.1", fwd), timeout=10)
        c.sendall(line)
        got = b""
        while not got.endswith(b"\n"):
            data = c.recv(1024)
            if not data:
                break
            got += data
        c.close()
    except OSError as e:
        put("accept", "connection through hostfwd failed: %s\n" % e)
        return
    want = b"lilyvm: " + line
    put("accept", "ok\n" if got == want else "got %r, expected %r\n" % (got, want))

for fn in (udp_echo, tcp_echo, accept_side):
    threading.Thread(target=fn, daemon=True).start()
put("ports", "%d %d %d\n" % (u.getsockname()[1], t.getsockname()[1], fwd))
while time.monotonic() < end and not os.path.exists(os.path.join(d, "accept")):
    time.sleep(0.2)
time.sleep(1)
PY
peer=$!

for i in $(seq 50); do
    [ -f "$peerdir/ports" ] && break
    sleep 0.1
done
if [ ! -f "$peerdir/ports" ]; then
    kill "$peer" 2>/dev/null
    echo "1..1"
    echo "not ok 1 - host echo peers started (python3 wrote no ports)"
    exit 0
fi
read -r udpport tcpport fwdport <"$peerdir/ports"
echo "# host peers: udp echo 127.0.0.1:$udpport, tcp echo 127.0.0.1:$tcpport, hostfwd 127.0.0.1:$fwdport -> guest :80"

qemu_boot "$top/build/guest/testkernel.elf" "$log" -m 32 \
    -append "only=/net udpecho=$udpport tcpecho=$tcpport" \
    -device ne2k_isa,netdev=n0,iobase=0x300,irq=9 \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$fwdport-:80"
for i in $(seq 30); do
    [ -f "$peerdir/accept" ] && break
    sleep 0.1
done
kill "$peer" 2>/dev/null
wait "$peer" 2>/dev/null

out=$(relay_tap "$log")
printf '%s\n' "$out"
n=$(printf '%s\n' "$out" | grep -c -E '^(not )?ok ')
# No /net test may be skipped here: the card, the peers and the ports are given.
n=$((n + 1))
skipped=$(results "$log" | grep -E ' - /net/' | grep -c '# SKIP' || true)
if [ "$skipped" -eq 0 ] && results "$log" | grep -q -E ' - /net/tcp-accept'; then
    echo "ok $n - every /net test ran (none skipped)"
else
    echo "not ok $n - every /net test ran ($skipped skipped)"
fi
n=$((n + 1))
accept=$(cat "$peerdir/accept" 2>/dev/null || echo "no result from the host side")
if [ "$accept" = ok ]; then
    echo "ok $n - host called the guest through hostfwd and got its answer"
else
    echo "not ok $n - host called the guest through hostfwd and got its answer"
    echo "# host side: $accept"
fi
echo "1..$n"
