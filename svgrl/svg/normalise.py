"""Normalise a drawing into a square canvas, then (explicitly) quantise it onto a G×G grid.

Grid semantics: a quantised drawing has integer coordinates 0..G−1 on a canvas of G−1 units,
so grid point 0 is the left edge and G−1 the right edge. Rounding onto a 0..G−1 grid inside a
G-unit canvas (and clipping at G−1, as OmniSVG does) would cut a pixel off every icon that
touches the right or bottom edge.
"""

from __future__ import annotations

from svgrl.svg.drawing import Drawing, Path, map_coordinates

DEFAULT_SIZE = 200.0
DEFAULT_GRID = 200


def normalise(drawing: Drawing, size: float = DEFAULT_SIZE) -> Drawing:
    """Fit the canvas into size × size, preserving aspect ratio, centred."""
    s = size / max(drawing.width, drawing.height)
    tx = (size - drawing.width * s) / 2
    ty = (size - drawing.height * s) / 2
    return map_coordinates(drawing, lambda x: x * s + tx, lambda y: y * s + ty,
                           lambda r: r * s, size, size)


def quantize_color(c: tuple[int, int, int] | None) -> tuple[int, int, int] | None:
    """Round each channel to 4 bits (OmniSVG's 12-bit colour tokens): multiples of 17."""
    if c is None:
        return None
    return (round(c[0] / 17) * 17, round(c[1] / 17) * 17, round(c[2] / 17) * 17)


def quantize(drawing: Drawing, grid: int = DEFAULT_GRID) -> Drawing:
    """Snap a (normalised, square) drawing onto the integer grid 0..grid−1.

    Segments that collapse to nothing are removed, subpaths left without a segment are
    removed, and paths left without a subpath are removed, so every quantised drawing
    encodes to a grammatical token sequence.
    """
    k = (grid - 1) / max(drawing.width, drawing.height)
    hi = grid - 1

    def q(v: float) -> int:
        i = round(v * k)
        return 0 if i < 0 else hi if i > hi else i

    paths = []
    for p in drawing.paths:
        cmds = _clean(map_coordinates(Drawing(1, 1, (p,)), q, q, q, 1, 1).paths[0].commands)
        if cmds:
            paths.append(Path(cmds, quantize_color(p.fill), p.fill_rule))
    return Drawing(float(hi), float(hi), tuple(paths))


def _clean(cmds) -> tuple:
    """Drop zero-length segments and empty subpaths."""
    out: list = []
    sub: list = []
    x = y = None
    for c in cmds:
        op = c[0]
        if op == "M":
            if len(sub) > 1:
                out.extend(sub)
            sub = [c]
            x, y = c[1], c[2]
        elif op == "Z":
            if len(sub) > 1:
                sub.append(c)
                out.extend(sub)
            sub = []
            x, y = None, None
        else:
            if not sub:  # drawing after Z continues from the subpath start (SVG rule)
                continue
            ex, ey = c[-2], c[-1]
            if op == "L" and ex == x and ey == y:
                continue
            if op == "C" and c[1:] == (x, y, x, y, x, y):
                continue
            if op == "A" and ((ex == x and ey == y) or c[1] == 0 or c[2] == 0):
                if ex == x and ey == y:
                    continue
                c = ("L", ex, ey)
            sub.append(c)
            x, y = ex, ey
    if len(sub) > 1:
        out.extend(sub)
    return tuple(out)
