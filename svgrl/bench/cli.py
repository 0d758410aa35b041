"""`svgrl bench`: compare systems on a dataset split or SVG source, write results.json and
report.html."""

from __future__ import annotations

import argparse

from svgrl.config import add_dataclass_args, dataclass_from_args


def run_bench_cmd(args: argparse.Namespace) -> int:
    from svgrl.bench.run import BenchConfig, json_line, run_bench

    cfg = dataclass_from_args(BenchConfig, args,
                              systems=args.system or ["oracle", "vtracer"],
                              progress=args.progress and not args.json)
    results = run_bench(cfg, command=getattr(args, "argv", None))
    width = max(len(n) for n in results["systems"])
    print(f"{'system':<{width}}  {'n':>4} {'valid':>6} {'SSIM':>7} {'MSE':>8} {'PSNR':>6} "
          f"{'tokens':>7} {'s/smp':>7}")
    for name, s in results["systems"].items():
        def f(k, spec, s=s):
            v = s.get(k)
            return format(v, spec) if isinstance(v, int | float) else "-"
        print(f"{name:<{width}}  {s['n']:>4} {f('valid', '>6.1%')} {f('ssim', '>7.4f')} "
              f"{f('mse', '>8.5f')} {f('psnr', '>6.2f')} {f('tokens_mean', '>7.1f')} "
              f"{f('seconds_per_sample', '>7.3f')}"
              + (f"  ({s['setup_error']})" if s.get("setup_error") else ""))
    if results["targets_failed"]:
        print(f"{results['targets_failed']} target(s) could not be rendered (see results.json)")
    print(f"wrote {results['report']}")
    if args.json:
        print(json_line(results))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    from svgrl.bench.run import BenchConfig

    p = sub.add_parser(
        "bench", help="compare systems (runs, tracers, refinement) on a test set",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Score each --system on the targets of --data: outputs go through "
                    "svgrl's parser, quantiser and tokenizer (token counts compare) and are "
                    "rendered by resvg on white; writes OUT/results.json, OUT/report.html "
                    "and each output under OUT/samples/.",
        epilog="systems: oracle | vtracer | potrace | folder:DIR | run:PATH | refine:SPEC\n"
               "  options before the colon: refine,budget=0.5,steps=150:vtracer  "
               "run,temperature=0:runs/sft  vtracer,preset=coarse\n"
               "example: svgrl bench --data data/tabler --system oracle vtracer potrace "
               "refine:vtracer run:runs/sft -o runs/bench --limit 40 --json")
    add_dataclass_args(p, BenchConfig, skip=("systems", "out"))
    p.add_argument("--system", action="extend", nargs="+", default=None, metavar="SPEC",
                   help="systems to compare (default: oracle vtracer)")
    p.add_argument("-o", "--out", dest="out", default="", help="output folder")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object with every system's numbers, last")
    p.set_defaults(func=run_bench_cmd)
