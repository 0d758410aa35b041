"""Normalise a drawing into a square canvas, then (explicitly) quantise it onto a G×G grid.

Grid semantics: a quantised drawing has integer coordinates 0..G−1 on a canvas of G−1 units,
so grid point 0 is the left edge and G−1 the right edge. Rounding onto a 0..G−1 grid inside a
G-unit canvas (and clipping at G−1, as OmniSVG does) would cut a pixel off every icon that
touches the right or bottom edge.
"""

from __future__ import annotations

from svgrl.svg.drawing import Drawing, map_coordinates

DEFAULT_SIZE = 200.0
DEFAULT_GRID = 200


def normalise(drawing: Drawing, size: float = DEFAULT_SIZE) -> Drawing:
    """Fit the canvas into size × size, preserving aspect ratio, centred."""
    s = size / max(drawing.width, drawing.height)
    tx = (size - drawing.width * s) / 2
    ty = (size - drawing.height * s) / 2
    return map_coordinates(drawing, lambda x: x * s + tx, lambda y: y * s + ty,
                           lambda r: r * s, size, size)


# Quantisation lives in its own module; re-exported here because it is the next step.
from svgrl.svg.quantize import quantize, quantize_color  # noqa: E402,F401
