"""Elliptical arcs: recognising them in skia paths, and their geometry for the quantiser.

Skia stores circles, ellipses, rounded-rect corners and SVG arcs as *conics* (rational
quadratics) of at most 90° each. Every conic of weight 0 < w < 1 is an arc of an ellipse, and
the ellipse is recovered exactly: the conic is the affine image of the unit-circle arc from
−φ to φ (w = cos φ) whose control points are

    Q0 = (cos φ, −sin φ),   Q1 = (1 / cos φ, 0),   Q2 = (cos φ, sin φ),

so the three correspondences Qi ↦ Pi fix the affine map x ↦ A·x + c: the ellipse is c + A·S¹
(radii = singular values of A, rotation = direction of its first left singular vector) and
the conic turns the way det A says. Runs of conics on one ellipse become one SVG ``A`` —
6 tokens instead of 4 per cubic, so an arc pays for itself from two conics (> 90°) on; a
lone quarter (a rounded-rect corner) stays a cubic, which is 2 tokens shorter and within
0.03 % of the circle. A run longer than `MAX_ARC_DEGREES` is split (see `split_run`): an arc
whose ends nearly meet is ill-conditioned once its end points are rounded onto the grid.
"""

from __future__ import annotations

import math

Conic = tuple[float, float, float, float, float, float, float]  # x0 y0 x1 y1 x2 y2 w
Ellipse = tuple[float, float, float, float, float, float]  # cx cy a11 a12 a21 a22 (x = A u + c)

MAX_ARC_DEGREES = 180.0
# Radius (units of a 200 canvas or grid) beyond which arcs written as cubics get more of
# them: a quarter of a large circle as one cubic sits ~0.3 units off once its control points
# are rounded onto the grid. Full sets, same run: Tabler 146.69 → 150.88 tokens per file,
# 200-grid SSIM 0.98200 → 0.98209; Font Awesome 138.42 → 138.84, 0.98216 → 0.98223.
LONG_ARC_RADIUS = 60.0
# Conics within this (relative to the ellipse's size) of each other's ellipse are one ellipse;
# skia keeps points as float32, so exact arcs agree to ~1e-6 of their size.
_SAME = 1e-4
# An arc whose centre lies within this fraction of its half-chord from the chord is a half
# turn (see `svg_arc`).
_HALF_TURN = 1e-3


def conic_ellipse(c: Conic) -> tuple[Ellipse, float] | None:
    """(ellipse, swept angle in degrees) of a conic, or None if it is not an elliptical arc
    (weight ≥ 1, or degenerate)."""
    e = conic_axes(*c)
    return None if e is None else (e, math.degrees(2 * math.acos(c[6])))


def conic_axes(x0: float, y0: float, x1: float, y1: float, x2: float, y2: float,
               w: float) -> Ellipse | None:
    """The ellipse of a conic (centre and axis matrix), or None as `conic_ellipse`; the
    stroker's hot path calls this, which skips the swept angle it does not use."""
    if not 1e-6 < w < 1.0 - 1e-9:
        return None
    s = math.sqrt(1.0 - w * w)  # sin φ
    # Second column: A (0, 2 sin φ) = P2 − P0.
    a12, a22 = (x2 - x0) / (2 * s), (y2 - y0) / (2 * s)
    # First column: A (1/cos φ − cos φ, sin φ) = P1 − P0, and 1/cos φ − cos φ = sin² φ / cos φ.
    k = w / (s * s)
    a11, a21 = (x1 - x0 - a12 * s) * k, (y1 - y0 - a22 * s) * k
    if abs(a11 * a22 - a12 * a21) < 1e-12:
        return None
    cx, cy = x0 - (a11 * w - a12 * s), y0 - (a21 * w - a22 * s)
    return cx, cy, a11, a12, a21, a22


