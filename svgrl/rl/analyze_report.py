"""The `svgrl analyze` report: ``trajectory.png`` (the checkpoints in PCA space, one panel per
signal, coloured by it), ``curves.png`` and ``index.html`` with the numbers first."""

from __future__ import annotations

import html
import json
from pathlib import Path

from svgrl.atomic import write_bytes, write_text
from svgrl.rl.analyze import CURVE_KEYS, SIGNALS, Analysis, read_metrics
from svgrl.rl.plot import curves_png

LABELS = dict(SIGNALS)


def _colour(t: float) -> tuple[int, int, int]:
    """Blue (low) → orange (high), t in [0, 1]."""
    lo, hi = (49, 104, 178), (230, 120, 20)
    return tuple(round(a + (b - a) * t) for a, b in zip(lo, hi, strict=True))  # type: ignore


def trajectory_png(a: Analysis, *, panel: int = 360) -> bytes:
    """One panel per signal: the checkpoints at their (pc1, pc2), joined in step order,
    coloured by the signal's value at that checkpoint, first and last step labelled."""
    import skia

    from svgrl.svg.image_io import encode_png
    from svgrl.svg.render import label_font, raster_surface

    keys = [k for k in a.signals if k in a.fits] or [None]
    width, height = panel * len(keys), panel
    surface, buf = raster_surface(width, height)
    canvas = surface.getCanvas()
    font = label_font(12)
    ink = skia.Paint(Color=skia.ColorBLACK, AntiAlias=True)
    frame = skia.Paint(Color=skia.Color(150, 150, 150), StrokeWidth=1,
                       Style=skia.Paint.kStroke_Style)
    path_paint = skia.Paint(Color=skia.Color(170, 170, 170), StrokeWidth=1.5, AntiAlias=True,
                            Style=skia.Paint.kStroke_Style)
    xs = [c[0] for c in a.coords] or [0.0]
    ys = [c[1] if len(c) > 1 else 0.0 for c in a.coords] or [0.0]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
    for n, key in enumerate(keys):
        ox = n * panel
        left, top, w, h = ox + 30, 40, panel - 50, panel - 75
        canvas.drawRect(skia.Rect.MakeXYWH(left, top, w, h), frame)
        if key is None:
            canvas.drawString("no PCA (see the note)", left + 10, top + h / 2, font, ink)
            continue
        fit = a.fits[key]
        canvas.drawString(f"coloured by {LABELS.get(key, key)}", left, 15, font, ink)
        canvas.drawString(f"fit on (pc1, pc2): R² = {fit['r2']:.2f}", left, 31, font, ink)
        ex = a.explained + [0.0, 0.0]
        canvas.drawString(f"pc1 ({ex[0]:.0%} of variance) →", left, top + h + 16, font, ink)
        canvas.save()
        canvas.rotate(-90, ox + 14, top + h)
        canvas.drawString(f"pc2 ({ex[1]:.0%}) →", ox + 14, top + h, font, ink)
        canvas.restore()
        pts = [(left + 8 + (w - 16) * (x - x0) / (x1 - x0),
                top + h - 8 - (h - 16) * (y - y0) / (y1 - y0)) for x, y in zip(xs, ys,
                                                                             strict=True)]
        line = skia.Path()
        for i, (px, py) in enumerate(pts):
            line.moveTo(px, py) if i == 0 else line.lineTo(px, py)
        canvas.drawPath(line, path_paint)
        vals = a.signals[key]
        known = [v for v in vals if v is not None]
        lo, hi = (min(known), max(known)) if known else (0.0, 1.0)
        for (px, py), v in zip(pts, vals, strict=True):
            t = 0.5 if v is None or hi <= lo else (v - lo) / (hi - lo)
            r, g, b = _colour(t)
            canvas.drawCircle(px, py, 6, skia.Paint(Color=skia.Color(r, g, b), AntiAlias=True))
        for i in {0, len(pts) - 1}:
            px, py = pts[i]
            label = f"step {a.steps[i]}"
            dx = 8 if px < left + w - 70 else -8 - font.measureText(label)
            canvas.drawString(label, px + dx, py + (14 if py < top + 20 else -6), font, ink)
        low = f"{lo:.3g}"  # right-aligned against the colour bar
        canvas.drawString(low, left + w - 84 - font.measureText(low), top + h + 16, font, ink)
        for j in range(20):
            r, g, b = _colour(j / 19)
            canvas.drawRect(skia.Rect.MakeXYWH(left + w - 80 + 2 * j, top + h + 7, 2, 10),
                            skia.Paint(Color=skia.Color(r, g, b)))
        canvas.drawString(f"{hi:.3g}", left + w - 36, top + h + 16, font, ink)
    surface.flushAndSubmit()
    return encode_png(buf[:, :, :3].copy())


