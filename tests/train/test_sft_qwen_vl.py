"""Qwen2.5-VL behind the one backbone interface: `svgrl train sft --backbone FOLDER` trains it
through its own vision tower, checkpoints are Qwen folders that `load_run` rebuilds,
`svgrl generate --image` decodes from them under the grammar, and a run killed with SIGKILL
resumes to exactly the weights of an uninterrupted run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from helpers.runs import kill_at
from safetensors.torch import load_file

from svgrl.model.backbones import BackboneConfig
from svgrl.model.checkpoint import load_run
from svgrl.train.sft import SFTConfig, train_sft

# 56-px renders: the tiny processor keeps them at 2×2 merged patches (4 image tokens).
VL_FAST = dict(batch_size=4, eval_examples=4, progress=False, max_tokens=512, warmup_steps=1,
               lr=3e-3, threads=1, image_size=56, text_weight=1.5, image_weight=1.0)


def test_sft_trains_tower_and_lm_and_generate_reads_the_run(tabler_data, tiny_qwen_vl,
                                                           tmp_path):
    from svgrl.cli import main
    from svgrl.model.backbones import prepare_backbone

    bcfg = BackboneConfig(backbone=str(tiny_qwen_vl))
    run = tmp_path / "run"
    cfg = SFTConfig(data=tabler_data, out=str(run), max_steps=6, save_every=3, eval_every=3,
                    **VL_FAST)
    before = prepare_backbone(bcfg)
    summary = train_sft(cfg, bcfg, log=lambda m: None)
    assert summary["val_end"].keys() == {"text", "image"}
    assert all(np.isfinite(v) for v in summary["val_end"].values())
    assert summary["val_end"]["image"] < summary["val_start"]["image"]

    lm, meta = load_run(run)
    assert meta["step"] == 6 and lm.image_processor is not None and lm.vision is None
    old, new = dict(before.model.named_parameters()), dict(lm.model.named_parameters())
    assert old.keys() == new.keys()
    moved = {k for k in old if not torch.equal(old[k], new[k])}
    assert any(k.startswith("model.visual.") for k in moved)  # the tower trained
    assert any(k.startswith("model.language_model.") for k in moved)

    out = tmp_path / "gen"
    png = tmp_path / "in.png"
    from svgrl.svg.image_io import encode_png

    img = np.full((80, 80, 3), 255, np.uint8)
    img[20:60, 30:50] = 0
    png.write_bytes(encode_png(img))
    assert main(["generate", "--run", str(run), "--image", str(png), "-n", "3", "-o",
                 str(out), "--max-new-tokens", "40"]) == 0
    samples = json.loads((out / "samples.json").read_text())["samples"]
    assert len(samples) == 3 and all(s["complete"] for s in samples)
    assert main(["generate", "--run", str(run), "--text", "arrow left", "-n", "2", "-o",
                 str(tmp_path / "gen2"), "--max-new-tokens", "24"]) == 0


def _cli(data: str, folder: str, out: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "svgrl.cli", "train", "sft", "--data", data, "--out", out,
            "--backbone", folder, "--max-steps", "8", "--save-every", "2",
            "--batch-size", "4", "--eval-every", "0", "--eval-examples", "2",
            "--warmup-steps", "2", "--image-size", "56", "--text-weight", "1.5",
            "--image-weight", "1.0", "--threads", "1", "--no-progress", "--keep-last", "1",
            *extra]


def _weights(run: Path) -> tuple[int, dict]:
    latest = json.loads((run / "latest.json").read_text())
    model = run / latest["checkpoint"] / "model"
    assert (model / "preprocessor_config.json").is_file()
    return latest["step"], load_file(str(model / "model.safetensors"))


def test_sigkill_then_resume_equals_uninterrupted(tabler_data, tiny_qwen_vl, tmp_path):
    # Only the killed run needs its own process; the uninterrupted run and the resume go
    # through the same CLI entry point in this one.
    from svgrl.cli import main

    a, b = tmp_path / "a", tmp_path / "b"
    assert main(_cli(tabler_data, str(tiny_qwen_vl), str(a))[3:]) == 0
    killed_at = kill_at(_cli(tabler_data, str(tiny_qwen_vl), str(b)), b, 4)
    assert 4 <= killed_at < 8
    assert main(_cli(tabler_data, str(tiny_qwen_vl), str(b), "--resume")[3:]) == 0
    step_a, wa = _weights(a)
    step_b, wb = _weights(b)
    assert step_a == step_b == 8
    assert wa.keys() == wb.keys()
    assert any(k.startswith("visual.") for k in wa)  # the tower is saved and compared
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
