"""Where browsers recover, svgrl recovers: a malformed part is drawn the way the spec says
(up to the error, or as if the bad attribute were absent), and the recovery is reported as
a named drop. Each case is checked in pixels against the equivalent well-formed file."""

import time

import numpy as np
import pytest

from svgrl.svg.load import simplify_svg
from svgrl.svg.render import render
from svgrl.svg.values import LengthContext, parse_length

NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'


def doc(body: str, attrs: str = 'viewBox="0 0 100 100"') -> str:
    return f"<svg {NS} {attrs}>{body}</svg>"


# name: (malformed, what it must draw like, the drop it reports)
RECOVERED = {
    "path-bad-char": ('<path d="M10 10 L 90 10 L 90 90 L 150#80" fill="green"/>',
                      '<path d="M10 10 L 90 10 L 90 90" fill="green"/>', "path-data-error"),
    "path-missing-coordinate": ('<path d="M10 10 L 90 10 L 90 90 L 50" fill="green"/>',
                                '<path d="M10 10 L 90 10 L 90 90" fill="green"/>',
                                "path-data-error"),
    "path-nan": ('<path d="M10 10 L 90 10 L 90 90 L nan 5 Z" fill="green"/>',
                 '<path d="M10 10 L 90 10 L 90 90" fill="green"/>', "path-data-error"),
    "path-bad-arc-flag": ('<path d="M50 50 h -25 a 25 25 0 -1 0 25 -25 z" stroke="red"/>',
                          '<path d="M50 50 h -25" stroke="red"/>', "path-data-error"),
    "path-no-moveto": ('<path d="A 5 5 0 0 1 50 50" fill="red"/>', "", "path-data-error"),
    "invalid-length": ('<rect x="10" y="10" width="44mmx" height="80" fill="red"/>', "",
                       "invalid-length"),
    "inf-length": ('<rect width="inf" height="3"/>', "", "invalid-length"),
    "invalid-transform": ('<rect x="10" y="10" width="50" height="50" transform="qwe"/>',
                          '<rect x="10" y="10" width="50" height="50"/>', "invalid-transform"),
    "invalid-opacity": ('<rect width="50" height="50" opacity="0.1mm"/>',
                        '<rect width="50" height="50"/>', "invalid-opacity"),
    "invalid-miterlimit": ('<path d="M10 30 l 60 10 l -60 10" fill="none" stroke="green" '
                           'stroke-width="10" stroke-miterlimit="5mm"/>',
                           '<path d="M10 30 l 60 10 l -60 10" fill="none" stroke="green" '
                           'stroke-width="10"/>', None),
    "invalid-colour-inherits": ('<g fill="green"><rect width="50" height="50" fill="#qqq"/></g>',
                                '<rect width="50" height="50" fill="green"/>', "bad-color"),
    "icc-colour-is-invalid": ('<rect width="50" height="50" fill="red icc-color(x, 0.1)"/>',
                              '<rect width="50" height="50"/>', "bad-color"),
    "rgb-mixing-units": ('<rect width="50" height="50" fill="rgba(0, 50%, 0, 0.5)"/>',
                         '<rect width="50" height="50"/>', "bad-color"),
    "hsl-out-of-range": ('<rect width="50" height="50" fill="hsl(120, 200%, 25%)"/>',
                         '<rect width="50" height="50" fill="hsl(120, 100%, 25%)"/>', None),
    "rgba-percent-alpha": ('<rect width="50" height="50" fill="rgba(0, 127, 0, 50%)"/>',
                           '<rect width="50" height="50" fill="rgb(0, 127, 0)" '
                           'fill-opacity="0.5"/>', None),
    # A recursive <use> is not rendered; the rest of the file is.
    "use-self": ('<use id="u" href="#u"/><rect width="9" height="9"/>',
                 '<rect width="9" height="9"/>', "use-recursive"),
    "use-ancestor": ('<g id="a"><use href="#a" x="20"/><rect width="9" height="9"/></g>',
                     '<rect width="9" height="9"/>', "use-recursive"),
    "use-indirect": ('<g id="g"><use id="u1" href="#u2"/></g><use id="u2" href="#g"/>'
                     '<rect width="9" height="9"/>', '<rect width="9" height="9"/>',
                     "use-recursive"),
    "use-of-recursive": ('<defs><g id="g"><use href="#g"/><rect width="9" height="9"/></g></defs>'
                         '<use href="#g" x="50"/>', '<rect x="50" width="9" height="9"/>',
                         "use-recursive"),
    # <use> of an <svg>: width/height on the <use> override the svg's.
    "use-svg-size": ('<defs><svg id="s" x="10" y="10" width="20" height="20"><circle cx="50" '
                     'cy="50" r="80"/></svg></defs><use href="#s" width="30" height="40"/>',
                     '<rect x="10" y="10" width="30" height="40"/>', None),
    # Clip paths: units, inheritance, clips on children and on the clipPath, invalid parts.
    "clip-object-bbox": ('<clipPath id="c" clipPathUnits="objectBoundingBox"><rect x="0.25" '
                         'y="0.25" width="0.5" height="0.5"/></clipPath>'
                         '<rect width="80" height="40" clip-path="url(#c)"/>',
                         '<rect x="20" y="10" width="40" height="20"/>', None),
    "clip-rule-inherited": ('<g clip-rule="evenodd"><clipPath id="c"><path d="M0 0h60v60H0z '
                            'M20 20h20v20H20z"/></clipPath></g>'
                            '<rect width="100" height="100" clip-path="url(#c)"/>',
                            '<path d="M0 0h60v60H0z M20 20h20v20H20z" fill-rule="evenodd"/>',
                            None),
    "clip-on-child": ('<clipPath id="a"><rect width="30" height="100"/></clipPath>'
                      '<clipPath id="c"><rect width="60" height="60" clip-path="url(#a)"/>'
                      '</clipPath><rect width="100" height="100" clip-path="url(#c)"/>',
                      '<rect width="30" height="60"/>', None),
    "clip-on-clippath": ('<clipPath id="a"><rect width="30" height="100"/></clipPath>'
                         '<clipPath id="c" clip-path="url(#a)"><rect width="60" height="60"/>'
                         '</clipPath><rect width="100" height="100" clip-path="url(#c)"/>',
                         '<rect width="30" height="60"/>', None),
    "clip-recursive-ignored": ('<clipPath id="c" clip-path="url(#c)"><rect width="60" '
                               'height="60"/></clipPath>'
                               '<rect width="100" height="100" clip-path="url(#c)"/>',
                               '<rect width="60" height="60"/>', "clip-path-recursive"),
    "clip-invisible-child": ('<clipPath id="c"><rect width="60" height="60" '
                             'visibility="hidden"/></clipPath>'
                             '<rect width="100" height="100" clip-path="url(#c)"/>', "", None),
    "clip-use-child": ('<defs><rect id="r" width="60" height="60"/></defs><clipPath id="c">'
                       '<use href="#r" x="10"/></clipPath>'
                       '<rect width="100" height="100" clip-path="url(#c)"/>',
                       '<rect x="10" width="60" height="60"/>', None),
    "clip-use-of-group": ('<defs><g id="g"><rect width="60" height="60"/></g></defs>'
                          '<clipPath id="c"><use href="#g"/></clipPath>'
                          '<rect width="100" height="100" clip-path="url(#c)"/>', "",
                          "clip-use-of-g"),
    # CSS: the cascade as browsers run it.
    "css-attribute-selector": ('<style>[x] { fill: green }</style><rect x="10" width="50" '
                               'height="50"/>', '<rect x="10" width="50" height="50" '
                               'fill="green"/>', None),
    "css-child-combinator": ('<style>svg > rect { fill: green } g rect { fill: blue }</style>'
                             '<rect width="50" height="50"/><g><rect x="60" width="9" '
                             'height="9"/></g>', '<rect width="50" height="50" fill="green"/>'
                             '<rect x="60" width="9" height="9" fill="blue"/>', None),
    "css-important": ('<style>#r { fill: green !important } #r { fill: red }</style>'
                      '<rect id="r" width="50" height="50" style="fill: blue"/>',
                      '<rect width="50" height="50" fill="green"/>', None),
    "css-specificity": ('<style>g#a g rect { fill: green } g#a rect { fill: red }</style>'
                        '<g id="a"><g><rect width="50" height="50"/></g></g>',
                        '<rect width="50" height="50" fill="green"/>', None),
    "css-transform": ('<style>#r { transform: scale(2) }</style>'
                      '<rect id="r" x="10" y="10" width="20" height="20"/>',
                      '<rect x="20" y="20" width="40" height="40"/>', None),
    "css-not-css": ('<style type="text/x-other">rect { fill: red }</style>'
                    '<rect width="50" height="50" fill="green"/>',
                    '<rect width="50" height="50" fill="green"/>', "style-type"),
    "css-comments-in-style": ('<rect width="50" height="50" style="/*a*/fill:green/*b*/"/>',
                              '<rect width="50" height="50" fill="green"/>', None),
    "transform-origin": ('<rect x="40" y="40" width="20" height="20" transform="rotate(45)" '
                         'transform-origin="center"/>',
                         '<rect x="40" y="40" width="20" height="20" '
                         'transform="rotate(45 50 50)"/>', None),
    "transform-origin-keywords": ('<rect x="40" y="40" width="20" height="20" '
                                  'transform="scale(2)" transform-origin="right bottom"/>',
                                  '<rect x="-20" y="-20" width="40" height="40"/>', None),
    # Conditional processing, <switch>, symbols, radii, group bounding boxes, background.
    "switch-conditions": ('<switch><rect width="9" height="9" requiredExtensions="x"/>'
                          '<unknown/><rect width="9" height="9" systemLanguage="ru, en-GB" '
                          'fill="green"/><rect width="9" height="9" fill="red"/></switch>',
                          '<rect width="9" height="9" fill="green"/>', None),
    "system-language": ('<rect width="9" height="9" systemLanguage="ru-RU"/>', "", None),
    "symbol-opacity": ('<symbol id="s" opacity="0.5"><rect width="9" height="9"/></symbol>'
                       '<use href="#s"/>', '<rect width="9" height="9" opacity="0.5"/>', None),
    "negative-radius": ('<ellipse cx="50" cy="50" rx="-30" ry="20"/>'
                        '<rect y="80" width="50" height="20" rx="-4" ry="8"/>',
                        '<circle cx="50" cy="50" r="20"/>'
                        '<rect y="80" width="50" height="20" rx="8" ry="8"/>', None),
    "group-object-bbox": ('<clipPath id="c" clipPathUnits="objectBoundingBox"><rect width="0.5" '
                          'height="1"/></clipPath><g clip-path="url(#c)"><rect x="20" y="20" '
                          'width="60" height="60" opacity="0"/><rect x="40" y="40" width="20" '
                          'height="20"/></g>', '<rect x="40" y="40" width="10" height="20"/>',
                          None),
}


