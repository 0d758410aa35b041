"""Image similarity on rendered pixels. SSIM follows scikit-image's defaults exactly
(7×7 uniform window, sample covariance, K1=0.01, K2=0.03, 3-pixel border cropped) so our
numbers can be checked against `skimage.metrics.structural_similarity`."""

from __future__ import annotations

import numpy as np

# skimage.color.rgb2gray weights (ITU-R BT.709 luma)
_GREY = np.array([0.2125, 0.7154, 0.0721], np.float64)


def grey(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 → (H, W) float64 grey levels in 0..255."""
    return img.astype(np.float64) @ _GREY if img.ndim == 3 else img.astype(np.float64)


def ssim(a: np.ndarray, b: np.ndarray, win: int = 7, data_range: float = 255.0) -> float:
    """Mean SSIM of two images (RGB or grey) on grey levels."""
    # scipy loads on first use: a third of a second that `svgrl --help` should not pay
    from scipy.ndimage import uniform_filter

    x, y = grey(a), grey(b)
    if x.shape != y.shape:
        raise ValueError(f"images differ in shape: {x.shape} vs {y.shape}")
    np_ = win * win
    cov_norm = np_ / (np_ - 1)
    ux, uy = uniform_filter(x, win), uniform_filter(y, win)
    uxx, uyy = uniform_filter(x * x, win), uniform_filter(y * y, win)
    uxy = uniform_filter(x * y, win)
    vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    pad = (win - 1) // 2
    return float(s[pad:-pad, pad:-pad].mean())
