"""`svgrl simplify`, `svgrl render`, `svgrl fidelity`."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from svgrl.atomic import write_bytes, write_text
from svgrl.config import add_dataclass_args, dataclass_from_args
from svgrl.errors import ConfigError, SvgrlError
from svgrl.svg.fidelity import FidelityConfig, fidelity
from svgrl.svg.image_io import encode_png
from svgrl.svg.inputs import iter_inputs
from svgrl.svg.load import load_drawing
from svgrl.svg.render import render
from svgrl.svg.write import to_svg


@dataclass(frozen=True)
class SimplifyConfig:
    grid: int = field(default=200, metadata={"help": "quantisation grid G (0 = keep floats)"})
    limit: int = field(default=0, metadata={"help": "stop after this many files (0 = all)"})

    def __post_init__(self):
        if self.grid < 0 or self.grid == 1 or self.grid > 4096:
            raise ConfigError(f"--grid {self.grid} must be 0 (no quantisation) or 2..4096")


def run_simplify(args: argparse.Namespace) -> int:
    cfg = dataclass_from_args(SimplifyConfig, args)
    out = Path(args.output)
    ok = failed = 0
    for id_, data, err in iter_inputs(args.inputs):
        if cfg.limit and ok + failed >= cfg.limit:
            break
        name = id_.replace("/", "__").removesuffix(".svg") + ".svg"
        try:
            if data is None:
                raise SvgrlError(err or "unreadable")
            write_text(out / Path(name).name, to_svg(load_drawing(data, grid=cfg.grid)))
            ok += 1
        except SvgrlError as e:
            failed += 1
            print(f"svgrl simplify: {id_}: {e}", file=sys.stderr)
    print(json.dumps({"written": ok, "failed": failed, "out": str(out)}))
    return 0


def run_render(args: argparse.Namespace) -> int:
    if not 1 <= args.size <= 8192:
        raise ConfigError(f"--size {args.size} must be in 1..8192")
    d = load_drawing(Path(args.input), grid=args.grid)
    write_bytes(args.output, encode_png(render(d, args.size)))
    return 0


def run_fidelity(args: argparse.Namespace) -> int:
    cfg = dataclass_from_args(FidelityConfig, args)
    through = None
    if args.through_tokens:
        from svgrl.tokens.codec import drawing_through_tokens
        from svgrl.tokens.layout import TokenLayout

        if not cfg.grid:
            raise ConfigError("--through-tokens needs a grid (tokens are grid points): "
                              "drop --grid 0")
        layout = TokenLayout(grid=cfg.grid)

        def through(d):
            return drawing_through_tokens(d, layout)
    summary, _ = fidelity(iter_inputs(args.inputs), cfg, through, progress=not args.json)
    summary["through_tokens"] = bool(args.through_tokens)
    print(json.dumps(summary) if args.json else json.dumps(summary, indent=1))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simplify", help="SVG files/folders/sources → normalised SVGs",
                       description="Parse, simplify (shapes, transforms, strokes, styles → "
                       "filled M/L/C/Z paths), normalise into 200×200 and quantise.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="SVG file, folder, or source name (pytablericons, openmoji, ...)")
    p.add_argument("-o", "--output", required=True, help="output folder")
    add_dataclass_args(p, SimplifyConfig)
    p.set_defaults(func=run_simplify)

    p = sub.add_parser("render", help="render an SVG through svgrl's pipeline to PNG")
    p.add_argument("input", help="SVG file")
    p.add_argument("-o", "--output", required=True, help="PNG file to write")
    p.add_argument("--size", type=int, default=256, help="width = height in pixels (default 256)")
    p.add_argument("--grid", type=int, default=200, help="quantisation grid (0 = floats)")
    p.set_defaults(func=run_render)

    p = sub.add_parser("fidelity", help="SSIM of our simplified drawing vs resvg's render",
                       description="For every file: render the original with resvg (white "
                       "background) and our simplified, quantised Drawing with our renderer "
                       "at the same size; report SSIM (grey, 7×7) and failures by reason. "
                       "files_per_s times parse + simplify + quantise only.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="SVG file, folder, or source name (pytablericons, openmoji, ...)")
    add_dataclass_args(p, FidelityConfig, skip=("keep",))
    p.add_argument("--json", action="store_true", help="print one JSON line, no progress bar")
    p.add_argument("--through-tokens", action="store_true",
                   help="pass each drawing through decode(encode(.)) before rendering")
    p.set_defaults(func=run_fidelity)