def write_report(a: Analysis, out: str | Path) -> Path:
    """analysis.json, trajectory.png, curves.png and index.html in `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    metrics = read_metrics(Path(a.run))
    write_text(out / "analysis.json", json.dumps(a.to_json(), indent=1))
    write_bytes(out / "curves.png", curves_png(metrics, CURVE_KEYS))
    if a.coords:
        write_bytes(out / "trajectory.png", trajectory_png(a))
    write_text(out / "index.html", _html(a))
    return out / "index.html"


def _html(a: Analysis) -> str:
    e = html.escape
    out = ["<!doctype html><meta charset=utf-8>",
           f"<title>svgrl analyze {e(a.run)}</title>",
           "<style>body{font:14px system-ui;margin:2em;max-width:1200px}table{border-collapse:"
           "collapse}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}"
           "th:first-child,td:first-child{text-align:left}.note{background:#fff4d6;"
           "padding:1em;border-left:4px solid #e0a000}img{max-width:100%}</style>",
           f"<h1>Run analysis: {e(a.run)}</h1>",
           f"<p>{len(a.steps)} checkpoints (steps {', '.join(map(str, a.steps)) or '—'}); "
           f"{a.metrics_steps} logged steps.</p>"]
    if a.note:
        out.append(f"<p class=note>{e(a.note)}</p>")
    if a.coords:
        ex = a.explained + [0.0, 0.0]
        out.append(f"<h2>Weight-space trajectory (PCA)</h2><p>pc1 explains {ex[0]:.1%} and "
                   f"pc2 {ex[1]:.1%} of the variance between checkpoints. Each logged signal, "
                   "averaged over the steps since the previous checkpoint, regressed on the "
                   "2-D coordinates (y ≈ a + b₁·pc1 + b₂·pc2):</p>")
        out.append("<table><tr><th>signal</th><th>R²</th><th>slope along pc1</th>"
                   "<th>slope along pc2</th><th>checkpoints</th></tr>")
        for k, f in a.fits.items():
            out.append(f"<tr><td>{e(LABELS.get(k, k))}</td><td>{f['r2']:.3f}</td>"
                       f"<td>{f['slope_pc1']:+.4g}</td><td>{f['slope_pc2']:+.4g}</td>"
                       f"<td>{f['n']}</td></tr>")
        out.append("</table>")
        if any(f["n"] <= 3 for f in a.fits.values()):  # a plane through ≤ 3 points is exact
            out.append("<p class=note>With 3 checkpoints the fit has as many parameters as "
                       "points: R² = 1 by construction says nothing. Keep more checkpoints "
                       "(<code>--save-every N --keep-last 0</code>).</p>")
        out.append("<p><img src=trajectory.png alt='PCA trajectory'></p>")
    out.append("<h2>Curves</h2><p><img src=curves.png alt='training curves'></p>")
    out.append("<p>Numbers: <a href=analysis.json>analysis.json</a>.</p>")
    return "\n".join(out)
