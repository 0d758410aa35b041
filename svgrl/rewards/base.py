"""The reward interface (TRL style) and weighted composition.

A reward is a plain callable::

    reward(prompts: list[str], completions: list[str], **columns) -> list[float | None]

one value per completion, ``None`` where the reward does not apply (e.g. a code reward on a
math row). Dataset columns arrive as keyword lists aligned with `completions`; token ids of the
completions, when the caller has them, arrive as ``completion_ids`` (list of list of int).

Rewards that have parts worth logging return a :class:`RewardOutput` instead — it *is* a list
of floats (so TRL-style callers see the same thing) and carries ``parts``: named
per-completion lists (sub-scores, failure reasons). A broken completion scores the floor and
never raises into the training loop: :func:`per_completion` catches per item and records the
reason in ``parts["error"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

RewardFn = Callable[..., Sequence[float | None]]


class RewardOutput(list):
    """Per-completion values (a ``list[float | None]``) plus named per-completion `parts`."""

    def __init__(self, values: Sequence[float | None], parts: Mapping[str, Sequence] | None = None):
        super().__init__(values)
        self.parts: dict[str, list] = {k: list(v) for k, v in (parts or {}).items()}
        for k, v in self.parts.items():
            if len(v) != len(self):
                raise ValueError(f"part {k!r} has {len(v)} values for {len(self)} completions")


def column(columns: Mapping[str, Any], name: str, n: int, default: Any = None) -> list:
    """Column `name` as a list of length `n` (``default`` repeated when absent)."""
    values = columns.get(name)
    if values is None:
        return [default] * n
    values = list(values)
    if len(values) != n:
        raise ValueError(f"column {name!r} has {len(values)} rows for {n} completions")
    return values


def per_completion(
    fn: Callable[..., float | None | tuple[float | None, dict[str, Any]]],
    prompts: Sequence[str],
    completions: Sequence[str],
    columns: Mapping[str, Any],
    *,
    floor: float = 0.0,
) -> RewardOutput:
    """Apply ``fn(prompt, completion, **row)`` to each completion, where ``row`` holds that
    completion's value of every column. `fn` returns a value or ``(value, parts)``. Any exception
    scores `floor` and its type and message go to ``parts["error"]``."""
    n = len(completions)
    cols = {k: column(columns, k, n) for k in columns}
    values: list[float | None] = []
    parts: dict[str, list] = {"error": [None] * n}
    for i, (p, c) in enumerate(zip(prompts, completions, strict=True)):
        row = {k: v[i] for k, v in cols.items()}
        try:
            out = fn(p, c, **row)
        except Exception as e:  # noqa: BLE001 — a reward must never raise into the loop
            values.append(floor)
            parts["error"][i] = f"{type(e).__name__}: {e}"[:300]
            continue
        value, extra = out if isinstance(out, tuple) else (out, {})
        values.append(value)
        for k, v in extra.items():
            parts.setdefault(k, [None] * n)[i] = v
    return RewardOutput(values, parts)


def call_safely(fn: RewardFn, prompts: Sequence[str], completions: Sequence[str], *,
                floor: float = 0.0, **columns: Any) -> RewardOutput:
    """Call a whole-batch reward; if it raises (or returns the wrong count), every completion
    scores `floor` and the reason is recorded — the loop carries on."""
    n = len(completions)
    try:
        out = fn(list(prompts), list(completions), **columns)
        if len(out) != n:
            raise ValueError(f"returned {len(out)} values for {n} completions")
    except Exception as e:  # noqa: BLE001
        return RewardOutput([floor] * n, {"error": [f"{type(e).__name__}: {e}"[:300]] * n})
    parts = getattr(out, "parts", {})
    return RewardOutput(list(out), parts)


def combine(
    rewards: Mapping[str, tuple[RewardFn, float]],
    prompts: Sequence[str],
    completions: Sequence[str],
    **columns: Any,
) -> RewardOutput:
    """Weighted sum of rewards: ``total_i = Σ_name weight · reward_name_i`` over the rewards
    that apply to completion i (``None`` is skipped, as TRL does); ``None`` when none apply.

    Parts: ``"<name>"`` holds each reward's raw values and ``"<name>/<part>"`` its own parts.
    """
    n = len(completions)
    totals: list[float | None] = [None] * n
    parts: dict[str, list] = {}
    for name, (fn, weight) in rewards.items():
        out = call_safely(fn, prompts, completions, **columns)
        parts[name] = list(out)
        for k, v in out.parts.items():
            parts[f"{name}/{k}"] = v
        for i, v in enumerate(out):
            if v is not None:
                totals[i] = (totals[i] or 0.0) + weight * float(v)
    return RewardOutput(totals, parts)
