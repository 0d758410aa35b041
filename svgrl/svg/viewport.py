"""Viewports: the viewBox → viewport map and the root canvas size."""

from __future__ import annotations

from svgrl.errors import SvgValueError
from svgrl.svg.parse import ParseLimits
from svgrl.svg.values import IDENTITY, Affine, parse_length, parse_numbers


def viewport_transform(viewbox: list[float] | None, width: float, height: float,
                       par: str | None) -> Affine:
    """The viewBox → viewport map of https://www.w3.org/TR/SVG11/coords.html#PreserveAspectRatioAttribute."""
    if not viewbox:
        return IDENTITY
    vx, vy, vw, vh = viewbox
    sx, sy = width / vw, height / vh
    parts = (par or "xMidYMid meet").split()
    align = parts[0] if parts else "xMidYMid"
    if align == "defer" and len(parts) > 1:
        parts = parts[1:]
        align = parts[0]
    if align == "none":
        return (sx, 0.0, 0.0, sy, -vx * sx, -vy * sy)
    s = max(sx, sy) if len(parts) > 1 and parts[1] == "slice" else min(sx, sy)
    tx, ty = -vx * s, -vy * s
    if "xMid" in align:
        tx += (width - vw * s) / 2
    elif "xMax" in align:
        tx += width - vw * s
    if "YMid" in align:
        ty += (height - vh * s) / 2
    elif "YMax" in align:
        ty += height - vh * s
    return (s, 0.0, 0.0, s, tx, ty)


def root_viewport(root, limits: ParseLimits, where: str = ""):
    """(width, height, viewBox or None) of the root <svg>: the canvas of its Drawing."""
    vb = None
    if root.get("viewBox"):
        vb = parse_numbers(root.get("viewBox"), f"{where} viewBox", limits.max_abs)
        if len(vb) != 4 or vb[2] <= 0 or vb[3] <= 0:
            raise SvgValueError(f"viewBox {root.get('viewBox')!r} is not 4 numbers with "
                                "positive size", reason="viewbox", where=where)
    ref_w, ref_h = (vb[2], vb[3]) if vb else (100.0, 100.0)
    w = parse_length(root.get("width"), ref_w, ref_w, f"{where} width", limits.max_abs)
    h = parse_length(root.get("height"), ref_h, ref_h, f"{where} height", limits.max_abs)
    if not (w > 0 and h > 0):
        raise SvgValueError(f"canvas size {w!r}x{h!r} is not positive", reason="viewbox",
                            where=where)
    return w, h, vb
