"""How faithful are simplify + quantise (and, with `through_tokens`, the tokens)? Render the
original with resvg and our `Drawing` with our renderer, in the same frame, and compare (SSIM on
grey levels)."""

from __future__ import annotations

import itertools
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from svgrl.bounded import BoundedPool, ItemFailure, ItemLimits
from svgrl.errors import SvgrlError
from svgrl.progress import bar as progress_bar
from svgrl.svg.drawing import Drawing
from svgrl.svg.load import simplify_svg
from svgrl.svg.metrics import ssim
from svgrl.svg.normalise import quantize
from svgrl.svg.reference import reference_render
from svgrl.svg.render import render
from svgrl.svg.simplify import SimplifyOptions


@dataclass(frozen=True)
class FidelityConfig:
    grid: int = field(default=200, metadata={
        "help": "quantisation grid G (0 = float coordinates, curves in the forms resvg draws: "
                "SimplifyOptions.for_grid)"})
    size: int = field(default=200, metadata={"help": "render size in pixels for the comparison"})
    limit: int = field(default=0, metadata={"help": "stop after this many files (0 = all)"})
    keep: int = field(default=0, metadata={
        "help": "keep the renders of the worst N files (for galleries)"})
    workers: int = field(default=1, metadata={
        "help": "worker processes (each file runs in one, under the per-item limits)"})
    through_tokens: bool = field(default=False, metadata={
        "help": "pass each drawing through decode(encode(.)) before rendering"})
    gradients: bool = field(default=False, metadata={
        "help": "keep linear/radial gradients (and a gradient token layout with "
                "--through-tokens) instead of their mean colour"})
    flat_gradients: str = field(default="fit", metadata={"choices": ("fit", "mean"),
        "help": "without --gradients, a gradient's flat stand-in: fit (the colour closest to "
                "what it draws, svgrl.svg.flatten) or mean (its mean colour)"})
    effects: bool = field(default=True, metadata={
        "help": "with --gradients: keep the blur and shadow filters design tools export as "
                "path effects (--no-effects: draw the content unfiltered)"})


@dataclass
class FileResult:
    id: str
    ssim: float | None = None
    error: str | None = None
    dropped: tuple[str, ...] = ()
    seconds: float = 0.0
    images: tuple[np.ndarray, np.ndarray] | None = None
    n_paths: int = 0


def _through_tokens(grid: int, gradients: bool = False) -> Callable[[Drawing], Drawing]:
    from svgrl.tokens.codec import drawing_through_tokens
    from svgrl.tokens.layout import TokenLayout

    layout = TokenLayout(grid=grid, gradients=gradients)
    return lambda d: drawing_through_tokens(d, layout)


def check_job(job: tuple[str, bytes | None, str | None, FidelityConfig]) -> FileResult:
    """`check_file` for a bounded worker: renders travel back only when they are kept."""
    id_, data, err, cfg = job
    if data is None:
        return FileResult(id_, error=err)
    through = _through_tokens(cfg.grid, cfg.gradients) if cfg.through_tokens else None
    r = check_file(id_, data, cfg, through)
    if not cfg.keep:
        r.images = None
    return r


def check_file(id_: str, data: bytes, cfg: FidelityConfig,
               through: Callable[[Drawing], Drawing] | None = None) -> FileResult:
    """Simplify + quantise one file (timed), then compare renders (not timed)."""
    t0 = time.perf_counter()
    try:
        res = simplify_svg(data, SimplifyOptions(output_size=200.0, gradients=cfg.gradients,
                                                  effects=cfg.effects,
                                                  flat_gradients=cfg.flat_gradients,
                                                  for_grid=cfg.grid > 0))
        d = quantize(res.drawing, cfg.grid) if cfg.grid else res.drawing
        if through is not None:
            d = through(d)
    except SvgrlError as e:
        return FileResult(id_, error=getattr(e, "reason", type(e).__name__),
                          seconds=time.perf_counter() - t0)
    except Exception as e:  # a bug must not end a batch: count it under its own name
        return FileResult(id_, error=f"internal-{type(e).__name__}",
                          seconds=time.perf_counter() - t0)
    seconds = time.perf_counter() - t0
    try:
        ref = reference_render(data, cfg.size)
    except SvgrlError as e:
        return FileResult(id_, error=f"reference-{getattr(e, 'reason', 'error')}", seconds=seconds)
    ours = render(d, cfg.size)
    return FileResult(id_, ssim(ours, ref), None, tuple(sorted({x.reason for x in res.dropped})),
                      seconds, (ref, ours), len(d.paths))


def fidelity(items: Iterable[tuple[str, bytes | None, str | None]], cfg: FidelityConfig,
             progress: bool = True,
             limits: ItemLimits | None = None) -> tuple[dict, list[FileResult]]:
    """Run `check_file` over items, each in a bounded worker (`limits`: CPU, memory and wall
    time per file; a file over them fails ``timeout``/``memory``/``crash``); return the
    summary dict and the per-file results (the `cfg.keep` worst keep their images)."""
    results: list[FileResult] = []
    kept: list[FileResult] = []  # the cfg.keep worst so far, the only ones holding images
    bar = progress_bar(total=cfg.limit or None, disable=not progress, unit="file", desc="fidelity")
    if cfg.limit:
        items = itertools.islice(items, cfg.limit)
    ids: deque[str] = deque()  # results come back in input order
    jobs = ((ids.append(id_), (id_, data, err, cfg))[1] for id_, data, err in items)
    with BoundedPool("svgrl.tokens.fidelity:check_job", limits, cfg.workers) as pool:
        for r in pool.imap(jobs, 8 * cfg.workers):
            id_ = ids.popleft()
            if isinstance(r, ItemFailure):
                r = FileResult(id_, error=r.reason)
            results.append(r)
            if r.images is not None:
                kept.append(r)
                kept.sort(key=lambda x: x.ssim)
                for dropped in kept[cfg.keep:]:
                    dropped.images = None
                del kept[cfg.keep:]
            bar.update(1)
    bar.close()
    scored = sorted((r for r in results if r.ssim is not None), key=lambda r: r.ssim)
    vals = np.array([r.ssim for r in scored])
    t = sum(r.seconds for r in results)
    summary = {
        "files": len(results),
        "ok": len(scored),
        "failed": len(results) - len(scored),
        "errors": dict(Counter(r.error for r in results if r.error).most_common()),
        "dropped": dict(Counter(x for r in results for x in r.dropped).most_common()),
        # None (JSON null), not NaN, when nothing could be scored: NaN is not JSON.
        "ssim_mean": round(float(np.mean(vals)), 5) if scored else None,
        "ssim_p5": round(float(np.percentile(vals, 5)), 5) if scored else None,
        "ssim_min": round(float(np.min(vals)), 5) if scored else None,
        "files_per_s": round(len(results) / t, 1) if t else None,
        "grid": cfg.grid,
        "size": cfg.size,
    }
    return summary, results
