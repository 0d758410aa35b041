"""Strokes → filled outlines with skia's stroker (width, caps, joins, miter limit, dashes).

The stroke is computed in *local* user units and the outline transformed afterwards, which
is what SVG means by a stroke under a non-uniform transform.

Skia's stroker approximates the offset of every curve with many quads, also where the
outline is exact in a few pieces: the offset of a circular arc is the concentric arc (radius
r ± w/2), round joins and caps are circular arcs too. So a subpath of lines and circular arcs
(`<circle>`, `<rect rx>`, polylines, and path data whose curves are arcs of circles — nearly
all of Tabler's strokes) is outlined here exactly, structured the way skia's stroker builds
its own (`_outline`); its arcs stay conics, which reach the `Drawing` as exact ``A``
commands or one cubic per quarter turn rather than a dozen cubics. Anything else (cubics,
ellipses, dashes, arcs tighter than the half width) goes to skia's stroker. Both build every
contour with the same orientation rules, so their contours of one path fill their union
under the nonzero rule.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import NamedTuple

import skia

from svgrl.errors import SvgLimitError, SvgValueError
from svgrl.svg.arcs import conic_axes, cubic_error, cubic_handle
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
# A join that deviates less than this (canvas units) from a straight continuation is left
# out: a nearly straight vertex (a line meeting an arc tangentially) needs none.
_FLAT = 0.02
_CAP_ERROR, _CAP_HANDLE = cubic_error(180.0), cubic_handle(180.0)  # a round cap's half turn


_ROUND_JOIN, _MITER_JOIN = skia.Paint.Join.kRound_Join, skia.Paint.Join.kMiter_Join
_ROUND_CAP, _SQUARE_CAP = skia.Paint.Cap.kRound_Cap, skia.Paint.Cap.kSquare_Cap


def _matrix(m: Affine) -> skia.Matrix:
    a, b, c, d, e, f = m
    return skia.Matrix.MakeAll(a, c, e, b, d, f, 0.0, 0.0, 1.0)


def outline_stroke(local: skia.Path, st: dict, width: float, ctm: Affine, where: str,
                   lim: ParseLimits,
                   length: Callable[[str, float], float] | None = None,
                   budget: WorkBudget | None = None, tolerance: float = 0.0,
                   exact: bool = True) -> skia.Path:
    """The filled outline (canvas coordinates, nonzero) of `local` stroked with style `st`:
    with `exact`, subpaths of lines and circular arcs outlined exactly, their round joins
    and caps one cubic where that draws them within `tolerance` (canvas units); the rest,
    or everything without `exact`, by skia's stroker (approximate offsets, as resvg's).
    `length(value, default)` resolves dash lengths (units, percentages); an invalid
    miter limit or dash list is ignored, as CSS ignores invalid values. Dashes are counted
    against `budget` *before* skia makes them."""
    if length is None:
        def length(value: str, default: float) -> float:
            return parse_length(value, 1.0, default, where, lim.max_abs)
    params = _stroke_params(st["stroke-linecap"], st["stroke-linejoin"],
                            st["stroke-miterlimit"], lim.max_abs)
    if params is None:  # a miter limit beyond the magnitude limit
        parse_number(st["stroke-miterlimit"], where, lim.max_abs)
    cap, join, miter = params
    dash = st["stroke-dasharray"].strip()
    effect = None
    if dash != "none":
        iv = [length(t, -1.0) for t in _LIST_SEP.split(dash) if t]
        if len(iv) % 2:
            iv = iv * 2
        if iv and all(v >= 0 for v in iv) and sum(iv) > 0:
            offset = length(st["stroke-dashoffset"], 0.0)
            (budget or WorkBudget(lim)).dash(local, iv, where)
            effect = skia.DashPathEffect.Make(iv, offset)
    outline = skia.Path()
    res = max(1.0, scale_factor(ctm) * STROKE_PRECISION)
    if effect is None and exact:
        a, b, c, d = ctm[:4]  # the largest stretch of the transform: tolerances into local units
        sq = a * a + b * b + c * c + d * d
        stretch = math.sqrt((sq + math.sqrt(max(0.0, sq * sq - 4 * (a * d - b * c) ** 2))) / 2)
        style = _Style(width / 2, cap, join, miter, _FLAT / res,
                       tolerance / stretch if stretch > 0 else 0.0)
        local, outline = _exact_outlines(local, style)
    if not local.isEmpty():
        # The paint is only built for what skia strokes (most strokes are outlined exactly).
        sp = skia.Paint()
        sp.setStyle(skia.Paint.kStroke_Style)
        sp.setStrokeWidth(width)
        sp.setStrokeCap(cap)
        sp.setStrokeJoin(join)
        sp.setStrokeMiter(miter)
        if effect is not None:
            sp.setPathEffect(effect)
        # resScale makes skia approximate curves finely enough at the *output* size.
        stroked = skia.Path()
        sp.getFillPath(local, stroked, None, res)
        outline.addPath(stroked)
    outline.setFillType(skia.PathFillType.kWinding)
    outline.transform(_matrix(ctm))
    return outline


@functools.lru_cache(maxsize=64)
def _stroke_params(linecap: str, linejoin: str, miterlimit: str, max_abs: float
                   ) -> tuple[skia.Paint.Cap, skia.Paint.Join, float] | None:
    """(cap, join, miter limit) as a skia paint holds them (the limit a float32), built once
    per distinct style: every stroke of a file usually shares one."""
    try:
        miter = parse_number(miterlimit, "", max_abs)
    except SvgValueError:
        miter = 4.0  # the initial value; an invalid value is ignored
    except SvgLimitError:
        return None  # the caller raises it again, naming where
    sp = skia.Paint()
    sp.setStrokeMiter(miter if miter >= 1 else 4.0)  # < 1 is invalid: the initial value
    return (_CAPS.get(linecap.strip(), _CAPS["butt"]),
            _JOINS.get(linejoin.strip(), _JOINS["miter"]), sp.getStrokeMiter())


class _Style(NamedTuple):
    half: float  # half the stroke width
    cap: skia.Paint.Cap
    join: skia.Paint.Join
    miter: float
    flat: float  # a join turning so little that it deviates less than this is no join
    curve: float  # a round join or cap one cubic draws within this is that cubic


def _exact_outlines(local: skia.Path, style: _Style) -> tuple[skia.Path, skia.Path]:
    """(the subpaths left for skia's stroker, the exact outline of the others)."""
    rest, exact = skia.Path(), skia.Path()
    for contour in contours(local):
        segs = _segments(contour, style.half)
        if segs is None or not _outline(segs, contour[-1][0] == "Z", style, exact):
            add_contour(rest, contour)
    return rest, exact


# A segment: ("L", x0, y0, x1, y1, …) or ("K", x0, y0, x1, y1, x2, y2, w, cx, cy, r, …), the
# last four entries its unit tangents at start and end.
Segment = tuple


def _segments(contour: list[tuple], half: float) -> list[Segment] | None:
    """The contour as lines and arcs of circles (conics), zero-length pieces dropped; None if
    it has anything else (quads, cubics, elliptical arcs), an arc whose inner offset would
    turn inside out (radius ≤ half the width: SVG says the outline is then the disc, but
    renderers draw the stroker's inside-out contour), or no length at all (a dot)."""
    x, y = contour[0][1], contour[0][2]
    sx, sy = x, y
    out: list[Segment] = []
    for c in contour[1:]:
        op = c[0]
        if op == "Z":
            c = ("L", sx, sy)
            op = "L"
        if op == "L":
            dx, dy = c[1] - x, c[2] - y
            n = math.hypot(dx, dy)
            if n > 1e-6 * (1 + half):
                dx, dy = dx / n, dy / n
                out.append(("L", x, y, c[1], c[2], dx, dy, dx, dy))
            x, y = c[1], c[2]
        elif op == "K":
            e = conic_axes(x, y, *c[1:])
            if e is None:
                return None
            cx, cy, a, b, c_, d = e
            m11, m12, m22 = a * a + b * b, a * c_ + b * d, c_ * c_ + d * d
            r = math.sqrt((m11 + m22) / 2)
            if abs(m11 - m22) > 1e-4 * r * r or abs(m12) > 1e-4 * r * r or r <= half * 1.02:
                return None
            ax, ay, bx, by = c[1] - x, c[2] - y, c[3] - c[1], c[4] - c[2]
            na, nb = math.hypot(ax, ay), math.hypot(bx, by)
            out.append(("K", x, y, *c[1:], cx, cy, r, ax / na, ay / na, bx / nb, by / nb))
            x, y = c[3], c[4]
        else:
            return None
    return out or None


def _reverse(s: Segment) -> Segment:
    if s[0] == "L":
        return ("L", s[3], s[4], s[1], s[2], -s[5], -s[6], -s[5], -s[6])
    return ("K", s[5], s[6], s[3], s[4], s[1], s[2], s[7], s[8], s[9], s[10],
            -s[13], -s[14], -s[11], -s[12])


def _outline(segs: list[Segment], closed: bool, style: _Style, out: skia.Path) -> bool:
    """Add the exact stroke outline of one subpath of lines and circular arcs to `out`, built
    as skia's stroker builds it (so windings agree and the union with its contours fills
    under nonzero): the side at normal (ty, −tx)·half walked forwards, the other side walked
    backwards; the outer side of a turn gets its join, the inner side a pivot through the
    vertex; open ends get their caps. The offset of an arc is the concentric arc: the source
    conic scaled about its centre. False (nothing added) for a cusp (a turn of ~180°, where
    the outer side is undefined)."""
    joins = []
    push = joins.append
    for a, b in zip(segs, segs[1:], strict=False):
        turn = _turn(a, b, style)
        if turn is None:
            return False
        push(turn)
    if closed:
        turn = _turn(segs[-1], segs[0], style)
        if turn is None:
            return False
        push(turn)
    back = [_reverse(s) for s in reversed(segs)]
    # Walking backwards, each turn is the same angle the other way, in reverse order.
    bjoins = [-j for j in reversed(joins[:len(segs) - 1])] + ([-joins[-1]] if closed else [])
    # Drawn straight into `out`: the subpath is whole once the turns are known to be fine.
    _side(out, segs, joins, style, closed)
    if closed:
        out.close()
        _side(out, back, bjoins, style, closed)
    else:
        _cap(out, segs[-1], style)
        _side(out, back, bjoins, style, closed, move=False)
        _cap(out, back[-1], style)
    out.close()
    return True


def _turn(a: Segment, b: Segment, style: _Style) -> float | None:
    """The turn from segment a into segment b (radians, atan2(cross, dot): positive turns
    away from the +normal side, which is then the outer one); 0 when its join would deviate
    less than `style.flat`; None for a cusp."""
    ax, ay = a[-2], a[-1]
    bx, by = b[-4], b[-3]
    turn = math.atan2(ax * by - ay * bx, ax * bx + ay * by)
    if abs(turn) > math.pi - 1e-3:
        return None
    if style.half * (1 - math.cos(turn / 2)) < style.flat:
        return 0.0
    return turn


def _side(path: skia.Path, segs: list[Segment], joins: list[float], style: _Style,
          closed: bool, move: bool = True) -> None:
    """The +normal side of `segs`, with the join after each segment (after the last one
    too when `closed`)."""
    half = style.half
    gap = 1e-3 * half
    round_join = style.join == _ROUND_JOIN
    miter_join = style.join == _MITER_JOIN
    line_to = path.lineTo
    n = len(segs)
    nj = len(joins)
    px = py = 0.0  # where the previous segment's side ended
    for i, s in enumerate(segs):
        tx, ty, ex, ey = s[-4:]
        nx, ny = ty * half, -tx * half
        sx, sy = s[1] + nx, s[2] + ny
        if i == 0:
            if move:
                path.moveTo(sx, sy)
        elif not joins[i - 1] and (abs(px - sx) > gap or abs(py - sy) > gap):
            # After a join or a cap the pen is where this side starts. After a smooth
            # vertex it is too, up to float noise: skia's arcs are float32 conics whose
            # centres drift by ~1e-4 of their radius from one arc command to the next, and
            # a tiny line there would let its two ends snap to different grid points.
            line_to(sx, sy)
        if s[0] == "L":
            x, y = s[3], s[4]
            px, py = x + nx, y + ny
            if not (closed and i == n - 1 and not joins[i]):  # close() draws it
                line_to(px, py)
        else:
            x, y = s[5], s[6]
            cx, cy, r = s[8], s[9], s[10]
            # +normal points away from the centre when (start − centre)·n > 0.
            f = 1 + (half if (s[1] - cx) * nx + (s[2] - cy) * ny > 0 else -half) / r
            px, py = cx + f * (x - cx), cy + f * (y - cy)
            path.conicTo(cx + f * (s[3] - cx), cy + f * (s[4] - cy), px, py, s[7])
        turn = joins[i] if i < nj else 0.0
        if not turn:
            continue
        nxt = segs[(i + 1) % n]
        bx, by = nxt[-4], nxt[-3]
        if turn < 0:  # the inner side: a pivot through the vertex (inside the stroke)
            line_to(x, y)
            line_to(x + by * half, y - bx * half)
        elif round_join:  # an arc of radius half around it
            _round(path, x, y, half, math.atan2(-ex, ey), turn, style.curve)
        else:
            # Miter: the normals' bisector out to half / cos(turn / 2), if within the limit
            # (the miter length over the width is 1 / cos(turn / 2)); else a bevel.
            k = 1 / math.cos(turn / 2)
            if miter_join and k <= style.miter:
                mx, my = ey + by, -ex - bx
                m = math.hypot(mx, my)
                line_to(x + mx / m * half * k, y + my / m * half * k)
            line_to(x + by * half, y - bx * half)


def _round(path: skia.Path, x: float, y: float, half: float, start: float, sweep: float,
           tolerance: float) -> None:
    """The arc of radius `half` around (x, y) from angle `start` turning by `sweep` (radians,
    |sweep| ≤ π, the pen at its start): one cubic if that draws it within `tolerance`
    (`arcs.cubic_handle`), else conics."""
    deg = math.degrees(sweep)
    if (_CAP_ERROR if sweep == math.pi else cubic_error(abs(deg))) * half > tolerance:
        path.arcTo(skia.Rect.MakeLTRB(x - half, y - half, x + half, y + half),
                   math.degrees(start), deg, False)
        return
    k = math.copysign((_CAP_HANDLE if sweep == math.pi else cubic_handle(abs(deg))) * half, sweep)
    c0, s0 = math.cos(start), math.sin(start)
    c1, s1 = math.cos(start + sweep), math.sin(start + sweep)
    path.cubicTo(x + half * c0 - k * s0, y + half * s0 + k * c0,
                 x + half * c1 + k * s1, y + half * s1 - k * c1, x + half * c1, y + half * s1)


def _cap(path: skia.Path, s: Segment, style: _Style) -> None:
    """Cap the end of segment `s` from its +normal side to its −normal side."""
    tx, ty = s[-2], s[-1]
    x, y = (s[3], s[4]) if s[0] == "L" else (s[5], s[6])
    half = style.half
    nx, ny = ty * half, -tx * half
    if style.cap == _ROUND_CAP:  # the half circle through end + half·t
        _round(path, x, y, half, math.atan2(ny, nx), math.pi, style.curve)
    elif style.cap == _SQUARE_CAP:
        path.lineTo(x + nx + tx * half, y + ny + ty * half)
        path.lineTo(x - nx + tx * half, y - ny + ty * half)
        path.lineTo(x - nx, y - ny)
    else:
        path.lineTo(x - nx, y - ny)
