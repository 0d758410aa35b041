"""Drawing, quantisation, writing, metrics and drops."""

import math

import numpy as np
import pytest
from helpers.svg import svg
from hypothesis import given, settings
from hypothesis import strategies as st

from svgrl.errors import SvgUnsupportedError
from svgrl.svg.drawing import Drawing, Path
from svgrl.svg.load import load_drawing, simplify_svg
from svgrl.svg.metrics import ssim
from svgrl.svg.normalise import quantize
from svgrl.svg.render import render
from svgrl.svg.simplify import SimplifyOptions
from svgrl.svg.write import to_svg


@pytest.mark.parametrize("body, reason", [
    ('<text x="10" y="50">hi</text>', "text"),
    ('<image href="data:image/png;base64,AAAA" width="10" height="10"/>', "image"),
    ('<filter id="f"><feGaussianBlur stdDeviation="2"/></filter>'
     '<rect width="50" height="50" filter="url(#f)"/>', "filter"),
    # a mask letting half through (a white one is a clip: test_gradients)
    ('<mask id="m"><rect width="50" height="50" fill="#888"/></mask>'
     '<rect width="80" height="80" mask="url(#m)"/>', "mask"),
    ('<pattern id="p" width="4" height="4"><rect width="2" height="2"/></pattern>'
     '<rect width="80" height="80" fill="url(#p)"/>', "pattern"),
    ('<style>rect:hover{fill:red}</style><rect width="5" height="5"/>', "css-selector"),
])
def test_undrawable_content_is_reported_or_raised(body, reason):
    res = simplify_svg(svg(body))
    assert reason in {d.reason for d in res.dropped}
    with pytest.raises(SvgUnsupportedError) as info:
        simplify_svg(svg(body), SimplifyOptions(strict=True))
    assert info.value.reason == reason


def test_gradient_becomes_its_mean_colour():
    mean = SimplifyOptions(flat_gradients="mean")
    # Linear ramp red → blue over the full offset range: mean is the midpoint.
    d = load_drawing(svg('<linearGradient id="g"><stop offset="0" stop-color="#f00"/>'
                         '<stop offset="1" stop-color="#00f"/></linearGradient>'
                         '<rect width="100" height="100" fill="url(#g)"/>'), grid=0, options=mean)
    assert d.paths[0].fill == (128, 0, 128)
    # Radial gradients weight the outer colour by area (weight 2t): 1/3 inner + 2/3 outer.
    radial = svg('<radialGradient id="g"><stop offset="0" stop-color="#fff"/>'
                 '<stop offset="1" stop-color="#000"/></radialGradient>'
                 '<rect width="100" height="100" fill="url(#g)"/>')
    assert load_drawing(radial, grid=0, options=mean).paths[0].fill == (85, 85, 85)
    # The default fits the colour to the pixels: the square's corners lie beyond the ramp's
    # black end, so its fitted grey is darker than the ramp's mean.
    assert load_drawing(radial, grid=0).paths[0].fill[0] < 80


def test_translucent_fill_is_composited_on_white():
    d = load_drawing(svg('<rect width="100" height="100" fill="#000" opacity="0.5" '
                         'fill-opacity="0.5"/>'), grid=0)
    assert d.paths[0].fill == (191, 191, 191)  # 255 * (1 - 0.25)


def test_quantised_drawing_is_on_the_grid():
    d = load_drawing(svg('<circle cx="50.3" cy="49.7" r="33.3" fill="#123456"/>'), grid=50)
    assert d.width == d.height == 49
    for p in d.paths:
        for c in p.commands:
            assert all(isinstance(v, int) and 0 <= v <= 49 for v in c[1:])
        assert all(v % 17 == 0 for v in p.fill)


