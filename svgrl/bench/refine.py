"""Refinement (LIVE/DiffVG-style): optimise a drawing's control points and fill colours
against a target image through the soft rasteriser (`svgrl.bench.softras`), at a fixed
path/token budget, then snap back onto the grid.

    start  = any system's output, parsed, simplified and quantised; arcs become cubics
    if budget < 1: cut to ≤ budget × its tokens (`svgrl.bench.reduce`: merge adjacent segments
                   into fitted cubics or lines, drop subpaths and whole paths, cheapest
                   loss of ink per token saved first)
    Adam on points (canvas units) and fills (RGB in [0, 1]) for `steps` steps:
        loss = MSE(soft render, target) + MSE(4×4-pooled soft render, pooled target)
        (the pooled term reaches paths a few pixels off their edge, as LIVE's coarse
        stages do)
    snap: `svgrl.svg.quantize` (grid points, 12-bit colours); the command structure is
          unchanged, so the token count never grows
    keep the refined drawing only if its resvg render has a higher SSIM to the target than
    the start's (what the optimiser sees is a soft, low-resolution proxy)

Deterministic for a seed (CPU torch, fixed iteration count, no sampling); bounded by
`steps` and by `seconds` per sample, counted from the start of the sample (inner system
included) and checked in the cut and between steps. Hitting the time bound is recorded
(``timed_out``) and ends the work early, which is the one way two runs could differ.
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


# --- arcs ---------------------------------------------------------------------------------

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



# --- the optimisation -----------------------------------------------------------------------

def _ssim_resvg(d: Drawing, target: np.ndarray) -> float:
    from svgrl.svg.metrics import ssim
    from svgrl.svg.reference import reference_render
    from svgrl.svg.write import to_svg

    return ssim(reference_render(to_svg(d), target.shape[0]), target)


def refine_drawing(start: Drawing, target: np.ndarray, cfg: RefineConfig, layout: Any,
                   t0: float | None = None) -> tuple[Drawing, dict]:
    """Refine the quantised drawing `start` against the (S, S, 3) uint8 `target` image.

    `cfg.seconds` counts from `t0` (`time.perf_counter()`, default: now; the bench passes
    the start of the sample, so the inner system's time counts too). The deadline is
    checked in the cut to the budget and before every step; past it the cut finishes with
    whole-path drops and the loop stops, then the drawing is snapped and checked (a few
    resvg renders), so a sample overruns its seconds by at most one step and that."""
    import torch

    from svgrl.bench.reduce import reduce_to_budget
    from svgrl.bench.softras import PathIndex, rasterise
    from svgrl.svg.quantize import quantize
    from svgrl.tokens.codec import encode

    t0 = time.perf_counter() if t0 is None else t0
    deadline = t0 + cfg.seconds
    tokens0 = len(encode(start, layout))
    budget = max(4, math.floor(cfg.budget * tokens0))
    # arcs become cubics (what the rasteriser draws); that may cost tokens, so the budget
    # is enforced on the converted drawing
    d0 = without_arcs(start)
    if len(encode(d0, layout)) > budget:
        d0 = reduce_to_budget(d0, budget, layout, target, deadline)
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
    losses, steps = [], 0
    timed_out = time.perf_counter() > deadline  # the cut used the time up
    for _ in range(cfg.steps if params else 0):
        if time.perf_counter() > deadline:
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


def _warm_up(layout: Any) -> None:
    """One tiny refinement, so that first-use costs (the first Adam imports torch._dynamo:
    seconds) are paid while the system is built, not by the first sample's time bound."""
    ring = [(100 + 60 * math.cos(k * math.pi / 6), 100 + 60 * math.sin(k * math.pi / 6))
            for k in range(12)]
    cmds = (("M", *ring[0]), *[("L", *p) for p in ring[1:]],
            ("C", 150.0, 80.0, 160.0, 90.0, *ring[0]), ("Z",))
    d = Drawing(199.0, 199.0, (Path(cmds, (0, 0, 0)),))
    from svgrl.svg.render import render

    _, info = refine_drawing(d, render(d, 32), RefineConfig(steps=2, size=16, budget=0.5),
                             layout)
    assert info["steps"] == 2, info  # the warm-up went through the cut and the optimiser


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
        _warm_up(self.layout)

    def __call__(self, inp: Any) -> str:
        import torch

        t0 = time.perf_counter()  # the time bound covers the inner system too
        from svgrl.svg.load import simplify_svg
        from svgrl.svg.quantize import quantize
        from svgrl.svg.write import to_svg

        if inp.image is None:
            raise ConfigError(f"refine optimises against an image; the {inp.task} task gives "
                              "none (use --task image or reference)")
        svg = self.inner(inp)
        start = quantize(simplify_svg(svg).drawing, self.layout.grid)
        torch.manual_seed(inp.seed)
        out, self.last_info = refine_drawing(start, inp.image, self.cfg, self.layout, t0)
        return to_svg(out)
