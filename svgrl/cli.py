"""`svgrl` command line: a thin shell over library functions.

Each stage keeps its subcommands in its own ``cli`` module exposing ``add_commands(sub)``;
this file lists them explicitly (no registry, no plugin discovery).
"""

from __future__ import annotations

import argparse
import sys

from svgrl.errors import SvgrlError

# The stages whose commands the CLI offers, in the order `--help` lists them.
STAGE_CLIS = [
    "svgrl.svg.cli",
    "svgrl.demo",
    "svgrl.data.cli",
    "svgrl.rewards.cli",
    "svgrl.tokens.cli",
    "svgrl.train.cli",
    "svgrl.model.cli",
    "svgrl.rl.cli",
    "svgrl.bench.cli",
    "svgrl.serve.cli",
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


if __name__ == "__main__":
    sys.exit(main())
