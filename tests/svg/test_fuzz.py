"""Mutated real icons: the pipeline returns a Drawing or raises an SvgrlError — never
anything else (no IndexError, ValueError, skia or lxml exceptions leaking out)."""

import glob
import os
from pathlib import Path

import pytablericons
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from svgrl.errors import SvgrlError
from svgrl.svg.load import load_drawing

_ICONS = sorted(glob.glob(os.path.join(os.path.dirname(pytablericons.__file__),
                                       "icons/*/*.svg")))[::400]
_SEEDS = [Path(f).read_bytes() for f in _ICONS]
_NOISE = st.sampled_from([b"<", b">", b"/", b'"', b"=", b" ", b"-", b".", b"e", b"9", b"#",
                          b"url(#a)", b"M", b"a", b"Z", b"transform=\"rotate(1e9)\"",
                          b"<use href=\"#x\"/>", b"<g id=\"x\"><use href=\"#x\"/></g>",
                          b"\xff", b"&amp;", b"<![CDATA[", b"nan", b"1e999", b"-0"])


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(_SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(data)))
        action = draw(st.integers(0, 2))
        if action == 0:
            data[i:i] = draw(_NOISE)
        elif action == 1:
            del data[i:i + draw(st.integers(1, 20))]
        else:
            data = data[:i]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_icons_give_a_drawing_or_a_typed_error(data):
    try:
        d = load_drawing(data)
    except SvgrlError:
        return
    d.validate()
