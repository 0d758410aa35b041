"""Compiled (numba) loops behind `svgrl.rewards.svg_similarity`: one pass over the pixels per
metric instead of the ~50 whole-array numpy passes the same maths needs, whose memory
traffic (~25 MB per 200 px image) made SSIM alone cost more than the render.

Values are exact integers wherever they can be:

- grey levels as ``G = 2125·R + 7154·G + 721·B`` = 10⁴ × scikit-image's BT.709 grey (the
  weights 0.2125, 0.7154, 0.0721 are exact in base 10), G ≤ 2.55e6, held in float64;
- column and 7×7 window sums of G, G² and G·T (≤ 3.2e14 < 2⁵³: exact in float64 whatever
  the order of additions), so only SSIM's (co)variance differences and final ratio round —
  in float64, which puts SSIM within ~1e-12 of scikit-image's float64 number;
- edge gradients |∂x G| + |∂y G| (exact, so a pixel at the threshold is classified the same
  on every machine) and the pixel sums (int64).

``error_model="numpy"`` drops Python's zero-division checks (the denominators are ≥ n²C1·n²C2
> 0), which is what lets LLVM vectorise the SSIM loop; ``fastmath`` lets it reorder the
float64 sum of the window values (rounding differences ~1e-16 relative). Kernels are cached
on disk and release the GIL.
"""

from __future__ import annotations

import numpy as np
from numba import njit

WIN = 7
N = float(WIN * WIN)
K = N / (N - 1.0)  # sample covariance, as skimage
SCALE = 10_000.0  # G = SCALE · grey
# scikit-image's C1, C2 in sum units of G: n²·(K·L·SCALE)²
NC1 = N * N * (0.01 * 255.0 * SCALE) ** 2
NC2 = N * N * (0.03 * 255.0 * SCALE) ** 2
WHITE_G = 255.0 * SCALE

_jit = njit(cache=True, nogil=True, fastmath=True, error_model="numpy")


@_jit
def grey_and_sums(px, ref, g):
    """From (H, W) uint32 views of two RGBA uint8 images (`px` the image, `ref` the one it
    is compared with): ``g[i, j]`` = G of `px`, and (Σx, Σx², Σ(x − y)², first drawn row,
    last drawn row) with x = px − 255, y = ref − 255 over all four channels (alpha is 255 on
    our renders and on a target's stored copy, so it adds 0); rows are −1 when all white.
    One uint32 load per pixel and shifts, rather than four strided byte loads, is what lets
    LLVM vectorise this loop."""
    h, w = g.shape
    sx = 0
    sxx = 0
    dd = 0
    first = -1
    last = -1
    m = np.uint32(255)
    for i in range(h):
        # int32 row sums: ≤ 2048 px · 4 · 255² < 2³¹
        s1 = np.int32(0)
        s2 = np.int32(0)
        s3 = np.int32(0)
        ink = np.int32(0)
        for j in range(w):
            p = px[i, j]
            q = ref[i, j]
            c0 = np.int32(p & m)
            c1 = np.int32((p >> np.uint32(8)) & m)
            c2 = np.int32((p >> np.uint32(16)) & m)
            c3 = np.int32(p >> np.uint32(24))
            v = np.int32(2125) * c0 + np.int32(7154) * c1 + np.int32(721) * c2
            g[i, j] = v
            ink += np.int32(v != np.int32(2_550_000))
            x0 = c0 - np.int32(255)
            x1 = c1 - np.int32(255)
            x2 = c2 - np.int32(255)
            x3 = c3 - np.int32(255)
            s1 += x0 + x1 + x2 + x3
            s2 += x0 * x0 + x1 * x1 + x2 * x2 + x3 * x3
            d0 = c0 - np.int32(q & m)
            d1 = c1 - np.int32((q >> np.uint32(8)) & m)
            d2 = c2 - np.int32((q >> np.uint32(16)) & m)
            d3 = c3 - np.int32(q >> np.uint32(24))
            s3 += d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3
        sx += s1
        sxx += s2
        dd += s3
        if ink > 0:
            if first < 0:
                first = i
            last = i
    return sx, sxx, dd, first, last


