"""Magistral's soft length penalty (arXiv 2506.10910 §2.2, after DAPO's overlong shaping):

    r_length(|y|) = 0                                       if |y| ≤ l_max − l_cache
                  = −0.1 · (|y| − (l_max − l_cache)) / l_cache  if l_max − l_cache < |y| ≤ l_max
                  = −0.1                                    if |y| > l_max

|y| counts completion *tokens*.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from svgrl.errors import ConfigError
from svgrl.rewards.base import RewardOutput, column


def length_penalty(n_tokens: int, l_max: int, l_cache: int, penalty: float = 0.1) -> float:
    if not 0 < l_cache <= l_max:
        raise ConfigError(f"l_cache={l_cache}, l_max={l_max}: need 0 < l_cache ≤ l_max")
    start = l_max - l_cache
    if n_tokens <= start:
        return 0.0
    if n_tokens > l_max:
        return -penalty
    return -penalty * (n_tokens - start) / l_cache


def completion_lengths(completions: Sequence[str], columns: dict[str, Any]) -> list[int | None]:
    """Token count per completion from ``completion_ids`` (or an explicit
    ``completion_lengths`` column); ``None`` where neither is given — characters are not tokens,
    so we do not guess."""
    n = len(completions)
    ids = column(columns, "completion_ids", n)
    lens = column(columns, "completion_lengths", n)
    return [len(i) if i is not None else (int(k) if k is not None else None)
            for i, k in zip(ids, lens, strict=True)]


def make_length_reward(l_max: int, l_cache: int, penalty: float = 0.1):
    """A TRL-style reward: the penalty per completion, ``None`` where the length is unknown."""
    if not 0 < l_cache <= l_max:
        raise ConfigError(f"l_cache={l_cache}, l_max={l_max}: need 0 < l_cache ≤ l_max")

    def length_reward(prompts: list[str], completions: list[str], **columns: Any) -> RewardOutput:
        lens = completion_lengths(completions, columns)
        values = [None if k is None else length_penalty(k, l_max, l_cache, penalty) for k in lens]
        return RewardOutput(values, {"tokens": lens})

    return length_reward
