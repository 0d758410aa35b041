"""Filter effects (layer blur, drop and inner shadows, as design tools export them) kept as
path effects: recognised, rendered like resvg draws the original, written as `<filter>`s
resvg draws like our renderer, quantised, tokenized and decoded back exactly; bounded."""

import time

import numpy as np
import pytest
from helpers.svg import svg

from svgrl.errors import SvgLimitError, SvgValueError
from svgrl.svg.drawing import MAX_EFFECTS, Drawing, Effect, Path
from svgrl.svg.load import load_drawing, simplify_svg
from svgrl.svg.metrics import ssim
from svgrl.svg.reference import reference_render
from svgrl.svg.render import render
from svgrl.svg.simplify import SimplifyOptions
from svgrl.svg.write import to_svg
from svgrl.tokens.codec import decode, encode
from svgrl.tokens.grammar import grammar_for
from svgrl.tokens.layout import TokenLayout

# Figma's export of an inner shadow pair (Fluent Emoji's 1st-place-medal), a layer blur and
# a drop shadow, on a 32-unit canvas.
_INNER = (
    '<filter id="i" x="3" y="3" width="20" height="20" filterUnits="userSpaceOnUse" '
    'color-interpolation-filters="sRGB"><feFlood flood-opacity="0" result="BackgroundImageFix"/>'
    '<feBlend in="SourceGraphic" in2="BackgroundImageFix" result="shape"/>'
    '<feColorMatrix in="SourceAlpha" result="hardAlpha" values="0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 '
    '0 0 0 127 0"/><feOffset dx="-.6" dy="-.6"/><feGaussianBlur stdDeviation=".5"/>'
    '<feComposite in2="hardAlpha" k2="-1" k3="1" operator="arithmetic"/>'
    '<feColorMatrix values="0 0 0 0 0.1 0 0 0 0 0.2 0 0 0 0 0.6 0 0 0 1 0"/>'
    '<feBlend in2="shape" result="e1"/>'
    '<feColorMatrix in="SourceAlpha" result="hardAlpha" values="0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 '
    '0 0 0 127 0"/><feOffset dx=".5" dy=".5"/><feGaussianBlur stdDeviation=".4"/>'
    '<feComposite in2="hardAlpha" k2="-1" k3="1" operator="arithmetic"/>'
    '<feColorMatrix values="0 0 0 0 0.9 0 0 0 0 0.9 0 0 0 0 1 0 0 0 0.5 0"/>'
    '<feBlend in2="e1" result="e2"/></filter>')
_BLUR = ('<filter id="b" x="14" y="14" width="18" height="18" filterUnits="userSpaceOnUse" '
         'color-interpolation-filters="sRGB">'
         '<feFlood flood-opacity="0" result="BackgroundImageFix"/>'
         '<feBlend in="SourceGraphic" in2="BackgroundImageFix" result="shape"/>'
         '<feGaussianBlur result="fx" stdDeviation="1"/></filter>')
_DROP = ('<filter id="d" x="0" y="20" width="16" height="12" filterUnits="userSpaceOnUse" '
         'color-interpolation-filters="sRGB">'
         '<feFlood flood-opacity="0" result="BackgroundImageFix"/>'
         '<feColorMatrix in="SourceAlpha" result="hardAlpha" values="0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 '
         '0 0 0 127 0"/><feOffset dx="1" dy="1"/><feGaussianBlur stdDeviation=".7"/>'
         '<feComposite in2="hardAlpha" operator="out"/>'
         '<feColorMatrix values="0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0.5 0"/>'
         '<feBlend in2="BackgroundImageFix" result="s"/>'
         '<feBlend in="SourceGraphic" in2="s" result="shape"/></filter>')
FIGMA = svg(
    f'<defs>{_INNER}{_BLUR}{_DROP}<linearGradient id="g" x1="4" y1="4" x2="22" y2="22" '
    'gradientUnits="userSpaceOnUse"><stop stop-color="#4686EC"/><stop offset="1" '
    'stop-color="#1A6DD8"/></linearGradient></defs>'
    '<g filter="url(#i)"><path fill="#4686EC" d="M4 4h18v18H4z"/>'
    '<path fill="url(#g)" d="M4 4h18v18H4z"/></g>'
    '<circle cx="23" cy="23" r="5" fill="#F4C654" filter="url(#b)"/>'
    '<g filter="url(#d)"><rect x="2" y="22" width="10" height="6" rx="1" fill="#fa8"/></g>',
    'viewBox="0 0 32 32"')


def _drawing(text: str, **kw) -> Drawing:
    return simplify_svg(text, SimplifyOptions(gradients=True, **kw)).drawing