@pytest.mark.parametrize("name", sorted(RECOVERED))
def test_recovers_like_a_browser(name):
    bad, good, reason = RECOVERED[name]
    t0 = time.process_time()
    res = simplify_svg(doc(bad))
    assert time.process_time() - t0 < 1.0
    if reason is not None:
        assert reason in {d.reason for d in res.dropped}, res.dropped
    want = render(simplify_svg(doc(good)).drawing, 100)
    got = render(res.drawing, 100)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("value, px", [
    ("2em", 40.0), ("2ex", 20.0), ("2ch", 20.0), ("1rem", 10.0), ("1ic", 20.0),
    ("1lh", 24.0), ("1rlh", 12.0), ("10cap", 140.0), ("4Q", 96 / 25.4), ("5vw", 10.0),
    ("5vh", 5.0), ("5vi", 10.0), ("5vb", 5.0), ("10vmin", 10.0), ("10vmax", 20.0),
    ("1IN", 96.0), ("50%", 30.0),
])
def test_css_length_units(value, px):
    ctx = LengthContext(em=20.0, rem=10.0, vw=200.0, vh=100.0)
    assert parse_length(value, 60.0, 0.0, "", 1e7, ctx) == pytest.approx(px)


def test_font_relative_units_follow_the_inherited_font_size():
    # 1em at font-size 20 (set on the group) and 1rem at the root's 10.
    a = doc('<g font-size="20"><rect x="1em" y="1em" width="3em" height="3em"/></g>'
            '<rect x="1rem" y="80" width="1rem" height="1rem" font-size="64"/>',
            'viewBox="0 0 100 100" font-size="10"')
    b = doc('<rect x="20" y="20" width="60" height="60"/><rect x="10" y="80" width="10" '
            'height="10"/>')
    assert np.array_equal(render(simplify_svg(a).drawing, 100),
                          render(simplify_svg(b).drawing, 100))


