"""Gradient paint → one flat colour per path, fitted to what the gradient draws.

A layout without gradient tokens (OmniSVG's) gives every path one opaque colour. The mean
colour along the ramp (`Gradient.mean`) ignores two things that decide what a flat stand-in
should be: where the ramp lies over the shape (a shape may show only one end of it), and
what lies under it — colour emoji draw shading as gradients that fade to transparent over
other shapes, and an opaque mean (composited onto white) paints a pale wash over them.

`fit_flat` draws the drawing twice, side by side on small rasters: `truth` with its
gradients and `ours` with the stand-ins chosen so far. For each gradient path, with M its
coverage, the colour c that minimises the squared error over the pixels the path covers,

    Σ |ours·(1 − M) + c·M − truth_after|²   →   c = Σ M·(truth_after − ours·(1 − M)) / Σ M²,

is the flat fill; when leaving the path out (keeping `ours`) errs less, the path is left out
(a faint highlight then costs no tokens). Fitting against `ours` also lets a stand-in make up
for the error of those under it. The error is what the drawing shows, so this is the flat
colour closest to the gradient in the pixels that count — cheap (a few 64² draws per
gradient path) and only run when a drawing has gradients.
"""

from __future__ import annotations

import numpy as np
import skia

from svgrl.svg.drawing import Drawing, Path
from svgrl.svg.render import gradient_shader, raster_surface
from svgrl.svg.skpath import commands_to_skia

FIT_SIZE = 64  # raster side the colours are fitted on (200-unit canvas: ~3 units a pixel)
MAX_FITS = 2000  # gradient paths fitted per drawing; beyond, the mean colour (bounded work)


def fit_flat(drawing: Drawing, size: int = FIT_SIZE) -> Drawing:
    """The drawing with every gradient replaced by its fitted flat colour (or left out);
    paths without gradients are kept as they are. Effects are kept."""
    if not drawing.has_gradients:
        return drawing
    truth_s, truth = raster_surface(size, size)
    ours_s, ours = raster_surface(size, size)
    mask_s, mask = raster_surface(size, size)
    k = size / max(drawing.width, drawing.height)
    for s in (truth_s, ours_s, mask_s):
        s.getCanvas().scale(k, k)
    flat = skia.Paint(AntiAlias=True)
    out: list[Path] = []
    fits = 0
    for p in drawing.paths:
        if p.fill is None:
            out.append(p)
            continue
        sk = commands_to_skia(p.commands, p.fill_rule)
        if p.paint is not None:
            fits += 1
            if fits > MAX_FITS:
                p = Path(p.commands, p.fill, p.fill_rule, None, p.effect)
        if p.paint is None:
            flat.setColor(skia.Color(*p.fill))
            truth_s.getCanvas().drawPath(sk, flat)
            ours_s.getCanvas().drawPath(sk, flat)
            out.append(p)
            continue
        shaded = skia.Paint(AntiAlias=True)
        shader = gradient_shader(p.paint)
        if shader is None:
            shaded.setColor(skia.Color(*p.fill))
        else:
            shaded.setShader(shader)
        truth_s.getCanvas().drawPath(sk, shaded)
        # only the pixels of the path's bounds (most paths are small)
        r = sk.computeTightBounds()
        x0, y0 = max(int(r.left() * k) - 1, 0), max(int(r.top() * k) - 1, 0)
        x1, y1 = min(int(r.right() * k) + 2, size), min(int(r.bottom() * k) + 2, size)
        if x1 <= x0 or y1 <= y0:
            out.append(Path(p.commands, p.fill, p.fill_rule, None, p.effect))
            continue
        mc = mask_s.getCanvas()
        mc.save()
        mc.clipRect(skia.Rect.MakeLTRB(x0 / k, y0 / k, x1 / k, y1 / k))
        mc.clear(skia.ColorBLACK)
        flat.setColor(skia.ColorWHITE)
        mc.drawPath(sk, flat)
        mc.restore()
        win = (slice(y0, y1), slice(x0, x1))
        m = mask[win][..., 0].astype(np.float32) / 255
        sel = m > 0
        if not sel.any():
            out.append(Path(p.commands, p.fill, p.fill_rule, None, p.effect))
            continue
        mm = m[sel][:, None]
        now = ours[win][..., :3][sel].astype(np.float32)
        want = truth[win][..., :3][sel].astype(np.float32)
        base = now * (1 - mm)
        c = np.clip((mm * (want - base)).sum(0) / (mm * mm).sum(), 0, 255)
        err_fill = float(((base + c * mm - want) ** 2).sum())
        err_skip = float(((now - want) ** 2).sum())
        if err_skip <= err_fill:
            continue
        rgb = tuple(int(round(v)) for v in c)
        flat.setColor(skia.Color(*rgb))
        ours_s.getCanvas().drawPath(sk, flat)
        out.append(Path(p.commands, rgb, p.fill_rule, None, p.effect))
    return drawing.with_paths(tuple(out))