def test_figma_effects_are_recognised():
    d = _drawing(FIGMA)
    effects = [p.effect for p in d.paths if p.effect is not None]
    assert [e.kind for e in effects] == ["inner", "inner", "blur", "blur"]
    inner1, inner2, blur, drop = effects
    k = 200 / 32  # user units → canvas units
    assert inner1.sigma == pytest.approx(0.5 * k) and inner1.dx == pytest.approx(-0.6 * k)
    assert inner2.alpha == pytest.approx(0.5)
    assert blur.sigma == pytest.approx(k) and (blur.dx, blur.dy, blur.alpha) == (0, 0, 1)
    assert drop.dx == pytest.approx(k) and drop.alpha == pytest.approx(0.5)
    # the drop shadow is drawn before its shape, the inner shadows after theirs
    kinds = [(p.effect.kind if p.effect else None) for p in d.paths]
    assert kinds == [None, None, "inner", "inner", "blur", "blur", None]
    assert not simplify_svg(FIGMA, SimplifyOptions(gradients=True)).dropped


def test_effects_render_like_resvg_and_the_writer_round_trips():
    d = _drawing(FIGMA)
    ref = reference_render(FIGMA, 200)
    ours = render(d, 200)
    plain = render(_drawing(FIGMA, effects=False), 200)
    assert ssim(ours, ref) > 0.99 and ssim(ours, ref) > ssim(plain, ref) + 0.02
    # resvg draws our written filters as our renderer draws the effects
    assert ssim(reference_render(to_svg(d), 200), ours) > 0.99


def test_effects_quantise_and_tokenize_exactly():
    layout = TokenLayout(gradients=True)
    q = load_drawing(FIGMA, gradients=True)
    assert q.has_effects
    ids = encode(q, layout)
    assert decode(ids, layout, strict=True) == q
    grammar_for(layout).check(ids)
    assert ssim(render(q, 200), reference_render(FIGMA, 200)) > 0.97
    # a flat layout drops the effects and keeps the paths
    flat = decode(encode(q, TokenLayout()), TokenLayout())
    assert not flat.has_effects and len(flat.paths) == len(q.paths)


def test_effect_tokens_only_follow_a_paint():
    layout = TokenLayout(gradients=True)
    g = grammar_for(layout)
    fill, m, l_ = layout.fill_start + 0xF00, layout.command("M"), layout.command("L")
    p = layout.point
    blur = [layout.effect("blur"), layout.sigma(2.0)]
    body = [m, p(1, 1), l_, p(5, 5), l_, p(1, 5)]  # a triangle: its subpath bears area
    good = [layout.bos, fill, *blur, *body, layout.eos]
    assert g.accepts(good)
    shadow = [layout.effect("inner"), layout.sigma(2.0), layout.shift(-1.5), layout.shift(0.75),
              layout.alpha(0.4)]
    assert g.accepts([layout.bos, fill, *shadow, *body, layout.eos])
    assert not g.accepts([layout.bos, fill, *body[:2], *blur, *body[2:], layout.eos])
    assert not g.accepts([layout.bos, fill, *blur, *blur, *body, layout.eos])
    d = decode(good, layout, strict=True)
    assert d.paths[0].effect == Effect("blur", 2.0)


def test_unrecognised_filters_are_dropped_and_effects_are_opt_in():
    turbulence = svg('<filter id="t"><feTurbulence baseFrequency=".1"/></filter>'
                     '<rect width="50" height="50" fill="red" filter="url(#t)"/>')
    res = simplify_svg(turbulence, SimplifyOptions(gradients=True))
    assert [x.reason for x in res.dropped] == ["filter"] and len(res.drawing.paths) == 1
    res = simplify_svg(FIGMA)  # no gradients: no effects, the content drawn unfiltered
    assert not res.drawing.has_effects and {x.reason for x in res.dropped} == {"filter"}


def test_hostile_effects_are_bounded():
    # a blur radius bomb renders in bounded time (sigma clamped to a quarter of the canvas)
    bomb = svg('<filter id="b"><feGaussianBlur stdDeviation="1e7"/></filter>'
               '<rect width="50" height="50" fill="red" filter="url(#b)"/>')
    d = _drawing(bomb)
    t = time.perf_counter()
    img = render(d, 512)
    assert time.perf_counter() - t < 2
    green = img[..., 1]
    assert 100 < green.min() < 250 and green[300, 300] < 255  # drawn, spread wide, faint
    assert f'stdDeviation="{d.width / 4:g}"' in to_svg(d)
    # more filtered elements than a drawing may carry: a typed limit
    many = svg('<filter id="b"><feGaussianBlur stdDeviation="1"/></filter>'
               + '<rect width="5" height="5" filter="url(#b)"/>' * (MAX_EFFECTS + 1))
    with pytest.raises(SvgLimitError) as e:
        _drawing(many)
    assert e.value.reason == "effects"
    square = (("M", 0, 0), ("L", 9, 0), ("L", 9, 9), ("Z",))
    too_many = Drawing(10, 10, (Path(square, effect=Effect("blur", 1.0)),) * (MAX_EFFECTS + 1))
    with pytest.raises(SvgValueError):
        render(too_many)
    with pytest.raises(SvgValueError):
        Drawing(10, 10, (Path(square, effect=Effect("blur", -1.0)),)).validate()
    assert np.isfinite(render(Drawing(10, 10, (Path(square, effect=Effect("inner", 1e30)),)))
                       ).all()
