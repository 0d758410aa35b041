"""`svgrl` command line: a thin shell over library functions.

The CLI is the top layer: one module per stage here (``svgrl.cli.svg``, ``svgrl.cli.data``,
...), each exposing ``add_commands(sub)``; this file lists them explicitly (no registry, no
plugin discovery). Being on top, a command may combine stages (the SVG commands read source
names from `svgrl.data`, ``svgrl train`` lists the SFT and GRPO trainers).
"""

from __future__ import annotations

import argparse
import sys

from svgrl.errors import SvgrlError

# The stages whose commands the CLI offers, in the order `--help` lists them.
STAGE_CLIS = [
    "svgrl.cli.svg",
    "svgrl.demo",
    "svgrl.cli.data",
    "svgrl.cli.rewards",
    "svgrl.cli.tokens",
    "svgrl.cli.train",
    "svgrl.cli.model",
    "svgrl.cli.rl",
    "svgrl.cli.bench",
    "svgrl.cli.serve",
]


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="svgrl",
        description="Train, reinforce and evaluate models that write SVG.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in STAGE_CLIS:
        importlib.import_module(name).add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # the command as typed, for tools that record it (`svgrl bench` writes it to results.json)
    args.argv = ["svgrl", *(sys.argv[1:] if argv is None else argv)]
    try:
        return int(args.func(args) or 0)
    except SvgrlError as e:
        print(f"svgrl: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("svgrl: interrupted", file=sys.stderr)
        return 130
