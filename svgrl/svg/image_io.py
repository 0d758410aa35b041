"""PNG in and out through skia (already a dependency; no Pillow needed)."""

from __future__ import annotations

import numpy as np
import skia

from svgrl.errors import SvgValueError


def decode_png(data: bytes) -> np.ndarray:
    """PNG (or any skia-decodable image) bytes → (H, W, 3) uint8, composited on white."""
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


def read_png(path: str) -> np.ndarray:
    with open(path, "rb") as f:
        return decode_png(f.read())
