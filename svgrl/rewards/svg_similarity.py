"""Render-similarity metrics for the SVG reward — the fast path (numpy, float32, no Python loop
over pixels), with everything that depends only on the target computed once per target.

Design after "Rendering-Aware RL for Vector Graphics" (RLRF, arXiv 2505.20793, §3.2):

- **pixel**: L2 between z-normalised images (zero mean, unit variance over all RGB values),
  ``clip(1 − mean((z_a − z_b)²), −1, 1)``. Because ``mean((z_a − z_b)²) = 2 − 2ρ`` for the
  Pearson correlation ρ of the raw values, this is ``clip(2ρ − 1, −1, 1)`` and needs only the
  sums Σa, Σa², Σab of the values − 255 — exact integers from three OpenCV norms over the
  uint8 pixels (|a|₁, |a|₂², |a − b|₂², and Σab = (Σa² + Σb² − Σ(a − b)²) / 2).
- **ssim**: mean SSIM on grey levels with scikit-image's defaults (7×7 uniform window, sample
  covariance, K1 = 0.01, K2 = 0.03, 3-pixel border cropped) — the same number as
  `svgrl.svg.metrics.ssim` (tests hold the two to 1e-6). The cropped border means only
  "valid" window positions are used, so box sums are exact sliding sums (no padding mode).
- **edge**: RLRF compares Canny edge maps after dilation and blur. Canny's non-maximum
  suppression and hysteresis are sequential and cost milliseconds per 200 px image in
  scikit-image, which alone would break the 3,000 rewards/s budget. Renders of filled vector
  paths on a flat background only have gradients on the anti-aliased 1–2 px boundaries, so a
  **thresholded gradient magnitude** (forward differences; no smoothing needed without sensor
  noise) already is a thin boundary map; dilation + blur (tolerance to small shifts) becomes
  counting edge pixels in `edge_cell`-px cells. The two maps are then compared like the pixel
  term (z-normalised L2). On 48 Tabler pairs (shifts of 1–7 px and different icons) this
  score correlates with the Canny → dilate → Gaussian-blur → z-L2 version at Pearson 0.97,
  Spearman 0.94 (the test asserts > 0.8 for both).

**Flat layout.** An (H, W) image is handled as its flat row-major vector of N = H·W values.
A sliding sum along the flat vector with step 1 is the horizontal window sum wherever the
window does not wrap past a row end, and with step W the vertical one; the wrapped positions
(the last 6 columns of each row) are exactly the window positions SSIM's border crop drops.
So every array op is one contiguous 1-D pass — no transposes, no 2-D strides — and the
(H−6)·W − 6 window values keep 6 junk columns per row, which the target side neutralises
(its denominator terms are +inf there, so those windows add exactly 0 to the SSIM sum).

Numerics: values are shifted by −255 (white → 0) before float32 arithmetic. White dominates
icon renders, so the shifted sums stay small and the variance terms of SSIM (differences of
large, nearly equal box sums) keep their precision in float32. SSIM's luminance term is not
shift-invariant, so it uses the unshifted means (exactly ``shifted + 255·n``).

Alpha: images are compared as RGB. Targets may be RGBA (alpha is ignored); renders passed to
`score` come from `svgrl.svg.render.render_rgba` and are opaque, as `as_rgba` makes RGB input.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from svgrl.errors import ConfigError

# The reward's workers already fill the cores; OpenCV's own thread pool would only contend.
cv2.setNumThreads(1)

# skimage.color.rgb2gray weights (ITU-R BT.709, as in svgrl.svg.metrics) × 10⁴, alpha weight 0:
# grey levels are kept as the integers G = 10⁴·grey, which float32 holds exactly (|G| ≤ 2.55e6
# < 2²⁴) whatever order BLAS sums in, so the edge threshold sees exact gradients and the
# rewards do not depend on the machine's BLAS kernel.
_SCALE = 10_000.0
_GREY_R, _GREY_G, _GREY_B = 2125.0, 7154.0, 721.0
_WIN = 7
_N = _WIN * _WIN
_K = _N / (_N - 1)  # sample covariance, as skimage
_C1 = (0.01 * 255.0) ** 2
_C2 = (0.03 * 255.0) ** 2
_WHITE = 255.0


def _sum7(a: np.ndarray, step: int, s2: np.ndarray, s4: np.ndarray, out: np.ndarray
          ) -> np.ndarray:
    """``out[k] = a[k] + a[k+step] + … + a[k+6·step]`` for k < a.size − 6·step, in 4 adds
    (windows 2, 4, then 4 + 2 + 1); `s2`, `s4`, `out` are scratch buffers at least a.size
    long. Returns the filled prefix of `out`."""
    n = a.size
    m2, m4, m7 = n - step, n - 3 * step, n - 6 * step
    np.add(a[:m2], a[step:], out=s2[:m2])
    np.add(s2[:m4], s2[2 * step:2 * step + m4], out=s4[:m4])
    o = out[:m7]
    np.add(s4[:m7], s2[4 * step:4 * step + m7], out=o)
    o += a[6 * step:]
    return o


class _Workspace:
    """Preallocated buffers for one (H, W) shape, one per thread. Fresh 160 kB temporaries per
    numpy op cost page faults (glibc maps and unmaps blocks that large), which measured ~2×
    slower than the arithmetic itself."""

    def __init__(self, h: int, w: int):
        f = np.float32
        n = h * w
        self.shape = (h, w)
        self.n = n
        self.m = n - 6 - 6 * w  # window values (flat layout, junk columns included)
        self.k = (h - 1) * w    # forward-difference values (flat layout)
        self.planes = tuple(np.empty((h, w), np.uint8) for _ in range(4))  # R, G, B, A
        self.white = np.full((h, w, 4), 255, np.uint8)
        self.big_g2 = np.empty((h, w), f)   # 10⁴·(grey − 255), exact
        self.big_g = self.big_g2.reshape(-1)
        self.p = np.empty(3 * n, f)         # [g | g² | g·n·t]: SSIM's three box-summed inputs
        self.s2, self.s4 = np.empty(3 * n, f), np.empty(3 * n, f)
        self.hs, self.vs = np.empty(3 * n, f), np.empty(3 * n, f)
        self.t = [np.empty(self.m, f) for _ in range(3)]
        self.grad = np.empty(2 * self.k, f)
        self.edge = np.empty(self.k, np.bool_)


_local = threading.local()


def _workspace(h: int, w: int) -> _Workspace:
    ws = getattr(_local, "ws", None)
    if ws is None or ws.shape != (h, w):
        ws = _local.ws = _Workspace(h, w)
    return ws


def box_sums(a: np.ndarray, w: int, ws: _Workspace) -> np.ndarray:
    """7×7 window sums of the flat row-major image(s) `a` (one (H, W) image or several
    stacked, each H·W long) with row length `w`: ``out[i·w + j]`` (offset by k·H·W for stacked
    image k) is the sum of rows i..i+6, columns j..j+6, valid for j ≤ w − 7 (other columns
    wrap rows). The result lives in ``ws.vs`` until the next call."""
    h = _sum7(a, 1, ws.s2, ws.s4, ws.hs)
    return _sum7(h, w, ws.s2, ws.s4, ws.vs)


def box7(a: np.ndarray) -> np.ndarray:
    """(H, W) → (H−6, W−6) sliding 7×7 sums at valid positions (a copy; for tests)."""
    h, w = a.shape
    ws = _Workspace(h, w)
    flat = np.ascontiguousarray(a, np.float32).ravel()
    v = box_sums(flat, w, ws)
    return np.concatenate([v, np.zeros(6, np.float32)]).reshape(h - 6, w)[:, :w - 6].copy()


def as_rgba(img: np.ndarray) -> np.ndarray:
    """(H, W, 3|4) uint8 → (H, W, 4) uint8 (opaque alpha added when missing)."""
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


def _prepare(rgba: np.ndarray, ws: _Workspace) -> tuple[float, float]:
    """uint8 RGBA → ``ws.big_g`` = 10⁴·(grey − 255) (exact integers, for edges) and
    ``ws.p[:n]`` = grey − 255 rounded once (for SSIM: its squares of −255 stay exact, which
    black windows' variances need). Returns the exact (Σx, Σx²) of the RGB values x − 255
    (alpha, 255 on our renders, adds 0)."""
    r, g, b, _ = cv2.split(rgba, ws.planes)
    big = ws.big_g2
    # u8 → f32 weighted sums in two SIMD passes (numpy: a float copy of all four channels and
    # a GEMM, ~1.6× the time); every partial sum is an integer below 2²⁴, so exact
    cv2.addWeighted(r, _GREY_R, g, _GREY_G, -_WHITE * (_GREY_R + _GREY_G + _GREY_B), dst=big,
                    dtype=cv2.CV_32F)
    cv2.addWeighted(big, 1.0, b, _GREY_B, 0.0, dst=big, dtype=cv2.CV_32F)
    np.divide(ws.big_g, np.float32(_SCALE), out=ws.p[:ws.n])
    return (-cv2.norm(rgba, ws.white, cv2.NORM_L1), cv2.norm(rgba, ws.white, cv2.NORM_L2SQR))


def edge_cells(g: np.ndarray, w: int, threshold: float, cell: int,
               ws: _Workspace) -> np.ndarray:
    """Edge-pixel counts per `cell`×`cell` block of the flat image `g` = 10⁴·grey (row length
    `w`): a pixel is an edge when |∂x grey| + |∂y grey| (forward differences, computed exactly
    on the integers 10⁴·grey) exceeds `threshold`. No
    smoothing (Sobel's [1, 2, 1] is there for sensor noise; anti-aliased renders have none).
    float32, ((H−1)//cell · (W−1)//cell,)."""
    k = ws.k
    grad = ws.grad
    np.subtract(g[1:k + 1], g[:k], out=grad[:k])
    np.subtract(g[w:], g[:k], out=grad[k:])
    np.abs(grad, out=grad)
    np.add(grad[:k], grad[k:], out=grad[:k])
    e = np.greater(grad[:k], threshold * _SCALE, out=ws.edge).reshape(-1, w)
    h, ww = (e.shape[0] // cell) * cell, ((w - 1) // cell) * cell  # column w−1 wraps
    e = e[:h, :ww].view(np.uint8)
    rows = e[0::cell].astype(np.int32)  # counts ≤ cell² fit any int
    for j in range(1, cell):
        rows += e[j::cell]
    cells = rows[:, 0::cell].copy()
    for j in range(1, cell):
        cells += rows[:, j::cell]
    return cells.astype(np.float32).ravel()


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

    __slots__ = ("shape", "rgba", "n_pix", "s", "ss", "grey", "sy",
                 "sy_plain", "q", "ty", "n_win", "edges", "e_s", "e_ss", "edge_params")

    def __init__(self, img: np.ndarray, edge: EdgeParams = EdgeParams()):
        rgba = as_rgba(img)
        h, w = rgba.shape[:2]
        if h < _WIN + 2 or w < _WIN + 2:
            raise ConfigError(f"images must be at least {_WIN + 2}×{_WIN + 2}, got {h}×{w}")
        if edge.cell < 1 or edge.cell > min(h, w) - 2:
            raise ConfigError(f"edge cell {edge.cell} does not fit a {h}×{w} image")
        ws = _workspace(h, w)
        n, m = ws.n, ws.m
        self.shape = rgba.shape
        self.rgba = rgba.copy()
        self.rgba[..., 3] = 255  # compared as RGB: a transparent target's alpha plays no part
        self.s, self.ss = _prepare(self.rgba, ws)
        self.n_pix = 3 * n
        g = ws.p[:n]
        self.grey = g.copy()
        np.multiply(g, g, out=ws.p[n:2 * n])
        v = box_sums(ws.p[:2 * n], w, ws)
        sy, syy = v[:m], v[n:n + m]
        # In "sum units" (n = 49 pixels per window) scikit-image's SSIM is
        #   (2·Sx·Sy + n²C1)(2k(n·Sxy − Sx·Sy) + n²C2) /
        #   ((Sx² + Sy² + n²C1)(k(n·Sxx − Sx²) + k(n·Syy − Sy²) + n²C2)),
        # S the unshifted sums (= shifted + 255·n); the n² factors cancel. Covariances are
        # shift-invariant and use the shifted sums; the luminance term uses the unshifted ones.
        self.sy = sy.copy()
        self.sy_plain = sy + np.float32(_WHITE * _N)
        self.q = self.sy_plain * self.sy_plain + np.float32(_N * _N * _C1)
        self.ty = (np.float32(_N) * syy - sy * sy) + np.float32(_N * _N * _C2 / _K)
        # junk windows (wrapped past a row end): an infinite denominator makes them add 0
        junk = np.ones(m + 6, np.bool_).reshape(h - 6, w)
        junk[:, :w - 6] = False
        junk = junk.ravel()[:m]
        self.q[junk] = np.inf
        self.ty[junk] = np.inf
        self.n_win = (h - 6) * (w - 6)
        self.edge_params = edge
        self.edges = edge_cells(ws.big_g, w, edge.threshold, edge.cell, ws)
        self.e_s = float(self.edges.sum())
        self.e_ss = float(np.dot(self.edges, self.edges))


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
    ws = _workspace(*rgba.shape[:2])
    sx, sxx = _prepare(rgba, ws)
    if sxx == 0.0:  # every value is 255: nothing was drawn
        return Scores(blank=True)
    diff = cv2.norm(rgba, t.rgba, cv2.NORM_L2SQR)
    if diff == 0.0:  # e.g. a policy that reproduces its target
        return Scores(blank=False, pixel=1.0, ssim=1.0, edge=1.0)
    sxy = (sxx + t.ss - diff) / 2.0
    out = Scores(blank=False, pixel=zl2_from_sums(t.n_pix, sx, sxx, t.s, t.ss, sxy))
    if ssim:
        out.ssim = _ssim_against(t, ws)
    if edge:
        p = t.edge_params
        e = edge_cells(ws.big_g, ws.shape[1], p.threshold, p.cell, ws)
        out.edge = zl2_from_sums(e.size, float(e.sum()), float(np.dot(e, e)), t.e_s, t.e_ss,
                                 float(np.dot(e, t.edges)))
    return out


def _ssim_against(t: TargetStats, ws: _Workspace) -> float:
    """Mean SSIM of the shifted grey image in ``ws.p[:n]`` against the target, in the
    sum-unit form of `TargetStats`: s = 4·a'·b' / (d1·d2') with
    a' = Sx·Sy + n²C1/2, b' = n·Sxy − Sx·Sy + n²C2/(2k), d1 = Sx² + Sy² + n²C1,
    d2' = n·Sxx − Sx² + (n·Syy − Sy² + n²C2/k)."""
    n, m, p = ws.n, ws.m, ws.p
    g = p[:n]
    np.multiply(g, g, out=p[n:2 * n])
    np.multiply(g, t.grey, out=p[2 * n:])
    v = box_sums(p, ws.shape[1], ws)  # the three images at once: 8 passes, not 24 calls
    sx, sxx, sxy = v[:m], v[n:n + m], v[2 * n:2 * n + m]
    a, b, d = ws.t
    np.multiply(sx, t.sy, out=a)  # shifted Sx·Sy
    # n·Sxy from the box sum of g·t, not of g·(n·t): for black pixels (−255) the products
    # g·t are exact and so are their sums below 2²⁴; n·t would round on every partial sum
    np.multiply(sxy, np.float32(_N), out=b)
    b -= a
    b += np.float32(_N * _N * _C2 / (2 * _K))
    np.multiply(sx, sx, out=a)
    np.multiply(sxx, np.float32(_N), out=d)
    d -= a
    d += t.ty
    sx += np.float32(_WHITE * _N)  # unshifted from here on
    np.multiply(sx, t.sy_plain, out=a)
    a += np.float32(_N * _N * _C1 / 2)
    a *= b
    np.multiply(sx, sx, out=b)
    b += t.q
    b *= d
    a /= b
    return float(4.0 * a.sum(dtype=np.float64) / t.n_win)


def ssim_fast(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two (H, W, 3|4) uint8 renders through the fast path (equals
    `svgrl.svg.metrics.ssim` up to float32 rounding; tests hold it to 1e-6)."""
    t = TargetStats(b)
    rgba = as_rgba(a)
    if rgba.shape != t.shape:
        raise ConfigError(f"images differ in shape: {rgba.shape} vs {t.shape}")
    ws = _workspace(*rgba.shape[:2])
    _prepare(rgba, ws)
    return _ssim_against(t, ws)
