"""GRPO run folder and atomic, exactly-resumable checkpoints.

    RUN/config.json                 resolved GRPOConfig (+ format/version)
    RUN/checkpoints/step_NNNNNN/    model.pt, optim.pt, state.pt (step, sampler, RNG states)
    RUN/checkpoints/LATEST          name of the newest complete checkpoint
    RUN/metrics.jsonl               one JSON object per step (rewritten on resume up to the
                                    checkpoint's step, so a resumed log has no duplicates)
    RUN/eval.json                   held-out mean reward before / after
    RUN/model/                      final weights + tokenizer (``save_pretrained``): load it
                                    with ``--backbone RUN/model`` or ``--init RUN``
    RUN/tb/                         TensorBoard events;  RUN/curves.png  the plot

A checkpoint folder is written under a temporary name, fsynced and renamed into place, and
only then does ``LATEST`` (itself written atomically) point at it: a kill at any moment
leaves the previous checkpoint intact and named.

(The shared `svgrl.train.checkpoint` had not landed when this was written; this module is
RL-specific and small on purpose.)
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import torch

from svgrl.atomic import write_bytes, write_text
from svgrl.errors import ConfigError
from svgrl.jsonfile import read_versioned

FORMAT, VERSION = "svgrl.grpo-run", 1


def _save(obj: Any, path: Path) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    write_bytes(path, buf.getvalue())


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "python": random.getstate()}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])


def write_config(run: Path, config: dict) -> None:
    write_text(run / "config.json", json.dumps(
        {"format": FORMAT, "version": VERSION, "config": config}, indent=1, sort_keys=True))


def read_config(run: Path) -> dict:
    d = read_versioned(run / "config.json", FORMAT, VERSION, "GRPO run config", ConfigError,
                       10_000_000)
    if not isinstance(d.get("config"), dict):
        raise ConfigError(f"{str(run / 'config.json')!r} has no config object")
    return d["config"]


def save_checkpoint(run: Path, step: int, model: Any, optimizer: Any, state: dict, *,
                    keep_last: int = 2) -> Path:
    """Write checkpoint `step` atomically and point LATEST at it; keep the newest
    `keep_last` (0 = all)."""
    root = run / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    name = f"step_{step:06d}"
    final = root / name
    tmp = root / f".tmp-{name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    _save(model.state_dict(), tmp / "model.pt")
    _save(optimizer.state_dict(), tmp / "optim.pt")
    _save({**state, "step": step, "rng": rng_state()}, tmp / "state.pt")
    if final.exists():
        shutil.rmtree(final)
    os.rename(tmp, final)
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    write_text(root / "LATEST", name)
    done = sorted(p for p in root.glob("step_*") if p.is_dir())
    for old in done[:-keep_last] if keep_last > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return final


def latest_checkpoint(run: Path) -> Path | None:
    p = run / "checkpoints" / "LATEST"
    if not p.is_file():
        return None
    ck = run / "checkpoints" / p.read_text(encoding="utf-8").strip()
    if not (ck / "state.pt").is_file():
        raise ConfigError(f"{str(p)!r} names {ck.name!r}, which is incomplete; delete LATEST "
                          "to start over or restore the folder")
    return ck


def load_checkpoint(ck: Path, model: Any, optimizer: Any) -> dict:
    """Restore weights, optimiser and RNG; return the saved loop state."""
    model.load_state_dict(torch.load(ck / "model.pt", weights_only=True))
    optimizer.load_state_dict(torch.load(ck / "optim.pt", weights_only=True))
    state = torch.load(ck / "state.pt", weights_only=False)
    set_rng_state(state["rng"])
    return state


def append_metrics(run: Path, record: dict) -> None:
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")


def read_metrics(run: Path, upto_step: int | None = None) -> list[dict]:
    p = run / "metrics.jsonl"
    if not p.is_file():
        return []
    out = []
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue  # a line cut by a kill mid-write
        if upto_step is None or r.get("step", 0) <= upto_step:
            out.append(r)
    return out


def truncate_metrics(run: Path, upto_step: int) -> list[dict]:
    """Keep the metrics of steps ≤ `upto_step` (a resumed run re-logs the steps after)."""
    rows = read_metrics(run, upto_step)
    write_text(run / "metrics.jsonl", "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    return rows


def export_model(run: Path, model: Any, tokenizer: Any) -> Path:
    """Final weights as a Hugging Face folder, renamed into place atomically."""
    final, tmp = run / "model", run / f".tmp-model-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    old = run / f".old-model-{os.getpid()}"
    if final.exists():
        os.rename(final, old)
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
    return final
