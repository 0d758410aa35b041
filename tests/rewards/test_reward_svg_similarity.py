"""Fast-path image metrics of the SVG reward against reference implementations, on real
renders (Tabler icons, installed with svgrl) and on synthetic images."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import binary_dilation, gaussian_filter
from skimage.feature import canny

from svgrl.errors import ConfigError
from svgrl.rewards.svg_similarity import EdgeParams, TargetStats, score, ssim_fast, zl2_from_sums
from svgrl.svg.drawing import Drawing
from svgrl.svg.drawing import Path as DPath
from svgrl.svg.load import load_drawing
from svgrl.svg.metrics import grey, ssim
from svgrl.svg.render import render, render_rgba


def _tabler(k: int, step: int = 97) -> list[Drawing]:
    spec = importlib.util.find_spec("pytablericons")
    root = Path(next(iter(spec.submodule_search_locations))) / "icons"
    files = sorted(root.rglob("*.svg"))[::step][:k]
    return [load_drawing(f) for f in files]


@pytest.fixture(scope="module")
def icons() -> list[np.ndarray]:
    return [render(d) for d in _tabler(24)]


def _shift(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    out = np.full_like(img, 255)
    h, w = img.shape[:2]
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        img[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def test_ssim_fast_equals_scikit_image_semantics_on_icon_pairs(icons):
    errs = []
    for a, b in zip(icons, icons[1:] + icons[:1], strict=True):
        for x, y in ((a, b), (a, a), (a, _shift(a, 2, -1))):
            errs.append(abs(ssim_fast(x, y) - ssim(x, y)))
    assert max(errs) < 1e-9, max(errs)


@pytest.mark.parametrize("seed", range(4))
def test_ssim_fast_equals_reference_on_noise_and_colour(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
    assert abs(ssim_fast(a, b) - ssim(a, b)) < 1e-9
    assert abs(ssim_fast(a, a) - 1.0) < 1e-12


def test_ssim_against_skimage_itself(icons):
    from skimage.metrics import structural_similarity

    a, b = grey(icons[0]), grey(icons[1])
    ref = structural_similarity(a, b, data_range=255.0)
    assert abs(ssim_fast(icons[0], icons[1]) - ref) < 1e-9


def _zl2_direct(a: np.ndarray, b: np.ndarray) -> float:
    za = (a - a.mean()) / a.std()
    zb = (b - b.mean()) / b.std()
    return float(np.clip(1 - np.mean((za - zb) ** 2), -1, 1))


def test_pixel_part_is_z_normalised_l2_on_rgb(icons):
    for a, b in zip(icons[:8], icons[1:9], strict=True):
        s = score(a, TargetStats(b))
        ref = _zl2_direct(a.astype(np.float64), b.astype(np.float64))
        assert abs(s.pixel - ref) < 1e-9
    assert score(icons[0], TargetStats(icons[0])).pixel == pytest.approx(1.0, abs=1e-6)
    inverted = 255 - icons[0]
    assert score(inverted, TargetStats(icons[0])).pixel == -1.0  # ρ = −1 → 2ρ − 1 clipped


def test_zl2_constant_images():
    assert zl2_from_sums(10, 5.0, 2.5, 5.0, 2.5, 2.5) == 1.0  # both constant
    assert zl2_from_sums(10, 5.0, 2.5, 3.0, 5.0, 1.0) == 0.0  # one constant


def test_blank_render_is_detected(icons):
    white = np.full_like(icons[0], 255)
    assert score(white, TargetStats(icons[0])).blank
    assert not score(icons[0], TargetStats(white)).blank


def test_rgb_and_rgba_inputs_agree(icons):
    t = TargetStats(icons[1])
    rgba = np.concatenate([icons[0], np.full(icons[0].shape[:2] + (1,), 255, np.uint8)], 2)
    assert score(icons[0], t) == score(rgba, t)


def test_bad_images_raise_config_errors(icons):
    with pytest.raises(ConfigError, match="uint8"):
        TargetStats(icons[0].astype(np.float32))
    with pytest.raises(ConfigError, match="differ in shape"):
        score(icons[0][:100], TargetStats(icons[1]))
    with pytest.raises(ConfigError, match="at least"):
        TargetStats(np.zeros((4, 4, 3), np.uint8))


def _edge_cells_reference(img: np.ndarray, threshold: float = 32.0, cell: int = 4) -> np.ndarray:
    """The edge map as specified, in plain int64 numpy: 10⁴·grey (exact), |∂x| + |∂y| by
    forward differences above 10⁴·threshold, counted per cell×cell block."""
    g = img[..., :3].astype(np.int64) @ np.array([2125, 7154, 721])
    e = (np.abs(g[:-1, 1:] - g[:-1, :-1]) + np.abs(g[1:, :-1] - g[:-1, :-1])) > threshold * 1e4
    hc, wc = e.shape[0] // cell, e.shape[1] // cell
    return e[:hc * cell, :wc * cell].reshape(hc, cell, wc, cell).sum(axis=(1, 3)).ravel()


def _partial(img: np.ndarray, rows: slice) -> np.ndarray:
    out = np.full_like(img, 255)
    out[rows] = img[rows]
    return out


def _pairs_with_small_bands(icons: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs where the drawn rows cover little of the image (the row band is small), near
    the top or bottom edge, or nothing in the target."""
    pairs = []
    for a, b in zip(icons[:6], icons[1:7], strict=True):
        top = _partial(_shift(a, 0, -16), slice(0, 12))  # ink in the first rows
        pairs += [(a, b), (_partial(a, slice(60, 90)), b), (top, _partial(b, slice(150, 200))),
                  (_shift(a, 0, 37), _partial(b, slice(90, 95))),
                  (_partial(a, slice(95, 105)), np.full_like(b, 255))]
    assert all((x != 255).any() for x, _ in pairs)  # no blank completion: all are scored
    return pairs


