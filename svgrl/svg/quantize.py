"""Quantisation of a normalised drawing onto the G×G integer grid.

Grid semantics: a quantised drawing has integer coordinates 0..G−1 on a canvas of G−1 units,
so grid point 0 is the left edge and G−1 the right edge. Rounding onto a 0..G−1 grid inside a
G-unit canvas (and clipping at G−1, as OmniSVG does) would cut a pixel off every icon that
touches the right or bottom edge.
"""

from __future__ import annotations

import math
from math import floor

from svgrl.svg.arcs import LONG_ARC_RADIUS, arc_center, arc_point, arc_tangents, arc_to_cubics
from svgrl.svg.drawing import Drawing, Effect, Gradient, Path, bound_stops

DEFAULT_GRID = 200
# Gradient stop offsets live on this many levels over [0, 1] (level k is offset k / (N − 1)),
# stop opacities on ALPHA_LEVELS (level k is k / (N − 1); 4 bits like a colour channel).
OFFSET_LEVELS = 101
ALPHA_LEVELS = 16
# Effect blurs live on SIGMA_LEVELS geometric levels, level j is 2^(j/4) / 4 grid units
# (0.25 … 54; a step of 19 %, below what shows in a blurred edge); offsets on quarter grid
# units within ±SHIFT_STEPS / 4 (the half-pixel offsets of colour emoji's shadows survive).
SIGMA_LEVELS = 32
SHIFT_STEPS = 128


def sigma_level(sigma: float) -> int:
    """The level (0..SIGMA_LEVELS−1) nearest `sigma` grid units in log scale."""
    if not sigma > 0:
        return 0
    return min(max(round(4 * math.log2(4 * sigma)), 0), SIGMA_LEVELS - 1)


def sigma_value(level: int) -> float:
    return 2 ** (level / 4) / 4


def shift_level(d: float) -> int:
    """The offset level (−SHIFT_STEPS..SHIFT_STEPS quarter units) nearest `d` grid units."""
    return min(max(floor(4 * d + 0.5), -SHIFT_STEPS), SHIFT_STEPS)
# An arc stays an arc on the grid only if its best integer radii keep it within this many
# grid units of the original (else it becomes cubics): arcs near a half turn, or a large
# arc, move far when a radius moves by half a unit (see `_snap_arc`).
ARC_TOLERANCE = 0.25
# Fractions of an arc's sweep where it is compared with the original: the middle first, as
# it moves most, so a poor candidate is rejected after a sample or two.
_ARC_SAMPLES = (0.5, 0.25, 0.75, 0.125, 0.875, 0.375, 0.625, 1.0)
# Arc rotations are snapped onto this many bins over [0°, 180°) (the token layout's default,
# OmniSVG's 100 values), so a quantised drawing encodes and decodes to itself.
DEFAULT_ROTATION_BINS = 100
# Weight of plain Euclidean displacement next to normal displacement when snapping an end
# point: breaks ties and keeps points from sliding far along straight runs.
_EUCLID = 0.05


def quantize_color(c: tuple[int, int, int] | None) -> tuple[int, int, int] | None:
    """Round each channel to 4 bits (OmniSVG's 12-bit colour tokens): multiples of 17."""
    if c is None:
        return None
    return (round(c[0] / 17) * 17, round(c[1] / 17) * 17, round(c[2] / 17) * 17)


