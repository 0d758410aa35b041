"""Curriculum: length stages (in `GRPOConfig.stages`) and the difficulty filter.

Difficulty filter (Magistral §5.1 data curation): sample k answers per problem with the
*initial* model and keep a problem only if it is informative for GRPO:

- drop **always solved** (every group would be all-1: zero advantage, filtered anyway),
- drop **never solved** (all-0: same, and no signal to learn from),
- drop **majority agrees on a wrong answer** (for math: more than half of the k extracted
  ``\\boxed{}`` answers are the same wrong value — the problem or its gold is likely wrong,
  or the model is confidently wrong in a way RL rarely fixes).

"Solved" is the ``correct`` reward part when the reward has one (math, code), else a reward
above `solved_threshold` (SVG). The majority rule needs extracted answers, so it applies to
math only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from svgrl.rewards.math import last_boxed
from svgrl.rl.rollout import Batch


@dataclass(frozen=True)
class FilterReport:
    examined: int
    kept: int
    always_solved: int
    never_solved: int
    majority_wrong: int

    def __str__(self) -> str:
        return (f"difficulty filter: {self.kept}/{self.examined} kept; dropped "
                f"{self.always_solved} always-solved, {self.never_solved} never-solved, "
                f"{self.majority_wrong} majority-wrong")


def classify(answers: list[str | None], solved: list[bool], gold: str | None) -> str:
    """``"keep"``, ``"always"``, ``"never"`` or ``"majority_wrong"`` for one problem's k
    samples (`answers`: extracted final answers, ``None`` when unavailable)."""
    k = len(solved)
    if all(solved):
        return "always"
    if not any(solved):
        return "never"
    wrong = [a.strip() for a, ok in zip(answers, solved, strict=True) if a is not None and not ok]
    if gold is not None and wrong:
        value, count = Counter(wrong).most_common(1)[0]
        if count > k / 2 and value != str(gold).strip():
            return "majority_wrong"
    return "keep"


def difficulty_filter(rows: list[dict], scored: Batch, *, solved_threshold: float = 0.5
                      ) -> tuple[list[dict], FilterReport]:
    """Keep the informative rows; `scored` holds k verified samples per row, ``group`` = row
    index (as `svgrl.rl.rollout.generate` makes them)."""
    correct = scored.parts.get("correct")
    per: dict[int, tuple[list, list]] = {}
    for i, g in enumerate(scored.group):
        ok = (bool(correct[i]) if correct is not None and correct[i] is not None
              else scored.rewards[i] > solved_threshold)
        ans = last_boxed(scored.completions[i]) if scored.rows[i].get("task") == "math" else None
        a, s = per.setdefault(g, ([], []))
        a.append(ans)
        s.append(ok)
    counts: Counter = Counter()
    kept = []
    for g, (answers, solved) in sorted(per.items()):
        verdict = classify(answers, solved, rows[g].get("answer"))
        counts[verdict] += 1
        if verdict == "keep":
            kept.append(rows[g])
    return kept, FilterReport(len(per), len(kept), counts["always"], counts["never"],
                              counts["majority_wrong"])


def run_filter(model: Any, tokenizer: Any, rows: list[dict], prompts: list[str], reward: Any,
               *, k: int, max_new_tokens: int, temperature: float, generation_batch: int,
               max_prompt_length: int, response_prefix: str = ""
               ) -> tuple[list[dict], FilterReport]:
    """Sample k answers per row with `model`, verify, and filter."""
    from svgrl.rl.rollout import generate
    from svgrl.rl.verify import verify

    batch = generate(model, tokenizer, prompts, rows, group_size=k,
                     max_new_tokens=max_new_tokens, temperature=temperature,
                     generation_batch=generation_batch, max_prompt_length=max_prompt_length,
                     response_prefix=response_prefix)
    return difficulty_filter(rows, verify(batch, reward))