def test_score_ssim_equals_reference_whatever_the_drawn_rows(icons):
    """score() computes SSIM on the band of drawn rows only; the rest must count exactly as
    scikit-image counts it."""
    for a, b in _pairs_with_small_bands(icons):
        assert abs(score(a, TargetStats(b)).ssim - ssim(a, b)) < 1e-9


@pytest.mark.parametrize("cell", [1, 3, 4, 7])
def test_edge_cells_equal_the_integer_reference(icons, cell):
    for a, b in _pairs_with_small_bands(icons):
        ea, eb = _edge_cells_reference(a, cell=cell), _edge_cells_reference(b, cell=cell)
        ref = zl2_from_sums(ea.size, float(ea.sum()), float(ea @ ea), float(eb.sum()),
                            float(eb @ eb), float(ea @ eb))
        got = score(a, TargetStats(b, EdgeParams(cell=cell))).edge
        assert got == pytest.approx(ref, abs=1e-12)


def test_identical_render_scores_exactly_one(icons):
    s = score(icons[3].copy(), TargetStats(icons[3]))
    assert (s.pixel, s.ssim, s.edge) == (1.0, 1.0, 1.0)
    # one pixel off: no shortcut, and every part just below 1
    b = icons[3].copy()
    b[100, 100] = (b[100, 100].astype(int) + 128) % 256
    s = score(b, TargetStats(icons[3]))
    assert s.ssim == pytest.approx(ssim(b, icons[3]), abs=1e-9) and s.ssim < 1.0


def test_transparent_target_compares_as_rgb(icons):
    rgba = np.concatenate([icons[1], np.zeros(icons[1].shape[:2] + (1,), np.uint8)], 2)
    assert score(icons[0], TargetStats(rgba)) == score(icons[0], TargetStats(icons[1]))


def _edge_rlrf(img: np.ndarray) -> np.ndarray:
    """RLRF's edge map as we read it: Canny, dilation, Gaussian blur."""
    e = canny(grey(img) / 255.0, sigma=1.0)
    return gaussian_filter(binary_dilation(e, iterations=1).astype(np.float64), 2.0)


def test_edge_similarity_tracks_canny_dilate_blur(icons):
    """The gradient-threshold edge term replaces Canny for speed; over pairs ranging from
    small shifts to different icons it must rank pairs like the Canny version does."""
    ours, ref = [], []
    for i, a in enumerate(icons[:12]):
        for b in (_shift(a, 1, 0), _shift(a, 3, 2), _shift(a, 7, -5), icons[i + 1]):
            ours.append(score(b, TargetStats(a)).edge)
            ref.append(_zl2_direct(_edge_rlrf(b), _edge_rlrf(a)))
    rho = np.corrcoef(ours, ref)[0, 1]
    ranks = np.corrcoef(np.argsort(np.argsort(ours)), np.argsort(np.argsort(ref)))[0, 1]
    assert rho > 0.8 and ranks > 0.8, (rho, ranks)


def test_edge_similarity_orders_shifts(icons):
    for a in icons[:6]:
        t = TargetStats(a)
        e = [score(_shift(a, d, 0), t).edge for d in (0, 1, 4, 12)]
        assert e[0] == pytest.approx(1.0)
        assert e[0] > e[1] > e[3] and e[1] > e[2]


def test_render_rgba_matches_the_renderer_pixel_for_pixel():
    ds = _tabler(12, step=211)
    arcs = Drawing(199, 199, (
        DPath((("M", 20, 100), ("A", 80, 40, 30, 1, 0, 180, 100), ("Z",)), (17, 136, 255)),
        DPath((("M", 10, 10), ("L", 190, 10), ("L", 190, 190), ("L", 10, 190), ("Z",),
               ("M", 50, 50), ("L", 150, 50), ("L", 150, 150), ("L", 50, 150), ("Z",)),
              (0, 0, 0), "evenodd"),
        DPath((("M", 0, 0), ("L", 5, 5)), None),
    ))
    for d in [*ds, arcs, Drawing(100, 50, ds[0].paths)]:
        for size in (200, 64):
            np.testing.assert_array_equal(render_rgba(d, size)[..., :3], render(d, size))
            assert (render_rgba(d, size)[..., 3] == 255).all()
