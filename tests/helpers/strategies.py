"""Hypothesis strategies for quantised drawings (integer grid points, 12-bit colours, arc
rotations on the layout's bins) — exactly the values the tokenizer must round-trip."""

from __future__ import annotations

from hypothesis import strategies as st

from svgrl.svg.drawing import Drawing, Path
from svgrl.tokens.layout import TokenLayout


@st.composite
def quantised_paths(draw, layout: TokenLayout, *, need_segment: bool = False):
    g1 = layout.grid - 1
    c = st.integers(0, g1)
    point = st.tuples(c, c)

    def cmd(op):
        if op in "ML":
            x, y = draw(point)
            return (op, x, y)
        if op == "C":
            return ("C", *draw(point), *draw(point), *draw(point))
        if op == "A":
            rx, ry = draw(point)
            rot = layout.rotation_value(draw(st.integers(0, layout.n_rotation - 1)))
            x, y = draw(point)
            return ("A", rx, ry, rot, draw(st.integers(0, 1)), draw(st.integers(0, 1)), x, y)
        return ("Z",)

    ops = draw(st.lists(st.sampled_from("MLLLCCAZ"), min_size=0, max_size=12))
    if need_segment and not any(op in "LCA" for op in ops):
        ops.append(draw(st.sampled_from("LCA")))
    commands = (cmd("M"),) + tuple(cmd(op) for op in ops)
    fill = draw(st.none() | st.tuples(*[st.integers(0, 15).map(lambda v: v * 17)] * 3))
    rule = draw(st.sampled_from(["nonzero", "evenodd"]))
    return Path(commands, fill, rule)


@st.composite
def quantised_drawings(draw, layout: TokenLayout, *, need_segment: bool = False,
                       min_paths: int = 0):
    paths = draw(st.lists(quantised_paths(layout, need_segment=need_segment),
                          min_size=min_paths, max_size=5))
    g1 = layout.grid - 1
    return Drawing(g1, g1, tuple(paths))
