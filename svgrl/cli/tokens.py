"""``svgrl tokenize …``: token statistics of SVG files under the OmniSVG-style layout."""

from __future__ import annotations

import argparse
import json

from svgrl.config import add_dataclass_args, dataclass_from_args
from svgrl.tokens.stats import TokenizeConfig, tokenize_stats


def _tokenize(args: argparse.Namespace) -> int:
    from svgrl.data.inputs import iter_inputs

    cfg = dataclass_from_args(TokenizeConfig, args, inputs=tuple(args.input))
    # The same inputs as every SVG command: files, folders and source names.
    report = tokenize_stats(cfg, items=list(iter_inputs(list(cfg.inputs))))
    if cfg.json:
        print(json.dumps(report, sort_keys=True))
    else:
        for key, value in report.items():
            shown = f"{value:.4g}" if isinstance(value, float) else value
            print(f"{key:>18}: {shown}")
    return 0 if report["ok"] else 1


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tokenize",
        help="token counts of SVG files (ours vs SmolLM2 BPE), round-trip and grammar checks",
        description="Load each SVG (normalise + quantise), encode it with the SVG token layout, "
        "check decode(encode(d)) == d and grammar acceptance, and compare the sequence length "
        "with the SmolLM2 BPE tokenizer over the same drawing written as compact SVG text.",
    )
    p.add_argument("input", nargs="+", metavar="INPUT",
                   help="SVG files, folders or source names (pytablericons, ...)")
    add_dataclass_args(p, TokenizeConfig, skip=("inputs",))
    p.set_defaults(func=_tokenize)