def quantize(drawing: Drawing, grid: int = DEFAULT_GRID,
             n_rotation: int = DEFAULT_ROTATION_BINS) -> Drawing:
    """Snap a (normalised, square) drawing onto the integer grid 0..grid−1.

    Plain rounding of every coordinate moves each edge by up to half a unit. Two cheap
    corrections keep the *outline* closer than that:

    1. End points choose among the four surrounding grid points the one that moves the
       adjacent edges least along their normals (the error that shows): a point on a smooth
       curve may slide along its tangent for free, a corner is pinned by both edges.
    2. Cubic control points are moved before rounding by the offsets that minimise the L2
       distance ∫|B'(t) − B(t)|² dt between new and old curve given the end-point errors
       e0, e3: d1 = −4/3·e0 + 2/3·e3, d2 = 2/3·e0 − 4/3·e3 (normal equations of the cubic
       Bernstein Gram matrix), so the curve bends back towards where it was.

    Arcs keep their flags; the rotation is snapped onto `n_rotation` bins over [0°, 180°)
    (0 for a circle), as the token layout stores them, and radii become integers (see
    `_snap_arc`).

    Segments that collapse to nothing are removed, subpaths left without a segment are
    removed, and paths left without a subpath are removed, so every quantised drawing
    encodes to a grammatical token sequence.
    """
    k = (grid - 1) / max(drawing.width, drawing.height)
    hi = grid - 1
    # One quadratic form per distinct point of the whole drawing: a vertex shared by two
    # paths (adjacent shapes, a fill and its stroke) sees every edge meeting there and so
    # snaps to the same grid point in both — shared points stay shared, no hairline gaps.
    forms: dict[tuple[float, float], list[float]] = {}
    scaled = [_scale_accumulate(p.commands, k, forms) for p in drawing.paths]
    paths = []
    for p, (cmds, ends) in zip(drawing.paths, scaled, strict=True):
        cmds = _clean(_snap_commands(cmds, forms, hi, n_rotation, ends))
        if cmds:
            effect = quantize_effect(p.effect, k) if p.effect is not None else None
            if p.paint is not None:
                g = quantize_gradient(p.paint, k, hi)
                paths.append(Path(cmds, quantize_color(g.mean()), p.fill_rule, g, effect))
            else:
                paths.append(Path(cmds, quantize_color(p.fill), p.fill_rule, None, effect))
    return Drawing(float(hi), float(hi), tuple(paths))


def quantize_effect(e: Effect, k: float) -> Effect:
    """An effect scaled by `k` onto the grid: sigma onto its levels, offsets onto quarter
    units, opacity onto `ALPHA_LEVELS` (what the token layout stores)."""
    na = ALPHA_LEVELS - 1
    return Effect(e.kind, sigma_value(sigma_level(e.sigma * k)), shift_level(e.dx * k) / 4,
                  shift_level(e.dy * k) / 4, floor(e.alpha * na + 0.5) / na)


def quantize_gradient(g: Gradient, k: float, hi: int) -> Gradient:
    """Gradient geometry scaled by `k` onto grid points 0..hi, offsets onto `OFFSET_LEVELS`,
    colours onto 12 bits. A linear gradient whose ends fall off the grid is first cut to
    the part of its ramp the canvas shows (exact with pad spread: the stops are resampled at
    the new ends). A radial gradient whose axis ends fall off the grid takes another pair
    of conjugate semi-axes of the same ellipse that lands on it, or else axes shrunk by s
    about the centre with the ramp over [0, s] stretched onto them (exact inside the
    shrunk ellipse); other points off the grid are clipped onto it."""
    pts = [v * k for v in g.points]
    stops = list(g.stops)
    if g.kind == "linear" and any(not 0 <= v <= hi for v in pts):
        pts, stops = _cut_linear(pts, stops, hi)
    elif g.kind == "radial" and any(not 0 <= v <= hi for v in pts[2:6]) \
            and 0 <= pts[0] <= hi and 0 <= pts[1] <= hi:
        pts, stops = _fit_radial(pts, stops, hi)
    q = tuple(min(max(floor(v + 0.5), 0), hi) for v in pts)
    n, na = OFFSET_LEVELS - 1, ALPHA_LEVELS - 1
    qs = tuple((floor(t * n + 0.5) / n, quantize_color(c), floor(a * na + 0.5) / na)
               for t, c, a in stops)
    return Gradient(g.kind, q, qs)


def _cut_linear(pts: list, stops: list, hi: int) -> tuple[list, list]:
    x1, y1, x2, y2 = pts
    dx, dy = x2 - x1, y2 - y1
    dd = dx * dx + dy * dy
    if dd <= 1e-18:
        return pts, stops
    ts = [((x - x1) * dx + (y - y1) * dy) / dd for x in (0, hi) for y in (0, hi)]
    lo, up = max(0.0, min(ts)), min(1.0, max(ts))
    if up - lo < 1e-6:
        return pts, stops

    return [x1 + lo * dx, y1 + lo * dy, x1 + up * dx, y1 + up * dy], _resample(stops, lo, up)


