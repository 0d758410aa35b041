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


# The README's first try on a laptop (minutes on a CPU), under the command list.
FIRST_RUN = """a first run (each command explains itself: svgrl COMMAND --help):
  svgrl data build --source pytablericons --out data/tabler --limit 200
  svgrl train sft --data data/tabler --out runs/sft --max-steps 40 --threads 1
  svgrl train grpo --task svg-image --init runs/sft --data data/tabler --out runs/grpo \\
      --steps 3 --prompts-per-step 2 --group-size 4 --threads 1
  svgrl generate --run runs/grpo --text "arrow left" -n 8 -o samples/
  svgrl bench --data data/tabler --system oracle vtracer run:runs/grpo -o runs/bench
  svgrl demo   # the whole chain at a size that learns (~15 min): runs/demo/index.html"""


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="svgrl",
        description="Train, reinforce and evaluate models that write SVG.",
        epilog=FIRST_RUN, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in STAGE_CLIS:
        importlib.import_module(name).add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):  # a bare `svgrl`: the command list
        parser.print_help(sys.stderr)
        return 2
    args = parser.parse_args(argv)
    # the command as typed, for tools that record it (`svgrl bench` writes it to results.json)
    args.argv = ["svgrl", *(sys.argv[1:] if argv is None else argv)]
    # run as the program (not main([...]) from Python): process-wide settings, such as the
    # allocator's (`svgrl.train.memory`), are the command's to change
    args.own_process = argv is None
    try:
        return int(args.func(args) or 0)
    except SvgrlError as e:
        print(f"svgrl: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("svgrl: interrupted", file=sys.stderr)
        return 130
