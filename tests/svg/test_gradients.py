"""Gradient paint kept as gradients: parsed, rendered, quantised, written, tokenized and
decoded back exactly; the OmniSVG-compatible layout is untouched when gradients are off."""

import numpy as np
import pytest
from helpers.svg import compare, svg

from svgrl.errors import ConfigError
from svgrl.svg.load import load_drawing, simplify_svg
from svgrl.svg.metrics import ssim
from svgrl.svg.reference import reference_render
from svgrl.svg.render import render
from svgrl.svg.simplify import SimplifyOptions
from svgrl.svg.write import to_svg
from svgrl.tokens.codec import decode, encode
from svgrl.tokens.grammar import grammar_for
from svgrl.tokens.layout import TokenLayout

GRADIENTS = {
    "linear-bbox": svg(
        '<defs><linearGradient id="a" x1="0" y1="0" x2="1" y2="1"><stop offset="0" '
        'stop-color="red"/><stop offset=".5" stop-color="#ff0"/><stop offset="1" '
        'stop-color="blue"/></linearGradient></defs>'
        '<rect x="5" y="5" width="80" height="60" fill="url(#a)"/>'),
    "radial-transformed-focus": svg(
        '<defs><radialGradient id="b" cx="40" cy="50" r="40" fx="50" fy="40" '
        'gradientUnits="userSpaceOnUse" gradientTransform="rotate(20 40 50) scale(1 .6)">'
        '<stop offset=".1" stop-color="#0a0"/><stop offset="1" stop-color="#fff"/>'
        '</radialGradient></defs><circle cx="50" cy="50" r="45" fill="url(#b)"/>'),
    # A highlight that fades out over another shape: stop opacity must stay opacity.
    "fading-overlay": svg(
        '<defs><radialGradient id="c" cx="0" cy="0" r="1" gradientUnits="userSpaceOnUse" '
        'gradientTransform="matrix(30 0 0 20 50 45)"><stop stop-color="#fff"/>'
        '<stop offset="1" stop-color="#fff" stop-opacity="0"/></radialGradient>'
        '<linearGradient id="d" href="#e" x2="0" y2="1"/><linearGradient id="e">'
        '<stop stop-color="#f80"/><stop offset="1" stop-color="#a20"/></linearGradient></defs>'
        '<circle cx="50" cy="50" r="45" fill="url(#d)"/>'
        '<ellipse cx="50" cy="45" rx="40" ry="30" fill="url(#c)"/>'),
    # An ellipse whose axis ends lie off the canvas (as colour emoji shade faces): on the
    # grid it takes other conjugate axes, or shrunk ones with the ramp stretched.
    "radial-beyond-canvas": svg(
        '<defs><radialGradient id="f" cx="0" cy="0" r="1" gradientUnits="userSpaceOnUse" '
        'gradientTransform="matrix(-70 -50 60 -90 80 30)"><stop offset=".3" stop-color="#fc0"/>'
        '<stop offset=".8" stop-color="#a40"/><stop offset="1" stop-color="#300"/>'
        '</radialGradient></defs><circle cx="50" cy="50" r="48" fill="url(#f)"/>'),
}


@pytest.mark.parametrize("name", list(GRADIENTS))
def test_gradients_render_like_resvg(name):
    text = GRADIENTS[name]
    ref = reference_render(text, 200)
    kept = simplify_svg(text, SimplifyOptions(gradients=True)).drawing
    flat = simplify_svg(text).drawing
    assert kept.has_gradients and not flat.has_gradients
    s_kept, s_flat = ssim(render(kept), ref), ssim(render(flat), ref)
    assert s_kept >= 0.99 and s_kept > s_flat + 0.01, (s_kept, s_flat)


@pytest.mark.parametrize("name", list(GRADIENTS))
def test_gradient_round_trip_through_tokens_and_svg_text(name):
    q = load_drawing(GRADIENTS[name], gradients=True)
    layout = TokenLayout(gradients=True)
    ids = encode(q, layout)
    assert decode(ids, layout, strict=True) == q
    assert grammar_for(layout).accepts(ids)
    ours = render(q)
    assert ssim(ours, reference_render(GRADIENTS[name], 200)) > 0.97
    # The writer's SVG, rendered by resvg, is what our renderer draws.
    assert ssim(reference_render(to_svg(q), 200), ours) > 0.995
    # Through the flat layout the gradients become their mean colours.
    flat = decode(encode(q, TokenLayout()), TokenLayout())
    assert not flat.has_gradients and [p.fill for p in flat.paths] == [p.fill for p in q.paths]