def _resample(stops: list, lo: float, up: float) -> list:
    """The ramp over [lo, up] stretched onto [0, 1] (stops interpolated at the new ends)."""
    def stop_at(t: float, at: float) -> tuple:
        if t <= stops[0][0]:
            return (at, *stops[0][1:])
        for (t0, c0, a0), (t1, c1, a1) in zip(stops, stops[1:], strict=False):
            if t0 <= t <= t1:
                u = (t - t0) / (t1 - t0) if t1 > t0 else 1.0
                return (at, tuple(round(p + u * (q - p)) for p, q in zip(c0, c1, strict=True)),
                        a0 + u * (a1 - a0))
        return (at, *stops[-1][1:])

    inner = [((t - lo) / (up - lo), c, a) for t, c, a in stops if lo < t < up]
    return list(bound_stops([stop_at(lo, 0.0), *inner, stop_at(up, 1.0)]))


def _fit_radial(pts: list, stops: list, hi: int) -> tuple[list, list]:
    cx, cy, ax, ay, bx, by, fx, fy = pts
    a, b = (ax - cx, ay - cy), (bx - cx, by - cy)

    def room(d: tuple[float, float]) -> float:
        """How far (as a fraction, up to 1) the centre may go along d inside the grid."""
        k = 1.0
        for dv, c0 in ((d[0], cx), (d[1], cy)):
            if c0 + k * dv > hi + 0.5:
                k = (hi + 0.5 - c0) / dv
            elif c0 + k * dv < -0.5:
                k = (-0.5 - c0) / dv
        return k

    # Conjugate semi-axes of one ellipse: M·(cos θ, sin θ) and ±M·(−sin θ, cos θ); take the
    # pair that lands on the grid, else the one needing the least shrink about the centre.
    best, best_k = (a, b), 0.0
    for deg in range(0, 360, 5):
        c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
        u = (a[0] * c + b[0] * s, a[1] * c + b[1] * s)
        for sign in (1, -1):
            v = (sign * (b[0] * c - a[0] * s), sign * (b[1] * c - a[1] * s))
            k = min(room(u), room(v))
            if k > best_k:
                best, best_k = (u, v), k
        if best_k >= 1:
            break
    (ux, uy), (vx, vy) = best
    k = min(best_k, 1.0)
    if k <= 1e-3:
        return pts, stops
    new = [cx, cy, cx + k * ux, cy + k * uy, cx + k * vx, cy + k * vy, fx, fy]
    return new, (stops if k >= 1 else _resample(stops, 0.0, k))


