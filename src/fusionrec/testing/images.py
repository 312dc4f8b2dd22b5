"""Huge but tiny image files for memory tests: PNGs written row by row, never held in memory.

A 13000x13000 RGBA PNG of one colour compresses to under 1 MB, yet decoding
it naively takes 676 MB; these files are what a decompression-bomb-style
upload looks like, made without the memory they are meant to test.

Example:
    >>> write_flat_png(tmp_path / "big.png", 13000, 13000, "RGBA")  # doctest: +SKIP
    681045
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

_COLOUR_TYPES = {"L": (0, 1), "RGB": (2, 3), "RGBA": (6, 4)}  # mode -> (PNG colour type, bytes per pixel)


def write_flat_png(path: Path, width: int, height: int, mode: str = "RGBA", value: int = 128) -> int:
    """Write a ``width`` x ``height`` PNG of one colour (8 bits per channel), streaming; returns its size in bytes.

    Args:
        path: the file to write.
        width: pixels per row.
        height: rows.
        mode: ``L``, ``RGB`` or ``RGBA``.
        value: every channel's value.
    """
    if mode not in _COLOUR_TYPES:
        raise ValueError(f"mode {mode!r} is not supported; use one of {sorted(_COLOUR_TYPES)}")
    colour_type, channels = _COLOUR_TYPES[mode]
    row = b"\x00" + bytes([value]) * (width * channels)  # filter byte 0, then the pixels
    compressor = zlib.compressobj(9)
    with path.open("wb") as file:
        file.write(b"\x89PNG\r\n\x1a\n")
        file.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)))
        for _ in range(height):
            data = compressor.compress(row)
            if data:
                file.write(_chunk(b"IDAT", data))
        file.write(_chunk(b"IDAT", compressor.flush()))
        file.write(_chunk(b"IEND", b""))
    return path.stat().st_size


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


__all__ = ["write_flat_png"]