def same_ellipse(e: Ellipse, f: Ellipse) -> bool:
    """Same centre, same shape matrix A·Aᵀ and the same turning direction (sign of det A)."""
    _, _, a, b, c, d = e
    scale = max(abs(a), abs(b), abs(c), abs(d)) + 1e-9
    tol = _SAME * scale
    if abs(e[0] - f[0]) > tol or abs(e[1] - f[1]) > tol:
        return False
    _, _, p, q, r, s = f
    if (a * d - b * c > 0) != (p * s - q * r > 0):
        return False
    # The Gram matrices (`_gram`) compared entry by entry, written out: this runs per conic.
    t = tol * scale * 2
    return (abs((a * a + b * b) - (p * p + q * q)) <= t
            and abs((a * c + b * d) - (p * r + q * s)) <= t
            and abs((c * c + d * d) - (r * r + s * s)) <= t)


def _gram(e: Ellipse) -> tuple[float, float, float]:
    _, _, a, b, c, d = e
    return a * a + b * b, a * c + b * d, c * c + d * d


def ellipse_radius(e: Ellipse) -> float:
    """The larger radius of an ellipse."""
    m11, m12, m22 = _gram(e)
    half_tr = (m11 + m22) / 2
    return math.sqrt(half_tr + math.sqrt(max(0.0, half_tr * half_tr - m11 * m22 + m12 * m12)))


def cubic_handle(degrees: float) -> float:
    """Handle length (per unit radius) of the cubic standing in for a circular arc of
    `degrees` ≤ 180. The usual 4/3·tan(θ/4) matches the arc's middle and bulges outwards
    everywhere else; shortened by the factor below the cubic encloses the arc's own area
    (errors of both signs, same largest error), which is what pixel coverage sees: fitted
    to the numerical zero-area factor within 1e-4 (0.9991 at 90°, 0.9817 at 180°)."""
    t = math.radians(degrees)
    return 4 / 3 * math.tan(t / 4) * (1 - 0.0183 * (t / math.pi) ** 4.4)


def cubic_error(degrees: float) -> float:
    """Largest radial distance (per unit radius) between a circular arc of `degrees` ≤ 180
    and its `cubic_handle` cubic, ≈ 1.9e-5·θ⁶ (θ in radians; measured 2.5e-4 at 90°,
    1.83 % at 180°; the formula is within 10 % above those)."""
    t = math.radians(degrees)
    return 1.9e-5 * t ** 6


def svg_arc(e: Ellipse, degrees: float, start: tuple[float, float],
            middle: tuple[float, float], end: tuple[float, float]) -> tuple:
    """The ``("A", rx, ry, rotation, large, sweep, x, y)`` command drawing `degrees` of
    ellipse `e` from `start` through `middle` (a point on the arc away from its ends) to
    `end`.

    An SVG arc has no centre: renderers put it where the radii reach both ends (F.6.5), at
    h = √(r² − c²) from the chord of half-length c. Near a half turn h → 0 and dh/dr = r/h
    blows up: the ellipse's own radii, 1e-3 too long (float32 conics, and the ~1e-4 centre
    drift of a stroker's offset arcs, are that far off), put the centre of a Tabler cup's
    half circle (radius 83 of 200) 0.5 units off, flattening its far side. So the ellipse
    keeps its shape and rotation, and takes the size that puts the SVG centre where the
    arc's three points say: in the frame where the ellipse is the unit circle, the circle
    through start, middle and end. When that centre is within 1e-3·c of the chord, the arc
    is taken as a half turn, its radii a hair short of the half-chord: every renderer
    scales them up to exactly the half-chord (F.6.6), where radii that only just reach it
    would leave a float32 renderer's rounding amplified the same way (~8e-4·c)."""
    m11, m12, m22 = _gram(e)
    # Eigen-decomposition of the symmetric A·Aᵀ: radii² and the major axis direction.
    half_tr, det = (m11 + m22) / 2, m11 * m22 - m12 * m12
    disc = math.sqrt(max(0.0, half_tr * half_tr - det))
    rx = math.sqrt(max(0.0, half_tr + disc))
    ry = math.sqrt(max(0.0, half_tr - disc))
    if rx - ry <= _SAME * rx:
        rot = 0.0
        rx = ry = (rx + ry) / 2
    else:
        rot = math.degrees(math.atan2(half_tr + disc - m11, m12)) if abs(m12) > 1e-12 else (
            0.0 if m11 >= m22 else 90.0)
        rot %= 180.0
    sweep = 1 if e[2] * e[5] - e[3] * e[4] > 0 else 0
    large = 1 if degrees > 180.5 else 0
    fit = _chord_and_height(rx, ry, rot, start, middle, end)
    if fit is not None:
        c, h = fit
        if abs(h) < _HALF_TURN * c:
            s, large = c * (1 - 1e-5), 0
        else:  # the larger arc when the centre lies on the middle point's side
            s, large = math.hypot(c, h), 1 if h > 0 else 0
        rx, ry = rx * s, ry * s
    return ("A", rx, ry, rot, large, sweep, *end)