def _scale_accumulate(cmds: tuple, k: float, forms: dict) -> tuple[list, list]:
    """The commands scaled by `k` (arc rotations and flags kept), with their edge normals
    added to `forms` exactly as `_accumulate_normals` adds them to the scaled commands
    (same terms, same order, so the same sums), in one pass with no intermediate list.
    The form of the current point is carried from one segment to the next (its start is
    the previous segment's end) instead of looked up again; the form of each command's
    end point, where it was fetched (else None), is returned beside the commands so
    snapping need not look it up either."""
    out: list = []
    push = out.append
    ends: list = []
    end = ends.append
    get = forms.get
    sx = sy = px = py = 0.0
    q = None  # the form of (px, py), once fetched
    for c in cmds:
        op = c[0]
        if op == "C" or op == "A":
            if op == "C":
                x1, y1, x2, y2, x, y = c[1] * k, c[2] * k, c[3] * k, c[4] * k, c[5] * k, c[6] * k
                push(("C", x1, y1, x2, y2, x, y))
                dx, dy = x1 - px, y1 - py
                if dx * dx + dy * dy < 1e-18:
                    dx, dy = x2 - px, y2 - py
                ex, ey = x - x2, y - y2
                if ex * ex + ey * ey < 1e-18:
                    ex, ey = x - x1, y - y1
            else:  # A: the tangents at its ends
                x, y = c[6] * k, c[7] * k
                arc = ("A", c[1] * k, c[2] * k, c[3], c[4], c[5], x, y)
                push(arc)
                (dx, dy), (ex, ey) = arc_tangents(px, py, arc)
            ll = dx * dx + dy * dy
            if not ll < 1e-18:  # (not >=: a NaN is added, as `_accumulate_normals` does)
                if q is None:
                    q = get((px, py))
                    if q is None:
                        q = forms[(px, py)] = [_EUCLID, 0.0, _EUCLID]
                q[0] += dy * dy / ll
                q[1] -= dx * dy / ll
                q[2] += dx * dx / ll
            ll = ex * ex + ey * ey
            if ll < 1e-18:
                q = None
            else:
                q = get((x, y))
                if q is None:
                    q = forms[(x, y)] = [_EUCLID, 0.0, _EUCLID]
                q[0] += ey * ey / ll
                q[1] -= ex * ey / ll
                q[2] += ex * ex / ll
            end(q)
            px, py = x, y
            continue
        if op == "L":
            x, y = c[1] * k, c[2] * k
            push(("L", x, y))
        elif op == "M":
            sx, sy = px, py = c[1] * k, c[2] * k
            push(("M", px, py))
            end(None)
            q = None
            continue
        else:  # Z: the closing edge back to the subpath start
            x, y = sx, sy
            push(("Z",))
        dx, dy = x - px, y - py
        ll = dx * dx + dy * dy
        if ll < 1e-18:
            q = None
        else:
            a, b, cc = dy * dy / ll, dx * dy / ll, dx * dx / ll
            if q is None:
                q = get((px, py))
                if q is None:
                    q = forms[(px, py)] = [_EUCLID, 0.0, _EUCLID]
            q[0] += a
            q[1] -= b
            q[2] += cc
            q = get((x, y))
            if q is None:
                q = forms[(x, y)] = [_EUCLID, 0.0, _EUCLID]
            q[0] += a
            q[1] -= b
            q[2] += cc
        end(q)
        px, py = x, y
    return out, ends


def _accumulate_normals(cmds: list, forms: dict) -> None:
    """Add, at every end point, the normals n of the edges meeting there as n nᵀ (three
    floats per point), so snapping is four evaluations of e·(εI + Q)·e.

    Contributions are listed first and summed in one loop (no per-edge function call: this
    runs for every point of every dataset file)."""
    ends: list = []  # (x, y, dx, dy): an edge of direction (dx, dy) meets point (x, y)
    push = ends.append
    sx = sy = px = py = 0.0
    for c in cmds:
        op = c[0]
        if op == "C":
            x, y = c[5], c[6]
            dx, dy = c[1] - px, c[2] - py
            if dx * dx + dy * dy < 1e-18:
                dx, dy = c[3] - px, c[4] - py
            push((px, py, dx, dy))
            dx, dy = x - c[3], y - c[4]
            if dx * dx + dy * dy < 1e-18:
                dx, dy = x - c[1], y - c[2]
            push((x, y, dx, dy))
            px, py = x, y
        elif op == "L":
            x, y = c[1], c[2]
            dx, dy = x - px, y - py
            push((px, py, dx, dy))
            push((x, y, dx, dy))
            px, py = x, y
        elif op == "M":
            sx, sy = px, py = c[1], c[2]
        elif op == "Z":
            dx, dy = sx - px, sy - py
            push((px, py, dx, dy))
            push((sx, sy, dx, dy))
            px, py = sx, sy
        else:  # A: the tangents at its ends
            x, y = c[6], c[7]
            (dx, dy), (ex, ey) = arc_tangents(px, py, c)
            push((px, py, dx, dy))
            push((x, y, ex, ey))
            px, py = x, y
    get = forms.get
    for x, y, dx, dy in ends:
        ll = dx * dx + dy * dy
        if ll < 1e-18:
            continue  # a zero-length edge has no normal
        q = get((x, y))
        if q is None:
            q = forms[(x, y)] = [_EUCLID, 0.0, _EUCLID]
        # normal (-dy, dx)/|d|: n nᵀ = [dy², -dx·dy; -dx·dy, dx²] / |d|²
        q[0] += dy * dy / ll
        q[1] -= dx * dy / ll
        q[2] += dx * dx / ll


