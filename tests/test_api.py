"""The top-level Python API, and the README's example run as written (on a tiny model)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import svgrl

README = Path(__file__).resolve().parents[1] / "README.md"
ICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">'
        '<path fill="#1a6" d="M3 3h18v18H3z"/><circle cx="12" cy="12" r="5" fill="#fff"/></svg>')


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A run folder in the one run format holding a tiny random model with a vision prefix."""
    import torch

    from svgrl.model.backbones import BackboneConfig, prepare_backbone
    from svgrl.model.checkpoint import RunDir

    torch.manual_seed(0)
    lm = prepare_backbone(BackboneConfig(backbone="tiny", tiny_layers=1, tiny_d_model=32,
                                         tiny_heads=2), vision=(16, 8))
    root = tmp_path_factory.mktemp("api") / "run"
    run = RunDir(root)
    run.open(kind="sft", config={}, resume=False)
    run.save_checkpoint(0, lm, {"step": 0})
    return root


def test_import_svgrl_is_light():
    code = "import sys, svgrl; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=README.parent).stdout
    assert out.split() == ["False", "False"]


def test_drawing_tokens_render_and_score():
    icon = svgrl.load_drawing(ICON)
    ids = svgrl.tokenize(icon)
    back = svgrl.detokenize(ids)
    assert np.array_equal(svgrl.render(back, 64), svgrl.render(icon, 64))
    assert svgrl.score(icon, icon) == pytest.approx(1.0, abs=1e-6)
    other = svgrl.load_drawing('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">'
                               '<path d="M1 20L12 2L23 20z"/></svg>')
    assert 0.1 < svgrl.score(other, icon) < 0.9
    assert svgrl.score("<svg/>", icon) == 0.0  # nothing drawable: the floor
    with pytest.raises(svgrl.SvgrlError):
        svgrl.tokenize(icon, layout="not a layout")


def test_generate_from_a_run(tiny_run):
    model = svgrl.load_run(tiny_run)
    assert model.run["kind"] == "sft" and model.run["step"] == 0
    icon = svgrl.load_drawing(ICON)
    for kw in ({"text": "a square"}, {"image": icon}):
        samples = svgrl.generate(model, n=2, max_new_tokens=24, **kw)
        assert len(samples) == 2 and all(s.complete for s in samples)
    # A model's layout sits above its text vocabulary: ids it reads, not the dataset's.
    assert svgrl.tokenize(icon, model) != svgrl.tokenize(icon)
    with pytest.raises(svgrl.SvgrlError, match="exactly one"):
        svgrl.generate(model, text="x", image=icon)


def test_readme_example_runs(tiny_run, tmp_path, monkeypatch):
    text = README.read_text(encoding="utf-8")
    block = re.search(r"## Python API.*?```python\n(.*?)```", text, re.S)
    assert block, "README lost its Python API example"
    code = block.group(1).replace('"runs/img-grpo"', repr(str(tiny_run)))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "icon.svg").write_text(ICON)
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 — our own README
