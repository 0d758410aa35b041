"""Normalise a drawing into a square canvas, then (explicitly) quantise it onto a G×G grid.

See `svgrl.svg.quantize` for the grid and its semantics.
"""

from __future__ import annotations

from svgrl.svg.drawing import Drawing, map_coordinates

DEFAULT_SIZE = 200.0


def normalise(drawing: Drawing, size: float = DEFAULT_SIZE) -> Drawing:
    """Fit the canvas into size × size, preserving aspect ratio, centred."""
    s = size / max(drawing.width, drawing.height)
    tx = (size - drawing.width * s) / 2
    ty = (size - drawing.height * s) / 2
    return map_coordinates(drawing, lambda x: x * s + tx, lambda y: y * s + ty,
                           lambda r: r * s, size, size)


# Quantisation lives in its own module; re-exported here because it is the next step.
from svgrl.svg.quantize import DEFAULT_GRID, quantize, quantize_color  # noqa: E402,F401
