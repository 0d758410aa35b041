"""Tokens per file and 200-grid SSIM with `A` emission on and off, on Tabler and Font Awesome,
in one run over the same files; plus CPU time of simplify + quantise for each.

    python benchmarks/bench_arcs.py [--stride 1] [--json]

Each file is rendered once with resvg (the reference, white background, 200 px) and compared
with our render of the quantised drawing (SSIM on grey levels, as `svgrl fidelity`); tokens
are the length of `encode` with the default token layout. `--stride N` takes every N-th file
of each sorted set. Run with `PYTHONPATH` pointing at another checkout to measure an older
version of the simplifier on the same files (options it does not have are left out).
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import time
from pathlib import Path

import numpy as np

from svgrl.svg.load import simplify_svg
from svgrl.svg.metrics import ssim
from svgrl.svg.normalise import quantize
from svgrl.svg.reference import reference_render
from svgrl.svg.render import render
from svgrl.svg.simplify import SimplifyOptions
from svgrl.tokens.codec import encode
from svgrl.tokens.layout import TokenLayout


def _sets() -> dict[str, list[str]]:
    import fontawesomefree
    import pytablericons

    return {
        "tabler": sorted(glob.glob(os.path.join(os.path.dirname(pytablericons.__file__),
                                                "icons/*/*.svg"))),
        "fontawesome": sorted(glob.glob(os.path.join(os.path.dirname(fontawesomefree.__file__),
                                                     "static/fontawesomefree/svgs/*/*.svg"))),
    }


def _options(**kw) -> SimplifyOptions:
    have = {f.name for f in dataclasses.fields(SimplifyOptions)}
    return SimplifyOptions(output_size=200.0, **{k: v for k, v in kw.items() if k in have})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stride", type=int, default=1, help="every N-th file of each set")
    ap.add_argument("--json", action="store_true", help="last line is one JSON object")
    args = ap.parse_args()
    variants = {"arcs off": _options(arcs=False), "arcs on": _options(arcs=True)}
    layout = TokenLayout()
    results: dict = {}
    for name, files in _sets().items():
        files = files[::args.stride]
        acc = {v: {"tokens": [], "ssim": [], "cpu_s": 0.0} for v in variants}
        for f in files:
            data = Path(f).read_bytes()
            ref = reference_render(data, 200)
            for v, opt in variants.items():  # alternating file by file: same load for both
                t0 = time.process_time()
                d = quantize(simplify_svg(data, opt).drawing, 200)
                acc[v]["cpu_s"] += time.process_time() - t0
                acc[v]["tokens"].append(len(encode(d, layout)))
                acc[v]["ssim"].append(ssim(render(d, 200), ref))
        results[name] = {}
        for v, a in acc.items():
            s = np.array(a["ssim"])
            r = {"files": len(s), "tokens_mean": round(float(np.mean(a["tokens"])), 2),
                 "ssim_mean": round(float(s.mean()), 5),
                 "ssim_p5": round(float(np.percentile(s, 5)), 5),
                 "cpu_ms_per_file": round(1000 * a["cpu_s"] / len(s), 3)}
            results[name][v] = r
            print(f"{name:12s} {v:9s} {r['files']:5d} files  {r['tokens_mean']:7.2f} tokens/file"
                  f"  SSIM mean {r['ssim_mean']:.5f} p5 {r['ssim_p5']:.5f}"
                  f"  {r['cpu_ms_per_file']:.3f} ms/file")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
