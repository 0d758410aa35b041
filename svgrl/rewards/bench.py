"""Reward throughput on fixed synthetic sets (rewards/s, wall clock, warm worker pools).

Each entry of `BENCHES` measures one reward end to end through its public callable and
returns at least ``{"rewards_per_s": float, "n": int}``. `run_bench` reports every entry as
``<name>_rewards_per_s`` plus its details under ``<name>``; the SVG reward's entry (``"svg"``)
also provides the top-level ``rewards_per_s`` (that number is the SVG reward's).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from svgrl.errors import ConfigError
from svgrl.rewards.code import CodeConfig, CodeVerifier
from svgrl.rewards.magistral import MagistralReward
from svgrl.rewards.math import MathVerifier


@dataclass
class BenchConfig:
    math_n: int = field(default=256, metadata={"help": "math completions to grade"})
    code_n: int = field(default=24, metadata={"help": "code completions to grade (5 tests each)"})
    svg_n: int = field(default=2048, metadata={"help": "SVG completions to grade (200 px)"})
    workers: int = field(default=2, metadata={"help": "worker processes per verifier"})

    def __post_init__(self) -> None:
        if min(self.math_n, self.code_n, self.svg_n, self.workers) < 1:
            raise ConfigError("math_n, code_n, svg_n and workers must all be ≥ 1")


_THOUGHTS = "Let me work this out step by step and check the arithmetic once more."
# (gold, completion answers): equivalent forms and wrong answers, like a GRPO group.
_MATH = [
    ("\\frac{1}{2}", ["\\frac{1}{2}", "0.5", "\\frac{2}{4}", "1/3"]),
    ("(x+1)^2", ["x^2+2x+1", "(x+1)^{2}", "x^2+1", "(1+x)(x+1)"]),
    ("\\sqrt{2}", ["2^{1/2}", "\\sqrt{2}", "1.41421356", "\\sqrt{3}"]),
    ("42", ["42", "42.0", "41", "\\frac{84}{2}"]),
    ("\\frac{\\pi}{4}", ["\\pi/4", "\\frac{\\pi}{4}", "45", "\\frac{\\pi}{2}"]),
    ("(1, 2)", ["(1,2)", "(2,1)", "(1, 2)", "(1,3)"]),
    ("x=3", ["3", "x=3", "x = 3", "4"]),
    ("e^{2}", ["e^2", "\\exp(2)", "2e", "e^{2}"]),
]


def _math_set(n: int) -> tuple[list[str], list[str], list[str], list[list[int]]]:
    prompts, completions, golds, ids = [], [], [], []
    for k in range(n):
        gold, forms = _MATH[k % len(_MATH)]
        answer = forms[(k // len(_MATH)) % len(forms)]
        prompts.append(f"Compute the value of problem number {k % len(_MATH)} and explain.")
        completions.append(f"<think>{_THOUGHTS}</think>The final answer is \\boxed{{{answer}}}.")
        golds.append(gold)
        ids.append([0] * (100 + 37 * k))
    return prompts, completions, golds, ids


_CODE_TESTS = [{"input": f"{a} {b}\n", "output": f"{a + b}\n"}
               for a, b in [(1, 2), (10, -3), (7, 7), (-5, -6), (123456, 654321)]]
_CODE_FORMS = [
    "a, b = map(int, input().split())\nprint(a + b)",
    "import sys\nprint(sum(map(int, sys.stdin.read().split())))",
    "a, b = map(int, input().split())\nprint(a - b)",
    "print(int(input().split()[0]) * 2)",
]


def bench_math(cfg: BenchConfig) -> dict:
    verifier = MathVerifier(workers=cfg.workers)
    reward = MagistralReward(math_verifier=verifier)
    try:
        prompts, completions, golds, ids = _math_set(cfg.math_n)
        reward(prompts[:8], completions[:8], answer=golds[:8])  # warm the pool
        t0 = time.perf_counter()
        out = reward(prompts, completions, answer=golds, completion_ids=ids)
        dt = time.perf_counter() - t0
    finally:
        verifier.close()
    return {"rewards_per_s": cfg.math_n / dt, "n": cfg.math_n, "seconds": dt,
            "mean_reward": sum(out) / len(out)}


def bench_code(cfg: BenchConfig) -> dict:
    verifier = CodeVerifier(CodeConfig(workers=cfg.workers))
    reward = MagistralReward(code_verifier=verifier)
    try:
        n = cfg.code_n
        prompts = ["Read two integers and print their sum."] * n
        completions = [f"<think>{_THOUGHTS}</think>Here it is:\n```python\n"
                       f"{_CODE_FORMS[k % len(_CODE_FORMS)]}\n```" for k in range(n)]
        tests = [_CODE_TESTS] * n
        reward(prompts[:2], completions[:2], tests=tests[:2])  # warm the pool
        t0 = time.perf_counter()
        out = reward(prompts, completions, tests=tests)
        dt = time.perf_counter() - t0
    finally:
        verifier.close()
    return {"rewards_per_s": n / dt, "n": n, "tests_per_completion": len(_CODE_TESTS),
            "language": "python", "seconds": dt, "mean_reward": sum(out) / len(out)}


def bench_svg(cfg: BenchConfig) -> dict:
    from svgrl.rewards.svg_bench import bench_svg as run

    return run(cfg.svg_n, cfg.workers)


# name -> benchmark; the "svg" entry's "rewards_per_s" is also the top-level figure.
BENCHES: dict[str, Callable[[BenchConfig], dict]] = {
    "svg": bench_svg,
    "math": bench_math,
    "code": bench_code,
}


def run_bench(cfg: BenchConfig | None = None, only: tuple[str, ...] = ()) -> dict:
    """Run the benchmarks (all, or those named in `only`) and collect one flat dict."""
    cfg = cfg or BenchConfig()
    unknown = set(only) - set(BENCHES)
    if unknown:
        raise ConfigError(f"unknown benchmark(s) {sorted(unknown)}; choose from {sorted(BENCHES)}")
    report: dict = {}
    for name, fn in BENCHES.items():
        if only and name not in only:
            continue
        res = fn(cfg)
        report[f"{name}_rewards_per_s"] = res["rewards_per_s"]
        report[name] = res
    if "svg" in report:
        report["rewards_per_s"] = report["svg"]["rewards_per_s"]
    return report
