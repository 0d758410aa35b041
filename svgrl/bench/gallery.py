"""A self-contained HTML gallery: original | ours | score, worst first (images inlined)."""

from __future__ import annotations

import base64
import html
import json

from svgrl.svg.image_io import encode_png


def _img(rgb) -> str:
    return f'<img src="data:image/png;base64,{base64.b64encode(encode_png(rgb)).decode()}">'


def gallery_html(title: str, summaries: dict[str, dict], rows: list) -> str:
    """`rows` are FileResults with `images` (reference, ours) kept; worst first."""
    out = [f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>",
           "<style>body{font:14px system-ui;margin:2em}table{border-collapse:collapse}"
           "td{border:1px solid #ddd;padding:4px;vertical-align:middle}img{width:160px;"
           "image-rendering:pixelated}pre{background:#f6f6f6;padding:1em}</style>",
           f"<h1>{html.escape(title)}</h1>"]
    for name, s in summaries.items():
        out.append(f"<h2>{html.escape(name)}</h2><pre>{html.escape(json.dumps(s, indent=1))}</pre>")
    out.append("<h2>Worst cases</h2><table><tr><th>file</th><th>original (resvg)</th>"
               "<th>simplified + quantised (svgrl)</th><th>SSIM</th><th>dropped</th></tr>")
    for r in rows:
        if r.images is None:
            continue
        ref, ours = r.images
        out.append(f"<tr><td>{html.escape(r.id)}</td><td>{_img(ref)}</td><td>{_img(ours)}</td>"
                   f"<td>{r.ssim:.4f}</td><td>{html.escape(', '.join(r.dropped))}</td></tr>")
    out.append("</table>")
    return "\n".join(out)