_PLAIN = (_EUCLID, 0.0, _EUCLID)


def _snap_commands(cmds: list, forms: dict, hi: int, n_rotation: int,
                   ends: list | None = None) -> list:
    """Snap end points (per the accumulated forms), then compensate and round control
    points (see `quantize`). `ends`, if given, holds each command's end-point form where
    already known (None: look it up)."""
    out: list = []
    push = out.append
    get = forms.get
    fx = fy = 0.0
    qx = qy = 0
    sx = sy = 0.0
    qsx = qsy = 0
    for c, q in zip(cmds, ends or [None] * len(cmds), strict=True):
        op = c[0]
        if op == "Z":
            push(("Z",))
            fx, fy, qx, qy = sx, sy, qsx, qsy
            continue
        x, y = c[-2], c[-1]
        a, b, cc = q or get((x, y), _PLAIN)
        # The four grid points around (x, y), unrolled: this is the quantiser's inner loop.
        x0, y0 = floor(x), floor(y)
        ex0, ey0 = x0 - x, y0 - y
        ex1, ey1 = ex0 + 1.0, ey0 + 1.0
        ax0, ax1, cy0, cy1, b2 = a * ex0 * ex0, a * ex1 * ex1, cc * ey0 * ey0, cc * ey1 * ey1, 2 * b
        nx, ny, best = x0, y0, ax0 + cy0 + b2 * ex0 * ey0
        cost = ax0 + cy1 + b2 * ex0 * ey1
        if cost < best:
            nx, ny, best = x0, y0 + 1, cost
        cost = ax1 + cy0 + b2 * ex1 * ey0
        if cost < best:
            nx, ny, best = x0 + 1, y0, cost
        if ax1 + cy1 + b2 * ex1 * ey1 < best:
            nx, ny = x0 + 1, y0 + 1
        nx = 0 if nx < 0 else hi if nx > hi else nx
        ny = 0 if ny < 0 else hi if ny > hi else ny
        if op == "C":
            e0x, e0y, e3x, e3y = qx - fx, qy - fy, nx - x, ny - y
            # `_round_pair` on each axis, inlined (the quantiser's inner loop). int(v + 0.5)
            # is floor(v + 0.5) for v ≥ −0.5; below that the clamp to 0 decides anyway.
            t1, t2 = c[1] - 4 / 3 * e0x + 2 / 3 * e3x, c[3] + 2 / 3 * e0x - 4 / 3 * e3x
            u1, u2 = int(t1 + 0.5), int(t2 + 0.5)
            a, b = u1 - t1, u2 - t2
            if a * b > 0.0:
                if a > 0.0:
                    if a >= b:
                        if a + a + 1.5 * b > 1.0:
                            u1 -= 1
                    elif b + b + 1.5 * a > 1.0:
                        u2 -= 1
                elif a <= b:
                    if a + a + 1.5 * b < -1.0:
                        u1 += 1
                elif b + b + 1.5 * a < -1.0:
                    u2 += 1
            t1, t2 = c[2] - 4 / 3 * e0y + 2 / 3 * e3y, c[4] + 2 / 3 * e0y - 4 / 3 * e3y
            v1, v2 = int(t1 + 0.5), int(t2 + 0.5)
            a, b = v1 - t1, v2 - t2
            if a * b > 0.0:
                if a > 0.0:
                    if a >= b:
                        if a + a + 1.5 * b > 1.0:
                            v1 -= 1
                    elif b + b + 1.5 * a > 1.0:
                        v2 -= 1
                elif a <= b:
                    if a + a + 1.5 * b < -1.0:
                        v1 += 1
                elif b + b + 1.5 * a < -1.0:
                    v2 += 1
            push(("C", 0 if u1 < 0 else hi if u1 > hi else u1,
                  0 if v1 < 0 else hi if v1 > hi else v1,
                  0 if u2 < 0 else hi if u2 > hi else u2,
                  0 if v2 < 0 else hi if v2 > hi else v2, nx, ny))
        elif op == "A":
            if x == sx and y == sy:  # the arc closes its subpath: its end is decided
                arc, err = _snap_arc(fx, fy, c, qx, qy, qsx, qsy, hi, n_rotation, 0.0,
                                     2 * ARC_TOLERANCE)
            elif abs(c[1] - c[2]) <= 1e-6 * c[1]:
                arc, err = _snap_circle_arc(fx, fy, c, qx, qy, x0, y0, hi, (a, b, cc))
            else:
                arc, err = _snap_arc(fx, fy, c, qx, qy, nx, ny, hi, n_rotation, 0.0,
                                     2 * ARC_TOLERANCE)
            if err <= ARC_TOLERANCE:
                out.append(arc)
                nx, ny = arc[6], arc[7]
            else:  # no arc on the grid stays close enough: cubics, which bend back
                out.extend(_snap_cubics(arc_to_cubics(fx, fy, c, LONG_ARC_RADIUS * hi / 199),
                                        fx, fy, qx, qy, nx, ny, hi))
        else:
            push((op, nx, ny))
            if op == "M":
                sx, sy, qsx, qsy = x, y, nx, ny
        fx, fy, qx, qy = x, y, nx, ny
    return out


