"""Data-parallel SFT: 2 CPU processes with gloo (DDP, launched by torchrun) give the loss of
one process at the same global batch, step for step, and a distributed run resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers.runs import TINY
from safetensors.torch import load_file

from svgrl.errors import ConfigError
from svgrl.model.backbones import BackboneConfig
from svgrl.model.checkpoint import load_state, read_metrics
from svgrl.train.distributed import shard
from svgrl.train.sft import SFTConfig, train_sft

ROOT = Path(__file__).resolve().parents[2]
# Constant learning rate (no warm-up, floor = peak): a run extended by --resume follows the
# schedule of an uninterrupted one. Text and image tasks both on: the vision prefix is
# unused on some micro-batches, which DDP must handle as one process does.
SETTINGS = dict(batch_size=2, eval_every=0, eval_examples=4, max_tokens=512, warmup_steps=0,
                min_lr_ratio=1.0, lr=3e-3, threads=1, log_every=1, progress=False)
TOL = 1e-5


def _flags(**kw) -> list[str]:
    out = []
    for k, v in {**SETTINGS, **TINY, **kw}.items():
        if isinstance(v, bool):
            out.append(f"--{'' if v else 'no-'}{k.replace('_', '-')}")
        else:
            out += [f"--{k.replace('_', '-')}", str(v)]
    return out


def _run(cmd: list[str], code: int = 0) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert done.returncode == code, done.stderr[-3000:]
    return done.stderr


def _weights(run: Path) -> dict[str, torch.Tensor]:
    latest = json.loads((run / "latest.json").read_text())["checkpoint"]
    return load_file(run / latest / "model" / "model.safetensors")


def test_shard_gives_each_rank_its_slice_of_the_global_order():
    step = list(range(8))  # grad_accum 4 × world 2
    parts = [shard(step, r, 2) for r in range(2)]
    assert parts == [[0, 2, 4, 6], [1, 3, 5, 7]]
    assert sorted(parts[0] + parts[1]) == step
    assert shard(step, 0, 1) == step


def test_nproc_from_python_says_to_use_torchrun(tabler_data, tmp_path):
    cfg = SFTConfig(data=tabler_data, out=str(tmp_path / "r"), nproc=2, **SETTINGS)
    with pytest.raises(ConfigError, match="torchrun"):
        train_sft(cfg, BackboneConfig(**TINY), log=lambda m: None)


@pytest.mark.slow
def test_two_gloo_processes_give_the_loss_of_one_at_the_same_global_batch(tabler_data,
                                                                          tmp_path):
    # one process: 2 micro-batches of 2 per step (global batch 4), 4 steps
    one = tmp_path / "one"
    train_sft(SFTConfig(data=tabler_data, out=str(one), max_steps=4, grad_accum=2,
                        save_every=4, **SETTINGS), BackboneConfig(**TINY), log=lambda m: None)
    # two processes × 1 micro-batch of 2 (global batch 4): 2 steps through `--nproc 2`
    # (torchrun's agent in the svgrl process), then --resume to step 4 under torchrun itself
    two = tmp_path / "two"
    data = ["--data", tabler_data, "--out", str(two)]
    _run([sys.executable, "-m", "svgrl.cli", "train", "sft", *data, "--nproc", "2",
          *_flags(max_steps=2, grad_accum=1, save_every=1)])
    assert json.loads((two / "run.json").read_text())["config"]["dist"] == {"world_size": 2}
    state = load_state(two / "checkpoints" / "step-00000002")
    assert len(state["rng_ranks"]) == 2
    assert not torch.equal(state["rng_ranks"][0]["torch"], state["rng_ranks"][1]["torch"])
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
          "2", "-m", "svgrl.cli", "train", "sft", "--resume", "--out", str(two),
          "--max-steps", "4"])

    a, b = read_metrics(one), read_metrics(two)
    assert [r["step"] for r in a] == [r["step"] for r in b] == [1, 2, 3, 4]
    assert [r["tokens"] for r in a] == [r["tokens"] for r in b]  # the same global batches
    gap = max(abs(x["loss"] - y["loss"]) for x, y in zip(a, b, strict=True))
    assert gap <= TOL, f"per-step loss differs by {gap:.3g}"
    assert len({r["loss"] for r in a}) == 4  # every step a different loss: it trains
    wa, wb = _weights(one), _weights(two)
    assert wa.keys() == wb.keys()
    w_gap = max(float((wa[k] - wb[k]).abs().max()) for k in wa)
    print(f"2 gloo processes vs 1: max per-step loss gap {gap:.3g}, max weight gap {w_gap:.3g}")
    assert w_gap <= TOL

    # a refused run folder stops every rank with rank 0's message and svgrl's exit code 2
    err = _run([sys.executable, "-m", "svgrl.cli", "train", "sft", *data, "--nproc", "2",
                *_flags(max_steps=2)], code=2)
    assert err.count("already holds a run") == 2  # rank 0's own error, and rank 1's copy
    # the same run resumed by one process is refused: its global batch would change
    cfg = SFTConfig(data=tabler_data, out=str(two), resume=True, max_steps=6,
                    grad_accum=1, **SETTINGS)
    with pytest.raises(ConfigError, match="2 process"):
        train_sft(cfg, BackboneConfig(**TINY), log=lambda m: None)
