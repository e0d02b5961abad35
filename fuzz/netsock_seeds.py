#!/usr/bin/env python3
"""Writes the seed corpus of the net-socket fuzzer (fuzz/corpus/netsock/):
record streams in the format described at the top of netsock_fuzz.c."""
import os
import struct
import sys

GW_MAC = bytes.fromhex("52550a000202")
GUEST_MAC = bytes.fromhex("525400123456")
GUEST, GW, DNS = 0x0A00020F, 0x0A000202, 0x0A000203


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(ptype, payload):
    return GW_MAC + GUEST_MAC + struct.pack("!H", ptype) + payload


def ip(src, dst, proto, l4, frag=0x4000):
    h = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(l4), 1, frag, 64, proto, 0, src, dst)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return eth(0x0800, h + l4)


def pseudo(src, dst, proto, n):
    return struct.pack("!IIBBH", src, dst, 0, proto, n)


def udp(src, dst, sport, dport, data):
    u = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    c = csum(pseudo(src, dst, 17, len(u)) + u) or 0xFFFF
    return ip(src, dst, 17, u[:6] + struct.pack("!H", c) + u[8:])


def tcp(dst, sport, dport, seq, ack, flags, win=65535, opts=b"", data=b""):
    hl = 20 + len(opts)
    t = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (hl // 4) << 4, flags, win, 0, 0) + opts + data
    c = csum(pseudo(GUEST, dst, 6, len(t)) + t)
    return ip(GUEST, dst, 6, t[:16] + struct.pack("!H", c) + t[18:])


def icmp_echo(dst, ident, seq, data):
    m = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    return ip(GUEST, dst, 1, m[:2] + struct.pack("!H", csum(m)) + m[4:])


def arp_req(target):
    a = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + GUEST_MAC + struct.pack("!I", GUEST) + b"\0" * 6 + struct.pack("!I", target)
    return eth(0x0806, a)


def dhcp(msg_type, req=None):
    b = bytearray(240)
    b[0:3] = b"\x01\x01\x06"
    b[4:8] = b"\x11\x22\x33\x44"
    b[28:34] = GUEST_MAC
    b[236:240] = b"\x63\x82\x53\x63"
    b += bytes([53, 1, msg_type])
    if req:
        b += bytes([50, 4]) + struct.pack("!I", req) + bytes([54, 4]) + struct.pack("!I", GW)
    b += b"\xff"
    return udp(0, 0xFFFFFFFF, 68, 67, bytes(b))


def rec(op, payload=b""):
    return bytes([op]) + struct.pack("!H", len(payload)) + payload


SYN_OPTS = bytes([2, 4, 0x05, 0xB4, 1, 3, 3, 7])
DNS_Q = bytes.fromhex("abcd01000001000000000000") + b"\x06lilyvm\x00\x00\x01\x00\x01"

seeds = {
    "arp": rec(0, arp_req(GW)) + rec(0, arp_req(DNS)),
    "dhcp": rec(0, dhcp(1)) + rec(0, dhcp(3, GUEST)),
    "ping": rec(0, icmp_echo(GW, 7, 1, b"ping")) + rec(0, icmp_echo(0x01020304, 8, 1, b"x")),
    "udp": rec(0, udp(GUEST, GW, 40000, 7, b"hi")) + rec(2, b"\x02reply") + rec(1, b"\0" * 200),
    "dns": rec(0, udp(GUEST, DNS, 33333, 53, DNS_Q)) + rec(2, b"\x02" + DNS_Q) + rec(1, b"\0" * 100),
    "tcp-out": rec(0, tcp(GW, 41000, 80, 1000, 0, 0x02, opts=SYN_OPTS)) + rec(3, b"\x02\x04\x00")
    + rec(0, tcp(GW, 41000, 80, 1001, 1, 0x10)) + rec(2, b"\x02hello from host")
    + rec(0, tcp(GW, 41000, 80, 1001, 1, 0x18, data=b"hello")) + rec(4, b"\x02")
    + rec(0, tcp(GW, 41000, 80, 1006, 1, 0x11)) + rec(1, b"\0" * 30),
    "tcp-refused": rec(0, tcp(GW, 41001, 81, 5000, 0, 0x02, opts=SYN_OPTS)) + rec(3, b"\x02\x0c\x02"),
    "tcp-fwd": rec(0, arp_req(GW)) + rec(5, b"\x00") + rec(0, tcp(GW, 80, 40000, 7000, 1, 0x12, opts=SYN_OPTS))
    + rec(2, b"\x02GET /") + rec(1, b"\0" * 50),
    # Established through op 7 (answers built from the core's last segment).
    "tcp-est": rec(0, tcp(GW, 41002, 80, 1000, 0, 0x02, opts=SYN_OPTS)) + rec(3, b"\x02\x04\x00")
    + rec(7, b"\x10\x10\x00") + rec(2, b"\x02" + b"h" * 3000) + rec(7, b"\x18\x10\x00data from guest")
    + rec(7, b"\x10\x00\x00") + rec(1, b"\0" * 40) + rec(7, b"\x10\x40\x00") + rec(4, b"\x02")
    + rec(7, b"\x10\x40\x00") + rec(7, b"\x11\x40\x00") + rec(1, b"\0" * 250),
    "tcp-fwd-est": rec(0, arp_req(GW)) + rec(5, b"\x00") + rec(7, b"\x12\x20\x00")
    + rec(2, b"\x02GET / HTTP/1.0\r\n\r\n") + rec(7, b"\x18\x20\x00HTTP/1.0 200 OK\r\n")
    + rec(7, b"\x04\x00\x00"),
    "malformed": rec(0, b"\0" * 10) + rec(0, ip(GUEST, GW, 17, b"\0" * 12, frag=0x2000))
    + rec(0, ip(GUEST, GW, 6, b"\0" * 24)) + rec(0, eth(0x0800, b"\x45" + b"\0" * 30)),
}

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "netsock")
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