def _snap_circle_arc(fx: float, fy: float, c: tuple, qx: int, qy: int, x0: int, y0: int,
                     hi: int, form: tuple) -> tuple[tuple, float]:
    """(a circular arc on the grid, its largest distance from the original circle) from the
    snapped start (qx, qy): its end is the one of the four grid points around the original
    end (x0, y0 its floor) that, with an integer radius, keeps the arc nearest the circle —
    plus the normal displacement of the edges meeting there (`form`, as for any end point).

    End points elsewhere may slide along their tangents for free, as the edges next to them
    bend back; an arc cannot, since its centre moves with its ends. Choosing the end by the
    arc lets it make up for its start: a round cap whose first end slid along the line slides
    its second end back, and its centre stays. The distance is linearised — the arc with
    centre O + d and radius R + δ lies d·u(θ) + δ off the circle (O, R) at direction u(θ) —
    and taken at five angles of the original arc."""
    geo = arc_center(fx, fy, c)
    fa, fs = 1 if c[4] else 0, 1 if c[5] else 0
    if geo is None:
        return ("A", 0, 0, 0.0, fa, fs, x0, y0), float("inf")
    ox, oy, rr, _, _, t1, dt = geo
    # The five directions, unrolled (this is per candidate radius and end point, below).
    a0, a1, a2, a3, a4 = (t1 + k * dt / 4 for k in range(5))
    u0x, u0y, u1x, u1y, u2x, u2y = (math.cos(a0), math.sin(a0), math.cos(a1), math.sin(a1),
                                    math.cos(a2), math.sin(a2))
    u3x, u3y, u4x, u4y = math.cos(a3), math.sin(a3), math.cos(a4), math.sin(a4)
    fl = floor(rr)
    radii = (fl, fl + 1) if fl >= 1 else (1,)
    qa, qb, qc = form
    x, y = c[6], c[7]
    side = -1.0 if fa == fs else 1.0
    best, best_cost, best_err = None, float("inf"), float("inf")
    for ex in (x0, x0 + 1):
        for ey in (y0, y0 + 1):
            if not (0 <= ex <= hi and 0 <= ey <= hi):
                continue
            hx, hy = (qx - ex) / 2, (qy - ey) / 2  # half the chord, end → start
            h2 = hx * hx + hy * hy
            if h2 == 0:
                continue
            dx, dy = ex - x, ey - y
            moved = qa * dx * dx + 2 * qb * dx * dy + qc * dy * dy
            mx, my = (qx + ex) / 2, (qy + ey) / 2
            for r in radii:
                if r * r <= h2:  # too short: drawn as the half circle on the chord
                    cx, cy, rad = mx, my, math.sqrt(h2)
                else:
                    k = side * math.sqrt((r * r - h2) / h2)
                    cx, cy, rad = mx + k * hy, my - k * hx, r
                ddx, ddy, dr = cx - ox, cy - oy, rad - rr
                # The largest of the five (max keeps the first largest, as a loop of `>` does).
                err = max(0.0, abs(ddx * u0x + ddy * u0y + dr), abs(ddx * u1x + ddy * u1y + dr),
                          abs(ddx * u2x + ddy * u2y + dr), abs(ddx * u3x + ddy * u3y + dr),
                          abs(ddx * u4x + ddy * u4y + dr))
                cost = moved + err * err
                if cost < best_cost:
                    best, best_cost, best_err = ("A", r, r, 0.0, fa, fs, ex, ey), cost, err
    if best is None:
        return ("A", 0, 0, 0.0, fa, fs, x0, y0), float("inf")
    return best, best_err


