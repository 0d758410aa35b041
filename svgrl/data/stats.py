"""`svgrl data stats DIR`: what a built dataset holds — counts per source / subset / split,
failure reasons, licences, token lengths (with a histogram PNG drawn by skia, so no
plotting library is needed) — and whether its rows still match the manifest's hash."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from svgrl.atomic import write_bytes
from svgrl.data.dedup import SPLITS
from svgrl.data.store import dataset_hash, load_built
from svgrl.errors import ConfigError


@dataclass
class StatsConfig:
    """Options of ``svgrl data stats``."""

    dir: str = field(default="", metadata={"help": "a folder written by `svgrl data build`"})
    png: str | None = field(default=None, metadata={
        "help": "where to write the token-length histogram (default: DIR/token_lengths.png)"})
    bins: int = field(default=40, metadata={"help": "histogram bins"})
    verify: bool = field(default=True, metadata={
        "help": "recompute the content hash from the rows and compare with the manifest"})
    json: bool = field(default=False, metadata={"help": "print one JSON object"})

    def __post_init__(self) -> None:
        if not self.dir:
            raise ConfigError("name the dataset folder, e.g. `svgrl data stats data/icons`")
        if not 1 <= self.bins <= 1000:
            raise ConfigError(f"--bins {self.bins}: use 1 to 1000")


def dataset_stats(cfg: StatsConfig) -> dict:
    dd, manifest, _ = load_built(cfg.dir)
    rows = {s: dd[s].to_list() if s in dd else [] for s in SPLITS}
    by = {"source": Counter(), "subset": Counter(), "license": Counter()}
    table: dict[str, dict[str, Counter]] = {k: {} for k in by}
    lengths = []
    for split, rs in rows.items():
        for r in rs:
            lengths.append(r["n_tokens"])
            for k in by:
                by[k][r[k]] += 1
                table[k].setdefault(r[k], Counter())[split] += 1
    lengths_a = np.array(lengths or [0])
    png = Path(cfg.png) if cfg.png else Path(cfg.dir) / "token_lengths.png"
    counts, edges = histogram(lengths_a, cfg.bins)
    write_bytes(png, histogram_png(counts, edges))
    c = manifest["counts"]
    out = {
        "dir": str(cfg.dir),
        "rows": len(lengths),
        "splits": {s: len(rs) for s, rs in rows.items()},
        "sources": {k: dict(v) for k, v in sorted(table["source"].items())},
        "subsets": {k: dict(v) for k, v in sorted(table["subset"].items())},
        "licenses": dict(sorted(by["license"].items())),
        "items": c["items"],
        "failed": c["failed"],
        "failure_examples": c.get("failure_examples", {}),
        "exact_duplicates": c["exact_duplicates"],
        "near_duplicates": c["near_duplicates"],
        "dropped_content": c.get("dropped_content", {}),
        "tokens": {"mean": round(float(lengths_a.mean()), 1),
                   "p50": int(np.percentile(lengths_a, 50)),
                   "p95": int(np.percentile(lengths_a, 95)), "max": int(lengths_a.max())},
        "histogram": {"png": str(png), "edges": edges.tolist(), "counts": counts.tolist()},
        "content_hash": manifest["content_hash"],
    }
    if cfg.verify:
        out["hash_ok"] = dataset_hash(rows) == manifest["content_hash"]
    return out


def histogram(lengths: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts and integer bin edges from 0 to the longest sequence."""
    top = max(int(lengths.max()), 1)
    edges = np.unique(np.linspace(0, top + 1, bins + 1).round().astype(int))
    counts, _ = np.histogram(lengths, bins=edges)
    return counts, edges


def histogram_png(counts: np.ndarray, edges: np.ndarray, width: int = 800,
                  height: int = 400) -> bytes:
    """A bar chart of `counts` with the length range and the tallest count written on it."""
    import skia

    from svgrl.svg.image_io import encode_png
    from svgrl.svg.render import label_font, raster_surface

    surface, buf = raster_surface(width, height)
    canvas = surface.getCanvas()
    left, right, top, bottom = 60, 20, 30, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(int(counts.max()), 1) if len(counts) else 1
    bar = skia.Paint(Color=skia.Color(52, 101, 164), AntiAlias=False)
    n = max(len(counts), 1)
    for i, c in enumerate(counts.tolist()):
        h = plot_h * c / peak
        x0 = left + plot_w * i / n
        canvas.drawRect(skia.Rect.MakeLTRB(x0 + 1, top + plot_h - h, left + plot_w * (i + 1) / n,
                                           top + plot_h), bar)
    axis = skia.Paint(Color=skia.ColorBLACK, StrokeWidth=1, Style=skia.Paint.kStroke_Style)
    canvas.drawLine(left, top + plot_h, left + plot_w, top + plot_h, axis)
    canvas.drawLine(left, top, left, top + plot_h, axis)
    font = label_font(14)
    ink = skia.Paint(Color=skia.ColorBLACK, AntiAlias=True)
    canvas.drawString("0", left, height - 15, font, ink)
    canvas.drawString(f"{int(edges[-1]) if len(edges) else 0} tokens", width - right - 110,
                      height - 15, font, ink)
    canvas.drawString(str(peak), 5, top + 10, font, ink)
    canvas.drawString("token length histogram", left + plot_w / 2 - 80, 20, font, ink)
    surface.flushAndSubmit()
    return encode_png(buf[:, :, :3].copy())


def format_stats(s: dict) -> str:
    lines = [f"{s['dir']}: {s['rows']} rows of {s['items']} items; splits "
             + ", ".join(f"{k} {v}" for k, v in s["splits"].items())]
    for key in ("sources", "subsets"):
        lines.append(f"{key}:")
        for name, per in s[key].items():
            lines.append(f"  {name:<24} {sum(per.values()):>7}  "
                         + "  ".join(f"{k} {v}" for k, v in per.items()))
    lines.append("licenses: " + ", ".join(f"{k} {v}" for k, v in s["licenses"].items()))
    lines.append("failed: " + (", ".join(f"{k} {v}" for k, v in s["failed"].items()) or "none"))
    for k, v in s["failure_examples"].items():
        lines.append(f"  e.g. {k}: {v}")
    lines.append(f"exact duplicates: {sum(s['exact_duplicates'].values())} "
                 f"{s['exact_duplicates']}; near duplicates: "
                 f"{sum(s['near_duplicates'].values())} {s['near_duplicates']}")
    if s["dropped_content"]:
        lines.append(f"kept with dropped content: {s['dropped_content']}")
    t = s["tokens"]
    lines.append(f"tokens: mean {t['mean']}  p50 {t['p50']}  p95 {t['p95']}  max {t['max']}; "
                 f"histogram -> {s['histogram']['png']}")
    if "hash_ok" in s:
        lines.append(f"content hash {s['content_hash'][:16]}: "
                     + ("matches the rows" if s["hash_ok"] else "DOES NOT match the rows"))
    return "\n".join(lines)