def test_quantiser_beats_plain_rounding():
    """Over many random curvy drawings, the quantiser stays closer (SSIM at 200 px) to the
    float drawing than rounding every coordinate does."""
    from svgrl.svg.drawing import map_coordinates

    rng = np.random.default_rng(1)
    ours, naive = [], []
    for _ in range(40):
        pts = rng.uniform(10, 190, (7, 2))
        cmds = (("M", *pts[0]), ("C", *pts[1], *pts[2], *pts[3]),
                ("C", *pts[4], *pts[5], *pts[6]), ("Z",))
        f = Drawing(200.0, 200.0, (Path(cmds, (0, 0, 0), "evenodd"),))
        ref = render(f)
        def rnd(v):
            return round(v * 199 / 200)

        r = map_coordinates(f, rnd, rnd, rnd, 199, 199)
        ours.append(ssim(render(quantize(f)), ref))
        naive.append(ssim(render(r), ref))
    assert np.mean(ours) > np.mean(naive) + 0.001, (np.mean(ours), np.mean(naive))


_coord = st.floats(0, 200, allow_nan=False)


@st.composite
def drawings(draw):
    paths = []
    for _ in range(draw(st.integers(1, 4))):
        cmds = [("M", draw(_coord), draw(_coord))]
        for _ in range(draw(st.integers(1, 6))):
            if draw(st.booleans()):
                cmds.append(("L", draw(_coord), draw(_coord)))
            else:
                cmds.append(("C", *(draw(_coord) for _ in range(6))))
        if draw(st.booleans()):
            cmds.append(("Z",))
        fill = tuple(draw(st.integers(0, 255)) for _ in range(3))
        paths.append(Path(tuple(cmds), fill, draw(st.sampled_from(["nonzero", "evenodd"]))))
    return Drawing(200.0, 200.0, tuple(paths))


@settings(max_examples=60, deadline=None)
@given(drawings())
def test_quantise_is_idempotent_and_writes_back_identically(d):
    q = quantize(d)
    q.validate()
    assert quantize(q, 200) == q
    # to_svg → our parser → quantise: exactly the same drawing, hence the same pixels.
    assert load_drawing(to_svg(q), grid=200) == q
    assert np.array_equal(render(q), render(load_drawing(to_svg(q), grid=200)))


def test_to_svg_is_compact_and_valid():
    d = Drawing(199.0, 199.0, (Path((("M", 0, 0), ("L", 10, 0), ("L", 10, 10), ("Z",)),
                                    (255, 0, 0), "evenodd"),))
    text = to_svg(d)
    assert text == ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 199 199">'
                    '<path d="M0 0L10 0 10 10Z" fill="#f00" fill-rule="evenodd"/></svg>')
    assert load_drawing(text, grid=0).paths[0].fill_rule == "evenodd"


def test_ssim_matches_scikit_image():
    skimage_metrics = pytest.importorskip("skimage.metrics")
    from skimage.color import rgb2gray

    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 40, a.shape), 0, 255).astype(np.uint8)
    want = skimage_metrics.structural_similarity(rgb2gray(a) * 255, rgb2gray(b) * 255,
                                                 data_range=255)
    assert math.isclose(ssim(a, b), want, rel_tol=1e-9)
    assert ssim(a, a) == pytest.approx(1.0)


def test_render_is_white_without_paths_and_draws_fill_colour():
    assert (render(Drawing(10, 10, ())) == 255).all()
    d = Drawing(10, 10, (Path((("M", 0, 0), ("L", 10, 0), ("L", 10, 10), ("L", 0, 10), ("Z",)),
                              (10, 200, 30)),))
    img = render(d, 32)
    assert img.shape == (32, 32, 3) and tuple(img[16, 16]) == (10, 200, 30)


def test_shared_points_stay_shared():
    """Two triangles sharing a slanted edge (different neighbouring edges) must snap the
    shared vertices identically, or a hairline gap opens between them."""
    text = svg('<path d="M10.4 10.6 L60.45 80.55 L10.4 80.55 Z" fill="#f00"/>'
               '<path d="M10.4 10.6 L90.3 20.7 L60.45 80.55 Z" fill="#00f"/>')
    d = load_drawing(text)
    a = {c[1:] for c in d.paths[0].commands if c[0] != "Z"}
    b = {c[1:] for c in d.paths[1].commands if c[0] != "Z"}
    assert len(a & b) == 2