def _snap_arc(fx: float, fy: float, c: tuple, qx: int, qy: int, nx: int, ny: int, hi: int,
              n_rotation: int, enough: float = 0.0,
              cap: float = float("inf")) -> tuple[tuple, float]:
    """(an arc on the grid, its largest distance from the original ellipse at
    `_ARC_SAMPLES`): end points already snapped, rotation snapped onto its bins, and each
    radius rounded down or up — whichever stays nearest the original. Rounding alone fails
    near a half circle, where the sagitta moves by (1 − 1/cos α)·δ for a radius δ off
    (α half the swept angle); a radius too short is scaled up by the renderer to exactly
    the half-chord, so for a true half circle flooring is exact. The search stops at the
    first candidate within `enough`; candidates further than `cap` are given up on at the
    first sample that shows it (the error returned is then only a lower bound)."""
    rx, ry = c[1], c[2]
    circle = abs(rx - ry) <= 1e-6 * max(rx, ry)
    fa, fs = 1 if c[4] else 0, 1 if c[5] else 0
    geo = arc_center(fx, fy, c)
    if geo is None:
        return ("A", 0, 0, 0.0, fa, fs, nx, ny), 0.0
    ox, oy, orx, ory, phi, _, _ = geo
    cos, sin, mean_r = math.cos(phi), math.sin(phi), (orx + ory) / 2
    mid = arc_point(fx, fy, c, 0.5)
    best, best_err = None, cap
    xs = {_clip(floor(rx), hi), _clip(floor(rx) + 1, hi)}
    ys = xs if circle else {_clip(floor(ry), hi), _clip(floor(ry) + 1, hi)}
    for ax in sorted(xs):
        for ay in sorted(ys):
            if circle and ax != ay:
                continue
            # Bin k decodes to k·180/n (`TokenLayout.rotation_value`).
            k = round((c[3] % 180.0) * n_rotation / 180.0) % n_rotation if ax != ay else 0
            cand = ("A", ax, ay, k * 180.0 / n_rotation, fa, fs, nx, ny)
            g = arc_center(qx, qy, cand)
            if g is None:
                continue
            gx, gy, grx, gry, gphi, t1, dt = g
            gc, gs = math.cos(gphi), math.sin(gphi)
            # Distance from the original ellipse (radially: sliding along it is free); the
            # midpoint must stay on the same side of the chord.
            err = 0.0
            for t in _ARC_SAMPLES:
                a = t1 + t * dt
                ux, uy = grx * math.cos(a), gry * math.sin(a)
                px, py = gx + gc * ux - gs * uy, gy + gs * ux + gc * uy
                if t == 0.5 and math.hypot(px - mid[0], py - mid[1]) >= 0.5 * mean_r + 1:
                    err = 1e9
                    break
                dx, dy = px - ox, py - oy
                ux, uy = (cos * dx + sin * dy) / orx, (-sin * dx + cos * dy) / ory
                err = max(err, abs(math.hypot(ux, uy) - 1.0) * mean_r)
                if err >= best_err:
                    break
            if err < best_err:
                best, best_err = cand, err
                if best_err <= enough:
                    return best, best_err
    if best is None:
        return ("A", 0, 0, 0.0, fa, fs, nx, ny), cap
    return best, best_err


