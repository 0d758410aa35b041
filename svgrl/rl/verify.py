"""Verifier role: a generated `Batch` → the same batch with rewards and reward parts.

Rewards are the plain callables of `svgrl.rewards`; which one a task uses is a plain dict
(`make_reward`). Math and code use Magistral's composite reward (format gate 0.1,
correctness 0.9, length penalty, language consistency; §2.2) with the think/no-think switch
and l_max of the current curriculum stage; SVG tasks use the render reward. A reward that
raises or returns ``None`` scores the floor (0) — the loop never stops on a bad completion.
"""

from __future__ import annotations

import math
from typing import Any

from svgrl.rewards.base import call_safely
from svgrl.rl.rollout import Batch

# Columns of a dataset row handed to the reward (everything but the prompt text).
_SKIP = {"prompt"}


def make_reward(task: str, *, thinking: bool, l_max: int, l_cache: int,
                language_reward: float | None = None, workers: int = 1, layout: Any = None,
                svg_reward: Any = None, magistral: Any = None) -> Any:
    """The reward callable of `task`, built once per curriculum stage. `magistral` /
    `svg_reward`: the user's reward configs (`GRPOConfig.reward` / ``.svg_reward``); the
    stage sets l_max, the task the rest."""
    import dataclasses

    if task in ("math", "code"):
        from svgrl.rewards.magistral import MagistralReward, MagistralRewardConfig

        extra = {} if language_reward is None else {"language_reward": language_reward}
        cfg = dataclasses.replace(magistral or MagistralRewardConfig(), thinking=thinking,
                                  l_max=l_max, l_cache=l_cache or max(1, l_max // 4), **extra)
        math_v = code_v = None
        if task == "math":
            from svgrl.rewards.math import MathVerifier

            math_v = MathVerifier(workers=workers)
        else:
            from svgrl.rewards.code import CodeConfig, CodeVerifier

            code_v = CodeVerifier(CodeConfig(workers=workers))
        return MagistralReward(cfg, math_verifier=math_v, code_verifier=code_v)
    from svgrl.rewards.svg import SvgReward, SvgRewardConfig

    base = layout.base_vocab_size if layout is not None else 0
    grid = layout.grid if layout is not None else 200
    # `svg_reward` (GRPOConfig.svg_reward) carries the user's knobs; the layout fixes the
    # vocabulary, the task the consensus rule, --reward-workers the pool.
    cfg = dataclasses.replace(svg_reward or SvgRewardConfig(), base_vocab_size=base, grid=grid,
                              workers=workers, consensus=task == "svg-text")
    return SvgReward(cfg, layout=layout)


def close_reward(reward: Any) -> None:
    """Stop the reward's worker pools (math/code verifiers, SVG graders)."""
    for obj in (reward, getattr(reward, "math_verifier", None),
                getattr(reward, "code_verifier", None)):
        close = getattr(obj, "close", None)
        if callable(close):
            close()


def _numeric(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)) and math.isfinite(v):
        return float(v)
    return None


def verify(batch: Batch, reward: Any, *, floor: float = 0.0) -> Batch:
    """Score every completion; fills ``batch.rewards`` (finite floats) and ``batch.parts``.

    For SVG tasks the completion ids go to the reward directly (no text round trip);
    ``group`` tells the consensus reward which completions share a prompt.
    """
    n = len(batch)
    columns: dict[str, list] = {}
    for k in sorted({k for r in batch.rows for k in r} - _SKIP):
        columns[k] = [r.get(k) for r in batch.rows]
    columns["completion_ids"] = batch.completion_ids
    columns["group"] = batch.group
    # The user text, not the templated prompt: the language check compares the problem's
    # language with the answer's.
    problems = [str(r.get("prompt", "")) for r in batch.rows]
    out = call_safely(reward, problems, batch.completions, floor=floor, **columns)
    batch.rewards = [floor if _numeric(v) is None else float(v) for v in out]
    batch.parts = {k: list(v) for k, v in out.parts.items()}
    assert len(batch.rewards) == n
    return batch


def part_means(batch: Batch) -> dict[str, float]:
    """Mean of every numeric reward part over the completions where it applies (for logs)."""
    out = {}
    for k, vals in batch.parts.items():
        nums = [x for x in (_numeric(v) for v in vals) if x is not None]
        if nums:
            out[k] = sum(nums) / len(nums)
    return out
