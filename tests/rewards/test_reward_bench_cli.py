from __future__ import annotations

import argparse
import json

import pytest

from svgrl.cli.rewards import add_commands
from svgrl.errors import ConfigError
from svgrl.rewards.bench import BenchConfig, run_bench


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="svgrl")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def test_bench_json_prints_one_object_with_per_reward_throughput(capsys):
    args = _parser().parse_args(
        ["rewards", "bench", "--json", "--only", "math", "--math-n", "16", "--workers", "1"]
    )
    assert args.func(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["math_rewards_per_s"] > 0 and report["math"]["n"] == 16
    # The set mixes right and wrong answers, so the mean reward is strictly between the ends.
    assert 0.2 < report["math"]["mean_reward"] < 1.1
    assert "code_rewards_per_s" not in report


def test_bench_rejects_unknown_names_and_bad_sizes():
    with pytest.raises(ConfigError, match="unknown benchmark"):
        run_bench(BenchConfig(), ("nope",))
    with pytest.raises(ConfigError, match="≥ 1"):
        BenchConfig(math_n=0)
