"""`Drawing`: the one interchange type of svgrl.

A `Drawing` is a canvas size plus an ordered tuple of filled `Path`s. Each path is a flat tuple
of commands in absolute canvas coordinates, one of five kinds (OmniSVG's command set):

    ("M", x, y)                               move to
    ("L", x, y)                               line to
    ("C", x1, y1, x2, y2, x, y)               cubic Bézier
    ("A", rx, ry, rotation, large, sweep, x, y)   elliptical arc (SVG semantics, flags 0/1)
    ("Z",)                                    close the current subpath

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


@dataclass(frozen=True, slots=True)
class Path:
    """One filled path: subpaths of M/L/C/A/Z commands, a fill colour and a fill rule.

    `fill` is an (r, g, b) tuple of 0–255 ints, or None for no fill (an invisible path kept
    only because a source had it; the simplifier drops those).
    """

    commands: tuple[Command, ...]
    fill: RGB | None = BLACK
    fill_rule: str = "nonzero"

    def validate(self) -> None:
        """Raise `SvgValueError` naming the first malformed command (cheap checks only)."""
        if self.fill_rule not in FILL_RULES:
            raise SvgValueError(f"fill_rule {self.fill_rule!r} is not one of {FILL_RULES}")
        if self.fill is not None and (
            len(self.fill) != 3 or any(not (0 <= c <= 255) for c in self.fill)
        ):
            raise SvgValueError(f"fill {self.fill!r} is not an (r, g, b) tuple of 0-255")
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
        paths.append(Path(tuple(out), p.fill, p.fill_rule))
    return Drawing(width, height, tuple(paths))
