"""Exact stroke outlines (subpaths of lines and circular arcs with their joins and caps) draw
what skia's stroker and resvg draw, in fewer tokens: real Tabler icons, and the joins and caps
Tabler does not use."""

from pathlib import Path

import numpy as np
import pytablericons
import pytest
import skia
from helpers.svg import svg

from svgrl.svg import stroke
from svgrl.svg.load import load_drawing, simplify_svg
from svgrl.svg.metrics import ssim
from svgrl.svg.normalise import quantize
from svgrl.svg.pathdata import parse_path_data
from svgrl.svg.reference import reference_render
from svgrl.svg.render import render
from svgrl.tokens.codec import encode
from svgrl.tokens.fidelity import FidelityConfig, check_file
from svgrl.tokens.layout import TokenLayout

TABLER = Path(pytablericons.__file__).parent / "icons" / "outline"


def _skia_only(local, style):
    return local, skia.Path()


# Round caps and joins on lines (check, x: skia's stroker makes the same conics there), arcs
# with caps (arrow-back-up, command's 270° loops), rounded rectangles (rectangle), a ring
# (circle), rings with spokes (polygon). On the grid the exact outline may lose `loss` SSIM
# against skia's: a ring of radius 66–83 units as four cubics (16 tokens a side) sits up to
# ~0.3 units off once its control points are rounded, skia's offset as 16 cubics less so.
@pytest.mark.parametrize("name, shorter, loss", [
    ("check", False, 0.0), ("x", False, 0.0), ("arrow-back-up", True, 0.002),
    ("command", True, 0.002), ("rectangle", True, 0.002), ("circle", True, 0.008),
    ("polygon", True, 0.002)])
def test_tabler_icons_draw_as_with_skias_stroker(name, shorter, loss, monkeypatch):
    text = (TABLER / f"{name}.svg").read_bytes()
    exact = simplify_svg(text).drawing
    with monkeypatch.context() as m:
        m.setattr(stroke, "_exact_outlines", _skia_only)
        approx = simplify_svg(text).drawing
    ours, theirs = render(exact, 400), render(approx, 400)
    assert (ours < 128).mean() > 0.02  # the icon is drawn
    # Both approximate the same outline (skia's offset quads, our one-cubic arcs) to a
    # fraction of a pixel: a wrong join side, cap or sweep would differ in whole pixels.
    ref = reference_render(text, 400).astype(int)
    diff = np.abs(ours.astype(int) - ref)
    assert diff.mean() < 0.6 and (diff > 64).mean() < 2e-3, (diff.mean(), (diff > 64).mean())
    assert np.abs(ours.astype(int) - theirs.astype(int)).mean() < 0.6
    # On the grid: fewer tokens, and as close to resvg's own render.
    layout = TokenLayout()
    q_exact, q_approx = quantize(exact), quantize(approx)
    n_exact, n_approx = len(encode(q_exact, layout)), len(encode(q_approx, layout))
    assert n_exact < n_approx if shorter else n_exact == n_approx
    ref = reference_render(text, 200)
    assert ssim(render(q_exact), ref) >= ssim(render(q_approx), ref) - loss


def test_round_cap_is_one_cubic():
    # A 2-unit round-capped line on a 24-unit icon: caps of radius 8.3 of 200 are one cubic
    # each (0.15 units off at most), the whole outline M L C L C Z.
    text = (TABLER / "minus.svg").read_bytes()
    (path,) = simplify_svg(text).drawing.paths
    assert [c[0] for c in path.commands] == ["M", "L", "C", "L", "C", "Z"]
    ref = reference_render(text, 200)
    assert ssim(render(quantize(simplify_svg(text).drawing)), ref) > 0.99


@pytest.mark.parametrize("body", [
    # miter joins within the limit, beyond it (bevelled), and bevel joins; closed and open
    '<polyline points="10 80 30 20 50 80 70 20 90 80" stroke-linejoin="miter" '
    'stroke-miterlimit="10"/>',
    '<polyline points="10 80 30 20 50 80 70 20 90 80" stroke-linejoin="miter"/>',
    '<polygon points="20 20 80 30 60 80 15 60" stroke-linejoin="bevel"/>',
    '<polygon points="20 20 80 30 60 80 15 60"/>',
    # caps: butt, square and round on an arc; an arc meeting lines at corners
    '<path d="M20 70 A30 30 0 0 1 80 70" stroke-linecap="square"/>',
    '<path d="M20 70 A30 30 0 0 1 80 70 L80 90" stroke-linecap="butt"/>',
    '<path d="M20 60 L20 30 A30 30 0 0 1 80 30 L80 60 A30 30 0 0 0 20 60" '
    'stroke-linejoin="round"/>',
    '<rect x="15" y="20" width="70" height="60" rx="12" stroke-linejoin="miter"/>',
])
def test_joins_and_caps_match_resvg(body, assert_matches_resvg):
    text = svg(f'<g fill="none" stroke="#000" stroke-width="8">{body}</g>')
    assert_matches_resvg(text, min_ssim=0.99, max_mad=1.0)


@pytest.mark.parametrize("d, exact", [
    ("M10 10L50 10L50 50", True),
    ("M10 10A20 20 0 0 1 50 10", True),
    ("M10 10C20 0 40 0 50 10", False),  # a cubic: skia's offset curves
    ("M10 10A20 10 0 0 1 50 10", False),  # an ellipse: its offset is no ellipse
    ("M10 10A3 3 0 0 1 16 10", False),  # radius ≤ half the width: the inner side turns over
    ("M10 10L50 10L10 10", False),  # a cusp
])
def test_which_subpaths_are_outlined_exactly(d, exact):
    style = stroke._Style(4.0, skia.Paint.Cap.kRound_Cap, skia.Paint.Join.kRound_Join, 4.0,
                          0.01, 0.0)
    rest, done = stroke._exact_outlines(parse_path_data(d), style)
    assert rest.isEmpty() == exact and done.isEmpty() != exact


@pytest.mark.parametrize("name", ["mood-happy", "circle"])
def test_float_forms_draw_nearer_resvg(name):
    # Exact ring outlines are the true offset, but resvg's stroker approximates it (~¼ px
    # at 200 px) and draws arcs as cubics, and SSIM at 200 px sees that. Without a grid the
    # drawing takes skia's stroker and a cubic per conic, and lands nearer resvg's render.
    text = (TABLER / f"{name}.svg").read_bytes()
    ref = reference_render(text, 200)
    grid_forms = simplify_svg(text).drawing
    float_forms = simplify_svg(text, for_grid=False).drawing
    assert any(c[0] == "A" for p in grid_forms.paths for c in p.commands)
    assert not any(c[0] == "A" for p in float_forms.paths for c in p.commands)
    near = ssim(render(float_forms), ref)
    assert near > ssim(render(grid_forms), ref) + 0.002
    # `svgrl fidelity --grid 0` and `load_drawing(grid=0)` measure and load the float forms.
    assert check_file(name, text, FidelityConfig(grid=0)).ssim == pytest.approx(near)
    assert load_drawing(TABLER / f"{name}.svg", grid=0).paths == float_forms.paths
