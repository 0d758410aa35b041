"""Normalise a drawing into a square canvas, then (explicitly) quantise it onto a G×G grid.

Grid semantics: a quantised drawing has integer coordinates 0..G−1 on a canvas of G−1 units,
so grid point 0 is the left edge and G−1 the right edge. Rounding onto a 0..G−1 grid inside a
G-unit canvas (and clipping at G−1, as OmniSVG does) would cut a pixel off every icon that
touches the right or bottom edge.
"""

from __future__ import annotations

from math import floor

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

    Plain rounding of every coordinate moves each edge by up to half a unit. Two cheap
    corrections keep the *outline* closer than that:

    1. End points choose among the four surrounding grid points the one that moves the
       adjacent edges least along their normals (the error that shows): a point on a smooth
       curve may slide along its tangent for free, a corner is pinned by both edges.
    2. Cubic control points are moved before rounding by the offsets that minimise the L2
       distance ∫|B'(t) − B(t)|² dt between new and old curve given the end-point errors
       e0, e3: d1 = −4/3·e0 + 2/3·e3, d2 = 2/3·e0 − 4/3·e3 (normal equations of the cubic
       Bernstein Gram matrix), so the curve bends back towards where it was.

    Segments that collapse to nothing are removed, subpaths left without a segment are
    removed, and paths left without a subpath are removed, so every quantised drawing
    encodes to a grammatical token sequence.
    """
    k = (grid - 1) / max(drawing.width, drawing.height)
    paths = []
    for p in drawing.paths:
        cmds = _clean(_quantize_commands(p.commands, k, grid - 1))
        if cmds:
            paths.append(Path(cmds, quantize_color(p.fill), p.fill_rule))
    return Drawing(float(grid - 1), float(grid - 1), tuple(paths))


def _unit_normal(dx: float, dy: float) -> tuple[float, float] | None:
    n = (dx * dx + dy * dy) ** 0.5
    return (-dy / n, dx / n) if n > 1e-9 else None


def _snap(x: float, y: float, normals: list, hi: int) -> tuple[int, int]:
    """The grid point among the 4 around (x, y) with the least normal displacement."""
    x0, y0 = floor(x), floor(y)
    best = None
    for cx in (x0, x0 + 1):
        ex = cx - x
        for cy in (y0, y0 + 1):
            ey = cy - y
            # Normal error dominates; a small Euclidean term breaks ties and keeps points
            # from sliding far along straight runs.
            cost = 0.01 * (ex * ex + ey * ey)
            for nx, ny in normals:
                d = nx * ex + ny * ey
                cost += d * d
            if best is None or cost < best[0]:
                best = (cost, cx, cy)
    _, qx, qy = best
    return (0 if qx < 0 else hi if qx > hi else qx, 0 if qy < 0 else hi if qy > hi else qy)


def _quantize_commands(commands, k: float, hi: int) -> list:
    # Pass 1: scale, and collect for every end point the tangents of the edges meeting there.
    cmds = [(c[0], *(v * k for v in c[1:])) if c[0] != "A" else
            ("A", c[1] * k, c[2] * k, c[3], c[4], c[5], c[6] * k, c[7] * k) for c in commands]
    n = len(cmds)
    normals: list[list] = [[] for _ in range(n)]
    start = 0  # index of the current subpath's M
    px = py = 0.0
    for i, c in enumerate(cmds):
        op = c[0]
        if op == "M":
            start = i
            px, py = c[1], c[2]
            continue
        if op == "Z":
            sx, sy = cmds[start][1], cmds[start][2]
            nrm = _unit_normal(sx - px, sy - py)
            if nrm:
                normals[i - 1 if i > 0 else 0].append(nrm)
                normals[start].append(nrm)
            px, py = sx, sy
            continue
        x, y = c[-2], c[-1]
        if op == "C":
            t0 = _unit_normal(c[1] - px, c[2] - py) or _unit_normal(c[3] - px, c[4] - py)
            t1 = _unit_normal(x - c[3], y - c[4]) or _unit_normal(x - c[1], y - c[2])
        else:
            t0 = t1 = _unit_normal(x - px, y - py)
        prev = i - 1
        if t0 and prev >= 0:
            normals[prev if cmds[prev][0] != "Z" else start].append(t0)
        if t1:
            normals[i].append(t1)
        px, py = x, y
    # Pass 2: snap end points, then compensate and round control points.
    out = []
    fx = fy = 0.0
    qx = qy = 0
    sx = sy = 0.0
    qsx = qsy = 0
    for i, c in enumerate(cmds):
        op = c[0]
        if op == "Z":
            out.append(("Z",))
            fx, fy, qx, qy = sx, sy, qsx, qsy
            continue
        x, y = c[-2], c[-1]
        nx, ny = _snap(x, y, normals[i], hi)
        if op == "C":
            e0x, e0y, e3x, e3y = qx - fx, qy - fy, nx - x, ny - y
            out.append(("C", _round(c[1] - 4 / 3 * e0x + 2 / 3 * e3x, hi),
                        _round(c[2] - 4 / 3 * e0y + 2 / 3 * e3y, hi),
                        _round(c[3] + 2 / 3 * e0x - 4 / 3 * e3x, hi),
                        _round(c[4] + 2 / 3 * e0y - 4 / 3 * e3y, hi), nx, ny))
        elif op == "A":
            out.append(("A", _round(c[1], hi), _round(c[2], hi), c[3], c[4], c[5], nx, ny))
        else:
            out.append((op, nx, ny))
            if op == "M":
                sx, sy, qsx, qsy = x, y, nx, ny
        fx, fy, qx, qy = x, y, nx, ny
    return out


def _round(v: float, hi: int) -> int:
    i = floor(v + 0.5)  # not round(): banker's rounding of .5 changes widths
    return 0 if i < 0 else hi if i > hi else i


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
