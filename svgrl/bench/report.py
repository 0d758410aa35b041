"""``OUT/report.html``: one self-contained page (images inlined as PNG data URIs, plots as
inline SVG) — the table of every system, quality against tokens and against seconds, and a
grid target | each system's output with the worst targets first."""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

import numpy as np

from svgrl.svg.image_io import encode_png

COLUMNS = (("n", "n", "{:d}"), ("valid", "valid", "{:.1%}"), ("blank", "blank", "{:.1%}"),
           ("ssim", "SSIM ↑", "{:.4f}"), ("mse", "MSE ↓", "{:.5f}"), ("psnr", "PSNR ↑", "{:.2f}"),
           ("edge_f1", "edge F1 ↑", "{:.4f}"), ("tokens_mean", "tokens", "{:.1f}"),
           ("tokens_p95", "tokens p95", "{:.0f}"), ("seconds_per_sample", "s/sample", "{:.3f}"),
           ("dino", "DINO ↑", "{:.4f}"), ("clip", "CLIP ↑", "{:.4f}"),
           ("lpips", "LPIPS ↓", "{:.4f}"), ("fid_clip", "FID-CLIP ↓", "{:.2f}"),
           ("fd_dino", "FD-DINOv2 ↓", "{:.2f}"))
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")
_STYLE = """body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ddd;padding:4px 8px}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.grid img{width:120px;height:120px;display:block}.grid td{text-align:center;font-size:12px}
.na{color:#999;font-size:12px}
pre{background:#f6f6f6;padding:1em;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere}
.plots{display:flex;gap:2em;flex-wrap:wrap}
.legend{list-style:none;padding:0;columns:2;max-width:960px}.grid th{max-width:160px}"""


def _fmt(v, f: str) -> str:
    if v is None:
        return '<span class="na">–</span>'
    if isinstance(v, str):
        return f'<span class="na">{html.escape(v)}</span>'
    try:
        return html.escape(f.format(v))
    except (ValueError, TypeError):
        return html.escape(str(v))


def _name(name: str) -> str:
    """A system name that may wrap after its commas and colons (SPECs have no spaces)."""
    return "".join(html.escape(c) + ("<wbr>" if c in ",:" else "") for c in name)


def _seconds(v: float) -> str:
    if v < 1e-3:
        return f"{v * 1e6:.3g} µs"
    return f"{v * 1e3:.3g} ms" if v < 1 else f"{v:.3g} s"


def _tick(v: float) -> str:
    """An axis value: 1,070 rather than 1.07e+03, which overran the plot's edge."""
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _img(rgb: np.ndarray, alt: str) -> str:
    data = base64.b64encode(encode_png(rgb)).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def table(results: dict) -> str:
    """The systems × metrics table. A learned metric that no system has (its weights were
    not given) is one line under the table instead of a column of "unavailable" cells."""
    systems = results["systems"].values()
    missing: dict[str, list[str]] = {}  # reason → headers of the columns it removes
    columns = []
    for k, h, f in COLUMNS:
        reasons = {s.get(k) for s in systems}
        if len(reasons) == 1 and isinstance(r := next(iter(reasons)), str) and \
                r.startswith("unavailable"):
            missing.setdefault(r.removeprefix("unavailable: "), []).append(h.rstrip(" ↑↓"))
        else:
            columns.append((k, h, f))
    head = "".join(f"<th>{h}</th>" for _, h, _ in columns)
    rows = [f"<table><tr><th>system</th>{head}<th>failures</th></tr>"]
    for name, s in results["systems"].items():
        cells = "".join(f'<td class="num">{_fmt(s.get(k), f)}</td>' for k, _, f in columns)
        errs = s.get("setup_error") or ", ".join(f"{k} ×{v}" for k, v in s["errors"].items())
        rows.append(f"<tr><th>{_name(name)}</th>{cells}<td>{html.escape(errs)}</td></tr>")
    rows.append("</table>")
    if missing:
        rows.append('<p class="na">Learned metrics not computed (they need local weights): '
                    + "; ".join(f"{html.escape(', '.join(hs))} — {html.escape(why)}"
                                for why, hs in missing.items()) + ".</p>")
    return "".join(rows)


