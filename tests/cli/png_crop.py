#!/usr/bin/env python3
"""png_crop.py - cut a rectangle out of an 8-bit RGB PNG, with numpy and zlib
only (Debian's python3: no PIL, no torch), for the command-line tests.

    png_crop.py IN.png OUT.png TOP LEFT HEIGHT WIDTH

Reads non-interlaced 8-bit RGB (colour type 2) PNGs such as CBSD68; writes an
8-bit RGB PNG of the [HEIGHT, WIDTH, 3] crop (filter type 0 on every row)."""
import struct
import sys
import zlib

import numpy as np


def chunks(data):
    pos = 8
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        yield kind, data[pos + 8:pos + 8 + n]
        pos += 12 + n


def read_rgb8(path, rows):
    """The first `rows` rows [rows, W, 3] uint8 of a non-interlaced 8-bit RGB PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG")
    idat = b""
    for kind, body in chunks(data):
        if kind == b"IHDR":
            w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or color != 2 or interlace != 0:
                sys.exit(f"{path}: only 8-bit non-interlaced RGB is supported")
        elif kind == b"IDAT":
            idat += body
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + 3 * w)  # filter byte + row
    h = min(h, rows)
    out = np.zeros((h, 3 * w), np.int32)
    prev = np.zeros(3 * w, np.int32)
    for y in range(h):  # undo the per-row filters (PNG spec section 9)
        ftype, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if ftype == 0:
            cur = line
        elif ftype == 2:
            cur = (line + prev) & 255
        else:  # Sub, Average, Paeth depend on the pixel to the left: one byte at a time
            cur = np.zeros(3 * w, np.int32)
            for x in range(3 * w):
                a = cur[x - 3] if x >= 3 else 0
                b, c = prev[x], (prev[x - 3] if x >= 3 else 0)
                if ftype == 1:
                    pred = a
                elif ftype == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (line[x] + pred) & 255
        out[y], prev = cur, cur
    return out.reshape(h, w, 3).astype(np.uint8)


def write_rgb8(path, img):
    h, w, _ = img.shape
    rows = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    open(path, "wb").write(png)


def main():
    src, dst, top, left, height, width = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
    img = read_rgb8(src, top + height)
    crop = img[top:top + height, left:left + width]
    if crop.shape[:2] != (height, width):
        sys.exit(f"{src}: crop outside the image")
    write_rgb8(dst, np.ascontiguousarray(crop))


if __name__ == "__main__":
    main()