def _chord_and_height(rx: float, ry: float, rot: float, *pts: tuple[float, float]
                      ) -> tuple[float, float] | None:
    """In the frame where an ellipse of radii (rx, ry) rotated by `rot` degrees is a unit
    circle: half the chord from the first point to the last, and how far from that chord's
    middle the centre of the circle through the three points lies, positive on the side of
    the middle point (None if degenerate)."""
    if rx <= 0 or ry <= 0:
        return None
    cos, sin = math.cos(math.radians(rot)), math.sin(math.radians(rot))
    (ax, ay), (bx, by), (cx, cy) = (((cos * x + sin * y) / rx, (cos * y - sin * x) / ry)
                                    for x, y in pts)
    bx, by, cx, cy = bx - ax, by - ay, cx - ax, cy - ay  # relative to the first point
    d = 2 * (bx * cy - by * cx)
    b2, c2 = bx * bx + by * by, cx * cx + cy * cy
    if abs(d) < 1e-9 * max(b2, c2, 1e-300):
        return None
    ux, uy = (cy * b2 - by * c2) / d, (bx * c2 - cx * b2) / d  # the centre
    h = math.hypot(ux - cx / 2, uy - cy / 2)
    return math.sqrt(c2) / 2, h if (cx * uy - cy * ux) * d < 0 else -h  # d = 2·(B × C)


def split_run(angles: list[float]) -> list[int]:
    """Cut points (exclusive end indices) of a run of conic angles: greedily as many conics
    per arc as fit in `MAX_ARC_DEGREES`. A full circle is two half circles (15 tokens
    against 19 for four cubics). Wider arcs would be shorter still, but on the grid their
    centre moves about twice as far as their end points, so the quantiser would turn most
    of them back into cubics; a half circle whose radius token is a little short of the
    half-chord is drawn exactly on its end points (SVG scales the radius up to fit)."""
    cuts, acc = [], 0.0
    for i, a in enumerate(angles):
        if acc and acc + a > MAX_ARC_DEGREES + 0.5:
            cuts.append(i)
            acc = 0.0
        acc += a
    cuts.append(len(angles))
    return cuts


def arc_center(x0: float, y0: float, cmd: tuple) -> tuple[float, ...] | None:
    """(cx, cy, rx, ry, φ, θ1, Δθ) of ``cmd`` = ("A", rx, ry, rot, fa, fs, x, y) drawn from
    (x0, y0), radii scaled up if too small, angles in radians, by the SVG centre
    parameterisation (https://www.w3.org/TR/SVG11/implnote.html#ArcConversionEndpointToCenter);
    None for an arc drawn as a line (zero radius or no chord)."""
    _, rx, ry, rot, fa, fs, x, y = cmd
    rx, ry = abs(rx), abs(ry)
    if rx < 1e-12 or ry < 1e-12 or (x == x0 and y == y0):
        return None
    phi = math.radians(rot)
    cos, sin = math.cos(phi), math.sin(phi)
    dx, dy = (x0 - x) / 2, (y0 - y) / 2
    x1, y1 = cos * dx + sin * dy, -sin * dx + cos * dy
    lam = x1 * x1 / (rx * rx) + y1 * y1 / (ry * ry)
    if lam > 1:
        rx, ry = rx * math.sqrt(lam), ry * math.sqrt(lam)
    num = rx * rx * ry * ry - rx * rx * y1 * y1 - ry * ry * x1 * x1
    den = rx * rx * y1 * y1 + ry * ry * x1 * x1
    coef = math.sqrt(max(0.0, num / den)) if den > 0 else 0.0
    if fa == fs:
        coef = -coef
    cxp, cyp = coef * rx * y1 / ry, -coef * ry * x1 / rx
    cx = cos * cxp - sin * cyp + (x0 + x) / 2
    cy = sin * cxp + cos * cyp + (y0 + y) / 2
    t1 = math.atan2((y1 - cyp) / ry, (x1 - cxp) / rx)
    t2 = math.atan2((-y1 - cyp) / ry, (-x1 - cxp) / rx)
    dt = t2 - t1
    if fs and dt < 0:
        dt += 2 * math.pi
    elif not fs and dt > 0:
        dt -= 2 * math.pi
    return cx, cy, rx, ry, phi, t1, dt


