"""`Drawing`: the one interchange type of svgrl.

A `Drawing` is a canvas size plus an ordered tuple of filled `Path`s. Each path is a flat tuple
of commands in absolute canvas coordinates, one of five kinds (OmniSVG's command set):

    ("M", x, y)                               move to
    ("L", x, y)                               line to
    ("C", x1, y1, x2, y2, x, y)               cubic Bézier
    ("A", rx, ry, rotation, large, sweep, x, y)   elliptical arc (SVG semantics, flags 0/1)
    ("Z",)                                    close the current subpath

A path's paint is its flat `fill` colour, or — when the drawing keeps gradients — a
`Gradient` in canvas coordinates, with `fill` then holding the gradient's mean colour (what
a flat-colour consumer draws instead). Such drawings may also give a path an `Effect`: a
Gaussian blur (a layer blur, or with an offset and opacity a drop shadow) or an inner shadow,
the filter effects colour emoji are drawn with.

Commands are plain tuples, not objects, because every stage (render, encode, reward) walks
them in tight loops and tuples are the cheapest immutable value Python has. Coordinates are
floats on a float canvas; quantising onto a G×G grid is a separate, explicit step
(`svgrl.svg.normalise.quantize`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from svgrl.errors import SvgValueError

RGB = tuple[int, int, int]
Command = tuple
FILL_RULES = ("nonzero", "evenodd")
BLACK: RGB = (0, 0, 0)

# Number of floats that follow each command letter.
ARITY = {"M": 2, "L": 2, "C": 6, "A": 7, "Z": 0}
# Positions (within the tuple, after the letter) of x,y point pairs that an affine map moves.
_POINT_SLOTS = {"M": (1,), "L": (1,), "C": (1, 3, 5), "A": (6,), "Z": ()}


GRADIENT_KINDS = ("linear", "radial")
# Points of each gradient kind, in canvas coordinates: linear: start (t = 0), end (t = 1);
# radial: centre, the ends of two conjugate semi-axes of the t = 1 ellipse (a circle's two
# radii, after any gradientTransform), focal point.
GRADIENT_POINTS = {"linear": 2, "radial": 4}
MAX_STOPS = 8  # stops a gradient keeps (the token layout's bound)


def bound_stops(stops, limit: int = MAX_STOPS) -> tuple:
    """At most `limit` stops: repeatedly drop the inner stop whose colour and opacity are
    closest to the straight interpolation of its neighbours (the one the ramp misses
    least). More than 8 × `limit` stops are first thinned to that many, evenly spaced (the
    greedy pass is quadratic; honest gradients have a handful)."""
    stops = list(stops)
    if len(stops) > 8 * limit:
        n = len(stops) - 1
        stops = [stops[round(i * n / (8 * limit - 1))] for i in range(8 * limit)]
    while len(stops) > limit:
        best, cost = 1, float("inf")
        for i in range(1, len(stops) - 1):
            (t0, c0, a0), (t, c, a), (t1, c1, a1) = stops[i - 1], stops[i], stops[i + 1]
            u = (t - t0) / (t1 - t0) if t1 > t0 else 0.5
            e = sum(abs(c[k] - (c0[k] + u * (c1[k] - c0[k]))) for k in range(3))
            e += 255 * abs(a - (a0 + u * (a1 - a0)))
            if e < cost:
                best, cost = i, e
        del stops[best]
    return tuple(stops)


@dataclass(frozen=True, slots=True)
class Gradient:
    """Gradient paint: `points` (x, y pairs flattened, see `GRADIENT_POINTS`) and `stops`:
    (offset in [0, 1], non-decreasing; (r, g, b); opacity in [0, 1]), padded beyond the
    ends. Opacity stays in the stops (gradients that fade out are how colour emoji draw
    highlights and shadows over other shapes); flat fills are composited onto white."""

    kind: str
    points: tuple[float, ...]
    stops: tuple[tuple[float, RGB], ...]

    def validate(self) -> None:
        if self.kind not in GRADIENT_KINDS:
            raise SvgValueError(f"gradient kind {self.kind!r} is not one of {GRADIENT_KINDS}")
        if len(self.points) != 2 * GRADIENT_POINTS[self.kind] or not all(
                math.isfinite(v) for v in self.points):
            raise SvgValueError(f"{self.kind} gradient points {self.points!r} are malformed")
        last = 0.0
        if not self.stops:
            raise SvgValueError("a gradient needs at least one stop")
        for stop in self.stops:
            off, c, a = stop if len(stop) == 3 else (*stop, None)
            if not (last <= off <= 1.0) or len(c) != 3 or any(not (0 <= v <= 255) for v in c) \
                    or a is None or not 0 <= a <= 1:
                raise SvgValueError(f"gradient stop {stop!r} is malformed")
            last = off

    def map_points(self, fx: Callable[[float], float], fy: Callable[[float], float]
                   ) -> Gradient:
        p = self.points
        return Gradient(self.kind, tuple(fx(v) if i % 2 == 0 else fy(v)
                                         for i, v in enumerate(p)), self.stops)

    def mean(self) -> RGB:
        """The mean colour along the ramp over offsets 0..1 (pads included), each stop
        composited onto white; radial ramps weight offset t by 2t, the area of the ring at
        t — what a flat fill stands in."""
        flat = [(t, tuple(v * a + 255 * (1 - a) for v in c)) for t, c, a in self.stops]
        pts = [(0.0, flat[0][1]), *flat, (1.0, flat[-1][1])]
        acc, total = [0.0, 0.0, 0.0], 0.0
        radial = self.kind == "radial"
        for (t0, c0), (t1, c1) in zip(pts, pts[1:], strict=False):
            if t1 <= t0:
                continue
            if radial:
                w0, w1 = (t1 - t0) * (2 * t0 + t1) / 3, (t1 - t0) * (t0 + 2 * t1) / 3
            else:
                w0 = w1 = (t1 - t0) / 2
            for i in range(3):
                acc[i] += w0 * c0[i] + w1 * c1[i]
            total += w0 + w1
        if total <= 0:
            return tuple(round(v) for v in flat[-1][1])
        return (round(acc[0] / total), round(acc[1] / total), round(acc[2] / total))


EFFECT_KINDS = ("blur", "inner")
MAX_EFFECTS = 256  # effects one drawing may have (each costs a layer and a blur to draw)
MAX_SIGMA = 0.25  # blur standard deviations beyond this fraction of the canvas are clamped
# Hard coverage H, the colour matrix an inner shadow starts from: alpha × 8, clamped, so the
# shadow reaches the anti-aliased edge as design tools' "hardAlpha" (× 127) makes it. Not
# × 127: skia and resvg anti-alias faint coverage differently, and × 127 turns that into a
# one-pixel fringe (Fluent Emoji sample: SSIM to resvg 0.9920 with × 8, 0.9910 with × 127,
# 0.9849 with soft coverage; our render vs resvg of our own SVG 0.9944 vs 0.9922).
HARD_ALPHA = (1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 8, 0)


@dataclass(frozen=True, slots=True)
class Effect:
    """A filter effect on one path, lengths in canvas units (SVG 1.1 §15 semantics with
    color-interpolation-filters sRGB; A is the path's coverage, P its paint):

    - ``blur``: P·A blurred by a Gaussian of standard deviation `sigma`, moved by (dx, dy),
      times `alpha` (a layer blur: no move, alpha 1; a drop shadow: both).
    - ``inner``: P · clamp(H − blur(H) moved by (dx, dy)) · alpha, H = min(1, 8·A) (see
      `HARD_ALPHA`): an inner shadow, the paint showing inside the edge that faces away
      from the offset.

    The renderer clamps sigma to `MAX_SIGMA` × the canvas size (a wider blur is flat to
    within a grey level; the clamp bounds a hostile one)."""

    kind: str
    sigma: float
    dx: float = 0.0
    dy: float = 0.0
    alpha: float = 1.0

    def validate(self) -> None:
        if self.kind not in EFFECT_KINDS:
            raise SvgValueError(f"effect kind {self.kind!r} is not one of {EFFECT_KINDS}")
        if not all(math.isfinite(v) for v in (self.sigma, self.dx, self.dy, self.alpha)) \
                or self.sigma <= 0 or not 0 <= self.alpha <= 1:
            raise SvgValueError(f"effect {self!r} is malformed (sigma > 0, alpha in [0, 1])")

    def scaled(self, kx: float, ky: float) -> Effect:
        """The effect under the axis-aligned scale (kx, ky) (sigma by their geometric mean)."""
        return Effect(self.kind, self.sigma * math.sqrt(abs(kx * ky)), self.dx * kx,
                      self.dy * ky, self.alpha)


@dataclass(frozen=True, slots=True)
class Path:
    """One filled path: subpaths of M/L/C/A/Z commands, a fill colour and a fill rule.

    `fill` is an (r, g, b) tuple of 0–255 ints, or None for no fill (an invisible path kept
    only because a source had it; the simplifier drops those). `paint`, when set, is the
    gradient the path is filled with (`fill` is then its flat stand-in); `effect`, when set,
    the filter effect it is drawn with.
    """

    commands: tuple[Command, ...]
    fill: RGB | None = BLACK
    fill_rule: str = "nonzero"
    paint: Gradient | None = None
    effect: Effect | None = None

    def validate(self) -> None:
        """Raise `SvgValueError` naming the first malformed command (cheap checks only)."""
        if self.fill_rule not in FILL_RULES:
            raise SvgValueError(f"fill_rule {self.fill_rule!r} is not one of {FILL_RULES}")
        if self.fill is not None and (
            len(self.fill) != 3 or any(not (0 <= c <= 255) for c in self.fill)
        ):
            raise SvgValueError(f"fill {self.fill!r} is not an (r, g, b) tuple of 0-255")
        if self.paint is not None:
            self.paint.validate()
        if self.effect is not None:
            self.effect.validate()
        for i, cmd in enumerate(self.commands):
            op = cmd[0] if cmd else None
            if op not in ARITY or len(cmd) != ARITY[op] + 1:
                raise SvgValueError(f"command {i} is malformed: {cmd!r}")
            if i == 0 and op != "M":
                raise SvgValueError(f"a path must start with M, got {cmd!r}")
            if not all(math.isfinite(v) for v in cmd[1:]):
                raise SvgValueError(f"command {i} has a non-finite value: {cmd!r}")

    def points(self) -> Iterator[tuple[float, float]]:
        """Every on-curve and control point, in order (arc radii excluded)."""
        for cmd in self.commands:
            for slot in _POINT_SLOTS[cmd[0]]:
                yield cmd[slot], cmd[slot + 1]


@dataclass(frozen=True, slots=True)
class Drawing:
    """A canvas of `width` × `height` user units and its filled paths, painted in order."""

    width: float
    height: float
    paths: tuple[Path, ...] = field(default_factory=tuple)

    def validate(self) -> Drawing:
        if not (self.width > 0 and self.height > 0) or not (
            math.isfinite(self.width) and math.isfinite(self.height)
        ):
            raise SvgValueError(f"canvas size {self.width!r}x{self.height!r} is not positive")
        for p in self.paths:
            p.validate()
        if sum(p.effect is not None for p in self.paths) > MAX_EFFECTS:
            raise SvgValueError(f"more than {MAX_EFFECTS} paths with effects")
        return self

    def bounds(self) -> tuple[float, float, float, float] | None:
        """(xmin, ymin, xmax, ymax) of all points (control points included), or None."""
        xs: list[float] = []
        ys: list[float] = []
        for p in self.paths:
            for x, y in p.points():
                xs.append(x)
                ys.append(y)
        if not xs:
            return None
        return min(xs), min(ys), max(xs), max(ys)

    @property
    def has_gradients(self) -> bool:
        return any(p.paint is not None for p in self.paths)

    @property
    def has_effects(self) -> bool:
        return any(p.effect is not None for p in self.paths)

    def n_commands(self) -> int:
        return sum(len(p.commands) for p in self.paths)

    def with_paths(self, paths: tuple[Path, ...]) -> Drawing:
        return replace(self, paths=tuple(paths))


def map_coordinates(
    drawing: Drawing,
    fx: Callable[[float], float],
    fy: Callable[[float], float],
    fr: Callable[[float], float],
    width: float,
    height: float,
) -> Drawing:
    """Apply an axis-aligned map to every coordinate: `fx`/`fy` to x/y values, `fr` to arc
    radii. Only maps without rotation or skew keep arcs exact, which is all normalisation and
    quantisation need; general affine maps are applied to skia paths before a `Drawing`
    exists (see `svgrl.svg.simplify`)."""
    paths = []
    for p in drawing.paths:
        out = []
        for c in p.commands:
            op = c[0]
            if op == "Z":
                out.append(c)
            elif op == "C":
                out.append(("C", fx(c[1]), fy(c[2]), fx(c[3]), fy(c[4]), fx(c[5]), fy(c[6])))
            elif op == "A":
                out.append(("A", fr(c[1]), fr(c[2]), c[3], c[4], c[5], fx(c[6]), fy(c[7])))
            else:
                out.append((op, fx(c[1]), fy(c[2])))
        paint = p.paint.map_points(fx, fy) if p.paint is not None else None
        effect = p.effect
        if effect is not None:
            effect = effect.scaled(fx(1.0) - fx(0.0), fy(1.0) - fy(0.0))
        paths.append(Path(tuple(out), p.fill, p.fill_rule, paint, effect))
    return Drawing(width, height, tuple(paths))
