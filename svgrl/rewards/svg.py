"""The SVG reward: format gate, render similarity to a target, efficiency — one TRL-style
callable. Design after "Rendering-Aware RL for Vector Graphics" (RLRF, arXiv 2505.20793).

    format fails (see `svgrl.rewards.svg_grade`)      → floor (0), grading stops
    otherwise  total = format_reward                          (0.1)
                     + similarity_reward · (1 + sim) / 2      (0.9; sim ∈ [−1, 1])
                     + efficiency_reward · r_len              (0.1; r_len ∈ [−1, 1])

sim is the weighted mean of the parts that apply: ``pixel`` (L2 of z-normalised RGB),
``ssim`` (scikit-image semantics), ``edge`` (edge maps, z-normalised L2), ``learned`` (a local
LPIPS/DreamSim/CLIP/DINO module, see `svgrl.rewards.svg_learned`) — see
`svgrl.rewards.svg_similarity` for each. The efficiency term is RLRF's length reward,

    r_len = 1 − (max(0, L − f·L_target) / L_target)²,   f = 0.5,

clipped below at −1 (our addition, so a runaway completion cannot outweigh everything
else); L counts completion tokens, L_target the target's SVG tokens.

**Text-to-SVG without learned weights.** Without a target image and without a text–image
model (CLIP) on disk, nothing here can check that a drawing *means* the prompt. What can be
verified is: validity (the format gate), length (r_len needs a reference length: a
``target_length`` column; otherwise compose with `svgrl.rewards.length`), and **consensus**:
with ``consensus=True`` a row without target scores its mean render similarity to the other
valid completions of its group (rows sharing a ``group`` value, else the same prompt). That
rewards agreement, not correctness: it sharpens the policy towards its own modes and can
reward a shared mistake, so use it as a weak signal next to validity/length, or with a CLIP
checkpoint (``learned_path``) as the real text-image term once one is available. It costs
G(G−1)/2 metric evaluations per group of G (≈ G/2 × a target reward's metric cost), and the
learned term is not applied to consensus rows.

Columns: ``completion_ids`` (token ids; preferred, no XML on this path) or SVG text as the
completion; ``target`` — token ids, SVG text/bytes, a `Drawing`, or an (H, W, 3|4) uint8
image at `size` px; optional ``target_length``, ``group``. Rows whose target cannot be read
get ``None`` (the reward does not apply) and the reason in ``parts["error"]``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from svgrl.bounded import BoundedPool, ItemFailure, ItemLimits
from svgrl.errors import ConfigError
from svgrl.rewards.base import RewardOutput, column
from svgrl.rewards.pools import PoolOwner
from svgrl.rewards.svg_config import SvgRewardConfig
from svgrl.rewards.svg_grade import GradeSpec, run_task
from svgrl.rewards.svg_similarity import EdgeParams
from svgrl.svg.drawing import Drawing
from svgrl.tokens.layout import TokenLayout

_PARTS = ("pixel", "ssim", "edge", "learned")
# Environment of the grading workers (read by glibc / OpenBLAS at process start):
# - one BLAS thread each: the workers already fill the cores, and OpenBLAS's threaded
#   reductions measured 100× slower than single-threaded ones on a busy machine;
# - no mmap for numpy temporaries: glibc serves blocks ≥ 128 kB (one 200 px float image) with
#   fresh mmaps, and their page faults measured more than the arithmetic itself.
_WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "MALLOC_MMAP_THRESHOLD_": str(64 << 20), "MALLOC_TRIM_THRESHOLD_": str(256 << 20),
               "MALLOC_TOP_PAD_": str(16 << 20)}


def efficiency(n_tokens: int, target_tokens: int, fraction: float = 0.5) -> float:
    """RLRF's length reward ``1 − (max(0, L − f·L_t) / L_t)²``, clipped to [−1, 1]."""
    if target_tokens <= 0:
        raise ConfigError(f"target token count {target_tokens} must be positive")
    over = max(0.0, n_tokens - fraction * target_tokens) / target_tokens
    return max(-1.0, 1.0 - over * over)


def _target_key(t: Any) -> Any:
    """A hashable key identifying a target by content (None: not hashable, e.g. an image)."""
    if isinstance(t, str | bytes | Drawing):
        key = (type(t).__name__, t)
    elif isinstance(t, list | tuple):
        key = ("ids", tuple(t))
    elif isinstance(t, np.ndarray) and t.ndim == 1:
        key = ("ids", tuple(t.tolist()))
    else:
        return None
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _payload(t: Any) -> Any:
    if isinstance(t, np.ndarray) and t.ndim == 1:
        return t.tolist()
    if isinstance(t, tuple):
        return list(t)
    return t


