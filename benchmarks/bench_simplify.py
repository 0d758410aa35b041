"""Parse + simplify + quantise: svgrl vs picosvg's `topicosvg()` (the tool OmniSVG's
preprocessing uses), on the same files, in one run. Prints files/s for each and the ratio.

    python benchmarks/bench_simplify.py [--per-set 150] [--json]

picosvg is a dev dependency (`pip install picosvg`); it is only imported here.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import time
from pathlib import Path

from svgrl.svg.load import load_drawing


def _files(per_set: int) -> dict[str, list[bytes]]:
    import fontawesomefree
    import pytablericons

    sets = {
        "tabler": glob.glob(os.path.join(os.path.dirname(pytablericons.__file__), "icons/*/*.svg")),
        "fontawesome": glob.glob(os.path.join(os.path.dirname(fontawesomefree.__file__),
                                              "static/fontawesomefree/svgs/*/*.svg")),
    }
    out = {}
    for name, files in sets.items():
        files = sorted(files)
        step = max(1, len(files) // per_set)
        out[name] = [Path(f).read_bytes() for f in files[::step][:per_set]]
    return out


def _time_alternating(fns, datas, rounds: int = 2) -> list[tuple[float, int]]:
    """CPU time of each tool over the whole file list, tools alternating round by round
    (A B A B): both are single-threaded, so CPU time is the work done, and alternation
    spreads any drift in machine load over both. Each tool runs over the whole list in one
    go, as it would on a dataset (alternating file by file would measure cache thrash)."""
    totals = [[0.0, 0] for _ in fns]
    for _ in range(rounds):
        for acc, fn in zip(totals, fns, strict=True):
            t0 = time.process_time()
            for d in datas:
                try:
                    fn(d)
                    acc[1] += 1
                except Exception:  # noqa: BLE001 - count failures of either tool alike
                    pass
            acc[0] += time.process_time() - t0
    return [(t, ok) for t, ok in totals]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-set", type=int, default=150, help="files per icon set")
    ap.add_argument("--json", action="store_true", help="last line is one JSON object")
    args = ap.parse_args()
    from picosvg.svg import SVG

    def pico(d: bytes):
        return SVG.fromstring(d.decode()).topicosvg()

    results = {}
    for name, datas in _files(args.per_set).items():
        load_drawing(datas[0])  # warm imports and caches for both
        pico(datas[0])
        (t_ours, ok_ours), (t_pico, ok_pico) = _time_alternating([load_drawing, pico], datas)
        r = {"files": len(datas), "svgrl_files_per_s": round(ok_ours / t_ours, 1),
             "picosvg_files_per_s": round(ok_pico / t_pico, 1),
             "svgrl_ok": ok_ours, "picosvg_ok": ok_pico,
             "ratio": round((t_pico / max(ok_pico, 1)) / (t_ours / max(ok_ours, 1)), 1)}
        results[name] = r
        print(f"{name:12s} svgrl {r['svgrl_files_per_s']:8.1f} files/s   picosvg "
              f"{r['picosvg_files_per_s']:6.1f} files/s   ratio {r['ratio']:.1f}x")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
