"""Draw a `Drawing` straight to pixels with skia — no XML on the hot path.

The raster surface wraps a numpy buffer that is reused per (thread, size), so rendering an
icon costs skia's fill work plus one copy of the pixels out.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import threading

import numpy as np
import skia

from svgrl.errors import SvgValueError
from svgrl.svg.drawing import HARD_ALPHA, MAX_EFFECTS, MAX_SIGMA, Drawing, Effect, Gradient
from svgrl.svg.skpath import commands_to_skia

_local = threading.local()
_WHITE = skia.ColorWHITE
_HARD = skia.ColorFilters.Matrix(list(HARD_ALPHA))


def raster_surface(width: int, height: int) -> tuple[skia.Surface, np.ndarray]:
    """A skia raster surface drawing straight into a new (H, W, 4) RGBA numpy buffer, cleared
    to white (for charts and reports; the renderer reuses one per size and thread)."""
    buf = np.zeros((height, width, 4), np.uint8)
    info = skia.ImageInfo.Make(width, height, skia.ColorType.kRGBA_8888_ColorType,
                               skia.AlphaType.kPremul_AlphaType)
    surface = skia.Surface.MakeRasterDirect(info, buf)
    surface.getCanvas().clear(_WHITE)
    return surface, buf


def _surface(width: int, height: int) -> tuple[skia.Surface, np.ndarray]:
    cache = getattr(_local, "surfaces", None)
    if cache is None:
        cache = _local.surfaces = {}
    key = (width, height)
    if key not in cache:
        cache[key] = raster_surface(width, height)
    return cache[key]


def render_rgba(drawing: Drawing, size: int = 200, height: int | None = None) -> np.ndarray:
    """Render into this thread's reused buffer and return it: an (H, W, 4) RGBA view, valid
    until the next render of the same size in the same thread (the reward hot path reads it
    in place; alpha is 255 everywhere). Copy it to keep it."""
    width = int(size)
    height = int(height or size)
    if width <= 0 or height <= 0 or width * height > 1 << 26:
        raise SvgValueError(f"render size {width}x{height} is out of range (1..8192 square)")
    if drawing.has_effects and sum(p.effect is not None for p in drawing.paths) > MAX_EFFECTS:
        raise SvgValueError(f"more than {MAX_EFFECTS} paths with effects")
    surface, buf = _surface(width, height)
    canvas = surface.getCanvas()
    canvas.save()
    canvas.clear(_WHITE)
    s = min(width / drawing.width, height / drawing.height)
    canvas.translate((width - drawing.width * s) / 2, (height - drawing.height * s) / 2)
    canvas.scale(s, s)
    paint = skia.Paint(AntiAlias=True)
    max_sigma = MAX_SIGMA * max(drawing.width, drawing.height)
    for p in drawing.paths:
        if p.fill is None:
            continue
        if p.paint is not None or p.effect is not None:
            shaded = skia.Paint(AntiAlias=True)
            shader = gradient_shader(p.paint) if p.paint is not None else None
            if shader is not None:
                shaded.setShader(shader)
            else:
                shaded.setColor(skia.Color(*p.fill))
            if p.effect is not None:
                shaded.setImageFilter(effect_filter(p.effect, max_sigma))
            canvas.drawPath(commands_to_skia(p.commands, p.fill_rule), shaded)
            continue
        r, g, b = p.fill
        paint.setColor(skia.Color(r, g, b))
        canvas.drawPath(commands_to_skia(p.commands, p.fill_rule), paint)
    canvas.restore()
    surface.flushAndSubmit()
    return buf


def effect_filter(e: Effect, max_sigma: float = math.inf) -> skia.ImageFilter:
    """The skia image filter graph of an effect — the graph `svgrl.svg.write` spells as SVG
    filter primitives, so resvg draws the written file the same. The source is the path
    drawn with its paint; sigma and offsets are in canvas units (skia maps them through the
    canvas scale)."""
    sigma = min(e.sigma, max_sigma)
    if e.kind == "inner":
        # H − blurred moved H, clamped (feComposite arithmetic), H the hard coverage
        hard = skia.ImageFilters.ColorFilter(_HARD)
        moved = skia.ImageFilters.Offset(e.dx, e.dy, skia.ImageFilters.Blur(sigma, sigma,
                                                                             input=hard))
        return _scaled(skia.ImageFilters.Arithmetic(0.0, 1.0, -1.0, 0.0, True, moved, hard),
                       e.alpha)
    moved = skia.ImageFilters.Offset(e.dx, e.dy, skia.ImageFilters.Blur(sigma, sigma))
    return _scaled(moved, e.alpha)


def _scaled(f: skia.ImageFilter, alpha: float) -> skia.ImageFilter:
    """`f` with its alpha times `alpha`."""
    if alpha >= 1:
        return f
    scale = skia.ColorFilters.Matrix([1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0,
                                      0, 0, 0, alpha, 0])
    return skia.ImageFilters.ColorFilter(scale, f)


def gradient_shader(g: Gradient) -> skia.Shader | None:
    """A skia shader for gradient paint (pad spread), or None when its geometry collapses
    (the path's flat `fill` is drawn then)."""
    colors = [skia.ColorSetARGB(round(a * 255), *c) for _, c, a in g.stops]
    pos = [float(t) for t, _, _ in g.stops]
    if g.kind == "linear":
        x1, y1, x2, y2 = g.points
        if (x1, y1) == (x2, y2):
            return None
        return skia.GradientShader.MakeLinear([skia.Point(x1, y1), skia.Point(x2, y2)], colors,
                                              pos, skia.TileMode.kClamp)
    cx, cy, ax, ay, bx, by, fx, fy = g.points
    # Unit-circle gradient space → canvas: columns are the two semi-axes, then the centre.
    m11, m21, m12, m22 = ax - cx, ay - cy, bx - cx, by - cy
    det = m11 * m22 - m12 * m21
    if abs(det) < 1e-9:
        return None
    local = skia.Matrix.MakeAll(m11, m12, cx, m21, m22, cy, 0.0, 0.0, 1.0)
    ux = (m22 * (fx - cx) - m12 * (fy - cy)) / det
    uy = (-m21 * (fx - cx) + m11 * (fy - cy)) / det
    if ux * ux + uy * uy < 1e-12:
        return skia.GradientShader.MakeRadial(skia.Point(0, 0), 1.0, colors, pos,
                                              skia.TileMode.kClamp, 0, local)
    if ux * ux + uy * uy >= 1.0:  # keep the focus inside, as SVG 1.1 does
        k = 0.999 / math.hypot(ux, uy)
        ux, uy = ux * k, uy * k
    return skia.GradientShader.MakeTwoPointConical(skia.Point(ux, uy), 0.0, skia.Point(0, 0),
                                                   1.0, colors, pos, skia.TileMode.kClamp, 0,
                                                   local)


def render(drawing: Drawing, size: int = 200, height: int | None = None) -> np.ndarray:
    """Render to an (H, W, 3) uint8 RGB array on white; the canvas is fitted and centred."""
    # Copy the whole RGBA buffer (one memcpy) and hand out its RGB view: copying the
    # strided RGB channels directly is ~20x slower and was most of the render time.
    return render_rgba(drawing, size, height).copy()[:, :, :3]


@functools.cache
def _label_typeface() -> skia.Typeface:
    # Skia's bundled fontconfig is older than the system's configuration and prints
    # "Fontconfig warning: ... unknown element" to stderr when it first reads it. Harmless:
    # the first load runs with file descriptor 2 pointed at /dev/null.
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        return skia.Typeface("sans-serif")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def label_font(size: float) -> skia.Font:
    """A sans-serif font for labels in plots and reports."""
    return skia.Font(_label_typeface(), size)
