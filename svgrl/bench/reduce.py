"""Cut a drawing to a token budget while losing as little of its picture as possible: the
starting point of refinement at a budget below the start's own tokens.

Greedy, cheapest loss per token saved first, over three kinds of edit:

    merge     two adjacent runs of a subpath's segments become one command, fitted to the
              original outline of both (a line when a line fits as well; otherwise a cubic
              by least squares with Schneider's reparameterisation, Graphics Gems 1990);
              also a cubic that is nearly straight becoming a line
    subpath   a subpath of a path with several (a hole, a detached part) is dropped
    path      a whole path is dropped

Loss is measured in ink: the area between the fitted and the original outline (mean
distance × length, both ways) times the fill's contrast against white for merges; the
polygon area times contrast for a subpath; and for a path, the change of the L1 distance
between the drawing's render and the target (so a path that covers nothing, or is painted
over, or is wrong, goes first). Tokens follow the layout: a path costs its fill (and an
evenodd rule), a subpath ``M p`` and ``Z``, a line 2, a cubic 4.

The result is checked with the real encoder; if snapping to the grid left it over the
budget, the cut is redone to a lower target. Deterministic: ties break on a sequence number.
"""

from __future__ import annotations

import heapq
import math
import time
from typing import Any

import numpy as np

from svgrl.svg.drawing import Drawing, Path

_TOK = {"L": 2, "C": 4}
_DENSE = np.linspace(0, 1, 33)


def subpaths(cmds: tuple) -> list[tuple[tuple, list[tuple], bool]]:
    """(M command, segments as (op, start point, command), closed) per subpath."""
    out: list = []
    for c in cmds:
        if c[0] == "M":
            out.append([c, [], False])
        elif c[0] == "Z":
            out[-1][2] = True
        else:
            prev = out[-1][1][-1][2] if out[-1][1] else out[-1][0]
            out[-1][1].append((c[0], (prev[-2], prev[-1]), c))
    return [tuple(s) for s in out]


def run_points(run: list[tuple], m: int = 8) -> np.ndarray:
    """(k, 2) points along a run of segments, `m` per segment, both ends included."""
    pts = [np.array(run[0][1], dtype=np.float64)]
    t = np.linspace(0, 1, m + 1)[1:, None]
    for op, (x0, y0), c in run:
        p0 = np.array([x0, y0])
        if op == "C":
            c1, c2, p3 = np.array(c[1:3]), np.array(c[3:5]), np.array(c[5:7])
            u = 1 - t
            pts += list(u ** 3 * p0 + 3 * u * u * t * c1 + 3 * u * t * t * c2 + t ** 3 * p3)
        else:
            pts += list(p0 + t * (np.array(c[-2:]) - p0))
    return np.array(pts, dtype=np.float64)


