"""A damaged latest checkpoint: ``--resume`` falls back to the previous complete one (with a
warning) instead of a raw traceback; with nothing to fall back to, a typed error."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_trainer_resume import _cfg, id_reward  # noqa: E402

from svgrl.errors import ModelLoadError  # noqa: E402
from svgrl.model.checkpoint import RunDir  # noqa: E402
from svgrl.rl.trainer import train  # noqa: E402


@pytest.mark.parametrize("damage", ["state-truncated", "weights-garbage", "state-json-cut"])
def test_grpo_resume_falls_back_to_the_previous_checkpoint(tmp_path, damage):
    out = tmp_path / "run"
    train(dataclasses.replace(_cfg(out), steps=2), reward_fn=id_reward)
    rd = RunDir(out)
    step, ckpt = rd.latest()
    assert step == 2 and (out / "checkpoints" / "step-00000001").is_dir()
    if damage == "state-truncated":
        f = ckpt / "trainer_state.safetensors"
        f.write_bytes(f.read_bytes()[:100])
    elif damage == "weights-garbage":
        (ckpt / "model" / "model.safetensors").write_bytes(b"\x00" * 64)
    else:
        f = ckpt / "trainer_state.json"
        f.write_text(f.read_text()[:50])
    with pytest.warns(UserWarning, match="previous complete checkpoint"):
        assert rd.latest() == (1, out / "checkpoints" / "step-00000001")
    with pytest.warns(UserWarning, match="previous complete checkpoint"):
        train(dataclasses.replace(_cfg(out, resume=True), steps=3), reward_fn=id_reward)
    assert rd.latest()[0] == 3  # resumed at step 1, ran steps 2 and 3


def test_no_complete_checkpoint_left_is_a_typed_error(tmp_path):
    out = tmp_path / "run"
    train(dataclasses.replace(_cfg(out), steps=1), reward_fn=id_reward)
    rd = RunDir(out)
    (rd.latest()[1] / "trainer_state.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ModelLoadError, match="not a safetensors file"):
        rd.latest()
