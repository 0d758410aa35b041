"""``svgrl rewards …`` commands."""

from __future__ import annotations

import argparse
import json

from svgrl.config import add_dataclass_args, dataclass_from_args
from svgrl.rewards.bench import BENCHES, BenchConfig, run_bench


def _bench(args: argparse.Namespace) -> int:
    cfg = dataclass_from_args(BenchConfig, args)
    report = run_bench(cfg, tuple(args.only or ()))
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        for key, value in report.items():
            if key.endswith("rewards_per_s"):
                print(f"{key:>24}: {value:10.1f}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    rewards = sub.add_parser("rewards", help="reward functions (Magistral math/code, SVG)")
    rsub = rewards.add_subparsers(dest="rewards_command", metavar="SUBCOMMAND", required=True)
    bench = rsub.add_parser("bench", help="reward throughput on fixed synthetic sets",
                            description="Rewards per second of each reward (math, code, SVG) "
                            "on fixed synthetic completions, with the CPU time per reward.")
    add_dataclass_args(bench, BenchConfig)
    bench.add_argument("--only", nargs="+", choices=sorted(BENCHES), help="run only these")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.set_defaults(func=_bench)