def arc_point(x0: float, y0: float, cmd: tuple, t: float) -> tuple[float, float]:
    """The point at fraction `t` of the arc's angular sweep (the chord's for a line)."""
    c = arc_center(x0, y0, cmd)
    if c is None:
        return x0 + t * (cmd[6] - x0), y0 + t * (cmd[7] - y0)
    cx, cy, rx, ry, phi, t1, dt = c
    a = t1 + t * dt
    ux, uy = rx * math.cos(a), ry * math.sin(a)
    return (cx + math.cos(phi) * ux - math.sin(phi) * uy,
            cy + math.sin(phi) * ux + math.cos(phi) * uy)


def arc_tangents(x0: float, y0: float, cmd: tuple) -> tuple[tuple[float, float],
                                                              tuple[float, float]]:
    """Direction of travel at the start and the end of an arc drawn from (x0, y0)."""
    c = arc_center(x0, y0, cmd)
    if c is None:
        chord = (cmd[6] - x0, cmd[7] - y0)
        return chord, chord
    _, _, rx, ry, phi, t1, dt = c
    sign = 1.0 if dt > 0 else -1.0
    out = []
    for a in (t1, t1 + dt):
        tx, ty = -rx * math.sin(a) * sign, ry * math.cos(a) * sign
        out.append((math.cos(phi) * tx - math.sin(phi) * ty,
                    math.sin(phi) * tx + math.cos(phi) * ty))
    return out[0], out[1]


def arc_to_cubics(x0: float, y0: float, cmd: tuple,
                  long_radius: float = float("inf")) -> list[tuple]:
    """The arc as cubics of at most 90° each, 45° on an ellipse wider than `long_radius`
    (see `LONG_ARC_RADIUS`; the standard k = 4/3·tan(δ/4) handles; the last end point is the
    arc's own, so the path stays closed exactly)."""
    c = arc_center(x0, y0, cmd)
    if c is None:
        return [("L", cmd[6], cmd[7])]
    cx, cy, rx, ry, phi, t1, dt = c
    piece = math.pi / 4 if max(rx, ry) > long_radius else math.pi / 2
    n = max(1, math.ceil(abs(dt) / piece - 1e-3))
    d = dt / n
    k = 4 / 3 * math.tan(d / 4)
    cos, sin = math.cos(phi), math.sin(phi)

    def at(a: float) -> tuple[float, float, float, float]:
        ux, uy, vx, vy = rx * math.cos(a), ry * math.sin(a), -rx * math.sin(a), ry * math.cos(a)
        return (cx + cos * ux - sin * uy, cy + sin * ux + cos * uy,
                cos * vx - sin * vy, sin * vx + cos * vy)

    out = []
    px, py, pdx, pdy = x0, y0, *at(t1)[2:]
    for i in range(1, n + 1):
        qx, qy, qdx, qdy = at(t1 + i * d)
        if i == n:
            qx, qy = cmd[6], cmd[7]
        out.append(("C", px + k * pdx, py + k * pdy, qx - k * qdx, qy - k * qdy, qx, qy))
        px, py, pdx, pdy = qx, qy, qdx, qdy
    return out
