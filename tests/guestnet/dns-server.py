#!/usr/bin/env python3
"""A tiny DNS server for the guestnet tests: answers A queries for the names
given as NAME=ADDRESS on the command line (NXDOMAIN otherwise), on
127.0.0.1:PORT over UDP, until killed or for at most SECONDS; prints
"ready" once it listens.  Usage: dns-server.py PORT SECONDS NAME=ADDR..."""
import socket
import struct
import sys
import time


def main():
    port = int(sys.argv[1])
    seconds = float(sys.argv[2])
    names = {}
    for arg in sys.argv[3:]:
        name, addr = arg.split("=", 1)
        names[name.lower().rstrip(".")] = socket.inet_aton(addr)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    print("ready", flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sock.settimeout(max(0.1, end - time.monotonic()))
        try:
            query, peer = sock.recvfrom(512)
        except socket.timeout:
            continue
        if len(query) < 12:
            continue
        qid, flags, qd = struct.unpack(">HHH", query[:6])
        labels, o = [], 12
        while o < len(query) and query[o] != 0:
            n = query[o]
            labels.append(query[o + 1:o + 1 + n].decode("ascii", "replace"))
            o += 1 + n
        question = query[12:o + 5]
        name = ".".join(labels).lower()
        addr = names.get(name)
        rcode = 0 if addr else 3
        head = struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, 1 if addr else 0, 0, 0)
        answer = b""
        if addr:
            answer = struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + addr
        sock.sendto(head + question + answer, peer)


main()