def _warm(_: int = 0) -> int:
    import svgrl.rewards.svg_grade  # noqa: F401 — import skia/numpy once per worker
    from svgrl.rewards.svg_similarity import warm

    warm()  # load the compiled metric kernels from numba's cache
    return os.getpid()


class SvgReward(PoolOwner):
    """``reward(prompts, completions, **columns) -> RewardOutput`` with parts ``valid``,
    ``reason``, ``pixel``, ``ssim``, ``edge``, ``learned``, ``similarity``, ``efficiency``,
    ``tokens``, ``target_tokens``, ``error``."""

    __name__ = "svg"

    def __init__(self, config: SvgRewardConfig | None = None, *,
                 layout: TokenLayout | None = None, learned: Any = None):
        self.config = cfg = config or SvgRewardConfig()
        self.layout = layout or TokenLayout(grid=cfg.grid, base_vocab_size=cfg.base_vocab_size,
                                            gradients=cfg.gradients)
        self.learned = learned
        if self.learned is None and cfg.learned_path:
            from svgrl.rewards.svg_learned import LearnedSimilarity

            self.learned = LearnedSimilarity(cfg.learned_path, cfg.learned_preset)
        self.spec = GradeSpec(
            layout=self.layout, size=cfg.size, strict=cfg.strict,
            require_complete=cfg.require_complete, ssim=cfg.ssim_weight > 0,
            edge=cfg.edge_weight > 0, edge_params=EdgeParams(cfg.edge_threshold, cfg.edge_cell),
            keep_images=self.learned is not None)
        super().__init__()
        self.last_stats: dict[str, float] = {}  # tasks and grading CPU seconds of the last call

    # --- worker pool (fresh interpreters: the caller may be a threaded trainer) -----------
    def _get_pool(self) -> BoundedPool:
        if self._pool is None:
            limits = ItemLimits(item_cpu_s=self.config.timeout_s,
                                item_memory_mb=self.config.memory_mb)
            self._pool = BoundedPool("svgrl.rewards.svg_grade:run_task", limits,
                                     self.config.workers, init="svgrl.rewards.svg:_warm",
                                     env=_WORKER_ENV)
            self._pool.start()
        return self._pool

    def _run(self, tasks: list[tuple]) -> list[dict | ItemFailure]:
        """Results per task; an `ItemFailure` for a task over its bounds or raising."""
        if self.config.workers == 0:
            out: list[dict | ItemFailure] = []
            for t in tasks:
                try:
                    out.append(run_task(t))
                except Exception as e:  # noqa: BLE001 — never raise into the loop
                    out.append(ItemFailure("error", f"{type(e).__name__}: {e}"[:300]))
            return out
        with self._lock:
            try:
                return list(self._get_pool().map(tasks))
            except Exception as e:  # noqa: BLE001 — e.g. a worker that cannot start
                self._kill_pool()
                return [ItemFailure("error", f"{type(e).__name__}: {e}"[:300])] * len(tasks)

    # --- the reward ------------------------------------------------------------------------
    def __call__(self, prompts: list[str], completions: list, **columns: Any) -> RewardOutput:
        try:
            return self._grade(prompts, completions, columns)
        except Exception as e:  # noqa: BLE001 — e.g. a column of the wrong length
            n = len(completions)
            return RewardOutput([self.config.floor] * n,
                                {"error": [f"{type(e).__name__}: {e}"[:300]] * n})

    def _grade(self, prompts: list[str], completions: list, columns: dict) -> RewardOutput:
        cfg, n = self.config, len(completions)
        ids = column(columns, "completion_ids", n)
        targets = column(columns, "target", n)
        lengths = column(columns, "target_length", n)
        groups = column(columns, "group", n)
        items = [ids[i] if ids[i] is not None else completions[i] for i in range(n)]

        tasks: list[tuple] = []
        owners: list[list[int]] = []
        by_target: dict[Any, list[int]] = {}
        by_group: dict[Any, list[int]] = {}
        keys: dict[int, Any] = {}  # id(target) -> content key, computed once per object
        for i in range(n):
            t = targets[i]
            if t is not None:
                # by content, not identity: a dataset yields equal but distinct lists for the
                # G rows of a group, and they must share one task (one target render)
                if id(t) not in keys:
                    keys[id(t)] = _target_key(t) or ("object", id(t))
                by_target.setdefault(keys[id(t)], []).append(i)
            elif cfg.consensus:
                key = groups[i] if groups[i] is not None else (prompts[i] if i < len(prompts)
                                                               else None)
                by_group.setdefault(_hashable(key), []).append(i)
            else:
                by_group.setdefault(("format", i // cfg.chunk), []).append(i)
        for tkey, rows in by_target.items():
            t = targets[rows[0]]
            key, payload = (None if tkey[0] == "object" else tkey), _payload(t)
            for k in range(0, len(rows), cfg.chunk):
                part = rows[k:k + cfg.chunk]
                tasks.append(("target", self.spec, key, payload, [items[i] for i in part]))
                owners.append(part)
        for rows in by_group.values():
            kind = "consensus" if cfg.consensus else "format"
            tasks.append((kind, self.spec, [items[i] for i in rows]))
            owners.append(rows)

        results = self._run(tasks)
        self.last_stats = {"tasks": len(tasks), "cpu_s": sum(
            r["cpu_s"] for r in results if not isinstance(r, ItemFailure))}
        parts: dict[str, list] = {k: [None] * n for k in (
            "valid", "reason", *_PARTS, "similarity", "efficiency", "tokens", "target_tokens",
            "error")}
        learned_jobs: list[tuple[int, np.ndarray, np.ndarray, Any]] = []
        for task, rows, res in zip(tasks, owners, results, strict=True):
            if isinstance(res, ItemFailure):
                for i in rows:
                    parts["reason"][i], parts["error"][i] = res.reason, res.message
                continue
            for i, r in zip(rows, res["rows"], strict=True):
                parts["reason"][i] = r["reason"]
                parts["tokens"][i] = r["tokens"]
                for k in ("pixel", "ssim", "edge"):
                    parts[k][i] = r[k]
                tl = lengths[i] if lengths[i] is not None else res["target_tokens"]
                parts["target_tokens"][i] = tl
                if res["target_error"]:
                    parts["error"][i] = res["target_error"]
                if r.get("image") is not None and res.get("target_image") is not None:
                    learned_jobs.append((i, r["image"], res["target_image"], task[2]))
        if learned_jobs:
            self._learned(learned_jobs, parts)

        values: list[float | None] = [None] * n
        weights = {"pixel": cfg.pixel_weight, "ssim": cfg.ssim_weight, "edge": cfg.edge_weight,
                   "learned": cfg.learned_weight}
        for i in range(n):
            reason = parts["reason"][i]
            if reason == "target":
                continue  # the dataset's fault: the reward does not apply to this row
            if reason is not None:
                parts["valid"][i] = False
                values[i] = cfg.floor
                continue
            parts["valid"][i] = True
            total = cfg.format_reward
            avail = [(weights[k], parts[k][i]) for k in _PARTS
                     if parts[k][i] is not None and weights[k] > 0]
            if avail:
                sim = sum(w * s for w, s in avail) / sum(w for w, _ in avail)
                sim = min(1.0, max(-1.0, sim))
                parts["similarity"][i] = sim
                total += cfg.similarity_reward * (1.0 + sim) / 2.0
            tl, tk = parts["target_tokens"][i], parts["tokens"][i]
            if cfg.efficiency_reward > 0 and tl and tk is not None:
                r_len = efficiency(tk, int(tl), cfg.efficiency_fraction)
                parts["efficiency"][i] = r_len
                total += cfg.efficiency_reward * r_len
            values[i] = total
        return RewardOutput(values, parts)

    def _learned(self, jobs: list, parts: dict[str, list]) -> None:
        try:
            sims = self.learned([j[1] for j in jobs], [j[2] for j in jobs],
                                [j[3] if j[3] is not None else id(j[2]) for j in jobs])
        except Exception as e:  # noqa: BLE001 — a broken checkpoint must not stop training
            for i, *_ in jobs:
                parts["error"][i] = f"learned: {type(e).__name__}: {e}"[:300]
            return
        for (i, *_), s in zip(jobs, sims, strict=True):
            parts["learned"][i] = float(s)


def _hashable(key: Any) -> Any:
    try:
        hash(key)
        return key
    except TypeError:
        return repr(key)

