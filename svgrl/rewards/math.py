"""Math correctness (Magistral §2.2): the last ``\\boxed{}`` of the answer, checked for symbolic
equivalence with the reference by math-verify.

math-verify bounds parsing and verification with ``signal.alarm``, which only works on a
process's main thread — and an RL loop calls rewards from wherever it likes. So verification
runs in a pool of worker processes (each task runs on the worker's main thread, where the
alarms work), and the caller additionally enforces a hard deadline on the whole batch: if a
worker hangs in C code the alarm cannot interrupt, the pool is killed and rebuilt and the
unfinished items score 0 with reason ``"timeout"``. Workers are started once and reused.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import multiprocessing as mp
import os
import re
import time
from collections.abc import Sequence
from typing import Any

from svgrl.errors import ConfigError
from svgrl.rewards.base import RewardOutput, column
from svgrl.rewards.pools import PoolOwner


def last_boxed(text: str) -> str | None:
    """Content of the last complete ``\\boxed{...}`` (or ``\\fbox{...}``) in `text`, braces
    balanced; an unterminated box is skipped. ``None`` if there is none. Only the last 8
    occurrences are tried, so hostile input stays linear."""
    starts = [m.end() for m in re.finditer(r"\\(?:boxed|fbox)\s*\{", text)][-8:]
    for j in reversed(starts):
        depth = 1
        for k in range(j, len(text)):
            ch = text[k]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    return text[j:k]
    return None


def _verify_one(gold: str, answer: str, timeout_s: int) -> tuple[bool, str]:
    """Runs in a worker process, on its main thread (so math-verify's alarms work)."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    configs = [LatexExtractionConfig(), ExprExtractionConfig()]
    gold_text = gold if "\\boxed" in gold or "$" in gold else f"${gold}$"
    g = parse(gold_text, extraction_config=configs, parsing_timeout=timeout_s)
    if not g:
        return False, "gold_unparsed"
    p = parse(f"$\\boxed{{{answer}}}$", extraction_config=configs, parsing_timeout=timeout_s)
    if not p:
        return False, "answer_unparsed"
    ok = verify(g, p, timeout_seconds=timeout_s)
    return bool(ok), "equal" if ok else "not_equal"


def _warm(_: int = 0) -> int:
    import math_verify  # noqa: F401 — import sympy & co once per worker

    return os.getpid()


class MathVerifier(PoolOwner):
    """A reusable pool of math-verify workers with hard deadlines."""

    def __init__(self, workers: int = 2, timeout_s: int = 5, hard_timeout_s: float = 20.0):
        if workers < 1 or timeout_s < 1 or hard_timeout_s <= 0:
            raise ConfigError(
                f"MathVerifier(workers={workers}, timeout_s={timeout_s}, "
                f"hard_timeout_s={hard_timeout_s}): use workers ≥ 1, timeout_s ≥ 1, hard > 0"
            )
        self.workers, self.timeout_s, self.hard_timeout_s = workers, timeout_s, hard_timeout_s
        super().__init__()

    def _get_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            # spawn: the caller may be a threaded trainer; forking it is unsafe.
            self._pool = cf.ProcessPoolExecutor(
                self.workers, mp_context=mp.get_context("spawn"), initializer=_warm
            )
            list(self._pool.map(_warm, range(self.workers)))
        return self._pool

    def verify_batch(self, golds: Sequence[str], answers: Sequence[str]) -> list[tuple[bool, str]]:
        """``(correct, reason)`` per pair. Never raises for bad input; a batch that outlives
        ``hard_timeout_s × ceil(n / workers)`` is cut off."""
        n = len(answers)
        results: list[tuple[bool, str]] = [(False, "timeout")] * n
        if n == 0:
            return results
        with self._lock:
            pool = self._get_pool()
            futs = {
                pool.submit(_verify_one, str(g), str(a), self.timeout_s): i
                for i, (g, a) in enumerate(zip(golds, answers, strict=True))
            }
            deadline = time.monotonic() + self.hard_timeout_s * (-(-n // self.workers))
            done, pending = cf.wait(futs, timeout=max(0.0, deadline - time.monotonic()))
            for f in done:
                try:
                    results[futs[f]] = f.result()
                except Exception as e:  # noqa: BLE001 — e.g. a worker died
                    results[futs[f]] = (False, f"error: {type(e).__name__}")
            if pending:
                self._kill_pool()
        return results


@functools.cache  # one shared pool per process, started on first use
def default_verifier() -> MathVerifier:
    return MathVerifier()


def math_correctness(
    prompts: Sequence[str],
    answers: Sequence[str | None],
    golds: Sequence[Any],
    verifier: MathVerifier | None = None,
) -> RewardOutput:
    """1.0 / 0.0 per answer text (the part after the thoughts); ``None`` where there is no gold.
    Parts: ``extracted`` (the boxed content) and ``reason``."""
    n = len(answers)
    values: list[float | None] = [None] * n
    extracted: list[str | None] = [None] * n
    reasons: list[str | None] = [None] * n
    todo = []
    for i, (a, g) in enumerate(zip(answers, golds, strict=True)):
        if g is None:
            continue
        box = last_boxed(a or "")
        extracted[i] = box
        if box is None:
            values[i], reasons[i] = 0.0, "no_boxed"
        elif len(box) > 2000:
            values[i], reasons[i] = 0.0, "answer_too_long"
        else:
            todo.append((i, str(g), box))
    if todo:
        checked = (verifier or default_verifier()).verify_batch(
            [g for _, g, _ in todo], [b for _, _, b in todo]
        )
        for (i, _, _), (ok, why) in zip(todo, checked, strict=True):
            values[i], reasons[i] = (1.0 if ok else 0.0), why
    return RewardOutput(values, {"extracted": extracted, "reason": reasons})


def math_reward(prompts: list[str], completions: list[str], **columns: Any) -> RewardOutput:
    """TRL-style math reward on raw completions (no format gate): the last ``\\boxed{}`` of the
    completion against column ``answer``."""
    golds = column(columns, "answer", len(completions))
    return math_correctness(prompts, completions, golds)
