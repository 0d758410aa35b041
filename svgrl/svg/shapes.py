"""Basic shapes and <path> → `skia.Path` in local user units."""

from __future__ import annotations

import math
from collections.abc import Callable

import skia

from svgrl.errors import SvgLimitError
from svgrl.svg.parse import ParseLimits
from svgrl.svg.pathdata import parse_path_data
from svgrl.svg.values import parse_length, parse_numbers

LengthFn = Callable[[str | None, float, float, str], float]


def _radii(el, vw: float, vh: float, L, where: str) -> tuple[float | None, float | None]:  # noqa: N803
    """rx, ry of a rect or ellipse: `auto`, absent or negative (an error, SVG 2) take the
    other one's value."""
    rx_s, ry_s = el.get("rx"), el.get("ry")
    rx = L(rx_s, vw, -1.0, where) if rx_s not in (None, "auto") else None
    ry = L(ry_s, vh, -1.0, where) if ry_s not in (None, "auto") else None
    rx = None if rx is not None and rx < 0 else rx
    ry = None if ry is not None and ry < 0 else ry
    return (ry if rx is None else rx), (rx if ry is None else ry)


def shape_path(el, name: str, vp: tuple[float, float], where: str,
               lim: ParseLimits, length: LengthFn | None = None,
               on_error: Callable[[str], None] | None = None) -> skia.Path | None:
    """The outline of a basic shape or <path> in local user units (None: draws nothing).
    Percentages resolve against the viewport `vp` (https://www.w3.org/TR/SVG2/coords.html#Units);
    `length(value, reference, default, where)` resolves lengths (the simplifier's resolves
    relative units and falls back on invalid values; the default raises on them). Given
    `on_error`, malformed path data draws up to the error and `on_error` hears why."""
    vw, vh = vp
    diag = math.hypot(vw, vh) / math.sqrt(2)

    def L(value, ref, default, where):  # noqa: N802 - reads like the spec's <length>
        if length is not None:
            return length(value, ref, default, where)
        return parse_length(value, ref, default, where, lim.max_abs)

    path = skia.Path()
    if name == "path":
        d = el.get("d")
        if not d:
            return None
        return parse_path_data(d, max_length=lim.max_path_length,
                               max_abs=lim.max_abs, where=where + "@d", on_error=on_error)
    if name == "rect":
        x, y = L(el.get("x"), vw, 0, where), L(el.get("y"), vh, 0, where)
        w, h = L(el.get("width"), vw, 0, where), L(el.get("height"), vh, 0, where)
        if w <= 0 or h <= 0:
            return None
        rx, ry = _radii(el, vw, vh, L, where)
        rx, ry = min(max(rx or 0.0, 0.0), w / 2), min(max(ry or 0.0, 0.0), h / 2)
        rect = skia.Rect.MakeXYWH(x, y, w, h)
        if rx > 0 and ry > 0:
            path.addRRect(skia.RRect.MakeRectXY(rect, rx, ry))
        else:
            path.addRect(rect)
    elif name == "circle":
        r = L(el.get("r"), diag, 0, where)
        if r <= 0:
            return None
        path.addCircle(L(el.get("cx"), vw, 0, where), L(el.get("cy"), vh, 0, where), r)
    elif name == "ellipse":
        rx, ry = _radii(el, vw, vh, L, where)
        if not rx or not ry or rx <= 0 or ry <= 0:
            return None
        cx, cy = L(el.get("cx"), vw, 0, where), L(el.get("cy"), vh, 0, where)
        path.addOval(skia.Rect.MakeLTRB(cx - rx, cy - ry, cx + rx, cy + ry))
    elif name == "line":
        path.moveTo(L(el.get("x1"), vw, 0, where), L(el.get("y1"), vh, 0, where))
        path.lineTo(L(el.get("x2"), vw, 0, where), L(el.get("y2"), vh, 0, where))
    else:  # polyline, polygon
        pts_s = el.get("points") or ""
        if len(pts_s) > lim.max_path_length:
            raise SvgLimitError(f"points of {len(pts_s):,} characters exceed the limit",
                                reason="path-length", where=where)
        pts = parse_numbers(pts_s, where, lim.max_abs)
        if len(pts) < 4:
            return None
        path.moveTo(pts[0], pts[1])
        for i in range(2, len(pts) - 1, 2):
            path.lineTo(pts[i], pts[i + 1])
        if name == "polygon":
            path.close()
    return path