def _snap_cubics(cubics: list, fx: float, fy: float, qx: int, qy: int, nx: int, ny: int,
                 hi: int) -> list:
    """Cubics standing in for an arc: inner joints rounded, the last one at the arc's snapped
    end, control points compensated as in `quantize`."""
    out = []
    for i, c in enumerate(cubics):
        x, y = c[5], c[6]
        ex, ey = (nx, ny) if i == len(cubics) - 1 else (_clip(floor(x + 0.5), hi),
                                                         _clip(floor(y + 0.5), hi))
        e0x, e0y, e3x, e3y = qx - fx, qy - fy, ex - x, ey - y
        u1, u2 = _round_pair(c[1] - 4 / 3 * e0x + 2 / 3 * e3x, c[3] + 2 / 3 * e0x - 4 / 3 * e3x)
        v1, v2 = _round_pair(c[2] - 4 / 3 * e0y + 2 / 3 * e3y, c[4] + 2 / 3 * e0y - 4 / 3 * e3y)
        out.append(("C", _clip(u1, hi), _clip(v1, hi), _clip(u2, hi), _clip(v2, hi), ex, ey))
        fx, fy, qx, qy = x, y, ex, ey
    return out


def _round_pair(t1: float, t2: float) -> tuple[int, int]:
    """One coordinate of a cubic's two control points, rounded jointly. Rounding errors a, b
    move the curve by ∫|B1(t)·a + B2(t)·b|² dt ∝ a² + b² + 1.5·a·b (the cubic Bernstein Gram
    matrix: ∫B1² = ∫B2² = 3/35, ∫B1·B2 = 9/140), so errors of opposite signs cancel and
    plain rounding can cost up to 7× the best of the four floor/ceil pairs (both fractions
    near a half). The best pair: round both to nearest; if the errors share a sign, rounding
    the larger one (a ≥ b > 0, say) the other way lowers the form by 2a + 1.5b − 1 when that
    is positive; rounding both the other way never helps (it would need a + b > 1)."""
    u1, u2 = floor(t1 + 0.5), floor(t2 + 0.5)
    a, b = u1 - t1, u2 - t2
    if a * b > 0.0:
        if a > 0.0:
            if a >= b:
                if a + a + 1.5 * b > 1.0:
                    u1 -= 1
            elif b + b + 1.5 * a > 1.0:
                u2 -= 1
        elif a <= b:
            if a + a + 1.5 * b < -1.0:
                u1 += 1
        elif b + b + 1.5 * a < -1.0:
            u2 += 1
    return u1, u2


def _clip(i: int, hi: int) -> int:
    return 0 if i < 0 else hi if i > hi else i


def _clean(cmds) -> tuple:
    """Drop zero-length segments and subpaths that cannot bear area: empty ones and a lone
    line (`M L`, `M L Z` fill nothing, and the decoding grammar refuses them, so keeping
    them would make a drawing the model can never write)."""
    out: list = []
    sub: list = []
    push = sub.append
    x = y = None
    for c in cmds:
        op = c[0]
        if op == "M":
            if len(sub) > 2 or (len(sub) == 2 and sub[1][0] != "L"):
                out.extend(sub)
            sub = [c]
            push = sub.append
            x, y = c[1], c[2]
        elif op == "Z":
            if len(sub) > 2 or (len(sub) == 2 and sub[1][0] != "L"):
                push(c)
                out.extend(sub)
            sub = []
            push = sub.append
            x, y = None, None
        else:
            if not sub:  # drawing after Z continues from the subpath start (SVG rule)
                continue
            ex, ey = c[-2], c[-1]
            # a line, or a cubic whose control points sit on its ends too, is a point
            if ex == x and ey == y and (op == "L" or (
                    op == "C" and c[1] == x and c[2] == y and c[3] == x and c[4] == y)):
                continue
            if op == "A" and ((ex == x and ey == y) or c[1] == 0 or c[2] == 0):
                if ex == x and ey == y:
                    continue
                c = ("L", ex, ey)
            push(c)
            x, y = ex, ey
    if len(sub) > 2 or (len(sub) == 2 and sub[1][0] != "L"):
        out.extend(sub)
    return tuple(out)
