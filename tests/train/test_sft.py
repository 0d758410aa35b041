"""SFT: a short run changes every parameter, the loss falls, run folders rebuild the model,
bad configs and runs are typed errors, and a run killed with SIGKILL resumes to exactly the
weights of an uninterrupted run."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import torch
from helpers.runs import TINY, kill_at
from safetensors.torch import load_file

from svgrl.errors import ConfigError, ModelLoadError
from svgrl.model.backbones import BackboneConfig
from svgrl.model.checkpoint import RunDir, load_run
from svgrl.train.sft import SFTConfig, lr_at, train_sft

FAST = dict(batch_size=4, eval_every=0, eval_examples=4, progress=False, max_tokens=512,
            warmup_steps=1, lr=3e-3, threads=1)


def test_two_steps_change_every_parameter_and_rebuild_from_run(tabler_data, tmp_path):
    from svgrl.model.backbones import prepare_backbone

    bcfg = BackboneConfig(**TINY)
    cfg = SFTConfig(data=tabler_data, out=str(tmp_path / "run"), max_steps=2, save_every=2,
                    text_weight=1.5, image_weight=1.0, **FAST)
    before = prepare_backbone(bcfg, vision=(cfg.image_size, cfg.patch_size))
    logs: list[str] = []
    summary = train_sft(cfg, bcfg, log=logs.append)
    # the log reads "val loss image 10.395, text 10.389", not a dict of 16-digit floats
    assert re.search(r"^done: step 2, val loss (text|image) \d+\.\d{3}, (text|image) "
                     r"\d+\.\d{3} vs", logs[-1]), logs[-1]
    lm, meta = load_run(tmp_path / "run")
    assert meta["step"] == 2 and meta["config"]["sft"]["max_steps"] == 2
    assert lm.vision is not None
    old = dict(before.model.named_parameters()) | {
        f"vision.{k}": v for k, v in before.vision.named_parameters()}
    new = dict(lm.model.named_parameters()) | {
        f"vision.{k}": v for k, v in lm.vision.named_parameters()}
    assert old.keys() == new.keys()
    unchanged = [k for k in old if torch.equal(old[k], new[k])]
    assert unchanged == []
    assert summary["val_end"].keys() == {"text", "image"}


def test_loss_falls_on_a_repeated_batch(tabler_data, tmp_path):
    bcfg = BackboneConfig(**TINY)
    cfg = SFTConfig(data=tabler_data, out=str(tmp_path / "run"), max_steps=16,
                    save_every=100, image_weight=0, reference_weight=0,
                    **{**FAST, "eval_every": 8})
    s = train_sft(cfg, bcfg, log=lambda m: None)
    assert s["val_end"]["text"] < s["val_start"]["text"] - 0.5


def test_cosine_schedule_with_warmup():
    cfg = SFTConfig(data="d", out="o", max_steps=110, warmup_steps=10, lr=1.0,
                    min_lr_ratio=0.1)
    assert lr_at(cfg, 0) == pytest.approx(1 / 11)
    assert lr_at(cfg, 10) == pytest.approx(1.0)
    assert lr_at(cfg, 60) == pytest.approx(0.55)
    assert lr_at(cfg, 110) == pytest.approx(0.1)


@pytest.mark.parametrize("steps, warmup", [(40, 4), (300, 30), (1000, 100), (50000, 100),
                                           (5, 0)])
def test_default_warmup_scales_with_the_run(steps, warmup):
    assert SFTConfig(data="d", out="o", max_steps=steps).warmup_steps == warmup
    assert SFTConfig(data="d", out="o", max_steps=steps, warmup_steps=7).warmup_steps == 7


def test_default_lr_follows_the_backbone():
    from svgrl.train.config import with_default_lr

    cfg = SFTConfig(data="d", out="o")
    assert cfg.lr is None
    assert with_default_lr(cfg, "tiny").lr == 2e-3  # from scratch
    assert with_default_lr(cfg, "smollm2-135m").lr == 3e-4  # pretrained
    assert with_default_lr(cfg, "/models/some-folder").lr == 3e-4
    assert with_default_lr(SFTConfig(data="d", out="o", lr=1e-3), "tiny").lr == 1e-3


def test_resume_keeps_the_resolved_warmup():
    """A resumed run that extends --max-steps keeps the warm-up it started with (stored
    resolved), so its schedule up to the stop does not change."""
    import argparse

    from svgrl.config import add_dataclass_args, dataclass_from_args, to_dict

    first = SFTConfig(data="d", out="o", max_steps=40)
    p = argparse.ArgumentParser()
    add_dataclass_args(p, SFTConfig)
    resumed = dataclass_from_args(SFTConfig, p.parse_args(["--max-steps", "400"]),
                                  base=to_dict(first))
    assert (first.warmup_steps, resumed.warmup_steps, resumed.max_steps) == (4, 4, 400)


@pytest.mark.parametrize("kw, needle", [
    (dict(data=""), "--data"),
    (dict(out=""), "--out"),
    (dict(max_steps=0), "--max-steps"),
    (dict(text_weight=0, image_weight=0, reference_weight=0), "task weights"),
    (dict(image_size=60, patch_size=8), "--patch-size"),
    (dict(lr=-1.0), "--lr"),
])
def test_bad_configs_say_how_to_fix(kw, needle):
    with pytest.raises(ConfigError, match=needle):
        SFTConfig(**{"data": "d", "out": "o", **kw})


def test_existing_run_and_bad_resume_are_config_errors(tabler_data, tmp_path):
    bcfg = BackboneConfig(**TINY)
    run = str(tmp_path / "run")
    cfg = SFTConfig(data=tabler_data, out=run, max_steps=1, save_every=1, image_weight=0,
                    **FAST)
    train_sft(cfg, bcfg, log=lambda m: None)
    with pytest.raises(ConfigError, match="already holds a run"):
        train_sft(cfg, bcfg, log=lambda m: None)
    other = SFTConfig(**{**cfg.__dict__, "resume": True, "lr": 1e-4})
    with pytest.raises(ConfigError, match="lr"):
        train_sft(other, bcfg, log=lambda m: None)
    with pytest.raises(ConfigError, match="no run"):
        train_sft(SFTConfig(**{**cfg.__dict__, "resume": True, "out": str(tmp_path / "x")}),
                  bcfg, log=lambda m: None)


def test_broken_latest_pointer_is_a_load_error(tmp_path):
    run = RunDir(tmp_path / "r")
    run.open(kind="sft", config={}, resume=False)
    (run.root / "latest.json").write_text('{"step": 3, "checkpoint": "../../etc"}')
    with pytest.raises(ModelLoadError, match="not a complete checkpoint"):
        run.latest()
    with pytest.raises(ModelLoadError, match="not an svgrl run folder"):
        load_run(tmp_path / "nothing")


def _cli(data: str, out: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "svgrl.cli", "train", "sft", "--data", data, "--out", out,
            "--backbone", "tiny", "--tiny-layers", "1", "--tiny-d-model", "32",
            "--tiny-heads", "2", "--max-steps", "16", "--save-every", "2", "--batch-size", "4",
            "--eval-every", "0", "--eval-examples", "2", "--warmup-steps", "2",
            "--text-weight", "1.5", "--image-weight", "1.0", "--threads", "1",
            "--no-progress", "--keep-last", "1", *extra]


def _weights(run: Path) -> dict:
    latest = json.loads((run / "latest.json").read_text())
    ckpt = run / latest["checkpoint"] / "model"
    w = load_file(str(ckpt / "model.safetensors"))
    w |= {f"vision.{k}": v for k, v in load_file(str(ckpt / "vision_prefix.safetensors")).items()}
    return latest["step"], w


def test_sigkill_then_resume_equals_uninterrupted(tabler_data, tmp_path):
    # Only the killed run needs its own process; the uninterrupted run and the resume go
    # through the same CLI entry point in this one.
    from svgrl.cli import main

    a, b = tmp_path / "a", tmp_path / "b"
    assert main(_cli(tabler_data, str(a))[3:]) == 0
    killed_at = kill_at(_cli(tabler_data, str(b)), b, 4)
    assert 4 <= killed_at < 16
    assert main(_cli(tabler_data, str(b), "--resume")[3:]) == 0
    step_a, wa = _weights(a)
    step_b, wb = _weights(b)
    assert step_a == step_b == 16
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not list((b / "checkpoints").glob(".tmp-*"))
