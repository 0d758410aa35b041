"""The bridge between `skia.Path` and `Drawing` commands.

Skia stores lines, quads, conics (from arcs, circles, round joins) and cubics. A `Drawing`
speaks M/L/C/A/Z, so quads become cubics exactly. Runs of two or more conics on one ellipse
become exact ``A`` commands (`svgrl.svg.arcs`); a lone conic becomes a cubic by the standard
rational-to-polynomial approximation (exact at the ends, ≤ 0.03 % radial error for the ≤ 90°
conics skia emits for arcs); wider conics are split into quads first.
"""

from __future__ import annotations

import math
import struct

import numpy as np
import skia

from svgrl.svg.arcs import (
    conic_ellipse,
    cubic_error,
    cubic_handle,
    ellipse_radius,
    same_ellipse,
    split_run,
    svg_arc,
)
from svgrl.svg.drawing import Command

_MOVE, _LINE, _QUAD, _CONIC, _CUBIC, _CLOSE = (int(v) for v in (
    skia.Path.kMove_Verb, skia.Path.kLine_Verb, skia.Path.kQuad_Verb, skia.Path.kConic_Verb,
    skia.Path.kCubic_Verb, skia.Path.kClose_Verb))
_HEAD = struct.Struct("=4i")  # native int32, as numpy's int32 reads it
_FILL_TYPE = {"nonzero": skia.PathFillType.kWinding, "evenodd": skia.PathFillType.kEvenOdd}
_FILL_RULE = {skia.PathFillType.kWinding: "nonzero", skia.PathFillType.kEvenOdd: "evenodd",
              skia.PathFillType.kInverseWinding: "nonzero",
              skia.PathFillType.kInverseEvenOdd: "evenodd"}
_ARC_SIZE = (skia.Path.ArcSize.kSmall_ArcSize, skia.Path.ArcSize.kLarge_ArcSize)
_ARC_DIR = (skia.PathDirection.kCCW, skia.PathDirection.kCW)
# A circular (elliptical) arc of up to a half turn is written as one cubic when that cubic
# stays within this fraction of the output size of it: 0.2 units of a 200 canvas, less than
# rounding onto a 200 grid moves a point. A 2-unit round cap on a 24-unit icon (radius 8.3 of
# 200) is then one cubic 0.15 off (4 tokens) instead of two cubics (8), or an exact arc
# (6) whose integer radius and snapped ends put it 0.2–0.3 off once on the grid.
CURVE_TOLERANCE = 0.2 / 200
# A conic of weight w spans 2·acos(w); below this weight (≈ > 100°) one cubic is not enough.
_MIN_SINGLE_CUBIC_WEIGHT = 0.64


def fill_rule_of(path: skia.Path) -> str:
    return _FILL_RULE[path.getFillType()]


def _conic_to_cubics(x0, y0, x1, y1, x2, y2, w, long_radius: float = float("inf")
                     ) -> list[Command]:
    # On a circle wider than `long_radius` (a conic of half-angle φ, w = cos φ, on radius r
    # has a chord of 2·r·sin φ) the conic is halved (at t = 1/2, each half of weight
    # √((1 + w)/2)) down to pieces of ≤ 45°: see `arcs.LONG_ARC_RADIUS`.
    if 0 < w < 0.93 and (x2 - x0) ** 2 + (y2 - y0) ** 2 > 4 * long_radius ** 2 * (1 - w * w):
        mx, my = (x0 + 2 * w * x1 + x2) / (2 * (1 + w)), (y0 + 2 * w * y1 + y2) / (2 * (1 + w))
        h = math.sqrt((1 + w) / 2)
        return (_conic_to_cubics(x0, y0, (x0 + w * x1) / (1 + w), (y0 + w * y1) / (1 + w),
                                 mx, my, h, long_radius)
                + _conic_to_cubics(mx, my, (w * x1 + x2) / (1 + w), (w * y1 + y2) / (1 + w),
                                   x2, y2, h, long_radius))
    if w >= _MIN_SINGLE_CUBIC_WEIGHT:
        k = 4 * w / (3 * (1 + w))
        return [("C", x0 + k * (x1 - x0), y0 + k * (y1 - y0),
                 x2 + k * (x1 - x2), y2 + k * (y1 - y2), x2, y2)]
    pts = skia.Path.ConvertConicToQuads(skia.Point(x0, y0), skia.Point(x1, y1),
                                        skia.Point(x2, y2), w, 2)
    out = []
    for j in range(1, len(pts) - 1, 2):
        out.append(_quad(pts[j - 1].fX, pts[j - 1].fY, pts[j].fX, pts[j].fY,
                         pts[j + 1].fX, pts[j + 1].fY))
    return out


