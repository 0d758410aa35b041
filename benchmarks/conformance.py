"""SVG conformance: pass counts per feature on the committed suite (resvg's tests with
reference renders, `tests/data/conformance`), svgrl simplify + render vs the reference PNG.

    python benchmarks/conformance.py [--json] [--failures] [--only structure/use]
    python benchmarks/conformance.py --renderer resvg   # the tolerance's sanity baseline

Tests needing what svgrl does not draw (text, filters, images, masks, markers, patterns,
gradients) are listed as unsupported and not counted; entity / external-reference files must
be refused and are listed as refused.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from svgrl.config import add_dataclass_args, dataclass_from_args
from svgrl.svg.conformance import RENDERERS, ConformanceConfig, run_suite, summarise

SUITE = Path(__file__).resolve().parent.parent / "tests" / "data" / "conformance"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", type=Path, default=SUITE,
                    help="folder of .svg + .png tests (default: the committed suite)")
    ap.add_argument("--only", default="", help="run only tests whose path contains this")
    ap.add_argument("--renderer", choices=sorted(RENDERERS), default="svgrl",
                    help="who draws the tests (default: svgrl)")
    ap.add_argument("--failures", action="store_true", help="list every failing test and why")
    ap.add_argument("--json", action="store_true", help="print one JSON object only")
    add_dataclass_args(ap, ConformanceConfig)
    args = ap.parse_args()
    cfg = dataclass_from_args(ConformanceConfig, args)
    t0 = time.perf_counter()
    results = run_suite(args.suite, cfg, args.only, args.renderer)
    s = summarise(results)
    s["seconds"] = round(time.perf_counter() - t0, 1)
    if args.json:
        print(json.dumps(s))
        return
    for name, row in [*s["features"].items(), ("", None), *s["areas"].items()]:
        if row is None:
            print()
            continue
        extra = "".join(f"  {k} {row[k]}" for k in ("unsupported", "refused") if row[k])
        print(f"{name:34s} {row['passed']:4d} / {row['counted']:<4d}{extra}")
    rate = f"{s['pass_rate']:.1%}" if s["pass_rate"] is not None else "-"
    print(f"\n{args.renderer}: {s['passed']} / {s['counted']} passed ({rate}) in "
          f"{s['seconds']} s; unsupported {s['unsupported']}; refused {s['refused']}")
    if args.failures:
        for name, why in s["failures"].items():
            print(f"FAIL {name}: {why}")


if __name__ == "__main__":
    main()
