"""Work budgets of one document: costs that the file size does not show.

A 150-byte path with ``stroke-dasharray="0.001"`` asks for millions of dashes; a stroked
polyline whose round joins overlap one another makes a boolean path op (clip, viewport)
quadratic or worse in its segments; a sheet of 5,000 universal rules is applied to each of
8,000 elements. Each such cost is *estimated before the work is done* and charged to a
document-wide budget from `ParseLimits`; going over raises `SvgLimitError`, so honest files
never meet the kill of a bounded worker (`svgrl.bounded`) and hostile ones fail fast with a
named reason.
"""

from __future__ import annotations

import math

import numpy as np
import skia

from svgrl.errors import SvgLimitError
from svgrl.svg.parse import ParseLimits

# Below this many points a path op is cheap whatever the geometry (≤ ~32k segment pairs).
_CHEAP_POINTS = 256


def dash_count(path: skia.Path, intervals: list[float]) -> float:
    """How many dashes skia would emit for `path` dashed with `intervals` (on/off pairs):
    per contour, its length over the period, times the on-intervals per period."""
    period = sum(intervals)
    if period <= 0:
        return 0.0
    per_period = len(intervals) / 2
    total = 0.0
    m = skia.PathMeasure(path, False, 1.0)
    while True:
        total += math.ceil(m.getLength() / period) * per_period
        if not m.nextContour():
            return total


def op_pairs(path: skia.Path, exact_up_to: int = 20_000) -> int:
    """Estimate of the segment pairs a boolean op must intersect in `path`: pairs of
    overlapping boxes of every window of 4 consecutive points (a cubic's points; lines and
    conics need fewer). Pairs overlapping along x are listed from a sort; up to
    `exact_up_to` of them are checked along y exactly, beyond that a fixed random sample
    of them estimates the fraction that overlaps in y too. O(n log n + exact_up_to)."""
    n = path.countPoints()
    if n < _CHEAP_POINTS:
        return n
    pts = path_points(path)
    # Box of each window of 4 points: the min/max of 4 shifted views (a strided window
    # view reduced along its axis costs ten times as much on a few hundred points).
    p0, p1, p2, p3 = pts[:-3], pts[1:-2], pts[2:-1], pts[3:]
    lo = np.minimum(np.minimum(p0, p1), np.minimum(p2, p3))
    hi = np.maximum(np.maximum(p0, p1), np.maximum(p2, p3))
    order = np.argsort(lo[:, 0], kind="stable")
    lo, hi = lo[order], hi[order]
    m = len(lo)
    end = np.searchsorted(lo[:, 0], hi[:, 0], "right")  # boxes i+1..end-1 overlap i in x
    per = np.maximum(end - np.arange(m) - 1, 0)
    total = int(per.sum())
    if total == 0:
        return m
    loy, hiy = np.ascontiguousarray(lo[:, 1]), np.ascontiguousarray(hi[:, 1])
    if total <= exact_up_to:
        # pair k of box i is j = i + 1 + (k - first pair of i)
        i = np.repeat(np.arange(m), per)
        j = np.arange(total) + np.repeat(np.arange(1, m + 1) - (np.cumsum(per) - per), per)
    else:  # sample pairs uniformly among the x-overlapping ones
        rng = np.random.default_rng(0)
        k = exact_up_to
        i = rng.choice(m, size=k, p=per / total)
        j = i + 1 + (rng.random(k) * per[i]).astype(np.int64)
    y = (loy[i] <= hiy[j]) & (loy[j] <= hiy[i])
    return m + int(round(total * float(y.mean())))


def path_points(path: skia.Path) -> np.ndarray:
    """(n, 2) float64 points of `path`. Read from Skia's serialisation (version-5 layout:
    int32 version, point, conic and verb counts, then the points as float32 pairs), which
    costs ~1 µs where converting `getPoints()` point by point in Python costs ~0.6 ms for
    900 points — this runs before every clip and viewport op. Any other layout falls back to
    the slow path, so a Skia that changes its format stays correct."""
    n = path.countPoints()
    data = bytes(path.serialize())
    if len(data) >= 16 + 8 * n:
        version, count = np.frombuffer(data, np.int32, 2)
        if version == 5 and count == n:
            return np.frombuffer(data, np.float32, 2 * n, offset=16).reshape(n, 2).astype(
                np.float64)
    return np.array([(p.fX, p.fY) for p in path.getPoints(n)], np.float64)


class WorkBudget:
    """Document-wide counters; every method raises `SvgLimitError` when one runs out."""

    def __init__(self, limits: ParseLimits, where: str = ""):
        self.lim, self.where = limits, where
        self.dashes = float(limits.max_dashes)
        self.pairs = limits.max_op_pairs
        self.css = limits.max_css_matches

    def dash(self, path: skia.Path, intervals: list[float], where: str) -> None:
        n = dash_count(path, intervals)
        self.dashes -= n
        if self.dashes < 0:
            raise SvgLimitError(
                f"stroke-dasharray {intervals!r} asks for ~{n:,.0f} dashes; the document may "
                f"have {self.lim.max_dashes:,} in all", reason="dashes",
                where=f"{self.where} {where}".strip())

    def op(self, a: skia.Path, b: skia.Path, op: skia.PathOp, where: str) -> skia.Path | None:
        """`skia.Op(a, b, op)` once its estimated cost fits the budget."""
        cost = op_pairs(a) + op_pairs(b)
        self.pairs -= cost
        if self.pairs < 0:
            raise SvgLimitError(
                f"a path operation on {a.countVerbs():,} + {b.countVerbs():,} segments would "
                f"compare ~{cost:,} segment pairs; the document may compare "
                f"{self.lim.max_op_pairs:,}", reason="path-op",
                where=f"{self.where} {where}".strip())
        return skia.Op(a, b, op)

    def css_matches(self, n: int, where: str) -> None:
        self.css -= n
        if self.css < 0:
            raise SvgLimitError(
                f"CSS rules matched elements more than {self.lim.max_css_matches:,} times",
                reason="css-work", where=f"{self.where} {where}".strip())
