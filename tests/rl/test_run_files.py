"""Run-folder JSON files that are missing, foreign or of another version are typed errors
that name the file."""

from __future__ import annotations

import json

import pytest

from svgrl.errors import ModelLoadError
from svgrl.model.checkpoint import RunDir, read_run_meta
from svgrl.model.vision import VISION_CONFIG, load_vision


def test_run_file_round_trip_and_bad_files(tmp_path):
    RunDir(tmp_path).open(kind="grpo", config={"task": "math"}, resume=False)
    assert read_run_meta(tmp_path)["config"] == {"task": "math"}
    p = tmp_path / "run.json"
    for text, needle in (("{", "not valid JSON"), ('{"format": "x"}', "not an svgrl"),
                         (json.dumps({"format": "svgrl.run", "version": 99}), "version 99"),
                         (json.dumps({"format": "svgrl.run", "version": 1}), "older svgrl")):
        p.write_text(text)
        with pytest.raises(ModelLoadError, match=needle):
            read_run_meta(tmp_path)
    p.unlink()
    with pytest.raises(ModelLoadError, match="not an svgrl run folder"):
        read_run_meta(tmp_path)


def test_old_grpo_run_folder_gets_a_clear_message(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"format": "svgrl.grpo-run",
                                                      "version": 1, "config": {}}))
    with pytest.raises(ModelLoadError, match="older svgrl"):
        read_run_meta(tmp_path)


def test_vision_prefix_of_another_version_is_refused(tmp_path):
    assert load_vision(tmp_path) is None  # no prefix saved: a text-only model
    (tmp_path / VISION_CONFIG).write_text('{"format": "svgrl.vision_prefix", "version": 99}')
    with pytest.raises(ModelLoadError, match="vision prefix config"):
        load_vision(tmp_path)


def test_checkpoint_files_respect_the_umask(tmp_path):
    import os
    import stat

    import torch

    from svgrl.model.backbones import BackboneConfig, prepare_backbone

    torch.manual_seed(0)
    lm = prepare_backbone(BackboneConfig(backbone="tiny", tiny_layers=1, tiny_d_model=32,
                                         tiny_heads=2), vision=(16, 8))
    old = os.umask(0o022)
    try:
        run = RunDir(tmp_path / "run")
        run.open(kind="sft", config={}, resume=False)
        run.save_checkpoint(0, lm, {"step": 0, "w": torch.ones(2)})
    finally:
        os.umask(old)
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode)
             for p in (tmp_path / "run").rglob("*")}
    assert "run/checkpoints/step-00000000/model/model.safetensors" in modes
    wrong = {p: oct(m) for p, m in modes.items()
             if m != (0o755 if (tmp_path / p).is_dir() else 0o644)}
    assert wrong == {}


def test_plots_print_no_fontconfig_warning():
    import subprocess
    import sys

    code = ("from svgrl.rl.plot import curves_png; "
            "curves_png([{'step': 1, 'reward': 0.1}, {'step': 2, 'reward': 0.3}])")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert "Fontconfig" not in res.stderr


def test_trainer_state_round_trips_without_pickle_and_restores_every_rng(tmp_path):
    import random

    import numpy as np
    import torch

    from svgrl.model.checkpoint import (
        STATE_JSON,
        load_state,
        rng_state,
        save_state,
        set_rng_state,
    )

    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95))
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    state = {"step": 7, "optimizer": opt.state_dict(), "rng": rng_state(),
             "sampler": {"epoch": 1, "position": 5}, "evals": {"before": {"reward": 0.5}}}
    save_state(state, tmp_path)
    assert "pickle" not in (tmp_path / STATE_JSON).read_text()
    want = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)])
    back = load_state(tmp_path)
    assert back["step"] == 7 and back["sampler"] == {"epoch": 1, "position": 5}
    assert back["evals"] == {"before": {"reward": 0.5}}
    opt2 = torch.optim.AdamW(model.parameters(), lr=1.0)
    opt2.load_state_dict(back["optimizer"])  # int parameter keys and tuple betas survive
    assert opt2.param_groups[0]["betas"] == (0.9, 0.95) and opt2.param_groups[0]["lr"] == 1e-3
    for k, v in opt.state_dict()["state"][0].items():
        assert torch.equal(opt2.state_dict()["state"][0][k], v)
    set_rng_state(back["rng"])
    got = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)])
    assert torch.equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert got[2] == want[2]


def test_loading_a_model_folder_shows_no_transformers_bar(tmp_path, capfd):
    import torch

    from svgrl.model.backbones import BackboneConfig, load_backbone, prepare_backbone
    from svgrl.model.folder import load_model_folder, save_model_folder

    torch.manual_seed(0)
    lm = prepare_backbone(BackboneConfig(backbone="tiny", tiny_layers=1, tiny_d_model=32,
                                         tiny_heads=2), vision=None)
    save_model_folder(lm, tmp_path / "m")
    capfd.readouterr()
    load_model_folder(tmp_path / "m")
    load_backbone(BackboneConfig(backbone=str(tmp_path / "m")))
    err = capfd.readouterr().err
    assert "Loading weights" not in err and "%|" not in err
