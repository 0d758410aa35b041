"""kill -9 in the middle of a GRPO run, then ``--resume``: the final weights equal those of an
uninterrupted run bit for bit (tiny model, one thread)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import torch

from svgrl.model.backbones import BackboneConfig
from svgrl.rl.config import GRPOConfig
from svgrl.rl.trainer import train

STEPS = 3


def _cfg(out: Path, resume: bool = False) -> GRPOConfig:
    return GRPOConfig(task="math", out=str(out),
                      model=BackboneConfig(backbone="tiny", tiny_layers=1, tiny_d_model=64,
                                           tiny_heads=2),
                      steps=STEPS, prompts_per_step=2, group_size=3,
                      max_completion_length=5, eval_size=2, train_size=6, minibatches=2,
                      learning_rate=1e-2, token_budget=256, max_prompt_length=128,
                      save_every=1, threads=1, resume=resume)


def id_reward(prompts, completions, **cols):
    return [sum(i) / len(i) / 260 for i in cols["completion_ids"]]


# The child runs the same config; its reward stalls from the 4th call (eval, steps 1–2, then
# step 3), so the kill lands inside step 3, after checkpoint 2 — the rewards themselves are
# unchanged.
CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from test_trainer_resume import _cfg, id_reward
    from svgrl.rl.trainer import train
    calls = [0]
    def slow(prompts, completions, **cols):
        calls[0] += 1
        if calls[0] >= 4:
            time.sleep(600)
        return id_reward(prompts, completions, **cols)
    train(_cfg(Path({out!r})), reward_fn=slow)
""")


def _final(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(run / "checkpoints" / f"step-{STEPS:08d}" / "model" / "model.safetensors")


def _latest_step(run: Path) -> int | None:
    p = run / "latest.json"
    return json.loads(p.read_text())["step"] if p.is_file() else None


def test_kill_9_then_resume_gives_identical_weights(tmp_path):
    ref = tmp_path / "ref"
    train(_cfg(ref), reward_fn=id_reward)

    run = tmp_path / "killed"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(tests=str(Path(__file__).parent), out=str(run))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and child.poll() is None:
            if _latest_step(run) == 2:
                break
            time.sleep(0.2)
        assert child.poll() is None, "the child exited before it could be killed"
        assert _latest_step(run) == 2
        time.sleep(0.5)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    assert not (run / "checkpoints" / f"step-{STEPS:08d}").exists()

    train(_cfg(run, resume=True), reward_fn=id_reward)
    a, b = _final(ref), _final(run)
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert different == []
    # The resumed log holds each step once.
    steps = [line for line in (run / "metrics.jsonl").read_text().splitlines() if line]
    assert len(steps) == STEPS
