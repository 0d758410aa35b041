"""Greedy collation of sequences into token-budgeted microbatches (Magistral §3, "Trainer
optimization": sort by length, longest first, so a microbatch holds sequences of similar length
and little padding).

A microbatch is padded to its longest sequence, so its cost is ``len(mb) * max_len(mb)``
tokens; that padded size is what must fit the budget (it is what memory and compute see).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass

from svgrl.errors import ConfigError, TensorError


def _check_lengths(lengths: Sequence[int]) -> list[int]:
    out = []
    for i, n in enumerate(lengths):
        try:
            if isinstance(n, bool):
                raise TypeError
            n = operator.index(n)
        except TypeError:
            raise TensorError(f"lengths[{i}] must be an int, got {n!r}") from None
        if n < 1:
            raise TensorError(f"lengths[{i}] must be ≥ 1, got {n}")
        out.append(n)
    return out


def greedy_microbatches(lengths: Sequence[int], token_budget: int) -> list[list[int]]:
    """Indices of `lengths` grouped into microbatches of padded size ≤ `token_budget`.

    Sequences are visited longest first (ties by index, so the result is deterministic); each
    goes into the first open microbatch with room, else opens a new one. Because a
    microbatch's first member is its longest, "room" means ``(count + 1) * first_len ≤
    budget``. Each returned list is in visiting order (longest first).
    """
    ls = _check_lengths(lengths)
    if token_budget < 1:
        raise ConfigError(f"token_budget must be ≥ 1, got {token_budget}")
    if ls and max(ls) > token_budget:
        raise ConfigError(
            f"token_budget {token_budget} is smaller than the longest sequence ({max(ls)} "
            f"tokens); raise it to at least prompt length + max completion length"
        )
    order = sorted(range(len(ls)), key=lambda i: (-ls[i], i))
    batches: list[list[int]] = []
    widths: list[int] = []  # padded width of each microbatch = its first (longest) length
    for i in order:
        for b, w in enumerate(widths):
            if (len(batches[b]) + 1) * w <= token_budget:
                batches[b].append(i)
                break
        else:
            batches.append([i])
            widths.append(ls[i])
    return batches


def naive_microbatches(n: int, batch_size: int) -> list[list[int]]:
    """Fixed-size batches in the original order: what a trainer without collation does."""
    if batch_size < 1:
        raise ConfigError(f"batch_size must be ≥ 1, got {batch_size}")
    return [list(range(s, min(s + batch_size, n))) for s in range(0, n, batch_size)]


def padded_tokens(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> int:
    """Σ over microbatches of len(mb) × max length in mb."""
    return sum(len(b) * max(lengths[i] for i in b) for b in batches if b)


@dataclass(frozen=True)
class PaddingReport:
    real_tokens: int
    greedy_padded: int
    naive_padded: int
    greedy_microbatches: int
    naive_microbatches: int

    @property
    def padding_saved(self) -> int:
        """Padding tokens greedy collation avoids compared with naive batching."""
        return self.naive_padded - self.greedy_padded

    def __str__(self) -> str:
        def pad(p: int) -> str:
            return f"{p - self.real_tokens} pad ({(p - self.real_tokens) / max(p, 1):.1%})"

        return (
            f"collation: {self.real_tokens} tokens; greedy {self.greedy_microbatches} "
            f"microbatches, {pad(self.greedy_padded)}; naive {self.naive_microbatches} "
            f"microbatches, {pad(self.naive_padded)}; saved {self.padding_saved} padding tokens"
        )


def padding_report(
    lengths: Sequence[int], token_budget: int, naive_batch_size: int | None = None
) -> PaddingReport:
    """Greedy collation against naive fixed-size batching of the same sequences in their
    original order.

    The naive batch size defaults to ``ceil(n / number of greedy microbatches)``: about the
    same number of forward passes, so the comparison is padding at equal step count. A
    trainer with a fixed microbatch size passes its own.
    """
    ls = _check_lengths(lengths)
    greedy = greedy_microbatches(ls, token_budget)
    if naive_batch_size is None:
        naive_batch_size = max(1, math.ceil(len(ls) / max(len(greedy), 1)))
    naive = naive_microbatches(len(ls), naive_batch_size)
    return PaddingReport(
        real_tokens=sum(ls),
        greedy_padded=padded_tokens(ls, greedy),
        naive_padded=padded_tokens(ls, naive),
        greedy_microbatches=len(greedy),
        naive_microbatches=len(naive),
    )
