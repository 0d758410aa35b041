"""One call from SVG source to a normalised (and optionally quantised) `Drawing`."""

from __future__ import annotations

import functools
import os
from pathlib import Path as FsPath

from svgrl.errors import SvgError, SvgLimitError
from svgrl.svg.drawing import Drawing
from svgrl.svg.normalise import DEFAULT_GRID, DEFAULT_SIZE, quantize
from svgrl.svg.parse import read_xml
from svgrl.svg.simplify import SimplifyOptions, SimplifyResult, simplify_tree


def read_source(src: str | bytes | os.PathLike, max_bytes: int) -> tuple[bytes, str]:
    """(bytes, where) for a path, SVG text or bytes; refuses oversize files before reading."""
    if isinstance(src, bytes):
        return src, "<bytes>"
    if isinstance(src, os.PathLike) or (isinstance(src, str) and "<" not in src):
        path = FsPath(src)
        try:
            n = path.stat().st_size
            if n > max_bytes:
                raise SvgLimitError(f"file of {n:,} bytes exceeds the limit of {max_bytes:,}",
                                    reason="file-size", where=str(path))
            return path.read_bytes(), str(path)
        except OSError as e:
            raise SvgError(f"cannot read {str(path)!r}: {e.strerror}", reason="io",
                           where=str(path)) from None
    return src.encode("utf-8"), "<text>"


@functools.lru_cache(maxsize=16)
def _default_options(size: float, for_grid: bool = True) -> SimplifyOptions:
    """The default options at `size`, built once (frozen: safe to share; building them
    with their limits costs a few µs per file)."""
    return SimplifyOptions(output_size=size, for_grid=for_grid)


def simplify_svg(src: str | bytes | os.PathLike, options: SimplifyOptions | None = None,
                 size: float = DEFAULT_SIZE, for_grid: bool = True) -> SimplifyResult:
    """Parse and simplify; the drawing is normalised into size × size (float coordinates),
    its curves shaped for a token grid unless `for_grid` is False (when no `options`)."""
    opt = options or _default_options(size, for_grid)
    data, where = read_source(src, opt.limits.max_bytes)
    return simplify_tree(read_xml(data, opt.limits, where), opt, where)


def load_drawing(src: str | bytes | os.PathLike, *, grid: int | None = DEFAULT_GRID,
                 options: SimplifyOptions | None = None, gradients: bool = False) -> Drawing:
    """SVG file/text/bytes → normalised Drawing, quantised onto the grid when grid > 0
    (else in float form, `SimplifyOptions.for_grid` off); `gradients` keeps gradient paint
    (when no `options` are given)."""
    if options is None and gradients:
        options = SimplifyOptions(gradients=True, for_grid=bool(grid))
    d = simplify_svg(src, options, for_grid=bool(grid)).drawing
    return quantize(d, grid) if grid else d
