"""Render-similarity metrics for the SVG reward — the fast path, with everything that depends
only on the target computed once per target (the loops are in `svgrl.rewards.svg_kernels`).

Design after "Rendering-Aware RL for Vector Graphics" (RLRF, arXiv 2505.20793, §3.2):

- **pixel**: L2 between z-normalised images (zero mean, unit variance over all RGB values),
  ``clip(1 − mean((z_a − z_b)²), −1, 1)``. Because ``mean((z_a − z_b)²) = 2 − 2ρ`` for the
  Pearson correlation ρ of the raw values, this is ``clip(2ρ − 1, −1, 1)`` and needs only the
  sums Σa, Σa², Σab of the values − 255 (exact integers; Σab = (Σa² + Σb² − Σ(a − b)²) / 2).
- **ssim**: mean SSIM on grey levels with scikit-image's defaults (7×7 uniform window, sample
  covariance, K1 = 0.01, K2 = 0.03, 3-pixel border cropped) — the same number as
  `svgrl.svg.metrics.ssim` (tests hold the two to 1e-9). The cropped border means only
  "valid" window positions are used, so window sums are exact sliding sums (no padding mode).
- **edge**: RLRF compares Canny edge maps after dilation and blur. Canny's non-maximum
  suppression and hysteresis are sequential and cost milliseconds per 200 px image in
  scikit-image, which alone would break the 3,000 rewards/s budget. Renders of filled vector
  paths on a flat background only have gradients on the anti-aliased 1–2 px boundaries, so a
  **thresholded gradient magnitude** (forward differences; no smoothing needed without sensor
  noise) already is a thin boundary map; dilation + blur (tolerance to small shifts) becomes
  counting edge pixels in `edge_cell`-px cells. The two maps are then compared like the pixel
  term (z-normalised L2). On 48 Tabler pairs (shifts of 1–7 px and different icons) this
  score correlates with the Canny → dilate → Gaussian-blur → z-L2 version at Pearson 0.97,
  Spearman 0.94 (the test asserts > 0.8 for both). Gradients are exact (integer grey × 10⁴),
  so a pixel exactly at the threshold is classified the same on every machine.

**Row band.** SSIM and edges are computed on the rows where either image draws, plus the
margins the 7×7 windows and the edge cells need. Outside it both images are white: every
SSIM window there is exactly 1 and every edge cell 0 in both maps, so the numbers equal the
whole-image ones (tests check this against the reference implementations).

Alpha: images are compared as RGB. Targets may be RGBA (alpha is ignored); renders passed to
`score` come from `svgrl.svg.render.render_rgba` and are opaque, as `as_rgba` makes RGB input.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from svgrl.errors import ConfigError
from svgrl.rewards import svg_kernels as kern

_WIN = kern.WIN


class _Workspace:
    """Per-thread scratch for one (H, W) shape (fresh arrays per call would cost page faults
    and allocator work comparable to the kernels themselves)."""

    def __init__(self, h: int, w: int, cell: int):
        self.key = (h, w, cell)
        self.g = np.empty((h, w))  # G = 10⁴·grey
        self.cols = np.empty((3, w))
        self.flags = np.empty(w)
        self.cells = np.empty(((h - 1) // cell, (w - 1) // cell))


_local = threading.local()


def _workspace(h: int, w: int, cell: int) -> _Workspace:
    ws = getattr(_local, "ws", None)
    if ws is None or ws.key != (h, w, cell):
        ws = _local.ws = _Workspace(h, w, cell)
    return ws


def as_rgba(img: np.ndarray) -> np.ndarray:
    """(H, W, 3|4) uint8 → C-contiguous (H, W, 4) uint8 (opaque alpha added when missing)."""
    if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] not in (3, 4) \
            or img.dtype != np.uint8:
        raise ConfigError(f"expected an (H, W, 3|4) uint8 image, got "
                          f"{getattr(img, 'shape', type(img).__name__)} "
                          f"{getattr(img, 'dtype', '')}")
    if img.shape[2] == 4:
        return np.ascontiguousarray(img)
    out = np.full(img.shape[:2] + (4,), 255, np.uint8)
    out[..., :3] = img
    return out


def _pixels(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 → its (H, W) uint32 view, one word per pixel (R in the low byte)."""
    px = rgba.view(np.uint32)[..., 0]
    return px if np.little_endian else px.byteswap()


def zl2_from_sums(n: int, sa: float, saa: float, sb: float, sbb: float, sab: float) -> float:
    """RLRF's z-normalised L2 similarity ``clip(1 − mean((z_a − z_b)²), −1, 1)`` from sums.
    A constant image has z ≡ 0: two constants score 1, a constant vs a non-constant 0."""
    ma, mb = sa / n, sb / n
    va, vb = saa / n - ma * ma, sbb / n - mb * mb
    eps = 1e-6
    if va <= eps and vb <= eps:
        return 1.0
    if va <= eps or vb <= eps:
        return 0.0
    rho = (sab / n - ma * mb) / math.sqrt(va * vb)
    return min(1.0, max(-1.0, 2.0 * rho - 1.0))


@dataclass(frozen=True)
class EdgeParams:
    """Edge map: |∂x|+|∂y| (forward differences of grey levels) above `threshold` (a full
    black/white step gives 255), counted in `cell`×`cell` pixel cells."""

    threshold: float = 32.0
    cell: int = 4