def _quad(x0, y0, x1, y1, x2, y2) -> Command:
    return ("C", x0 + 2 / 3 * (x1 - x0), y0 + 2 / 3 * (y1 - y0),
            x2 + 2 / 3 * (x1 - x2), y2 + 2 / 3 * (y1 - y2), x2, y2)


def _unpack(path: skia.Path) -> tuple[list[float], list[float], bytes]:
    """(flat xy list, conic weights, verbs) straight from skia's serialised form.

    `SkPath::writeToMemory` (format version 5): int32 header, point count, conic count, verb
    count; float32 points; float32 conic weights; uint8 verbs. One C call and two numpy views
    replace a Python-level iteration over points — this is the simplifier's hot path.
    """
    buf = bytes(path.serialize())
    # The header as Python ints in one call (numpy scalars cost a µs to convert).
    head = _HEAD.unpack_from(buf) if len(buf) >= 16 else (0, 0, 0, 0)
    # Only version 5 with nothing but fill-type bits set is the plain verb/point layout;
    # ovals and rounded rects serialise in a compact special form. Those (and any future
    # skia format) take the slow, safe route.
    need = 16 + 8 * head[1] + 4 * head[2] + head[3]
    if head[0] & ~0x300 != 5 or len(buf) < need:
        pts = path.getPoints(path.countPoints())
        verbs = bytes(int(v) for v in path.getVerbs(path.countVerbs()))
        weights = []
        it = skia.Path.RawIter(path)
        while (v := it.next()[0]) != skia.Path.kDone_Verb:
            if v == skia.Path.kConic_Verb:
                weights.append(it.conicWeight())
        return [c for q in pts for c in (q.fX, q.fY)], weights, verbs
    _, n_pts, n_conics, n_verbs = head
    o = 16 + 8 * n_pts
    xy = np.frombuffer(buf, np.float32, 2 * n_pts, 16).tolist()
    w = np.frombuffer(buf, np.float32, n_conics, o).tolist()
    o += 4 * n_conics
    return xy, w, buf[o:o + n_verbs]


def skia_to_commands(path: skia.Path, arcs: bool = False, tolerance: float = 0.0,
                     long_radius: float = float("inf")) -> list[Command]:
    """Flatten a skia path into M/L/C/A/Z commands (absolute coordinates). Runs of conics on
    one ellipse (see `svgrl.svg.arcs`) are cut into pieces of at most a half turn; a piece
    becomes one cubic if that stays within `tolerance` of the ellipse, else with `arcs` an
    ``A``, else a cubic per conic (smaller pieces on circles wider than `long_radius`)."""
    xy, weights, verbs = _unpack(path)
    out: list[Command] = []
    push = out.append
    p = 0  # index into xy of the next unread coordinate
    wi = 0
    lx = ly = 0.0
    run: list = []  # pending conics on one ellipse: (conic, ellipse, degrees)
    grouping = arcs or tolerance > 0
    last = len(verbs) - 1
    for i, v in enumerate(verbs):
        if run and v != _CONIC:
            _flush(run, out, arcs, tolerance, long_radius)
        if v == _LINE:
            lx, ly = xy[p], xy[p + 1]
            push(("L", lx, ly))
            p += 2
        elif v == _CUBIC:
            x1, y1, x2, y2, lx, ly = xy[p:p + 6]
            push(("C", x1, y1, x2, y2, lx, ly))
            p += 6
        elif v == _MOVE:
            lx, ly = xy[p], xy[p + 1]
            push(("M", lx, ly))
            p += 2
        elif v == _CONIC:
            x1, y1, x2, y2 = xy[p:p + 4]
            conic = (lx, ly, x1, y1, x2, y2, weights[wi])
            # A lone conic (a round join, a rounded corner) is one cubic either way.
            lone = not run and (i == last or verbs[i + 1] != _CONIC)
            ell = conic_ellipse(conic) if grouping and not lone else None
            if ell is None:
                if run:
                    _flush(run, out, arcs, tolerance, long_radius)
                out.extend(_conic_to_cubics(*conic, long_radius))
            else:
                if run and not same_ellipse(run[-1][1], ell[0]):
                    _flush(run, out, arcs, tolerance, long_radius)
                run.append((conic, ell[0], ell[1]))
            wi += 1
            lx, ly = x2, y2
            p += 4
        elif v == _QUAD:
            x1, y1, x2, y2 = xy[p:p + 4]
            push(_quad(lx, ly, x1, y1, x2, y2))
            lx, ly = x2, y2
            p += 4
        elif v == _CLOSE:
            push(("Z",))
    if run:
        _flush(run, out, arcs, tolerance, long_radius)
    return out