def test_many_recursive_uses_are_found_in_bounded_time():
    # 1,500 <use>s that each reference the root: all recursive, found in one linear pass.
    body = "".join(f'<use id="u{i}" href="#root" x="{i % 7}"/>' for i in range(1500))
    data = doc(body + '<rect width="9" height="9"/>', 'id="root" viewBox="0 0 100 100"')
    t0 = time.process_time()
    res = simplify_svg(data)
    assert time.process_time() - t0 < 2.0
    assert sum(d.reason == "use-recursive" for d in res.dropped) == 1500
    assert len(res.drawing.paths) == 1


@pytest.mark.parametrize("css", [
    ("* " * 20 + "rect {fill:red} ") * 256,
    ("g rect:nth-child(2n+1) {fill:red} ") * 1000,
    ".a" * 5000 + " b {fill:red}",
])
def test_complex_selectors_have_bounded_work(css):
    wide = "<g><g>" + '<rect width="5" height="5"/>' * 5000 + "</g></g>"
    t0 = time.process_time()
    res = simplify_svg(doc(f"<style>{css}</style>{wide}"))
    assert time.process_time() - t0 < 2.0
    assert "css-selector" in {d.reason for d in res.dropped}


@pytest.mark.parametrize("attrs, reason", [
    ('width="0" height="0"', "empty-canvas"),
    ('width="-50" height="-100"', "empty-canvas"),
    ('viewBox="0 0 100 100" width="0" height="50"', "empty-canvas"),
])
def test_zero_or_negative_size_draws_nothing(attrs, reason):
    res = simplify_svg(doc('<rect width="50" height="50"/>', attrs))
    assert res.drawing.paths == ()
    assert reason in {d.reason for d in res.dropped}


