"""Image input: dimensions read from the header, bombs refused before decoding, SVG through
the hardened parser, garbage a typed error."""

from __future__ import annotations

import struct
import time
import tracemalloc
import zlib

import numpy as np
import pytest

from svgrl.errors import SvgLimitError, SvgUnsafeError, SvgValueError
from svgrl.svg.image_io import decode_png, encode_png, image_size, is_svg, load_image


def png_header(w: int, h: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + chunk(b"IEND", b""))


def test_header_dimensions_and_bomb_refused_before_decoding():
    assert image_size(png_header(50_000, 40_000)) == (50_000, 40_000)
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(SvgLimitError, match="50000×50000 px"):
        decode_png(png_header(50_000, 50_000))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert time.perf_counter() - t0 < 1.0 and peak < 1 << 20  # nothing was decoded
    with pytest.raises(SvgLimitError):
        decode_png(encode_png(np.zeros((40, 40, 3), np.uint8)), max_pixels=1000)


def test_round_trip_svg_and_garbage():
    img = np.zeros((30, 20, 3), np.uint8)
    img[:, 10:] = 255
    assert (decode_png(encode_png(img)) == img).all()
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><path d="M0 0h5v5z"/></svg>'
    assert is_svg(svg) and not is_svg(encode_png(img))
    out = load_image(svg)
    assert out.shape == (200, 200, 3) and out.min() == 0 and out.max() == 255
    with pytest.raises(SvgUnsafeError):
        load_image(b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "b">]>'
                   b'<svg xmlns="http://www.w3.org/2000/svg">&a;</svg>')
    for junk in (b"", b"not an image", b"\x89PNG\r\n\x1a\n truncated"):
        with pytest.raises(SvgValueError, match="cannot decode"):
            load_image(junk)
