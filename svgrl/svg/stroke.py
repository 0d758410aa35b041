"""Strokes → filled outlines with skia's stroker (width, caps, joins, miter limit, dashes).

The stroke is computed in *local* user units and the outline transformed afterwards, which
is what SVG means by a stroke under a non-uniform transform.

Skia's stroker approximates the offset of a curve with many quads. The offset of a circle is
two concentric circles, so a subpath that is one circular arc (a `<circle>`, or path-data
arcs on one circle — Tabler draws most of its rings that way) is outlined exactly instead:
a full turn becomes the ring between radii r ± w/2, an open arc with round or butt caps the
band between them closed by its caps. Those outlines are conics, which reach the `Drawing`
as a few exact ``A`` commands rather than dozens of cubics. Every contour is oriented so the
band it covers has winding +1, the same convention as skia's stroker output, so the exact
and the stroked contours of one path fill their union under the nonzero rule.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import skia

from svgrl.errors import SvgValueError
from svgrl.svg.arcs import conic_ellipse, same_ellipse
from svgrl.svg.budget import WorkBudget
from svgrl.svg.parse import ParseLimits
from svgrl.svg.skpath import add_contour, contours
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
                   length: Callable[[str, float], float] | None = None,
                   budget: WorkBudget | None = None) -> skia.Path:
    """The filled outline (canvas coordinates, nonzero) of `local` stroked with style `st`.
    `length(value, default)` resolves dash lengths (units, percentages); an invalid
    miter limit or dash list is ignored, as CSS ignores invalid values. Dashes are counted
    against `budget` *before* skia makes them."""
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
            (budget or WorkBudget(lim)).dash(local, iv, where)
            sp.setPathEffect(skia.DashPathEffect.Make(iv, offset))
    outline = skia.Path()
    cap = st["stroke-linecap"].strip()
    exact = None if dash != "none" else _exact_circles(local, width / 2, cap)
    if exact is not None:
        local, outline = exact
    if not local.isEmpty():
        # resScale makes skia approximate curves finely enough at the *output* size.
        stroked = skia.Path()
        sp.getFillPath(local, stroked, None, max(1.0, scale_factor(ctm) * STROKE_PRECISION))
        outline.addPath(stroked)
    outline.setFillType(skia.PathFillType.kWinding)
    outline.transform(_matrix(ctm))
    return outline


def _exact_circles(local: skia.Path, half: float, cap: str) -> tuple[skia.Path, skia.Path] | None:
    """(the subpaths left for skia's stroker, the exact outline of the circular ones), or None
    when no subpath is a circular arc."""
    rest, exact = skia.Path(), skia.Path()
    found = False
    for contour in contours(local):
        if _circle_outline(contour, half, cap, exact):
            found = True
        else:
            add_contour(rest, contour)
    return (rest, exact) if found else None


def _circle_outline(contour: list[tuple], half: float, cap: str, out: skia.Path) -> bool:
    """Add the exact stroke outline of `contour` to `out` if it is one arc of one circle."""
    closed = contour[-1][0] == "Z"
    segs = contour[1:-1] if closed else contour[1:]
    if not segs or any(c[0] != "K" for c in segs):
        return False
    x, y = contour[0][1], contour[0][2]
    ell, total = None, 0.0
    for c in segs:
        got = conic_ellipse((x, y, *c[1:]))
        if got is None or (ell is not None and not same_ellipse(ell, got[0])):
            return False
        ell = ell or got[0]
        total += got[1]
        x, y = c[3], c[4]
    cx, cy, a, b, c_, d = ell
    m11, m12, m22 = a * a + b * b, a * c_ + b * d, c_ * c_ + d * d
    r = math.sqrt((m11 + m22) / 2)
    if abs(m11 - m22) > 1e-4 * r * r or abs(m12) > 1e-4 * r * r or total > 360.5:
        return False  # an ellipse: its offset curve is no ellipse
    x0, y0 = contour[0][1], contour[0][2]
    if r - half <= 0:
        # The inner offset turns inside out. SVG says the outline is the disc, but renderers
        # (resvg, skia) draw the stroker's inside-out contour, so leave it to the stroker.
        return False
    full = total > 359.5 and math.hypot(x - x0, y - y0) <= 1e-4 * r
    if full and (closed or cap in ("round", "butt")):
        out.addCircle(cx, cy, r + half, skia.PathDirection.kCW)
        out.addCircle(cx, cy, r - half, skia.PathDirection.kCCW)
        return True
    if closed or full or cap not in ("round", "butt"):
        return False
    start = math.degrees(math.atan2(y0 - cy, x0 - cx))
    sweep = total if a * d - b * c_ > 0 else -total
    if sweep < 0:  # walk the arc from its other end, so the band is traversed clockwise
        start, sweep = start + sweep, -sweep
    end = start + sweep
    ro, ri = r + half, r - half
    out.arcTo(skia.Rect.MakeLTRB(cx - ro, cy - ro, cx + ro, cy + ro), start, sweep, True)
    _cap(out, cx, cy, r, half, end, end, cap)
    out.arcTo(skia.Rect.MakeLTRB(cx - ri, cy - ri, cx + ri, cy + ri), end, -sweep, False)
    _cap(out, cx, cy, r, half, start, start + 180.0, cap)
    out.close()
    return True


def _cap(out: skia.Path, cx: float, cy: float, r: float, half: float, at: float, turn: float,
         cap: str) -> None:
    """Cap the band at polar angle `at` of the centre circle, from the current point (one
    side of the band) to the other. A round cap is the half circle around the cap's centre
    starting at angle `turn` and turning clockwise, like the rest of the outline."""
    t = math.radians(at)
    ex, ey = cx + r * math.cos(t), cy + r * math.sin(t)
    if cap == "round":
        out.arcTo(skia.Rect.MakeLTRB(ex - half, ey - half, ex + half, ey + half), turn, 180.0,
                  False)
    else:  # butt: straight across the band
        last = skia.Point(0, 0)
        out.getLastPt(last)
        out.lineTo(2 * ex - last.fX, 2 * ey - last.fY)
