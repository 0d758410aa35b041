"""Magistral's reward for math and code (arXiv 2506.10910 §2.2), as one TRL-style callable.

    format fails                → total 0, grading stops
    otherwise   total = 0.1 (format)
                      + 0.9 · correct            (math: last \\boxed{} ≡ gold; code: all tests pass)
                      + r_length(|y|)            (0 … −0.1, see `svgrl.rewards.length`)
                      + 0.1 · language consistent (problem, thoughts, answer share one language)

Per-row task: column ``task`` (``"math"`` / ``"code"``) when given, else ``math`` if the row has
an ``answer``, ``code`` if it has ``tests`` or ``test``+``entry_point``. Rows that are neither
get ``None`` (the reward does not apply).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from svgrl.errors import ConfigError
from svgrl.rewards.base import RewardOutput, column
from svgrl.rewards.code import CodeVerifier, code_correctness
from svgrl.rewards.format import check_format
from svgrl.rewards.language import language_consistent
from svgrl.rewards.length import completion_lengths, length_penalty
from svgrl.rewards.math import MathVerifier, math_correctness


@dataclass
class MagistralRewardConfig:
    """Reward weights and length budget. Weights: Magistral §2.2. Length: the paper grows the
    penalty-free length l_max − l_cache over training (16k → 24k → 32k, §4); we start at 16k.
    l_cache = 4096 follows DAPO's overlong shaping (arXiv 2503.14476), which §2.2 adapts."""

    thinking: bool = field(default=True, metadata={"help": "require <think>…</think> at start"})
    format_reward: float = field(default=0.1, metadata={"help": "reward for a correct format"})
    correctness_reward: float = field(default=0.9, metadata={"help": "reward for a right answer"})
    length_penalty: float = field(default=0.1, metadata={"help": "maximum length penalty"})
    l_max: int = field(default=20480, metadata={"help": "completion tokens where the full "
                                                         "length penalty is reached"})
    l_cache: int = field(default=4096, metadata={"help": "width of the linear penalty ramp "
                                                          "(tokens) before l_max"})
    language_reward: float = field(default=0.1, metadata={"help": "reward when problem, "
                                                                   "thoughts and answer share "
                                                                   "a language (0 disables)"})

    def __post_init__(self) -> None:
        if not 0 < self.l_cache <= self.l_max:
            raise ConfigError(
                f"l_cache={self.l_cache}, l_max={self.l_max}: need 0 < l_cache ≤ l_max "
                "(the penalty ramps from l_max − l_cache to l_max)"
            )
        for name in ("format_reward", "correctness_reward", "length_penalty", "language_reward"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)}: use a value ≥ 0")


def _task(row: int, tasks: list, answers: list, tests: list, test_src: list) -> str | None:
    if tasks[row] is not None:
        return str(tasks[row])
    if answers[row] is not None:
        return "math"
    if tests[row] is not None or test_src[row] is not None:
        return "code"
    return None


class MagistralReward:
    """``reward(prompts, completions, **columns) -> RewardOutput`` with parts ``format``
    (violation or ``None``), ``correct``, ``length``, ``language``, ``reason``."""

    __name__ = "magistral"

    def __init__(
        self,
        config: MagistralRewardConfig | None = None,
        math_verifier: MathVerifier | None = None,
        code_verifier: CodeVerifier | None = None,
    ):
        self.config = config or MagistralRewardConfig()
        self.math_verifier = math_verifier
        self.code_verifier = code_verifier

    def __call__(self, prompts: list[str], completions: list[str], **columns: Any) -> RewardOutput:
        cfg, n = self.config, len(completions)
        tasks = column(columns, "task", n)
        answers = column(columns, "answer", n)
        tests, test_src = column(columns, "tests", n), column(columns, "test", n)
        lengths = completion_lengths(completions, columns)
        values: list[float | None] = [None] * n
        parts: dict[str, list] = {k: [None] * n for k in
                                  ("format", "correct", "length", "language", "reason")}
        parsed = {}
        for i, c in enumerate(completions):
            task = _task(i, tasks, answers, tests, test_src)
            if task is None:
                continue
            try:
                p = check_format(c if isinstance(c, str) else "", task, thinking=cfg.thinking)
            except Exception as e:  # noqa: BLE001 — never raise into the loop
                p = None
                parts["format"][i] = f"error: {type(e).__name__}"
            if p is None or p.error:
                values[i] = 0.0  # §2.2: a format failure gives 0 and stops grading
                parts["format"][i] = parts["format"][i] or p.error
                continue
            parsed[i] = (task, p)

        correct: dict[int, float | None] = {}
        for task in ("math", "code"):
            rows = [i for i, (t, _) in parsed.items() if t == task]
            if not rows:
                continue
            sub_prompts = [prompts[i] for i in rows]
            sub_answers = [parsed[i][1].answer for i in rows]
            if task == "math":
                out = math_correctness(sub_prompts, sub_answers, [answers[i] for i in rows],
                                       self.math_verifier)
            else:
                sub_cols = {k: [column(columns, k, n)[i] for i in rows]
                            for k in ("tests", "test", "entry_point", "code_prompt")}
                out = code_correctness(sub_prompts, sub_answers, sub_cols, self.code_verifier)
            for j, i in enumerate(rows):
                correct[i] = out[j]
                parts["reason"][i] = out.parts["reason"][j]

        for i, (_, p) in parsed.items():
            ok = correct.get(i) or 0.0
            pen = (length_penalty(lengths[i], cfg.l_max, cfg.l_cache, cfg.length_penalty)
                   if lengths[i] is not None else 0.0)
            lang = 0.0
            if cfg.language_reward > 0:
                try:
                    same, _ = language_consistent(prompts[i], p.thoughts, p.answer)
                except Exception:  # noqa: BLE001
                    same = False
                lang = cfg.language_reward if same else 0.0
            values[i] = cfg.format_reward + cfg.correctness_reward * ok + pen + lang
            parts["correct"][i], parts["length"][i], parts["language"][i] = ok, pen, lang
        return RewardOutput(values, parts)
