"""`svgrl analyze RUN`: where a run went in weight space, and what moved with it (Magistral,
arXiv 2506.10910 §6: PCA of the checkpoints' weights; reward and output length read off the
trajectory).

    checkpoints   every saved checkpoint of RUN, flattened to one vector θ_k per step s_k
    PCA           X = θ − mean(θ) (n × d, n checkpoints, d parameters); the Gram matrix
                  X Xᵀ (n × n) is summed parameter by parameter in column chunks, so memory
                  stays O(n²) + one chunk however large d is; its top two eigenpairs give
                  the 2-D coordinates (u_k·√λ) and the share of variance each explains
    regression    for each logged signal y (reward, completion length; SFT: loss) averaged
                  over the steps since the previous checkpoint: least squares
                  y ≈ a + b₁·pc1 + b₂·pc2, with R² — how well the 2-D trajectory predicts it
    curves        reward, length, entropy, clip fraction, KL (whatever the run logged)

A PCA needs at least three checkpoints to say anything (two points always lie on a line);
with fewer the report says so and how to keep more (``--save-every``, ``--keep-last 0``).

Checkpoints are read as saved tensors only (safetensors, or ``torch.load(weights_only=True)``),
never by unpickling objects.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from svgrl.errors import ConfigError, ModelLoadError
from svgrl.model.checkpoint import METRICS_FILE
from svgrl.model.checkpoint import read_metrics as read_run_metrics

MIN_CHECKPOINTS = 3
CHUNK = 1 << 20  # parameters per Gram-matrix chunk
# (key in the metrics log, label); the first present of each group is drawn.
SIGNALS = (("reward", "reward"), ("completion_len", "output length (tokens)"),
           ("train/loss", "train loss"))
CURVE_KEYS = ("reward", "completion_len", "entropy", "clip_frac", "kl_to_start", "kl",
              "correct", "similarity", "format_ok", "train/loss", "val/loss_image",
              "val/loss_text")


@dataclass
class Analysis:
    run: str
    steps: list[int]                       # checkpoint steps, ascending
    coords: list[list[float]] = field(default_factory=list)  # (n, 2) PCA coordinates
    explained: list[float] = field(default_factory=list)     # variance share of pc1, pc2
    signals: dict[str, list[float | None]] = field(default_factory=dict)  # per checkpoint
    fits: dict[str, dict[str, float]] = field(default_factory=dict)       # per signal
    note: str = ""                         # why the PCA is missing, and how to get it
    metrics_steps: int = 0                 # logged steps

    def to_json(self) -> dict:
        return {"format": "svgrl.analysis", "version": 1, **self.__dict__}


# ---- reading a run ---------------------------------------------------------------------------


def checkpoint_paths(run: Path) -> list[tuple[int, Path]]:
    """(step, weight files) of every complete checkpoint, ascending. Knows the run layout
    ``checkpoints/step-N/model/*.safetensors`` and GRPO's ``checkpoints/step_N/model.pt``."""
    root = run / "checkpoints"
    out = []
    for d in sorted(root.glob("step*")) if root.is_dir() else []:
        m = re.fullmatch(r"step[-_](\d+)", d.name)
        if not m or not d.is_dir():
            continue
        if list((d / "model").glob("*.safetensors")):
            out.append((int(m.group(1)), d / "model"))
        elif (d / "model.pt").is_file():
            out.append((int(m.group(1)), d / "model.pt"))
    return sorted(out)


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """Float tensors of one checkpoint by name (a model folder's safetensors files, or a
    ``model.pt`` state dict read with ``weights_only``)."""
    try:
        if path.is_dir():
            from safetensors.torch import load_file

            out: dict[str, torch.Tensor] = {}
            for f in sorted(path.glob("*.safetensors")):
                out.update({f"{f.stem}/{k}": v for k, v in load_file(str(f)).items()})
        else:
            out = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt files surface as safetensors / torch / OS errors
        raise ModelLoadError(f"cannot read checkpoint weights {str(path)!r}: "
                             f"{type(e).__name__}: {e}") from e
    return {k: v for k, v in out.items() if isinstance(v, torch.Tensor) and v.is_floating_point()}


def read_metrics(run: Path) -> list[dict]:
    """One record per logged step: ``metrics.jsonl`` when the run has it, else the
    TensorBoard scalars of ``RUN/tb`` (SFT runs), merged by step."""
    if (run / METRICS_FILE).is_file():
        return [r for r in read_run_metrics(run) if isinstance(r.get("step"), int)]
    if not (run / "tb").is_dir():
        return []
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        return []
    acc = EventAccumulator(str(run / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    by_step: dict[int, dict] = {}
    for tag in acc.Tags().get("scalars", []):
        for ev in acc.Scalars(tag):
            by_step.setdefault(ev.step, {"step": ev.step})[tag] = ev.value
    return [by_step[s] for s in sorted(by_step)]


def window_means(metrics: list[dict], steps: list[int], key: str) -> list[float | None]:
    """Mean of `key` over the logged steps in (previous checkpoint, checkpoint] — the
    batches that moved the weights to that checkpoint; the nearest logged step before it
    when the window is empty."""
    out: list[float | None] = []
    prev = -1
    for s in steps:
        vals = [float(r[key]) for r in metrics if prev < r["step"] <= s and _num(r.get(key))]
        if not vals:
            before = [float(r[key]) for r in metrics if r["step"] <= s and _num(r.get(key))]
            vals = before[-1:]
        out.append(sum(vals) / len(vals) if vals else None)
        prev = s
    return out


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# ---- the analysis ----------------------------------------------------------------------------


def gram_matrix(states: list[dict[str, torch.Tensor]]) -> torch.Tensor:
    """(n, n) Gram matrix of the mean-centred, flattened checkpoints (float64). Only the
    parameters every checkpoint has, with one shape, take part."""
    n = len(states)
    keys = [k for k in states[0] if all(k in s and s[k].shape == states[0][k].shape
                                        for s in states)]
    g = torch.zeros(n, n, dtype=torch.float64)
    for k in keys:
        flat = [s[k].reshape(-1) for s in states]
        for lo in range(0, flat[0].numel(), CHUNK):
            x = torch.stack([f[lo:lo + CHUNK] for f in flat]).to(torch.float64)
            x -= x.mean(dim=0, keepdim=True)
            g += x @ x.T
    return g


def pca_2d(gram: torch.Tensor, steps: list[int]) -> tuple[torch.Tensor, list[float]]:
    """2-D coordinates (n, 2) and each component's share of the variance, from the Gram
    matrix of centred points. Signs are chosen so each coordinate grows with the step."""
    vals, vecs = torch.linalg.eigh(gram)  # ascending
    vals, vecs = vals.flip(0).clamp(min=0), vecs.flip(1)
    total = float(vals.sum())
    coords = vecs[:, :2] * vals[:2].sqrt()
    s = torch.tensor(steps, dtype=torch.float64)
    s = s - s.mean()
    for j in range(coords.shape[1]):
        if float((coords[:, j] * s).sum()) < 0:
            coords[:, j] = -coords[:, j]
    explained = [float(v) / total if total > 0 else 0.0 for v in vals[:2]]
    return coords, explained


def fit_plane(coords: torch.Tensor, y: list[float | None]) -> dict[str, float] | None:
    """Least squares y ≈ a + b₁·pc1 + b₂·pc2 over the checkpoints where y is known; R² and
    the slope along each component (per unit of its coordinate)."""
    rows = [i for i, v in enumerate(y) if v is not None]
    if len(rows) < 3:
        return None
    x = torch.cat([torch.ones(len(rows), 1, dtype=torch.float64),
                   coords[rows].to(torch.float64)], dim=1)
    t = torch.tensor([y[i] for i in rows], dtype=torch.float64)
    beta = torch.linalg.lstsq(x, t[:, None], driver="gelsd").solution[:, 0]
    resid = t - x @ beta
    ss_tot = float(((t - t.mean()) ** 2).sum())
    r2 = 1 - float((resid ** 2).sum()) / ss_tot if ss_tot > 0 else 0.0
    return {"intercept": float(beta[0]), "slope_pc1": float(beta[1]),
            "slope_pc2": float(beta[2]) if len(beta) > 2 else 0.0, "r2": r2, "n": len(rows)}


def analyze_run(run: str | Path) -> Analysis:
    """Read RUN's checkpoints and metrics; the PCA trajectory and its regressions."""
    root = Path(run)
    if not root.is_dir():
        raise ConfigError(f"{str(run)!r} is not a run folder (no such directory)")
    cks = checkpoint_paths(root)
    metrics = read_metrics(root)
    if not cks and not metrics:
        raise ConfigError(f"{str(run)!r} holds no checkpoints and no metrics; give a folder "
                          "written by `svgrl train sft` or `svgrl train grpo`")
    steps = [s for s, _ in cks]
    a = Analysis(run=str(run), steps=steps, metrics_steps=len(metrics))
    for key, _ in SIGNALS:
        if any(_num(r.get(key)) for r in metrics):
            a.signals[key] = window_means(metrics, steps, key)
    if len(cks) < MIN_CHECKPOINTS:
        a.note = (f"{run} has {len(cks)} checkpoint(s); a weight-space PCA needs at least "
                  f"{MIN_CHECKPOINTS}. Train with more checkpoints kept, e.g. "
                  f"`--save-every {_suggest_every(metrics)} --keep-last 0` (save every N "
                  "steps, delete none), then rerun `svgrl analyze`.")
        return a
    states = [load_weights(p) for _, p in cks]
    gram = gram_matrix(states)
    del states
    if float(gram.trace()) <= 0:
        a.note = (f"the weights of {run} are identical at every checkpoint: training made no "
                  "update (look for steps whose groups were all filtered, or a learning rate "
                  "of 0)")
        return a
    coords, a.explained = pca_2d(gram, steps)
    a.coords = [[float(v) for v in row] for row in coords]
    for key, ys in a.signals.items():
        f = fit_plane(coords, ys)
        if f is not None:
            a.fits[key] = f
    return a


def _suggest_every(metrics: list[dict]) -> int:
    last = max((r["step"] for r in metrics), default=0)
    return max(1, last // 10) if last else 5