def _flush(run: list, out: list[Command], arcs: bool, tolerance: float,
           long_radius: float) -> None:
    """Write a run of conics on one ellipse, in pieces of at most a half turn: a piece that
    one cubic draws within `tolerance` as that cubic, else (with `arcs`, from two conics on)
    as an ``A``, else one cubic per conic."""
    start = 0
    for end in split_run([r[2] for r in run]):
        part = run[start:end]
        start = end
        if len(part) == 1:
            out.extend(_conic_to_cubics(*part[0][0], long_radius))
            continue
        degrees = sum(r[2] for r in part)
        if cubic_error(degrees) * ellipse_radius(part[0][1]) <= tolerance:
            out.append(_one_cubic(part, degrees))
        elif arcs:
            out.append(svg_arc(part[0][1], degrees, part[0][0][:2],
                               _middle(part, degrees), part[-1][0][4:6]))
        else:
            for r in part:
                out.extend(_conic_to_cubics(*r[0], long_radius))
    run.clear()


def _middle(part: list, degrees: float) -> tuple[float, float]:
    """The end of the conic in a run whose end lies nearest the run's middle angle."""
    acc, best, at = 0.0, math.inf, part[0][0][4:6]
    for conic, _, deg in part[:-1]:
        acc += deg
        if abs(acc - degrees / 2) < best:
            best, at = abs(acc - degrees / 2), conic[4:6]
    return at


def _one_cubic(part: list, degrees: float) -> Command:
    """The cubic through the run's ends along its end tangents, handles k·r long (see
    `arcs.cubic_handle`). A conic of half-angle φ leaves its start along A·u′ · tan φ (u′
    the unit tangent in the circle the ellipse is the affine image of), which gives the
    handles in the ellipse's own scale."""
    k = cubic_handle(degrees)
    x0, y0, x1, y1 = part[0][0][:4]
    f0 = k / math.tan(math.acos(part[0][0][6]))
    _, _, ax, ay, bx, by, w = part[-1][0]
    f1 = k / math.tan(math.acos(w))
    return ("C", x0 + f0 * (x1 - x0), y0 + f0 * (y1 - y0),
            bx - f1 * (bx - ax), by - f1 * (by - ay), bx, by)


def contours(path: skia.Path) -> list[list[tuple]]:
    """The subpaths of a skia path as lists of verbs with their points: ("M", x, y),
    ("L", x, y), ("Q", x1, y1, x, y), ("K", x1, y1, x, y, w) for a conic,
    ("C", x1, y1, x2, y2, x, y), ("Z",)."""
    xy, weights, verbs = _unpack(path)
    out: list[list[tuple]] = []
    p = wi = 0
    for v in verbs:
        if v == _MOVE:
            out.append([("M", xy[p], xy[p + 1])])
            p += 2
            continue
        if not out:
            out.append([("M", 0.0, 0.0)])
        if v == _LINE:
            out[-1].append(("L", xy[p], xy[p + 1]))
            p += 2
        elif v == _QUAD:
            out[-1].append(("Q", *xy[p:p + 4]))
            p += 4
        elif v == _CONIC:
            out[-1].append(("K", *xy[p:p + 4], weights[wi]))
            wi += 1
            p += 4
        elif v == _CUBIC:
            out[-1].append(("C", *xy[p:p + 6]))
            p += 6
        elif v == _CLOSE:
            out[-1].append(("Z",))
    return out


def add_contour(path: skia.Path, contour: list[tuple]) -> None:
    """Append one subpath from `contours` to `path`."""
    for c in contour:
        op = c[0]
        if op == "M":
            path.moveTo(c[1], c[2])
        elif op == "L":
            path.lineTo(c[1], c[2])
        elif op == "Q":
            path.quadTo(*c[1:])
        elif op == "K":
            path.conicTo(*c[1:])
        elif op == "C":
            path.cubicTo(*c[1:])
        else:
            path.close()


def commands_to_skia(commands, fill_rule: str = "nonzero") -> skia.Path:
    """Build a skia path from Drawing commands (the renderer's hot path)."""
    path = skia.Path()
    path.setFillType(_FILL_TYPE[fill_rule])
    for c in commands:
        op = c[0]
        if op == "L":
            path.lineTo(c[1], c[2])
        elif op == "C":
            path.cubicTo(c[1], c[2], c[3], c[4], c[5], c[6])
        elif op == "M":
            path.moveTo(c[1], c[2])
        elif op == "Z":
            path.close()
        else:  # A
            path.arcTo(c[1], c[2], c[3], _ARC_SIZE[bool(c[4])], _ARC_DIR[bool(c[5])], c[6], c[7])
    return path
