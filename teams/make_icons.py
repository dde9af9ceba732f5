"""Draws Starling's two Teams icons (a small murmuration of birds) as PNG files, with the standard library.

uv run python teams/make_icons.py      # writes teams/color.png (192x192) and teams/outline.png (32x32)
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCENT = (0x1F, 0x5F, 0x8B)
WHITE = (255, 255, 255)

# Birds as chevrons in a 1x1 square: (centre x, centre y, half width); a flock rising to the right.
BIRDS = [(0.30, 0.66, 0.17), (0.55, 0.50, 0.13), (0.74, 0.33, 0.10), (0.43, 0.34, 0.08), (0.70, 0.70, 0.07)]


def _in_bird(x: float, y: float, cx: float, cy: float, w: float) -> bool:
    """A 'v' with a stroke: two wings meeting at the centre, slightly curved down at the tips."""
    dx = abs(x - cx)
    if dx > w:
        return False
    wing_y = cy - 1.3 * dx + 1.0 * dx * dx / w
    stroke = 0.22 * w + 0.02
    return wing_y - stroke / 2 <= y <= wing_y + stroke / 2


def _coverage(px: int, py: int, size: int, samples: int = 4) -> float:
    hits = 0
    for sy in range(samples):
        for sx in range(samples):
            x = (px + (sx + 0.5) / samples) / size
            y = (py + (sy + 0.5) / samples) / size
            if any(_in_bird(x, y, *b) for b in BIRDS):
                hits += 1
    return hits / (samples * samples)


def png(width: int, height: int, rgba: list[tuple[int, int, int, int]]) -> bytes:
    """An 8-bit RGBA PNG (filter 0 on every row)."""
    raw = b"".join(
        b"\x00" + b"".join(struct.pack("4B", *rgba[y * width + x]) for x in range(width)) for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def color_icon(size: int = 192) -> bytes:
    pixels = []
    for y in range(size):
        for x in range(size):
            c = _coverage(x, y, size)
            rgb = tuple(round(a + (b - a) * c) for a, b in zip(ACCENT, WHITE, strict=True))
            pixels.append((*rgb, 255))
    return png(size, size, pixels)  # type: ignore[arg-type]


def outline_icon(size: int = 32) -> bytes:
    """White on transparent, as Teams requires for the outline icon."""
    pixels = [(*WHITE, round(255 * _coverage(x, y, size, samples=6))) for y in range(size) for x in range(size)]
    return png(size, size, pixels)


if __name__ == "__main__":
    (HERE / "color.png").write_bytes(color_icon())
    (HERE / "outline.png").write_bytes(outline_icon())