def test_invalid_viewbox_is_ignored():
    res = simplify_svg(doc('<rect width="50" height="50"/>', 'viewBox="0 0 -5 10" width="100" '
                           'height="100"'))
    want = simplify_svg(doc('<rect width="50" height="50"/>', 'width="100" height="100"'))
    assert "invalid-viewbox" in {d.reason for d in res.dropped}
    assert np.array_equal(render(res.drawing, 100), render(want.drawing, 100))


def test_no_size_spans_the_content():
    # Neither viewBox nor width/height: the canvas runs from the origin to the content's
    # far corner (strokes included), as resvg draws it.
    res = simplify_svg(doc('<rect x="10" y="10" width="30" height="70"/>', ""))
    want = simplify_svg(doc('<rect x="10" y="10" width="30" height="70"/>',
                            'viewBox="0 0 40 80"'))
    assert np.array_equal(render(res.drawing, 100), render(want.drawing, 100))


def test_root_background_color_fills_the_canvas():
    res = simplify_svg(doc('<rect width="50" height="50"/>',
                           'viewBox="0 0 100 100" style="background-color: #0000ff80"'))
    img = render(res.drawing, 100)
    assert tuple(img[90, 90]) == (127, 127, 255) and tuple(img[10, 10]) == (0, 0, 0)


def test_non_utf8_encoding_is_decoded():
    data = ('<?xml version="1.0" encoding="Windows-1251"?>'
            f'<svg {NS} viewBox="0 0 100 100"><title>Привет</title>'
            '<rect width="50" height="50"/></svg>').encode("cp1251")
    assert len(simplify_svg(data).drawing.paths) == 1


def test_nested_object_bbox_clips_cost_linear_work():
    # Each group's box is measured without resolving the clips inside it.
    clip = ('<clipPath id="c" clipPathUnits="objectBoundingBox"><rect width="0.9" '
            'height="0.9"/></clipPath>')
    body = clip + '<g clip-path="url(#c)">' * 60 + '<rect width="50" height="50"/>' + "</g>" * 60
    t0 = time.process_time()
    res = simplify_svg(doc(body))
    assert time.process_time() - t0 < 2.0
    assert len(res.drawing.paths) == 1
