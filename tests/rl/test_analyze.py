"""`svgrl analyze`: weight-space PCA of a run's checkpoints, regressions, report files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from svgrl.errors import ConfigError
from svgrl.rl.analyze import analyze_run, fit_plane, gram_matrix, pca_2d


def test_pca_matches_svd_of_the_flattened_checkpoints():
    g = torch.Generator().manual_seed(0)
    states = [{"a": torch.randn(3, 5, generator=g), "b": torch.randn(7, generator=g)}
              for _ in range(6)]
    flat = torch.stack([torch.cat([s["a"].reshape(-1), s["b"]]) for s in states]).double()
    x = flat - flat.mean(0)
    u, sv, _ = torch.linalg.svd(x, full_matrices=False)
    coords, explained = pca_2d(gram_matrix(states), list(range(6)))
    for j in range(2):  # same axes up to sign
        ref = u[:, j] * sv[j]
        assert torch.allclose(coords[:, j].abs(), ref.abs(), atol=1e-8)
    assert explained == pytest.approx((sv[:2] ** 2 / (sv ** 2).sum()).tolist())


def test_pca_of_a_straight_path_is_one_component_growing_with_step():
    d = torch.randn(50)
    states = [{"w": d * t + 1.0} for t in (0.0, 1.0, 2.5, 4.0)]
    coords, explained = pca_2d(gram_matrix(states), [10, 20, 30, 40])
    assert explained[0] == pytest.approx(1.0) and explained[1] == pytest.approx(0.0, abs=1e-9)
    assert torch.all(coords[1:, 0] > coords[:-1, 0])  # the sign follows the steps


def test_fit_plane_recovers_a_linear_signal():
    coords = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.5]])
    y = [1 + 2 * a - 3 * b for a, b in coords.tolist()]
    f = fit_plane(coords, y)
    assert f["r2"] == pytest.approx(1.0)
    assert (f["intercept"], f["slope_pc1"], f["slope_pc2"]) == pytest.approx((1, 2, -3))
    assert fit_plane(coords, [None, None, 1.0, 2.0, None]) is None  # too few known points


def test_analyze_a_grpo_run_end_to_end(tabler_data, tmp_path):
    from svgrl.model.backbones import BackboneConfig
    from svgrl.rl.config import GRPOConfig
    from svgrl.rl.trainer import train
    from svgrl.svg.image_io import read_png

    run = tmp_path / "run"
    tiny = BackboneConfig(backbone="tiny", tiny_layers=1, tiny_d_model=32, tiny_heads=1)
    train(GRPOConfig(task="svg-image", data=tabler_data, out=str(run), model=tiny,
                     image_size=16, patch_size=8, steps=4,
                     prompts_per_step=2, group_size=4, max_completion_length=40,
                     minibatches=1, learning_rate=1e-2, eval_size=2, threads=1,
                     save_every=1, keep_last=0))
    a = analyze_run(run)
    assert a.steps == [1, 2, 3, 4] and not a.note
    assert len(a.coords) == 4 and 0 < sum(a.explained) <= 1 + 1e-9
    assert set(a.fits) >= {"reward", "completion_len"}
    assert all(0 <= f["r2"] <= 1 + 1e-9 for f in a.fits.values())

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    res = subprocess.run([sys.executable, "-m", "svgrl.cli", "analyze", str(run), "--json"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["steps"] == [1, 2, 3, 4]
    page = (run / "analysis" / "index.html").read_text()
    assert "trajectory.png" in page and "curves.png" in page
    assert "by construction" not in page  # 4 checkpoints: the plane's R² means something
    for name in ("trajectory.png", "curves.png"):
        img = read_png(str(run / "analysis" / name))
        assert img.shape[0] > 100 and (img < 200).any()  # drawn, not blank


def test_an_exact_fit_on_three_checkpoints_is_flagged():
    from svgrl.rl.analyze import Analysis
    from svgrl.rl.analyze_report import _html

    fit = {"r2": 1.0, "slope_pc1": 0.1, "slope_pc2": 0.2, "n": 3}
    a = Analysis(run="r", steps=[1, 2, 3], coords=[[0, 0], [1, 0], [0, 1]],
                 explained=[0.6, 0.4], fits={"reward": fit})
    assert "R² = 1 by construction" in _html(a)
    assert "by construction" not in _html(Analysis(
        run="r", steps=[1, 2, 3, 4], coords=[[0, 0], [1, 0], [0, 1], [1, 1]],
        explained=[0.6, 0.4], fits={"reward": {**fit, "n": 4}}))


def test_too_few_checkpoints_says_how_to_get_more(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints" / "step_000005").mkdir(parents=True)
    torch.save({"w": torch.zeros(3)}, run / "checkpoints" / "step_000005" / "model.pt")
    (run / "metrics.jsonl").write_text("".join(
        json.dumps({"step": s, "reward": 0.1 * s, "completion_len": 10 + s}) + "\n"
        for s in range(1, 6)) + "{cut")
    a = analyze_run(run)
    assert a.coords == [] and "--save-every" in a.note and "1 checkpoint" in a.note
    assert a.signals["reward"] == [pytest.approx(0.3)]  # mean of steps 1..5


def test_bad_runs_raise_typed_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such directory"):
        analyze_run(tmp_path / "missing")
    with pytest.raises(ConfigError, match="no checkpoints and no metrics"):
        analyze_run(tmp_path)
    bad = tmp_path / "bad" / "checkpoints" / "step_000001"
    for s in (1, 2, 3):
        d = tmp_path / "bad" / "checkpoints" / f"step_00000{s}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "model.pt").write_bytes(b"not a checkpoint")
    from svgrl.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="cannot read checkpoint"):
        analyze_run(bad.parents[1])
