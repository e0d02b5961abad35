#!/usr/bin/env python3
"""Writes the seed corpus of fuzz/ne2000_fuzz.c (fuzz/corpus/ne2000/): short
programs that drive the DP8390 the way an NE2000 driver does, so the fuzzer
starts from the interesting states (started chip, ring set up, frames in it).
Run from the top of the tree: python3 fuzz/ne2000_seeds.py"""
import os
import struct

OUT = "fuzz/corpus/ne2000"
MAC = bytes([0x52, 0x54, 0x00, 0x12, 0x34, 0x56])


def wr(reg, val):
    return bytes([0x00 | reg << 4, val])


def rd(reg):
    return bytes([0x01 | reg << 4])


def page(n):
    return bytes([0x09 | n << 4])


def dma(addr, count, cmd):
    return (page(0) + wr(0xA, count & 0xFF) + wr(0xB, count >> 8)
            + wr(0x8, addr & 0xFF) + wr(0x9, addr >> 8) + wr(0x0, cmd | 0x02))


def rep_write(size_code, data, unit):
    count = len(data) // unit
    return bytes([0x05 | size_code << 4]) + struct.pack("<H", count) + data


def rep_read(size_code, count):
    return bytes([0x04 | size_code << 4]) + struct.pack("<H", count)


def frame(dst, length, fill):
    body = dst + bytes([2, 0, 0, 0, 0, 1, 0x08, 0x00])
    body += bytes([fill]) * (length - len(body))
    return bytes([0x06]) + struct.pack("<H", length) + body


def init(rcr=0x04):
    s = wr(0, 0x21) + wr(0xE, 0x49) + wr(0xA, 0) + wr(0xB, 0) + wr(0xC, 0x20)
    s += wr(0xD, 0x02) + wr(0x4, 0x40) + wr(0x1, 0x46) + wr(0x3, 0x7F)
    s += wr(0x2, 0x80) + wr(0x7, 0xFF) + wr(0xF, 0) + wr(0, 0x61)
    for i, b in enumerate(MAC):
        s += wr(1 + i, b)
    s += wr(7, 0x46) + wr(0, 0x21) + wr(0x7, 0xFF) + wr(0xF, 0x3F)
    s += wr(0, 0x22) + wr(0xD, 0) + wr(0xC, rcr)
    return s


def prom_probe():
    return (bytes([0x07]) + wr(0xE, 0x48) + wr(0xA, 32) + wr(0xB, 0)
            + wr(0x8, 0) + wr(0x9, 0) + wr(0, 0x0A) + rep_read(0, 32))


def transmit(length):
    data = MAC + bytes(range(length - 6))
    data += b"\0" * (length & 1)
    s = wr(0x7, 0x40) + dma(0x4000, len(data), 0x10) + rep_write(1, data, 2)
    return s + wr(0x5, length & 0xFF) + wr(0x6, length >> 8) + wr(0, 0x26)


def drain():
    # header read at the ring start, then the frame body
    return dma(0x4600, 4, 0x08) + rep_read(1, 2) + dma(0x4604, 100, 0x08) + rep_read(1, 50)


SEEDS = {
    "probe": prom_probe(),
    "init": init(),
    "init-tx": init() + transmit(60),
    "init-tx-loopback": init() + wr(0xD, 0x02) + transmit(98),
    "init-rx-drain": init() + frame(MAC, 100, 0xAA) + drain() + wr(0x3, 0x46),
    "rx-wrap": init() + page(1) + wr(7, 0x7E) + page(0) + wr(0x3, 0x7D)
    + frame(MAC, 700, 0x55) + dma(0x7E00, 704, 0x08) + rep_read(1, 352),
    "rx-fill": init() + bytes([0x08 | 15 << 4]) * 12 + rd(0x7) + rd(0xF),
    "multicast": init(0x0C) + page(1) + wr(0xB, 0x80) + page(0)
    + frame(bytes([1, 0, 0x5E, 0, 0, 1]), 60, 1) + frame(b"\xff" * 6, 60, 2),
    "send-packet": init() + wr(0x3, 0x46) + frame(MAC, 80, 3) + wr(0, 0x1A) + rep_read(1, 42),
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
