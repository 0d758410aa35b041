"""Dataset build benchmark: `svgrl data build` over Tabler + Font Awesome + OpenMoji + Twemoji.

    .venv/bin/python benchmarks/bench_data_build.py [--workers 2] [--limit N] [--out DIR]

Prints files/s for the whole build (listing, curation, dedup, split, Arrow write), the
counts it produced, and — measured side by side in the same run — the bare single-process
rate of ``load_drawing + encode`` on a sample of the same files, so the ratio shows what the
pipeline (signature render, shards, journal, workers, dedup, write) costs or gains.
npm sets that are not in the cache are skipped with the command that fetches them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time

from svgrl.data.build import BuildConfig, build
from svgrl.data.sources import iter_source
from svgrl.errors import SourceNotFoundError
from svgrl.svg.load import load_drawing
from svgrl.tokens.codec import encode
from svgrl.tokens.layout import TokenLayout

SETS = ("pytablericons", "fontawesomefree", "openmoji", "@twemoji/svg")


def available(limit: int) -> list[str]:
    out = []
    for s in SETS:
        try:
            next(iter_source(s), None)
            out.append(s)
        except SourceNotFoundError as e:
            print(f"skipping {s}: {e}")
    return out


def bare_rate(sources: list[str], per_source: int) -> float:
    """Files/s of load_drawing + encode alone, one process, `per_source` files of each set
    spread over the set."""
    layout = TokenLayout()
    items = []
    for s in sources:
        all_items = list(iter_source(s))
        step = max(1, len(all_items) // per_source)
        items += all_items[::step][:per_source]
    t = time.perf_counter()
    for it in items:
        with contextlib.suppress(Exception):  # failures are the build's to count
            encode(load_drawing(it.read()), layout)
    return len(items) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="first N items per source (0 = all)")
    ap.add_argument("--sample", type=int, default=150, help="files per set for the bare rate")
    ap.add_argument("--out", default=None, help="output folder (default: a temp folder)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    sources = available(args.limit)
    tmp = tempfile.TemporaryDirectory(prefix="bench-data-build-")
    out = args.out or tmp.name
    cfg = BuildConfig(source=tuple(sources), out=out, workers=args.workers, limit=args.limit,
                      restart=True, progress=False)
    t = time.perf_counter()
    manifest = build(cfg)
    seconds = time.perf_counter() - t
    c = manifest["counts"]
    rate = c["items"] / seconds
    bare = bare_rate(sources, args.sample)
    report = {
        "sources": sources, "workers": args.workers, "items": c["items"], "kept": c["kept"],
        "seconds": round(seconds, 2), "files_per_s": round(rate, 1),
        "curate_seconds": manifest["timing"]["curate_seconds"],
        "bare_load_encode_files_per_s_1proc": round(bare, 1),
        "ratio_build_vs_bare": round(rate / bare, 3),
        "failed": c["failed"], "exact_duplicates": c["exact_duplicates"],
        "near_duplicates": c["near_duplicates"], "splits": c["splits"],
        "subsets": {k: sum(v.values()) for k, v in c["subsets"].items()},
        "dropped_content": c["dropped_content"], "tokens": c["tokens"],
        "content_hash": manifest["content_hash"][:16],
    }
    if args.json:
        print(json.dumps(report))
    else:
        for k, v in report.items():
            print(f"{k:>36}: {v}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
