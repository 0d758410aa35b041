"""Training curves as one PNG, drawn with skia (matplotlib is not a dependency): a grid of
panels, one per metric, each a polyline over steps with its min/max and last value."""

from __future__ import annotations

import math
from collections.abc import Sequence

CURVES = ("reward", "correct", "format_ok", "entropy", "clip_frac", "groups_filtered",
          "completion_len", "kl_to_start", "loss")


def curves_png(records: Sequence[dict], keys: Sequence[str] = CURVES, *, cols: int = 3,
               panel_w: int = 320, panel_h: int = 200) -> bytes:
    import skia

    from svgrl.svg.image_io import encode_png
    from svgrl.svg.render import label_font, raster_surface

    keys = [k for k in keys if any(isinstance(r.get(k), (int, float)) for r in records)] or ["step"]
    rows = math.ceil(len(keys) / cols)
    width, height = cols * panel_w, rows * panel_h
    surface, buf = raster_surface(width, height)
    canvas = surface.getCanvas()
    font = label_font(12)
    ink = skia.Paint(Color=skia.ColorBLACK, AntiAlias=True)
    axis = skia.Paint(Color=skia.Color(150, 150, 150), StrokeWidth=1,
                      Style=skia.Paint.kStroke_Style)
    line = skia.Paint(Color=skia.Color(52, 101, 164), StrokeWidth=2, AntiAlias=True,
                      Style=skia.Paint.kStroke_Style)
    for n, key in enumerate(keys):
        ox, oy = (n % cols) * panel_w, (n // cols) * panel_h
        left, top, w, h = ox + 62, oy + 22, panel_w - 72, panel_h - 45  # room for 2.33e-05
        pts = [(r["step"], float(r[key])) for r in records
               if isinstance(r.get(key), (int, float)) and math.isfinite(float(r[key]))]
        canvas.drawRect(skia.Rect.MakeXYWH(left, top, w, h), axis)
        last = f" = {pts[-1][1]:.4g}" if pts else " (no data)"
        canvas.drawString(key + last, left, oy + 15, font, ink)
        if not pts:
            continue
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        x0, x1 = min(xs), max(xs)
        y0, y1 = min(ys), max(ys)
        if y1 - y0 < 1e-12:
            y0, y1 = y0 - 0.5, y1 + 0.5
        for v, y in ((y1, top + 10), (y0, top + h)):  # right-aligned against the frame
            text = f"{v:.3g}"
            canvas.drawString(text, max(ox + 2, left - 4 - font.measureText(text)), y, font,
                              ink)
        canvas.drawString(f"step {x0}..{x1}", left + w - 90, top + h + 15, font, ink)
        path = skia.Path()
        for i, (x, y) in enumerate(pts):
            px = left + (w * (x - x0) / (x1 - x0) if x1 > x0 else w / 2)
            py = top + h - h * (y - y0) / (y1 - y0)
            path.moveTo(px, py) if i == 0 else path.lineTo(px, py)
        if len(pts) == 1:
            canvas.drawCircle(px, py, 3, line)
        canvas.drawPath(path, line)
    surface.flushAndSubmit()
    return encode_png(buf[:, :, :3].copy())
