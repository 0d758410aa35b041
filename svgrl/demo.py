"""`svgrl demo`: the main job on the embedded default data, with an HTML report."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

from svgrl.atomic import write_text
from svgrl.bench.gallery import gallery_html
from svgrl.config import add_dataclass_args, dataclass_from_args
from svgrl.data.sources import DEFAULT_SOURCES, iter_source
from svgrl.tokens.fidelity import FidelityConfig, fidelity


@dataclass(frozen=True)
class DemoConfig:
    out: str = field(default="runs/demo", metadata={"help": "report folder"})
    limit: int = field(default=600, metadata={"help": "files per source (0 = all)"})
    worst: int = field(default=40, metadata={"help": "worst cases shown per source"})


def run_demo(cfg: DemoConfig) -> Path:
    out = Path(cfg.out)
    summaries: dict[str, dict] = {}
    rows = []
    for source in DEFAULT_SOURCES:
        items = ((it.id, it.read(), None) for it in _spread(iter_source(source), cfg.limit))
        s, results = fidelity(items, FidelityConfig(limit=cfg.limit, keep=cfg.worst))
        summaries[source] = s
        rows.extend(r for r in results if r.images is not None)
        print(source, json.dumps(s))
    rows.sort(key=lambda r: r.ssim)
    write_text(out / "summary.json", json.dumps(summaries, indent=1))
    write_text(out / "index.html", gallery_html("svgrl demo: simplify + quantise fidelity",
                                                summaries, rows))
    print(f"report: {out / 'index.html'}")
    return out


def _spread(items, limit: int):
    """Every k-th item so a limited run still covers the whole set (outline and filled...)."""
    items = list(items)
    if not limit or limit >= len(items):
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the pipeline on the embedded icon sets, write a report",
                       description="Simplify + quantise the PyPI icon sets shipped with svgrl, "
                       "compare against resvg, and write an HTML gallery (worst first).")
    add_dataclass_args(p, DemoConfig)
    p.set_defaults(func=lambda a: run_demo(dataclass_from_args(DemoConfig, a)) and 0)