def test_flat_layout_is_unchanged_by_the_gradient_extension():
    flat, grad = TokenLayout(), TokenLayout(gradients=True)
    assert flat.vocab_size == 6 + 5 + 4098 + 2 + 100 + 4 + 200 * 200
    assert "gradients" not in flat.to_json() and TokenLayout.from_json(flat.to_json()) == flat
    assert TokenLayout.from_json(grad.to_json()) == grad
    assert grad.vocab_size == flat.vocab_size + 2 + 101 + 15 + 3 + 32 + 257
    assert grad.ranges()["point"] == flat.ranges()["point"]  # no id moves


def test_gradient_fidelity_beats_the_mean_colour():
    _, mad_flat, *_ = compare(GRADIENTS["linear-bbox"])
    ours = render(simplify_svg(GRADIENTS["linear-bbox"], SimplifyOptions(gradients=True)).drawing)
    ref = reference_render(GRADIENTS["linear-bbox"], 200)
    assert float(np.abs(ours.astype(int) - ref.astype(int)).mean()) < mad_flat / 4


def test_white_masks_become_clips_and_grey_ones_are_reported():
    text = svg(
        '<defs><path id="p" d="M10 10h60v60z"/><mask id="m" fill="#fff"><use href="#p"/></mask>'
        '<mask id="n"><circle cx="60" cy="60" r="30" fill="white"/></mask>'
        '<mask id="o"><rect width="100" height="100" fill="#888"/></mask></defs>'
        '<rect width="100" height="100" fill="#c00" mask="url(#m)"/>'
        '<rect x="20" y="20" width="80" height="80" fill="#00c" mask="url(#n)"/>'
        '<rect x="0" y="80" width="30" height="20" fill="#0a0" mask="url(#o)"/>')
    res = simplify_svg(text)
    assert [d.reason for d in res.dropped] == ["mask"]  # only the grey (half-through) one
    assert ssim(render(res.drawing), reference_render(text, 200)) > 0.98


def test_an_out_of_range_gradient_falls_back_to_its_mean_colour():
    text = svg('<defs><linearGradient id="a" gradientTransform="scale(40000000)"><stop '
               'stop-color="red"/><stop offset="1" stop-color="blue"/></linearGradient></defs>'
               '<rect width="50" height="50" fill="url(#a)"/>')
    d = simplify_svg(text, SimplifyOptions(gradients=True)).drawing
    assert not d.has_gradients and d.paths[0].fill == simplify_svg(text).drawing.paths[0].fill


@pytest.mark.parametrize("name", sorted(GRADIENTS))
def test_fitted_flat_colour_beats_the_mean_colour(name):
    text = GRADIENTS[name]
    ref = reference_render(text, 200)
    fit = simplify_svg(text).drawing  # no gradient tokens: the fitted flat stand-in
    mean = simplify_svg(text, SimplifyOptions(flat_gradients="mean")).drawing
    assert not fit.has_gradients and not mean.has_gradients
    assert len(fit.paths) <= len(mean.paths)
    assert ssim(render(fit), ref) > ssim(render(mean), ref) + 0.003
    with pytest.raises(ConfigError):
        SimplifyOptions(flat_gradients="median")


def test_a_faint_overlay_is_fitted_over_what_lies_under_it():
    text = svg('<defs><radialGradient id="h"><stop stop-color="#fff" stop-opacity=".15"/>'
               '<stop offset="1" stop-color="#fff" stop-opacity="0"/></radialGradient></defs>'
               '<circle cx="50" cy="50" r="45" fill="#c00"/>'
               '<circle cx="50" cy="50" r="30" fill="url(#h)"/>')
    fit = simplify_svg(text).drawing.paths[-1].fill
    mean = simplify_svg(text, SimplifyOptions(flat_gradients="mean")).drawing.paths[-1].fill
    assert mean[1] > 200  # the mean composited onto white: a pale pink disc over the red
    assert fit[0] > 190 and fit[1] < 30  # fitted: the red showing through, barely lighter
