"""`svgrl bench`: compare systems on a dataset split or SVG source, write results.json and
report.html."""

from __future__ import annotations

import argparse
import sys

from svgrl.config import add_dataclass_args, dataclass_from_args


def run_bench_cmd(args: argparse.Namespace) -> int:
    from svgrl.bench.run import BenchConfig, json_line, run_bench

    # the bars go to stderr: with --json, stdout still ends with the one JSON line
    cfg = dataclass_from_args(BenchConfig, args,
                              systems=args.system or ["oracle", "vtracer"])
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
    n_targets = len(results["targets"])
    if cfg.limit > n_targets:  # a small build's test split is often a handful of drawings
        from svgrl.bench.targets import is_built

        where = f"the {cfg.split!r} split of {cfg.data}" if is_built(cfg.data) else cfg.data
        print(f"note: --limit {cfg.limit}, but {where} holds {n_targets} target(s); all were "
              "scored" + (" (--split validation, or `svgrl data build ... --test F` or "
                          "--min-split N, gives more)" if is_built(cfg.data) else ""),
              file=sys.stderr)
    print(f"wrote {results['report']}")
    if args.json:
        print(json_line(results))
    return 0


def run_refine_cmd(args: argparse.Namespace) -> int:
    from dataclasses import fields

    import torch

    from svgrl.atomic import write_text
    from svgrl.bench.refine import RefineConfig, refine_drawing
    from svgrl.errors import ConfigError, SvgrlError
    from svgrl.svg.image_io import read_png
    from svgrl.svg.load import load_drawing, read_source
    from svgrl.svg.reference import reference_render
    from svgrl.svg.write import to_svg
    from svgrl.tokens.layout import TokenLayout

    cfg = RefineConfig(**{f.name: getattr(args, f.name) for f in fields(RefineConfig)})
    torch.set_num_threads(max(1, args.threads))
    torch.manual_seed(args.seed)
    layout = TokenLayout()
    start = load_drawing(args.input, grid=layout.grid)
    try:
        if args.target.lower().endswith(".svg"):
            target = reference_render(read_source(args.target, 64 << 20)[0], args.render_size)
        else:
            target = read_png(args.target)
    except (OSError, SvgrlError, ValueError) as e:
        raise ConfigError(f"cannot read --target {args.target!r}: {e}") from None
    if target.shape[0] != target.shape[1]:
        raise ConfigError(f"--target is {target.shape[1]}×{target.shape[0]} px; refine "
                          "compares square images (svgrl's normalised frame)")
    out, info = refine_drawing(start, target, cfg, layout)
    write_text(args.out, to_svg(out))
    print(f"wrote {args.out}: {info['tokens']} tokens (start {info['tokens_start']}, budget "
          f"{info['tokens_budget']}), SSIM {info['ssim_start']:.4f} → "
          f"{max(info['ssim_start'], info['ssim_refined']):.4f} in {info['steps']} steps, "
          f"{info['seconds']:.1f} s")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    from svgrl.bench.refine import RefineConfig
    from svgrl.bench.run import BenchConfig

    r = sub.add_parser(
        "refine", help="refine an SVG against a target image (differentiable soft raster)",
        description="Optimise the control points and fill colours of INPUT against --target "
                    "(an SVG rendered by resvg, or a square PNG) with svgrl's soft rasteriser, "
                    "at the same or a smaller token budget, then snap to the grid.")
    r.add_argument("input", help="SVG to refine (any system's output)")
    r.add_argument("--target", required=True, help="target image: .svg or square .png")
    r.add_argument("-o", "--out", required=True, help="output SVG file")
    add_dataclass_args(r, RefineConfig)
    r.add_argument("--render-size", type=int, default=200,
                   help="px of an SVG target's render (default: 200)")
    r.add_argument("--seed", type=int, default=0, help="torch seed (default: 0)")
    r.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    r.set_defaults(func=run_refine_cmd)

    p = sub.add_parser(
        "bench", help="compare systems (runs, tracers, refinement) on a test set",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Score each --system on the targets of --data: outputs go through\n"
                    "svgrl's parser, quantiser and tokenizer (token counts compare) and are\n"
                    "rendered by resvg on white; writes OUT/results.json, OUT/report.html\n"
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
