"""Magistral's format check (arXiv 2506.10910 §2.2).

A completion is well formatted when:
  * (thinking on) it starts with ``<think>``, and ``<think>`` and ``</think>`` each occur exactly
    once, in that order — the thoughts are what lies between them, the answer what follows;
  * math: the answer (after ``</think>``) contains ``\\boxed{...}``;
  * code: the answer contains a fenced code block with a language tag (```` ```python ````).

Any violation gives a total reward of 0 and grading stops (§2.2); see `svgrl.rewards.magistral`.
"""

from __future__ import annotations

from dataclasses import dataclass

from svgrl.rewards.code import first_code_block
from svgrl.rewards.math import last_boxed

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


@dataclass(frozen=True)
class Parsed:
    """A completion split into thoughts and answer; `error` names the first format violation
    (``None`` when the format holds)."""

    thoughts: str
    answer: str
    error: str | None = None


def split_thoughts(completion: str, *, thinking: bool = True) -> Parsed:
    """Split off the ``<think>…</think>`` block; check the tags' count and position."""
    if not thinking:
        if THINK_OPEN in completion or THINK_CLOSE in completion:
            return Parsed("", completion, "think_tag_when_thinking_off")
        return Parsed("", completion)
    # Leading whitespace is tolerated: chat templates often leave a newline before the tag.
    body = completion.lstrip()
    if not body.startswith(THINK_OPEN):
        return Parsed("", completion, "no_think_at_start")
    if body.count(THINK_OPEN) != 1:
        return Parsed("", completion, "think_open_count")
    n_close = body.count(THINK_CLOSE)
    if n_close != 1:
        return Parsed("", completion, "no_think_close" if n_close == 0 else "think_close_count")
    thoughts, answer = body[len(THINK_OPEN) :].split(THINK_CLOSE, 1)
    return Parsed(thoughts, answer)


def check_format(completion: str, task: str, *, thinking: bool = True) -> Parsed:
    """Parse and check `completion` for `task` (``"math"``, ``"code"`` or anything else, which
    only checks the thinking tags)."""
    parsed = split_thoughts(completion, thinking=thinking)
    if parsed.error:
        return parsed
    if task == "math" and last_boxed(parsed.answer) is None:
        return Parsed(parsed.thoughts, parsed.answer, "no_boxed_answer")
    if task == "code":
        block = first_code_block(parsed.answer)
        if block is None:
            return Parsed(parsed.thoughts, parsed.answer, "no_code_block")
        if not block[0]:
            return Parsed(parsed.thoughts, parsed.answer, "code_block_without_language")
    return parsed
