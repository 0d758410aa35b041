"""Weight-free bench metrics: scoring one output against its target, and per-system summaries.

Scoring path, the same for every system:

    output SVG text ─svgrl parse/simplify─▶ Drawing ─quantise (grid G)─▶ tokens (svgrl's
    tokenizer: the count) ─decode─▶ compact SVG ─resvg─▶ (S, S, 3) render on white

The render scored is the drawing the tokens spell, so "tokens" and "quality" describe the
same object for every system (a tracer's float coordinates are put on the same grid a model
writes on). Targets are rendered by resvg from their own SVG (`svgrl.bench.targets`).

Per sample, on RGB in [0, 1] unless said otherwise:

- **MSE**: mean over pixels and channels of (a − b)²; **PSNR** = 10·log10(1 / MSE), capped at
  `PSNR_CAP` dB for identical images (StarVector's "L2" is this MSE).
- **SSIM**: `svgrl.svg.metrics.ssim` — scikit-image's defaults on BT.709 grey levels.
- **edge F1**: edge maps by thresholded gradient magnitude (|dx| + |dy| of grey levels above
  `EDGE_THRESHOLD`, the RL reward's edge detector); a predicted edge pixel counts as correct
  within `EDGE_TOLERANCE` px of a target edge (and vice versa for recall).
- **blank**: under 0.1 % of pixels visibly off white (`svgrl.model.generate.is_blank`).

A sample that fails (system error, timeout, output that does not parse or render) is scored
as a blank white canvas — what a viewer shows for a broken file — so quality means are over
every sample and a failing system cannot look better by failing on hard targets. Token and
time means are over the valid samples only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from svgrl.svg.metrics import grey, ssim

PSNR_CAP = 100.0
EDGE_THRESHOLD = 32.0
EDGE_TOLERANCE = 1
BLANK_INK = 0.001
QUALITY = ("ssim", "mse", "psnr", "edge_f1")


@dataclass
class Scored:
    tokens: int
    paths: int
    svg: str  # the compact SVG the tokens spell (what is rendered)
    image: np.ndarray  # its resvg render


def to_scored(svg_text: str, size: int, layout) -> Scored:
    """Parse → quantise → tokens → compact SVG → resvg render. Raises `SvgrlError` (or resvg's
    exception) when the output cannot be parsed or rendered."""
    from svgrl.svg.load import simplify_svg
    from svgrl.svg.normalise import quantize
    from svgrl.svg.reference import reference_render
    from svgrl.svg.simplify import SimplifyOptions
    from svgrl.svg.write import to_svg
    from svgrl.tokens.codec import decode, encode

    d = quantize(simplify_svg(svg_text, SimplifyOptions(output_size=200.0)).drawing, layout.grid)
    ids = encode(d, layout)
    compact = to_svg(decode(ids, layout))
    return Scored(len(ids), len(d.paths), compact, reference_render(compact, size))


def edges(img: np.ndarray) -> np.ndarray:
    g = grey(img)
    e = np.zeros(g.shape, bool)
    e[:-1, :-1] = (np.abs(np.diff(g, axis=1))[:-1] + np.abs(np.diff(g, axis=0))[:, :-1]
                   ) > EDGE_THRESHOLD
    return e


def edge_f1(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.ndimage import binary_dilation  # on first use: not on `svgrl --help`

    ea, eb = edges(a), edges(b)
    if not ea.any() and not eb.any():
        return 1.0
    if not ea.any() or not eb.any():
        return 0.0
    k = np.ones((2 * EDGE_TOLERANCE + 1,) * 2, bool)
    p = float((ea & binary_dilation(eb, k)).sum() / ea.sum())
    r = float((eb & binary_dilation(ea, k)).sum() / eb.sum())
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def is_blank(img: np.ndarray) -> bool:
    return float((np.abs(img.astype(np.int16) - 255).max(axis=2) > 8).mean()) < BLANK_INK


def quality(out: np.ndarray, target: np.ndarray) -> dict:
    """SSIM, MSE, PSNR, edge F1 of an output render against the target render."""
    a = out.astype(np.float64) / 255.0
    b = target.astype(np.float64) / 255.0
    mse = float(np.mean((a - b) ** 2))
    psnr = PSNR_CAP if mse <= 10 ** (-PSNR_CAP / 10) else float(10 * np.log10(1.0 / mse))
    return {"ssim": ssim(out, target), "mse": mse, "psnr": psnr, "edge_f1": edge_f1(out, target)}


def summarise(records: list[dict]) -> dict:
    """Per-system numbers from its sample records (`svgrl.bench.run` writes them)."""
    n = len(records)
    valid = [r for r in records if r["valid"]]
    out: dict = {"n": n, "valid": len(valid) / n if n else None,
                 "failed": n - len(valid),
                 "blank": (sum(bool(r.get("blank")) for r in valid) / n) if n else None}
    for k in QUALITY:
        vals = [r[k] for r in records if r.get(k) is not None]
        out[k] = float(np.mean(vals)) if vals else None
    toks = [r["tokens"] for r in valid]
    out["tokens_mean"] = float(np.mean(toks)) if toks else None
    out["tokens_p95"] = float(np.percentile(toks, 95)) if toks else None
    secs = [r["seconds"] for r in records if r.get("seconds") is not None]
    out["seconds_per_sample"] = float(np.mean(secs)) if secs else None
    errors: dict[str, int] = {}
    for r in records:
        if r.get("error"):
            key = r["error"].split(":", 1)[0]
            errors[key] = errors.get(key, 0) + 1
    out["errors"] = errors
    return out
