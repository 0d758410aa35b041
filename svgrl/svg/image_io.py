"""PNG in and out through skia (already a dependency; no Pillow needed).

Decoding is guarded against decompression bombs: a 50,000 × 50,000 px PNG is a few hundred
bytes of compressed zeros but 10 GB of pixels. `image_size` reads the dimensions from the
header (skia's codec parses it without decoding pixels) and `decode_png` refuses anything
over a pixel budget before allocating.
"""

from __future__ import annotations

import numpy as np
import skia

from svgrl.errors import SvgLimitError, SvgValueError

# 4096² px: an (H, W, 4) float32 working copy of that is 268 MB, the most one image may cost.
MAX_PIXELS = 4096 * 4096


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from an encoded image's header, without decoding its pixels."""
    try:
        codec = skia.Codec.MakeFromData(data) if data else None
    except RuntimeError:  # skia-python raises where the C++ API returns null
        codec = None
    if codec is None:
        raise SvgValueError("cannot decode image data (not a PNG, JPEG, GIF, WebP or BMP)",
                            reason="image")
    d = codec.dimensions()
    return int(d.width()), int(d.height())


def check_image(data: bytes, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """`image_size`, refused with `SvgLimitError` (reason ``image-size``) when width ×
    height exceeds `max_pixels`: the one check every reader of encoded images calls."""
    w, h = image_size(data)
    if w * h > max_pixels:
        raise SvgLimitError(f"image of {w}×{h} px exceeds the budget of {max_pixels:,} pixels "
                            "(refused from its header, before decoding)", reason="image-size")
    return w, h


def decode_png(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """PNG (or any skia-decodable image) bytes → (H, W, 3) uint8, composited on white.
    Raises `SvgLimitError` from the header alone when width × height exceeds `max_pixels`."""
    check_image(data, max_pixels)
    img = skia.Image.MakeFromEncoded(data)
    if img is None:
        raise SvgValueError("cannot decode image data", reason="image")
    rgba = img.convert(colorType=skia.kRGBA_8888_ColorType, alphaType=skia.kUnpremul_AlphaType)
    arr = np.asarray(rgba.toarray(), dtype=np.float32)
    a = arr[..., 3:4] / 255.0
    return np.round(arr[..., :3] * a + 255.0 * (1 - a)).astype(np.uint8)


def encode_png(rgb: np.ndarray) -> bytes:
    """(H, W, 3) uint8 → PNG bytes."""
    h, w = rgb.shape[:2]
    rgba = np.concatenate([rgb, np.full((h, w, 1), 255, np.uint8)], axis=2)
    img = skia.Image.fromarray(np.ascontiguousarray(rgba), colorType=skia.kRGBA_8888_ColorType)
    return bytes(img.encodeToData(skia.EncodedImageFormat.kPNG, 100))


MAX_IMAGE_BYTES = 64 << 20


def read_png(path: str, max_bytes: int = MAX_IMAGE_BYTES) -> np.ndarray:
    """`decode_png` of a file, read only up to `max_bytes` (a larger file is refused)."""
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise SvgLimitError(f"image file {path!r} is larger than {max_bytes:,} bytes",
                            reason="file-size")
    return decode_png(data)


def is_svg(data: bytes) -> bool:
    """SVG text (markup that opens an ``<svg`` element early), as opposed to a raster image
    (PNG, JPEG, ... start with binary magic numbers, never ``<``)."""
    return data[:512].lstrip().startswith(b"<") and b"<svg" in data[:4096].lower()


def load_image(data: bytes, *, max_pixels: int = MAX_PIXELS, svg_size: int = 200) -> np.ndarray:
    """An input image from bytes → (H, W, 3) uint8: SVG through the hardened parser
    (`svgrl.svg.parse` limits: no entities, DTD or network, bounded size, elements, `use`
    expansion) rendered at `svg_size`, or a raster image checked against `max_pixels` from
    its header before decoding. Bytes only: never a path, so nothing here reads a file."""
    if is_svg(data):
        from svgrl.svg.load import load_drawing
        from svgrl.svg.render import render

        return render(load_drawing(bytes(data)), svg_size)
    return decode_png(data, max_pixels)
