#!/usr/bin/env python3
"""Draws Frugal's app and tray icons (a green coin with a white leaf-like "F") as PNGs into
icons/, with the standard library only (zlib + struct), so no image tool is needed."""
import struct
import sys
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "icons"


def shade(x, y):
    """RGBA of the point (x, y) in the unit square."""
    dx, dy = x - 0.5, y - 0.5
    r2 = dx * dx + dy * dy
    if r2 > 0.25:
        return (0, 0, 0, 0)
    # The "F": a stem and two arms, white on green.
    stem = 0.34 <= x <= 0.46 and 0.22 <= y <= 0.78
    top = 0.34 <= x <= 0.70 and 0.22 <= y <= 0.34
    mid = 0.34 <= x <= 0.62 and 0.46 <= y <= 0.56
    if stem or top or mid:
        return (255, 255, 255, 255)
    ring = r2 > 0.205
    return (22, 120, 72, 255) if ring else (34, 160, 96, 255)


def png(size, path):
    ss = 4  # supersampling for smooth edges
    rows = []
    for py in range(size):
        row = bytearray([0])
        for px in range(size):
            acc = [0, 0, 0, 0]
            for sy in range(ss):
                for sx in range(ss):
                    c = shade((px + (sx + 0.5) / ss) / size, (py + (sy + 0.5) / ss) / size)
                    a = c[3]
                    acc[0] += c[0] * a
                    acc[1] += c[1] * a
                    acc[2] += c[2] * a
                    acc[3] += a
            n = ss * ss
            alpha = acc[3] / n
            if acc[3]:
                row += bytes([round(acc[0] / acc[3]), round(acc[1] / acc[3]), round(acc[2] / acc[3]), round(alpha)])
            else:
                row += bytes([0, 0, 0, 0])
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def main():
    OUT.mkdir(exist_ok=True)
    for name, size in [("32x32.png", 32), ("128x128.png", 128), ("128x128@2x.png", 256), ("icon.png", 512), ("tray.png", 64)]:
        png(size, OUT / name)
        print(OUT / name, file=sys.stderr)


if __name__ == "__main__":
    main()