def scatter(points: list[tuple[str, float, float]], xlabel: str, ylabel: str, *,
            logx: bool = False, w: int = 460, h: int = 320) -> str:
    """An inline SVG scatter plot of (label, x, y): each point in its label's colour, marked
    with its number in `legend` (names are SPECs, too long to write beside a point); a
    log x axis is in seconds."""
    pts = [(i, n, x, y) for i, (n, x, y) in enumerate(points) if x is not None
           and y is not None and (not logx or x > 0)]
    left, right, top, bottom = 60, 20, 20, 50
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'role="img" aria-label="{html.escape(ylabel)} against {html.escape(xlabel)}">',
           f'<rect x="{left}" y="{top}" width="{w - left - right}" height="{h - top - bottom}" '
           'fill="#fafafa" stroke="#ccc"/>']
    if pts:
        tx = (lambda v: math.log10(v)) if logx else (lambda v: v)
        xs, ys = [tx(x) for _, _, x, _ in pts], [y for _, _, _, y in pts]
        x0, x1 = min(xs), max(xs)
        y0, y1 = min(ys), max(ys)
        px, py = (x1 - x0) * 0.1 or 0.5, (y1 - y0) * 0.1 or 0.05
        x0, x1, y0, y1 = x0 - px, x1 + px, y0 - py, y1 + py

        def sx(v: float) -> float:
            return left + (tx(v) - x0) / (x1 - x0) * (w - left - right)

        def sy(v: float) -> float:
            return h - bottom - (v - y0) / (y1 - y0) * (h - top - bottom)

        for k in range(5):
            yv = y0 + (y1 - y0) * k / 4
            xv = x0 + (x1 - x0) * k / 4
            xl = 10 ** xv if logx else xv
            out.append(f'<text x="{left - 4}" y="{sy(yv) + 4:.1f}" font-size="10" '
                       f'text-anchor="end">{yv:.3f}</text>')
            out.append(f'<text x="{sx(xl):.1f}" y="{h - bottom + 14}" font-size="10" '
                       f'text-anchor="middle">{_seconds(xl) if logx else _tick(xl)}</text>')
        for i, name, x, y in pts:
            c = _COLOURS[i % len(_COLOURS)]
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="5" fill="{c}"><title>'
                       f'{html.escape(name)}: {x:.4g}, {y:.4f}</title></circle>')
            out.append(f'<text x="{sx(x) + 7:.1f}" y="{sy(y) - 6:.1f}" font-size="11" '
                       f'fill="{c}">{i + 1}</text>')
    out.append(f'<text x="{(w + left) / 2}" y="{h - 12}" font-size="12" text-anchor="middle">'
               f'{html.escape(xlabel)}{" (log scale)" if logx else ""}</text>')
    out.append(f'<text x="14" y="{h / 2}" font-size="12" text-anchor="middle" '
               f'transform="rotate(-90 14 {h / 2})">{html.escape(ylabel)}</text></svg>')
    return "".join(out)


def legend(names: list[str]) -> str:
    """The plots' key: number, colour, system name."""
    items = "".join(f'<li><b style="color:{_COLOURS[i % len(_COLOURS)]}">● {i + 1}</b> '
                    f"{_name(n)}</li>" for i, n in enumerate(names))
    return f'<ol class="legend">{items}</ol>'


def grid(results: dict, targets: list, renders: dict, rows: int) -> str:
    """Target | each system, targets ordered by their mean SSIM over the systems, worst
    first."""
    names = list(results["systems"])
    if not targets or not names or rows == 0:
        return "<p>No targets to show.</p>"
    ssim = np.array([[r["ssim"] for r in results["samples"][n]] for n in names])
    order = np.argsort(ssim.mean(axis=0), kind="stable")[:rows]
    head = "".join(f"<th>{_name(n)}</th>" for n in names)
    out = [f'<table class="grid"><tr><th>target</th>{head}</tr>']
    for i in order:
        t = targets[i]
        cells = [f"<td>{_img(t.image, t.id)}{html.escape(t.id)}</td>"]
        for n in names:
            r = results["samples"][n][i]
            note = (f"SSIM {r['ssim']:.3f} · {r['tokens']} tok" if r["valid"]
                    else html.escape((r["error"] or "failed")[:60]))
            cells.append(f"<td>{_img(renders[n][i], n)}{note}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def report_html(results: dict, targets: list, renders: dict, rows: int = 24) -> str:
    sys_ = results["systems"]
    pts_tok = [(n, s.get("tokens_mean"), s.get("ssim")) for n, s in sys_.items()]
    pts_sec = [(n, s.get("seconds_per_sample"), s.get("ssim")) for n, s in sys_.items()]
    failed = [t for t in results["targets"] if t["error"]]
    where = f"split {results['split']}" if results["split"] else "a source (no splits)"
    settings = {n: {"settings": s.get("settings"), "setup_seconds": s.get("setup_seconds")}
                for n, s in sys_.items()}
    parts = [
        "<!doctype html><html lang=en><meta charset=utf-8>",
        f"<title>svgrl bench — {html.escape(str(results['data']))}</title>",
        f"<style>{_STYLE}</style>",
        f"<h1>svgrl bench: {html.escape(str(results['data']))}</h1>",
        f"<p>task <b>{html.escape(results['task'])}</b>, {html.escape(where)}, "
        f"{len(targets)} targets scored"
        f"{f', {len(failed)} could not be rendered' if failed else ''}; outputs put on the "
        f"{results['grid']}-grid through svgrl's tokenizer and rendered by resvg at "
        f"{results['size']} px on white; seed {results['seed']}.</p>",
        f"<h2>Task {html.escape(results['task'])}</h2>", table(results),
        "<p>Failed samples score as a blank white canvas; token and time means are over "
        "valid samples.</p>",
        '<h2>Quality against cost</h2><div class="plots">',
        scatter(pts_tok, "tokens per SVG (mean)", "SSIM"),
        scatter(pts_sec, "seconds per sample", "SSIM", logx=True), "</div>",
        legend(list(sys_)),
        "<h2>Worst cases first</h2>", grid(results, targets, renders, rows),
    ]
    if failed:
        parts.append("<h2>Targets that could not be scored</h2><ul>" + "".join(
            f"<li>{html.escape(t['id'])}: {html.escape(t['error'])}</li>" for t in failed)
            + "</ul>")
    parts += ["<h2>Settings</h2><pre>", html.escape(json.dumps(settings, indent=1,
                                                              default=str)), "</pre>",
              "<h2>Command and versions</h2><pre>",
              html.escape(" ".join(map(str, results["command"]))), "\n",
              html.escape(json.dumps(results["versions"], indent=1)), "</pre></html>"]
    return "".join(parts)


def write_report(out: Path, results: dict, targets: list, renders: dict, rows: int) -> None:
    from svgrl.atomic import write_text

    write_text(out / "report.html", report_html(results, targets, renders, rows))
