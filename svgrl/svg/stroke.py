"""Strokes → filled outlines with skia's stroker (width, caps, joins, miter limit, dashes).

The stroke is computed in *local* user units and the outline transformed afterwards, which
is what SVG means by a stroke under a non-uniform transform.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import skia

from svgrl.errors import SvgValueError
from svgrl.svg.parse import ParseLimits
from svgrl.svg.values import Affine, parse_length, parse_number, scale_factor

_CAPS = {"butt": skia.Paint.Cap.kButt_Cap, "round": skia.Paint.Cap.kRound_Cap,
         "square": skia.Paint.Cap.kSquare_Cap}
_JOINS = {"miter": skia.Paint.Join.kMiter_Join, "round": skia.Paint.Join.kRound_Join,
          "bevel": skia.Paint.Join.kBevel_Join, "miter-clip": skia.Paint.Join.kMiter_Join,
          "arcs": skia.Paint.Join.kMiter_Join}
_LIST_SEP = re.compile(r"[\s,]+")
# skia stroker resScale per canvas unit: its curve tolerance is ~1/4 unit divided by this.
STROKE_PRECISION = 1.0


def _matrix(m: Affine) -> skia.Matrix:
    a, b, c, d, e, f = m
    return skia.Matrix.MakeAll(a, c, e, b, d, f, 0.0, 0.0, 1.0)


def outline_stroke(local: skia.Path, st: dict, width: float, ctm: Affine, where: str,
                   lim: ParseLimits,
                   length: Callable[[str, float], float] | None = None) -> skia.Path:
    """The filled outline (canvas coordinates, nonzero) of `local` stroked with style `st`.
    `length(value, default)` resolves dash lengths (units, percentages); an invalid
    miter limit or dash list is ignored, as CSS ignores invalid values."""
    if length is None:
        def length(value: str, default: float) -> float:
            return parse_length(value, 1.0, default, where, lim.max_abs)
    sp = skia.Paint()
    sp.setStyle(skia.Paint.kStroke_Style)
    sp.setStrokeWidth(width)
    sp.setStrokeCap(_CAPS.get(st["stroke-linecap"].strip(), _CAPS["butt"]))
    sp.setStrokeJoin(_JOINS.get(st["stroke-linejoin"].strip(), _JOINS["miter"]))
    try:
        miter = parse_number(st["stroke-miterlimit"], where, lim.max_abs)
    except SvgValueError:
        miter = 4.0  # the initial value
    sp.setStrokeMiter(miter if miter >= 1 else 4.0)  # < 1 is invalid: the initial value
    dash = st["stroke-dasharray"].strip()
    if dash != "none":
        iv = [length(t, -1.0) for t in _LIST_SEP.split(dash) if t]
        if len(iv) % 2:
            iv = iv * 2
        if iv and all(v >= 0 for v in iv) and sum(iv) > 0:
            offset = length(st["stroke-dashoffset"], 0.0)
            sp.setPathEffect(skia.DashPathEffect.Make(iv, offset))
    outline = skia.Path()
    # resScale makes skia approximate curves finely enough at the *output* size.
    sp.getFillPath(local, outline, None, max(1.0, scale_factor(ctm) * STROKE_PRECISION))
    outline.setFillType(skia.PathFillType.kWinding)
    outline.transform(_matrix(ctm))
    return outline
