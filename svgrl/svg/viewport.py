"""Viewports: the viewBox → viewport map and the root canvas size."""

from __future__ import annotations

from collections.abc import Callable

from svgrl.errors import SvgLimitError, SvgValueError
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


def root_viewport(root, limits: ParseLimits, where: str = "",
                  drop: Callable[[str, str], None] | None = None):
    """(width, height, viewBox or None) of the root <svg>: the canvas of its Drawing.

    An invalid viewBox (not 4 numbers, or a size ≤ 0) is ignored and an invalid width or
    height falls back to 100 %, as browsers do; `drop(reason, where)` hears of each. A zero
    or negative width or height is returned as it is: the spec says such a document is not
    rendered, which is for the caller to do."""
    vb = None
    text = root.get("viewBox")
    if text:
        try:
            vb = parse_numbers(text, f"{where} viewBox", limits.max_abs)
        except SvgValueError:
            vb = []
        if len(vb) != 4 or vb[2] <= 0 or vb[3] <= 0:
            if drop is not None:
                drop("invalid-viewbox", f"{where} viewBox={text!r}")
            vb = None
    ref_w, ref_h = (vb[2], vb[3]) if vb else (100.0, 100.0)
    size = []
    for attr, ref in (("width", ref_w), ("height", ref_h)):
        try:
            size.append(parse_length(root.get(attr), ref, ref, f"{where} {attr}",
                                     limits.max_abs))
        except SvgLimitError:
            raise
        except SvgValueError:
            if drop is not None:
                drop("invalid-length", f"{where} {attr}={root.get(attr)!r}")
            size.append(ref)
    return size[0], size[1], vb


def has_intrinsic_size(root) -> bool:
    """Whether the root <svg> says how big it is: a viewBox, or absolute width and height.
    Without one, renderers size the canvas to the content (resvg: its bounding box)."""
    if root.get("viewBox"):
        return True
    w, h = root.get("width"), root.get("height")
    return bool(w and h and not w.strip().endswith("%") and not h.strip().endswith("%"))
