"""Refinement (LIVE/DiffVG-style): optimise a drawing's control points and fill colours
against a target image through the soft rasteriser (`svgrl.bench.softras`), at a fixed
path/token budget, then snap back onto the grid.

    start  = any system's output, parsed, simplified and quantised; arcs become cubics
    if budget < 1: decimate to ≤ budget × its tokens (merge runs of consecutive segments of
                   each subpath into one cubic fitted by least squares to the run — or one
                   line if the run is all lines; then drop the smallest paths)
    Adam on points (canvas units) and fills (RGB in [0, 1]) for `steps` steps:
        loss = MSE(soft render, target) + MSE(4×4-pooled soft render, pooled target)
        (the pooled term reaches paths a few pixels off their edge, as LIVE's coarse
        stages do)
    snap: `svgrl.svg.quantize` (grid points, 12-bit colours); the command structure is
          unchanged, so the token count never grows
    keep the refined drawing only if its resvg render has a higher SSIM to the target than
    the start's (what the optimiser sees is a soft, low-resolution proxy)

Deterministic for a seed (CPU torch, fixed iteration count, no sampling); bounded by
`steps` and by `seconds` per sample (hitting the time bound is recorded and ends the loop
early, which is the one way two runs could differ).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from svgrl.errors import ConfigError
from svgrl.svg.drawing import Drawing, Path


@dataclass(frozen=True)
class RefineConfig:
    # 60 steps at 64 px: ~0.04 CPU s per step for a 350-token icon (2.4 s a sample on a
    # free core); 128 px gains ~0.007 SSIM for 4x the time.
    steps: int = field(default=60, metadata={"help": "optimisation steps per sample"})
    size: int = field(default=64, metadata={"help": "soft raster size (px) while optimising"})
    lr: float = field(default=0.3, metadata={"help": "Adam step size for points (canvas units)"})
    color_lr: float = field(default=0.02, metadata={"help": "Adam step size for fill colours"})
    budget: float = field(default=1.0, metadata={
        "help": "token budget as a fraction of the starting drawing's tokens (≤ 1)"})
    seconds: float = field(default=120.0, metadata={"help": "time bound per sample"})
    softness: float = field(default=0.5, metadata={"help": "edge softness τ in raster px"})

    def __post_init__(self) -> None:
        if not 0 <= self.steps <= 100_000 or not 16 <= self.size <= 512:
            raise ConfigError(f"refine steps={self.steps}, size={self.size}: use 0..100000 "
                              "steps and a raster of 16..512 px")
        if not 0 < self.budget <= 1:
            raise ConfigError(f"refine budget={self.budget}: use a fraction in (0, 1]")
        if not (self.lr > 0 and self.color_lr >= 0 and self.seconds > 0 and self.softness > 0):
            raise ConfigError("refine lr, seconds and softness must be > 0, color_lr ≥ 0")


# --- drawing ⇄ tensors ----------------------------------------------------------------------

def _path_tensors(p: Path) -> tuple[list[list[float]], list, list, list]:
    """Points (N, 2), line index pairs, cubic index quads, and the command list with point
    indices for writing back."""
    pts: list[list[float]] = []
    lines: list[tuple[int, int]] = []
    cubics: list[tuple[int, int, int, int]] = []
    cmds: list[tuple[str, tuple[int, ...]]] = []
    cur = start = -1

    def close() -> None:
        if cur >= 0 and start >= 0 and cur != start:
            lines.append((cur, start))

    for c in p.commands:
        op = c[0]
        if op == "M":
            close()
            pts.append([c[1], c[2]])
            cur = start = len(pts) - 1
            cmds.append(("M", (cur,)))
        elif op == "L":
            pts.append([c[1], c[2]])
            lines.append((cur, len(pts) - 1))
            cur = len(pts) - 1
            cmds.append(("L", (cur,)))
        elif op == "C":
            pts += [[c[1], c[2]], [c[3], c[4]], [c[5], c[6]]]
            n = len(pts)
            cubics.append((cur, n - 3, n - 2, n - 1))
            cur = n - 1
            cmds.append(("C", (n - 3, n - 2, n - 1)))
        elif op == "Z":
            close()
            cur = start
            cmds.append(("Z", ()))
        else:
            raise ConfigError(f"refine takes M/L/C/Z paths, got {op!r} (simplify first)")
    close()  # a fill closes its open subpaths
    return pts, lines, cubics, cmds


def _write_back(cmds: list, pts: np.ndarray) -> tuple:
    out = []
    for op, ix in cmds:
        out.append((op, *[float(v) for i in ix for v in pts[i]]))
    return tuple(out)


# --- token budget ---------------------------------------------------------------------------

def _subpaths(cmds: tuple) -> list[tuple[tuple, list[tuple], bool]]:
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


def _unit(dx: float, dy: float) -> tuple[float, float]:
    n = math.hypot(dx, dy)
    return (dx / n, dy / n) if n > 1e-9 else (0.0, 0.0)


def _run_points(run: list[tuple], m: int = 8) -> np.ndarray:
    """(k, 2) points along a run of segments, `m` per segment, both ends included."""
    pts = [run[0][1]]
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


def _merge(run: list[tuple]) -> tuple:
    """One command for a run of segments: same end points; for curves, the two inner
    control points by least squares on points sampled along the run at chord-length
    parameters (Schneider's fit, Graphics Gems 1990, without the reparameterisation)."""
    end = (run[-1][2][-2], run[-1][2][-1])
    if all(op == "L" for op, _, _ in run):
        return ("L", *end)
    q = _run_points(run)
    p0, p3 = q[0], q[-1]
    d = np.r_[0, np.cumsum(np.hypot(*np.diff(q, axis=0).T))]
    if d[-1] <= 1e-9:
        return ("L", *end)
    t = d / d[-1]
    u = 1 - t
    a1, a2 = 3 * u * u * t, 3 * u * t * t
    rhs = q - np.outer(u ** 3, p0) - np.outer(t ** 3, p3)
    m = np.array([[a1 @ a1, a1 @ a2], [a1 @ a2, a2 @ a2]])
    if abs(np.linalg.det(m)) < 1e-12:
        c1, c2 = p0 + (p3 - p0) / 3, p0 + 2 * (p3 - p0) / 3
    else:
        c1, c2 = np.linalg.solve(m, np.array([a1 @ rhs, a2 @ rhs]))
    return ("C", float(c1[0]), float(c1[1]), float(c2[0]), float(c2[1]), *end)


def decimate(d: Drawing, keep: float) -> Drawing:
    """Each subpath of n segments becomes ceil(keep·n) (at least 2 when closed) by merging
    contiguous runs of nearly equal length."""
    paths = []
    for p in d.paths:
        cmds: list = []
        for m, segs, closed in _subpaths(p.commands):
            n = len(segs)
            k = min(n, max(2 if closed else 1, math.ceil(keep * n)))
            cmds.append(m)
            bounds = [round(i * n / k) for i in range(k + 1)]
            for a, b in zip(bounds, bounds[1:], strict=False):
                if b > a:
                    cmds.append(segs[a][2] if b - a == 1 else _merge(segs[a:b]))
            if closed:
                cmds.append(("Z",))
        paths.append(Path(tuple(cmds), p.fill, p.fill_rule))
    return d.with_paths(tuple(paths))


def without_arcs(d: Drawing) -> Drawing:
    """Arcs replaced by cubics of at most 90° (`svgrl.svg.arcs.arc_to_cubics`)."""
    from svgrl.svg.arcs import arc_to_cubics

    if not any(c[0] == "A" for p in d.paths for c in p.commands):
        return d
    paths = []
    for p in d.paths:
        out: list = []
        x = y = sx = sy = 0.0
        for c in p.commands:
            if c[0] == "A":
                out += arc_to_cubics(x, y, c)
            else:
                out.append(c)
            if c[0] == "M":
                sx, sy = c[1], c[2]
            x, y = (sx, sy) if c[0] == "Z" else (c[-2], c[-1])
        paths.append(Path(tuple(out), p.fill, p.fill_rule))
    return d.with_paths(tuple(paths))


def _area(p: Path) -> float:
    xs = [x for x, _ in p.points()]
    ys = [y for _, y in p.points()]
    return (max(xs) - min(xs)) * (max(ys) - min(ys)) if xs else 0.0


def reduce_to_budget(d: Drawing, max_tokens: int, layout: Any) -> Drawing:
    """A drawing of at most `max_tokens` tokens made from `d` (decimated, then its smallest
    paths dropped); `d` itself when it already fits."""
    from svgrl.svg.quantize import quantize
    from svgrl.tokens.codec import encode

    def n(x: Drawing) -> int:
        return len(encode(x, layout))

    cur, keep = d, 1.0
    while n(cur) > max_tokens and keep > 0.02:
        keep *= 0.85
        cur = quantize(decimate(d, keep), layout.grid)
    while n(cur) > max_tokens and len(cur.paths) > 1:
        small = min(range(len(cur.paths)), key=lambda i: _area(cur.paths[i]))
        cur = cur.with_paths(cur.paths[:small] + cur.paths[small + 1:])
    return cur


# --- the optimisation -----------------------------------------------------------------------

def _ssim_resvg(d: Drawing, target: np.ndarray) -> float:
    from svgrl.svg.metrics import ssim
    from svgrl.svg.reference import reference_render
    from svgrl.svg.write import to_svg

    return ssim(reference_render(to_svg(d), target.shape[0]), target)


def refine_drawing(start: Drawing, target: np.ndarray, cfg: RefineConfig, layout: Any
                   ) -> tuple[Drawing, dict]:
    """Refine the quantised drawing `start` against the (S, S, 3) uint8 `target` image."""
    import torch

    from svgrl.bench.softras import PathIndex, rasterise
    from svgrl.svg.quantize import quantize
    from svgrl.tokens.codec import encode

    t0 = time.perf_counter()
    tokens0 = len(encode(start, layout))
    budget = max(4, math.floor(cfg.budget * tokens0))
    # arcs become cubics (what the rasteriser draws); that may cost tokens, so the budget
    # is enforced on the converted drawing
    d0 = without_arcs(start)
    if len(encode(d0, layout)) > budget:
        d0 = reduce_to_budget(d0, budget, layout)
    canvas = float(d0.width)
    params, fills, meta = [], [], []
    for p in d0.paths:
        pts, lines, cubics, cmds = _path_tensors(p)
        params.append(torch.tensor(pts, dtype=torch.float32, requires_grad=True))
        rgb = np.array(p.fill if p.fill is not None else (0, 0, 0), np.float32) / 255
        fills.append(torch.tensor(rgb, requires_grad=True))
        idx = PathIndex(torch.tensor(lines, dtype=torch.long).reshape(-1, 2),
                        torch.tensor(cubics, dtype=torch.long).reshape(-1, 4),
                        p.fill_rule == "evenodd")
        meta.append((idx, cmds))
    tgt = torch.from_numpy(target.astype(np.float32) / 255).permute(2, 0, 1)[None]
    tgt = torch.nn.functional.interpolate(tgt, size=(cfg.size, cfg.size), mode="area")
    tgt_pool = torch.nn.functional.avg_pool2d(tgt, 4)
    groups = [{"params": params, "lr": cfg.lr}]
    if cfg.color_lr > 0:
        groups.append({"params": fills, "lr": cfg.color_lr})
    opt = torch.optim.Adam(groups) if params else None
    losses, steps, timed_out = [], 0, False
    for _ in range(cfg.steps if params else 0):
        if time.perf_counter() - t0 > cfg.seconds:
            timed_out = True
            break
        img = rasterise([(pts, idx, f.clamp(0, 1)) for pts, (idx, _), f
                         in zip(params, meta, fills, strict=True)], cfg.size, canvas,
                        cfg.softness).permute(2, 0, 1)[None]
        loss = torch.nn.functional.mse_loss(img, tgt) + torch.nn.functional.mse_loss(
            torch.nn.functional.avg_pool2d(img, 4), tgt_pool)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for pts in params:
                pts.clamp_(0, canvas)
        losses.append(float(loss.detach()))
        steps += 1
    new_paths = []
    for pts, (_, cmds), f, p in zip(params, meta, fills, d0.paths, strict=True):
        rgb = tuple(int(v) for v in np.round(f.detach().clamp(0, 1).numpy() * 255))
        new_paths.append(Path(_write_back(cmds, pts.detach().numpy()), rgb, p.fill_rule))
    refined = quantize(d0.with_paths(tuple(new_paths)), layout.grid)
    s1 = _ssim_resvg(refined, target)
    # the start itself (when it fits the budget) or its budgeted form, whichever is closer
    first = start if tokens0 <= budget else d0
    s0 = _ssim_resvg(first, target)
    best = refined if s1 > s0 else first
    info = {"tokens_start": tokens0, "tokens_budget": budget, "tokens": len(encode(best, layout)),
            "steps": steps, "timed_out": timed_out, "ssim_start": s0, "ssim_refined": s1,
            "kept": "refined" if s1 > s0 else "start",
            "loss_first": losses[0] if losses else None,
            "loss_last": losses[-1] if losses else None,
            "seconds": time.perf_counter() - t0}
    return best, info


class Refine:
    """The ``refine:SPEC`` system: the inner system's SVG, refined against the input image."""

    def __init__(self, spec: Any, inner: Any, threads: int = 1):
        import torch

        from svgrl.tokens.layout import TokenLayout

        if threads:
            torch.set_num_threads(threads)
        d = RefineConfig()
        self.cfg = RefineConfig(steps=spec.option("steps", d.steps, int),
                                size=spec.option("size", d.size, int),
                                lr=spec.option("lr", d.lr, float),
                                budget=spec.option("budget", d.budget, float),
                                seconds=spec.option("seconds", d.seconds, float))
        self.inner = inner
        self.layout = TokenLayout()
        self.settings = {"refine": asdict(self.cfg), "inner": getattr(inner, "settings", {})}
        self.last_info: dict = {}

    def __call__(self, inp: Any) -> str:
        import torch

        from svgrl.svg.load import simplify_svg
        from svgrl.svg.quantize import quantize
        from svgrl.svg.write import to_svg

        if inp.image is None:
            raise ConfigError(f"refine optimises against an image; the {inp.task} task gives "
                              "none (use --task image or reference)")
        svg = self.inner(inp)
        start = quantize(simplify_svg(svg).drawing, self.layout.grid)
        torch.manual_seed(inp.seed)
        out, self.last_info = refine_drawing(start, inp.image, self.cfg, self.layout)
        return to_svg(out)
