"""The cut to a token budget: fitted merges keep the outline, the cheapest loss per token
goes first (a path painted over before a visible one), within the budget, deterministic."""

from __future__ import annotations

import numpy as np
from helpers.icons import tabler_file

from svgrl.bench.reduce import _bezier, _to_polyline, fit, reduce_to_budget
from svgrl.svg.drawing import Drawing, Path
from svgrl.svg.load import load_drawing
from svgrl.svg.metrics import ssim
from svgrl.svg.reference import reference_render
from svgrl.svg.write import to_svg
from svgrl.tokens.codec import encode
from svgrl.tokens.layout import TokenLayout

L = TokenLayout()


def test_fit_recovers_a_cubic_and_prefers_nothing_to_a_line_on_a_curve():
    p = np.array([[10.0, 10.0], [40.0, 90.0], [120.0, 90.0], [150.0, 20.0]])
    q = _bezier(p, np.linspace(0, 1, 40) ** 1.5)  # uneven spacing: needs reparameterising
    (c1, c2, p3), err, line_err = fit(q)
    assert err < 0.05 * line_err and np.allclose(p3, p[3])
    curve = _bezier(np.array([q[0], c1, c2, p3]), np.linspace(0, 1, 200))
    assert _to_polyline(q, curve)[0].max() < 1.5  # canvas units, of a 140-unit curve
    line = np.linspace([0.0, 0.0], [100.0, 50.0], 20)
    _, err, line_err = fit(line)
    assert line_err < 1e-6


def _square(x, y, s, fill):
    return Path((("M", x, y), ("L", x + s, y), ("L", x + s, y + s), ("L", x, y + s), ("Z",)),
                fill)


def test_a_painted_over_path_goes_before_a_visible_one():
    hidden, cover, visible = (_square(50, 50, 40, (255, 0, 0)), _square(40, 40, 60, (0, 0, 255)),
                              _square(120, 120, 30, (0, 0, 0)))
    d = Drawing(199.0, 199.0, (hidden, cover, visible))
    target = reference_render(to_svg(d), 200)
    n = len(encode(d, L))
    out = reduce_to_budget(d, n - 1, L, target)
    assert out.paths == (cover, visible)


def test_a_single_path_is_cut_not_dropped():
    d = load_drawing(tabler_file("star", "outline"))  # one path: outline and inner ring
    target = reference_render(to_svg(d), 200)
    n = len(encode(d, L))
    half = reduce_to_budget(d, n // 2, L, target)
    assert half.paths and len(encode(half, L)) <= n // 2
    assert ssim(reference_render(to_svg(half), 200), target) > 0.75


def test_three_quarters_and_half_the_tokens_keep_the_picture_deterministically():
    d = load_drawing(tabler_file("home", "outline"))
    target = reference_render(to_svg(d), 200)
    n = len(encode(d, L))
    three_q = reduce_to_budget(d, 3 * n // 4, L, target)
    assert len(encode(three_q, L)) <= 3 * n // 4
    assert ssim(reference_render(to_svg(three_q), 200), target) > 0.97
    half = reduce_to_budget(d, n // 2, L, target)  # an outline of corners: each costs
    assert len(encode(half, L)) <= n // 2 and len(half.paths) == len(d.paths)
    assert ssim(reference_render(to_svg(half), 200), target) > 0.83
    assert reduce_to_budget(d, n // 2, L, target) == half
    assert reduce_to_budget(d, n, L, target) is d  # it fits already