@_jit
def target_windows(t, sy, ly, vy, cols):
    """Per 7×7 window of the target's G image `t` (H, W): ``sy`` = ΣT, ``ly`` = (ΣT)² + n²C1,
    ``vy`` = k·(n·ΣT² − (ΣT)²) + n²C2, each (H−6, W−6). `cols` is (3, W) float64 scratch."""
    h, w = t.shape
    cs = cols[0]
    css = cols[1]
    cs[:] = 0.0
    css[:] = 0.0
    for i in range(h):
        for j in range(w):
            v = t[i, j]
            cs[j] += v
            css[j] += v * v
        if i >= WIN:
            for j in range(w):
                u = t[i - WIN, j]
                cs[j] -= u
                css[j] -= u * u
        if i >= WIN - 1:
            r = i - (WIN - 1)
            for j in range(w - WIN + 1):
                s = cs[j] + cs[j + 1] + cs[j + 2] + cs[j + 3] + cs[j + 4] + cs[j + 5] + cs[j + 6]
                ss = (css[j] + css[j + 1] + css[j + 2] + css[j + 3] + css[j + 4] + css[j + 5]
                      + css[j + 6])
                sy[r, j] = s
                ly[r, j] = s * s + NC1
                vy[r, j] = K * (N * ss - s * s) + NC2


@_jit
def ssim_sum(g, t, sy, ly, vy, r0, r1, cols):
    """Σ SSIM over the 7×7 windows within rows r0..r1−1 of completion `g` against target `t`
    (both (H, W) G images; target window terms from `target_windows`). `cols` is (3, W)
    float64 scratch for the running column sums.

    In sum units (n = 49 pixels per window, S the window sums) scikit-image's SSIM is
    (2·Sx·Sy + n²C1)(2k(n·Sxy − Sx·Sy) + n²C2) /
    ((Sx² + Sy² + n²C1)(k(n·Sxx − Sx²) + k(n·Syy − Sy²) + n²C2))."""
    h, w = g.shape
    cs = cols[0]
    css = cols[1]
    cst = cols[2]
    cs[:] = 0.0
    css[:] = 0.0
    cst[:] = 0.0
    total = 0.0
    for i in range(r0, r1):
        for j in range(w):
            v = g[i, j]
            cs[j] += v
            css[j] += v * v
            cst[j] += v * t[i, j]
        if i - WIN >= r0:
            for j in range(w):
                u = g[i - WIN, j]
                cs[j] -= u
                css[j] -= u * u
                cst[j] -= u * t[i - WIN, j]
        if i - r0 >= WIN - 1:
            r = i - (WIN - 1)
            for j in range(w - WIN + 1):
                sx = cs[j] + cs[j + 1] + cs[j + 2] + cs[j + 3] + cs[j + 4] + cs[j + 5] + cs[j + 6]
                sxx = (css[j] + css[j + 1] + css[j + 2] + css[j + 3] + css[j + 4] + css[j + 5]
                       + css[j + 6])
                sxt = (cst[j] + cst[j + 1] + cst[j + 2] + cst[j + 3] + cst[j + 4] + cst[j + 5]
                       + cst[j + 6])
                s_y = sy[r, j]
                num = (2.0 * sx * s_y + NC1) * (2.0 * K * (N * sxt - sx * s_y) + NC2)
                den = (sx * sx + ly[r, j]) * (K * (N * sxx - sx * sx) + vy[r, j])
                total += num / den
    return total


@_jit
def edge_cells(g, r0, r1, threshold, cell, cells, flags):
    """Counts, per `cell`×`cell` block, of pixels with |∂x G| + |∂y G| (forward differences)
    above `threshold` (G units), for pixel rows r0..r1−1 (multiples of `cell`). `cells` is
    ((H−1)//cell, (W−1)//cell) float64; only its rows r0/cell..r1/cell−1 are written.
    `flags` is (W,) float64 scratch."""
    nc = cells.shape[1]
    wc = nc * cell
    for ci in range(r0 // cell, r1 // cell):
        for cj in range(nc):
            cells[ci, cj] = 0.0
        for di in range(cell):
            i = ci * cell + di
            for j in range(wc):
                v = g[i, j]
                e = abs(g[i, j + 1] - v) + abs(g[i + 1, j] - v)
                flags[j] = 1.0 if e > threshold else 0.0
            for cj in range(nc):
                c = 0.0
                for dj in range(cell):
                    c += flags[cj * cell + dj]
                cells[ci, cj] += c


@_jit
def cell_sums(a, b, r0, r1):
    """(Σa, Σa², Σab) over rows r0..r1−1 of two cell maps (exact: small integers)."""
    s = 0.0
    ss = 0.0
    sab = 0.0
    for i in range(r0, r1):
        for j in range(a.shape[1]):
            x = a[i, j]
            s += x
            ss += x * x
            sab += x * b[i, j]
    return s, ss, sab
