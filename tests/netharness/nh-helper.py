#!/usr/bin/env python3
"""Small network helpers for the lily-netns tests: an ICMP echo client, an
upload sink that answers with the SHA-256 of what it received, a fake DNS
resolver, a DHCP client and a port waiter.  Loopback and namespace addresses only."""

import fcntl
import hashlib
import http.server
import os
import socket
import socketserver
import struct
import sys
import time


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ping(addr, count):
    """Send count echo requests over a raw socket; exit 0 if all came back."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.settimeout(2.0)
    ident = os.getpid() & 0xFFFF
    got = 0
    for seq in range(1, count + 1):
        payload = b"lilyvm-ping-%04d" % seq
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        pkt = struct.pack("!BBHHH", 8, 0, checksum(hdr + payload), ident, seq) + payload
        t0 = time.monotonic()
        sock.sendto(pkt, (addr, 0))
        deadline = t0 + 2.0
        while time.monotonic() < deadline:
            try:
                data, peer = sock.recvfrom(2048)
            except socket.timeout:
                break
            ihl = (data[0] & 15) * 4
            typ, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if typ == 0 and rid == ident and rseq == seq and data[ihl + 8:] == payload:
                got += 1
                print("reply from %s seq=%d time=%.3f ms"
                      % (peer[0], seq, (time.monotonic() - t0) * 1000))
                break
    print("%d/%d replies" % (got, count))
    return 0 if got == count else 1


class UploadHandler(http.server.BaseHTTPRequestHandler):
    """PUT or POST: reply with the SHA-256 and length of the body."""

    def do_PUT(self):
        length = int(self.headers.get("Content-Length", "0"))
        h = hashlib.sha256()
        left = length
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
        body = ("%s %d\n" % (h.hexdigest(), length - left)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT

    def log_message(self, *args):
        pass


class ThreadingHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def upload_server(host, port):
    ThreadingHTTPServer((host, int(port)), UploadHandler).serve_forever()
    return 0


def dns_server(host, port, answer):
    """Answer every A query with answer; anything else gets an empty reply."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, int(port)))
    addr = socket.inet_aton(answer)
    while True:
        q, peer = sock.recvfrom(4096)
        if len(q) < 12:
            continue
        qid, flags, qd = struct.unpack("!HHH", q[:6])
        # Walk the question name to find its end.
        i = 12
        while i < len(q) and q[i] != 0:
            i += 1 + q[i]
        if i + 5 > len(q) or qd != 1:
            continue
        question = q[12:i + 5]
        qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
        rd = flags & 0x0100
        if qtype == 1:
            hdr = struct.pack("!HHHHHH", qid, 0x8080 | rd, 1, 1, 0, 0)
            ans = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + addr
        else:
            hdr = struct.pack("!HHHHHH", qid, 0x8080 | rd, 1, 0, 0, 0)
            ans = b""
        sock.sendto(hdr + question + ans, peer)


def dhcp_packet(xid, mac, msg_type, extra=b""):
    hdr = struct.pack("!BBBBIHHIIII", 1, 1, 6, 0, xid, 0, 0x8000, 0, 0, 0, 0)
    opts = b"\x63\x82\x53\x63" + bytes([53, 1, msg_type]) + extra
    opts += bytes([55, 4, 1, 3, 6, 26]) + b"\xff"
    return hdr + mac + b"\0" * 10 + b"\0" * 192 + opts


def dhcp_options(data):
    opts, i = {}, 240
    while i < len(data) and data[i] != 255:
        if data[i] == 0:
            i += 1
            continue
        opts[data[i]] = data[i + 2:i + 2 + data[i + 1]]
        i += 2 + data[i + 1]
    return opts


def dhcp(ifname):
    """DISCOVER, OFFER, REQUEST, ACK on ifname; print what the lease says."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ifreq = fcntl.ioctl(sock.fileno(), 0x8927,  # SIOCGIFHWADDR
                        struct.pack("16s16s", ifname.encode(), b""))
    mac = ifreq[18:24]
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
    sock.bind(("0.0.0.0", 68))
    sock.settimeout(3.0)
    xid = int.from_bytes(os.urandom(4), "big")

    def exchange(pkt, want):
        for _ in range(3):
            sock.sendto(pkt, ("255.255.255.255", 67))
            try:
                while True:
                    data = sock.recv(4096)
                    if len(data) < 240 or data[0] != 2:
                        continue
                    if struct.unpack("!I", data[4:8])[0] != xid:
                        continue
                    opts = dhcp_options(data)
                    if opts.get(53) == bytes([want]):
                        return data, opts
            except socket.timeout:
                pass
        raise SystemExit("no DHCP message type %d after 3 tries" % want)

    offer, opts = exchange(dhcp_packet(xid, mac, 1), 2)
    yiaddr = offer[16:20]
    server = opts.get(54, b"")
    extra = bytes([50, 4]) + yiaddr + (bytes([54, 4]) + server if server else b"")
    ack, opts = exchange(dhcp_packet(xid, mac, 3, extra), 5)
    ntoa = socket.inet_ntoa
    print("address", ntoa(ack[16:20]))
    for code, name in ((1, "netmask"), (3, "router"), (6, "dns")):
        if code in opts:
            print(name, ntoa(opts[code][:4]))
    if 26 in opts:
        print("mtu", struct.unpack("!H", opts[26])[0])
    return 0


def wait_port(host, port, timeout):
    deadline = time.monotonic() + float(timeout)
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return 0
        except OSError:
            time.sleep(0.05)
    print("nothing listens on %s:%s after %ss" % (host, port, timeout), file=sys.stderr)
    return 1


def main(argv):
    cmds = {
        "ping": lambda a: ping(a[0], int(a[1])),
        "upload-server": lambda a: upload_server(a[0], a[1]),
        "dns-server": lambda a: dns_server(a[0], a[1], a[2]),
        "wait-port": lambda a: wait_port(a[0], a[1], a[2]),
        "dhcp": lambda a: dhcp(a[0]),
    }
    if len(argv) < 2 or argv[1] not in cmds:
        print("usage: nh-helper.py ping ADDR N | upload-server HOST PORT | "
              "dns-server HOST PORT ANSWER | wait-port HOST PORT SECONDS | "
              "dhcp IFNAME", file=sys.stderr)
        return 2
    return cmds[argv[1]](argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