class TargetStats:
    """Everything about one target image the per-completion metrics need (computed once per
    target; the G completions of a GRPO group share it). Images are (H, W, 3|4) uint8."""

    __slots__ = ("shape", "rgba", "n_pix", "s", "ss", "rows", "grey", "sy", "ly", "vy", "n_win",
                 "edges", "e_s", "e_ss", "edge_params")

    def __init__(self, img: np.ndarray, edge: EdgeParams = EdgeParams()):
        rgba = as_rgba(img)
        h, w = rgba.shape[:2]
        if h < _WIN + 2 or w < _WIN + 2:
            raise ConfigError(f"images must be at least {_WIN + 2}×{_WIN + 2}, got {h}×{w}")
        if edge.cell < 1 or edge.cell > min(h, w) - 2:
            raise ConfigError(f"edge cell {edge.cell} does not fit a {h}×{w} image")
        ws = _workspace(h, w, edge.cell)
        self.shape = rgba.shape
        self.rgba = rgba.copy()
        self.rgba[..., 3] = 255  # compared as RGB: a transparent target's alpha plays no part
        self.grey = np.empty((h, w))  # G = 10⁴·grey
        px = _pixels(self.rgba)
        s, ss, _, first, last = kern.grey_and_sums(px, px, self.grey)
        self.s, self.ss = float(s), float(ss)
        self.n_pix = 3 * h * w
        self.rows = None if first < 0 else (first, last)
        shape = (h - _WIN + 1, w - _WIN + 1)
        self.sy, self.ly, self.vy = np.empty(shape), np.empty(shape), np.empty(shape)
        kern.target_windows(self.grey, self.sy, self.ly, self.vy, ws.cols)
        self.n_win = shape[0] * shape[1]
        self.edge_params = edge
        self.edges = np.empty_like(ws.cells)
        kern.edge_cells(self.grey, 0, self.edges.shape[0] * edge.cell,
                        edge.threshold * kern.SCALE, edge.cell, self.edges, ws.flags)
        self.e_s, self.e_ss, _ = (float(x) for x in kern.cell_sums(
            self.edges, self.edges, 0, self.edges.shape[0]))


@dataclass
class Scores:
    """Similarity parts of one completion against its target."""

    blank: bool
    pixel: float = 0.0
    ssim: float = 0.0
    edge: float = 0.0


def score(img: np.ndarray, t: TargetStats, *, ssim: bool = True, edge: bool = True) -> Scores:
    """Pixel, SSIM and edge similarity of a render against a target's precomputed stats.
    `blank` is True (and no metric is computed) when the render is entirely white; a render
    identical to the target scores exactly 1 on every part (no arithmetic needed)."""
    rgba = as_rgba(img)
    if rgba.shape != t.shape:
        raise ConfigError(f"render {rgba.shape} and target {t.shape} differ in shape")
    h, w = rgba.shape[:2]
    cell = t.edge_params.cell
    ws = _workspace(h, w, cell)
    sx, sxx, diff, first, last = kern.grey_and_sums(_pixels(rgba), _pixels(t.rgba), ws.g)
    if first < 0:  # every RGB value is 255: nothing was drawn
        return Scores(blank=True)
    if diff == 0:  # e.g. a policy that reproduces its target
        return Scores(blank=False, pixel=1.0, ssim=1.0, edge=1.0)
    sxy = (sxx + t.ss - diff) / 2.0
    out = Scores(blank=False, pixel=zl2_from_sums(t.n_pix, sx, sxx, t.s, t.ss, sxy))
    r0, r1 = (first, last) if t.rows is None else (min(first, t.rows[0]), max(last, t.rows[1]))
    top = max(0, r0 - (_WIN - 1)) // cell * cell  # a cell boundary, for the edge cells
    if ssim:
        out.ssim = _ssim(t, ws, top, min(h, r1 + _WIN))
    if edge:
        # edge pixels (forward differences) can only be non-zero on rows r0−1..r1
        end = min(ws.cells.shape[0], -(-(r1 + 1) // cell))
        kern.edge_cells(ws.g, top, end * cell, t.edge_params.threshold * kern.SCALE, cell,
                        ws.cells, ws.flags)
        s, ss, st = kern.cell_sums(ws.cells, t.edges, top // cell, end)
        out.edge = zl2_from_sums(t.edges.size, float(s), float(ss), t.e_s, t.e_ss, float(st))
    return out


def _ssim(t: TargetStats, ws: _Workspace, r0: int, r1: int) -> float:
    """Mean SSIM of the completion in ``ws.g`` against the target, computing the windows
    within rows r0..r1−1 (the others, white in both images, are exactly 1)."""
    total = kern.ssim_sum(ws.g, t.grey, t.sy, t.ly, t.vy, r0, r1, ws.cols)
    outside = t.n_win - (r1 - r0 - _WIN + 1) * t.sy.shape[1]
    return float((total + outside) / t.n_win)


def ssim_fast(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two (H, W, 3|4) uint8 renders through the fast path (equals
    `svgrl.svg.metrics.ssim` to float64 rounding; tests hold it to 1e-9)."""
    t = TargetStats(b)
    rgba = as_rgba(a)
    if rgba.shape != t.shape:
        raise ConfigError(f"images differ in shape: {rgba.shape} vs {t.shape}")
    h, w = rgba.shape[:2]
    ws = _workspace(h, w, t.edge_params.cell)
    kern.grey_and_sums(_pixels(rgba), _pixels(t.rgba), ws.g)
    return _ssim(t, ws, 0, h)


def warm() -> None:
    """Load (or, the first time on a machine, compile: a few seconds) the kernels, so the
    first real batch does not pay for it."""
    img = np.full((16, 16, 3), 255, np.uint8)
    img[4:12, 4:12] = 0
    score(img[::-1].copy(), TargetStats(img, EdgeParams(cell=2)))