def _bezier(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    u = 1 - t[:, None]
    t = t[:, None]
    return u ** 3 * p[0] + 3 * u * u * t * p[1] + 3 * u * t * t * p[2] + t ** 3 * p[3]


def _newton(p: np.ndarray, q: np.ndarray, t: np.ndarray) -> np.ndarray:
    """One Newton step per point towards the parameter of its nearest point on the cubic
    (Schneider's reparameterisation)."""
    u = 1 - t[:, None]
    tt = t[:, None]
    b = u ** 3 * p[0] + 3 * u * u * tt * p[1] + 3 * u * tt * tt * p[2] + tt ** 3 * p[3]
    d1 = 3 * (u * u * (p[1] - p[0]) + 2 * u * tt * (p[2] - p[1]) + tt * tt * (p[3] - p[2]))
    d2 = 6 * (u * (p[2] - 2 * p[1] + p[0]) + tt * (p[3] - 2 * p[2] + p[1]))
    e = b - q
    den = (d1 * d1).sum(1) + (e * d2).sum(1)
    step = np.where(np.abs(den) > 1e-12, (e * d1).sum(1) / np.where(den == 0, 1, den), 0)
    return np.maximum.accumulate((t - step).clip(0, 1))


def _to_polyline(q: np.ndarray, poly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance of each point of q to the polyline, and the polyline parameter (0..1 by
    vertex index) of the nearest point."""
    a, b = poly[:-1], poly[1:]
    ab = b - a
    ap = q[:, None, :] - a[None]
    t = ((ap * ab[None]).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12)[None]).clip(0, 1)
    d2 = ((ap - t[..., None] * ab[None]) ** 2).sum(-1)
    j = d2.argmin(1)
    k = np.arange(len(q))
    return np.sqrt(d2[k, j]), (j + t[k, j]) / len(ab)


def _length(q: np.ndarray) -> float:
    return float(np.hypot(*np.diff(q, axis=0).T).sum())


def _deviation(q: np.ndarray, poly: np.ndarray) -> float:
    """Area between two outlines, approximately: mean distance both ways × length."""
    d1, _ = _to_polyline(q, poly)
    d2, _ = _to_polyline(poly, q)
    return float(max(d1.mean(), d2.mean())) * _length(q)


def fit(q: np.ndarray, iters: int = 3) -> tuple[tuple, float, float]:
    """The best cubic through q's end points, its deviation, and the straight line's."""
    p0, p3 = q[0], q[-1]
    line_err = _deviation(q, np.array([p0, p3]))
    d = np.r_[0, np.cumsum(np.hypot(*np.diff(q, axis=0).T))]
    if d[-1] <= 1e-9:
        return (p0, p0, p3), 0.0, line_err
    t = d / d[-1]
    best: tuple = ((p0 + (p3 - p0) / 3, p0 + 2 * (p3 - p0) / 3), math.inf)
    for _ in range(iters + 1):
        u = 1 - t
        a1, a2 = 3 * u * u * t, 3 * u * t * t
        rhs = q - np.outer(u ** 3, p0) - np.outer(t ** 3, p3)
        m = np.array([[a1 @ a1, a1 @ a2], [a1 @ a2, a2 @ a2]])
        if abs(np.linalg.det(m)) < 1e-12:
            break
        c1, c2 = np.linalg.solve(m, np.array([a1 @ rhs, a2 @ rhs]))
        curve = _bezier(np.array([p0, c1, c2, p3]), _DENSE)
        err = _deviation(q, curve)
        if err < best[1]:
            best = ((c1, c2), err)
        t = _newton(np.array([p0, c1, c2, p3]), q, t)
    (c1, c2), err = best
    if not math.isfinite(err):
        err = line_err
    return (c1, c2, p3), err, line_err


def _contrast(fill: Any) -> float:
    rgb = fill if fill is not None else (0, 0, 0)
    return max(0.2, sum(255 - v for v in rgb) / 765)


def _poly_area(q: np.ndarray) -> float:
    x, y = q[:, 0], q[:, 1]
    return abs(float(x @ np.roll(y, -1) - y @ np.roll(x, -1))) / 2


class _Sub:
    """A subpath being cut: runs of its original segments, keyed by their first index."""

    def __init__(self, m: tuple, segs: list[tuple], closed: bool):
        self.m, self.segs, self.closed = m, segs, closed
        # start → [end, command, deviation]
        self.runs: dict[int, list] = {i: [i + 1, s[2], 0.0] for i, s in enumerate(segs)}
        self.alive = True

    def order(self) -> list[int]:
        return sorted(self.runs)

    def tokens(self) -> int:
        return 2 + sum(_TOK[r[1][0]] for r in self.runs.values()) + self.closed

    def commands(self) -> list[tuple]:
        return [self.m, *[self.runs[a][1] for a in self.order()]] + ([("Z",)] if self.closed
                                                                        else [])


def _merge_options(sub: _Sub, a: int, b: int, end: int, cache: dict
                   ) -> list[tuple[float, int, tuple, float]]:
    """(loss, tokens saved, command, deviation) of merging run a..b with b..end."""
    run = sub.segs[a:end]
    q = run_points(run)
    key = (id(sub.segs), a, end)
    if key not in cache:
        cache[key] = fit(q)
    (c1, c2, p3), err, line_err = cache[key]
    old = sub.runs[a][2] + sub.runs[b][2]
    toks = _TOK[sub.runs[a][1][0]] + _TOK[sub.runs[b][1][0]]
    end_pt = run[-1][2][-2:]
    out = []
    if all(s[0] == "L" for s in run) or line_err <= err + 0.05 * _length(q):
        out.append((line_err - old, toks - 2, ("L", *end_pt), line_err))
    if toks - 4 > 0 and not all(s[0] == "L" for s in run):
        cmd = ("C", float(c1[0]), float(c1[1]), float(c2[0]), float(c2[1]), *end_pt)
        out.append((err - old, toks - 4, cmd, err))
    return out


def _path_tokens(p: Path, subs: list[_Sub]) -> int:
    alive = [s for s in subs if s.alive]
    return (1 + (p.fill_rule == "evenodd") + sum(s.tokens() for s in alive)) if alive else 0


def _render_loss(d: Drawing, target: np.ndarray | None, size: int = 96) -> list[float]:
    """Per path: how much the L1 distance to the target (canvas units² × intensity) grows
    when the path is left out (0 for every path without a target)."""
    if target is None:
        return [0.0] * len(d.paths)
    from svgrl.svg.render import render

    tgt = _area_resize(target, size)
    pix = (d.width / size) ** 2

    def l1(x: Drawing) -> float:
        return float(np.abs(render(x, size).astype(np.float32) / 255 - tgt).mean(-1).sum()) * pix

    base = l1(d)
    return [l1(d.with_paths(d.paths[:i] + d.paths[i + 1:])) - base for i in range(len(d.paths))]


def _area_resize(img: np.ndarray, size: int) -> np.ndarray:
    import torch

    x = torch.from_numpy(img.astype(np.float32) / 255).permute(2, 0, 1)[None]
    return torch.nn.functional.interpolate(x, size=(size, size), mode="area")[0].permute(
        1, 2, 0).numpy()


def _cut(d: Drawing, target_tokens: int, path_loss: list[float], split: list, cache: dict,
         deadline: float) -> Drawing:
    subs = [[_Sub(*s) for s in sp] for sp in split]
    alive_paths = [True] * len(d.paths)
    total = sum(_path_tokens(p, s) for p, s in zip(d.paths, subs, strict=True))
    heap: list = []
    seq = 0

    def key(loss: float, saved: int) -> float:
        # a saving beyond what is still needed buys nothing: rank by the useful part, so
        # a whole path is not dropped where a few merges would do
        return max(loss, 0.0) / min(saved, max(1, total - target_tokens))

    def push(loss: float, saved: int, *item: Any) -> None:
        nonlocal seq
        if saved > 0:
            heapq.heappush(heap, (key(loss, saved), seq, loss, saved, item))
            seq += 1

    def push_merges(i: int, j: int, starts: list[int]) -> None:
        sub = subs[i][j]
        if time.perf_counter() > deadline:
            return  # out of time: no new fits; the cut finishes with the edits it has
        if sub.closed and len(sub.runs) <= 2:
            return  # a closed outline keeps two segments at least (one is a sliver)
        for a, b in zip(starts, starts[1:], strict=False):
            if a in sub.runs and b in sub.runs and sub.runs[a][0] == b:
                for loss, saved, cmd, err in _merge_options(sub, a, b, sub.runs[b][0], cache):
                    push(loss * _contrast(d.paths[i].fill), saved, "merge", i, j, a, b,
                         sub.runs[b][0], cmd, err)

    for i, p in enumerate(d.paths):
        for j, sub in enumerate(subs[i]):
            push_merges(i, j, sub.order())
            for a, (_, cmd, _) in sub.runs.items():
                if cmd[0] == "C":
                    q = run_points(sub.segs[a:a + 1])
                    err = _deviation(q, q[[0, -1]])
                    push(err * _contrast(p.fill), 2, "line", i, j, a, cmd, err)
            if len(subs[i]) > 1:
                q = run_points(sub.segs) if sub.segs else np.array([sub.m[1:3]])
                push(_poly_area(q) * _contrast(p.fill), sub.tokens(), "sub", i, j)
        push(path_loss[i], _path_tokens(p, subs[i]), "path", i)
    last_resort: list = []
    while total > target_tokens and (heap or last_resort):
        if not heap:  # nothing but the last path left to drop
            heap.append(last_resort.pop())
        ranked, _, loss, saved, item = heapq.heappop(heap)
        if key(loss, saved) > ranked * (1 + 1e-9):
            push(loss, saved, *item)  # needs shrank since it was ranked: rank it anew
            continue
        kind, i = item[0], item[1]
        if not alive_paths[i]:
            continue
        if kind == "path":
            now = _path_tokens(d.paths[i], subs[i])
            if now != saved:  # its subpaths were cut since: re-rank at today's saving
                push(loss, now, *item)
                continue
            if sum(alive_paths) == 1 and heap:
                last_resort.append((ranked, -1, loss, saved, item))
                continue
            alive_paths[i] = False
            total -= now
            continue
        j = item[2]
        sub = subs[i][j]
        if not sub.alive:
            continue
        if kind == "sub":
            now = sub.tokens()
            if sum(s.alive for s in subs[i]) <= 1:
                continue
            if now != saved:
                push(loss, now, *item)
                continue
            sub.alive = False
            total -= now
        elif kind == "line":
            a, cmd, err = item[3:]
            if a not in sub.runs or sub.runs[a][1] != cmd:
                continue
            sub.runs[a][1:] = [("L", *cmd[-2:]), err]
            total -= 2
        else:
            a, b, end, cmd, err = item[3:]
            if not (a in sub.runs and b in sub.runs and sub.runs[a][0] == b
                    and sub.runs[b][0] == end):
                continue
            if _TOK[sub.runs[a][1][0]] + _TOK[sub.runs[b][1][0]] - _TOK[cmd[0]] != saved:
                push_merges(i, j, [a, b])  # a run became a line since: rank it anew
                continue
            del sub.runs[b]
            sub.runs[a] = [end, cmd, err]
            total -= saved
            order = sub.order()
            k = order.index(a)
            push_merges(i, j, order[max(0, k - 1):k + 2])
    paths = []
    for i, p in enumerate(d.paths):
        cmds = [c for s in subs[i] if s.alive for c in s.commands()]
        if alive_paths[i] and cmds:
            paths.append(Path(tuple(cmds), p.fill, p.fill_rule, p.paint))
    return d.with_paths(tuple(paths))


def reduce_to_budget(d: Drawing, max_tokens: int, layout: Any,
                     target: np.ndarray | None = None, deadline: float = math.inf) -> Drawing:
    """A quantised drawing of at most `max_tokens` tokens cut from `d` (see the module);
    `d` itself when it already fits. `target` (an (S, S, 3) uint8 image) ranks whole paths
    by what they add to the picture; without it paths go by area. Past `deadline`
    (`time.perf_counter()`) no new fits are made: the cut ends with cheaper edits (whole
    paths dropped), so it is bounded by the time given, plus one pass over the heap."""
    from svgrl.svg.quantize import quantize
    from svgrl.tokens.codec import encode

    if len(encode(d, layout)) <= max_tokens:
        return d
    if target is not None and time.perf_counter() < deadline:
        loss = _render_loss(d, target)
    else:
        loss = [_poly_area(np.array(list(p.points()) or [(0.0, 0.0)])) * _contrast(p.fill)
                for p in d.paths]
    goal = max_tokens
    split = [subpaths(p.commands) for p in d.paths]
    cache: dict = {}  # fits by (subpath, run): the same on every retry
    for _ in range(20):
        cur = quantize(_cut(d, goal, loss, split, cache, deadline), layout.grid)
        over = len(encode(cur, layout)) - max_tokens
        if over <= 0 or goal <= 0:
            return cur
        goal -= over
    return cur
