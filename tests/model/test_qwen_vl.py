"""Qwen2.5-VL backbone path on the tiny random Qwen2.5-VL of ``tests/conftest.py``, loaded as
a local HF folder — no weights are downloaded."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from svgrl.errors import ConfigError, ModelLoadError
from svgrl.model.folder import load_model_folder, save_model_folder
from svgrl.model.generate import generate_ids
from svgrl.model.prompts import vl_prompt
from svgrl.model.qwen_vl import prepare_qwen_vl, vl_batch, vl_loss
from svgrl.model.sampling import Sampling
from svgrl.svg.load import load_drawing
from svgrl.svg.render import render
from svgrl.tokens.codec import decode, encode


def _icon():
    spec = importlib.util.find_spec("pytablericons")
    d = Path(next(iter(spec.submodule_search_locations))) / "icons"
    path = sorted(d.rglob("*.svg"))[0]
    return load_drawing(path.read_text(encoding="utf-8"))


def test_sft_step_trains_tower_and_lm_and_generation_decodes(folder):
    lm = prepare_qwen_vl(folder, grid=200, n_rotation=100)
    assert lm.vision is None and lm.image_processor is not None
    assert lm.vocab_rows >= lm.layout.vocab_size
    drawing = _icon()
    target = encode(drawing, lm.layout)
    rgb = render(drawing, 56)
    p = vl_prompt(lm, "Convert this image into an SVG.", rgb)
    image_tok = p.mm_types()
    assert sum(image_tok) == int(p.image_grid_thw.prod()) // 4 > 0

    tower = [p_ for n, p_ in lm.model.named_parameters() if "visual" in n]
    text = [p_ for n, p_ in lm.model.named_parameters() if "visual" not in n]
    before_v = [w.detach().clone() for w in tower]
    before_t = [w.detach().clone() for w in text]
    opt = torch.optim.AdamW(lm.parameters(), lr=1e-3)
    loss, n = vl_loss(lm, [p], [target])
    assert n == len(target) and torch.isfinite(loss)  # marker predicts <svg> on
    (loss / n).backward()
    opt.step()
    assert any(not torch.equal(a, b) for a, b in zip(before_v, tower, strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(before_t, text, strict=True))

    # Loss is on SVG tokens only: changing the prompt text changes no target count.
    q = vl_prompt(lm, "Another instruction, longer than the first one.", rgb)
    assert vl_loss(lm, [q], [target])[1] == n
    # The image reaches the loss through the tower: another image, another loss.
    with torch.no_grad():
        black = vl_prompt(lm, "Convert this image into an SVG.", np.zeros_like(rgb))
        assert black.ids == p.ids
        assert float(vl_loss(lm, [black], [target])[0]) != float(vl_loss(lm, [p], [target])[0])

    lm.train(False)
    rows = generate_ids(lm, p, 4, Sampling(1.0, 1.0, 0), max_new_tokens=120, seed=3)
    for ids in rows:
        d = decode(ids, lm.layout, strict=True)
        assert d.paths and render(d, 64).shape == (64, 64, 3)


def test_save_and_reload_keeps_weights_tokens_and_outputs(folder, tmp_path):
    lm = prepare_qwen_vl(folder).train(False)
    with torch.no_grad():  # move the weights off the saved init so a reload is visible
        lm.model.get_output_embeddings().weight.add_(0.01)
    save_model_folder(lm, tmp_path / "run")
    again = load_model_folder(tmp_path / "run")
    assert again.layout == lm.layout and again.tokenizer.get_vocab() == lm.tokenizer.get_vocab()
    rgb = np.full((30, 50, 3), 90, np.uint8)
    p, q = vl_prompt(lm, "draw", rgb), vl_prompt(again, "draw", rgb)
    assert p.ids == q.ids and torch.equal(p.pixel_values, q.pixel_values)
    s = Sampling(1.0, 1.0, 0)
    assert generate_ids(lm, p, 2, s, max_new_tokens=40, seed=5) == \
        generate_ids(again, q, 2, s, max_new_tokens=40, seed=5)
    with pytest.raises(ModelLoadError):
        load_model_folder(folder)  # a fresh Qwen folder has no SVG layout yet


def test_text_and_image_prompts_share_a_batch(folder):
    lm = prepare_qwen_vl(folder)
    drawing = _icon()
    target = encode(drawing, lm.layout)
    t = vl_prompt(lm, "Generate an SVG icon: a star", None, task="text")
    i = vl_prompt(lm, "Convert this image into an SVG.", render(drawing, 56))
    assert t.pixel_values is None and t.ids[-1] == lm.layout.task("text")
    with torch.no_grad():
        both, n = vl_loss(lm, [t, i], [target, target])
        alone = vl_loss(lm, [t], [target])[0] + vl_loss(lm, [i], [target])[0]
    assert n == 2 * len(target)
    torch.testing.assert_close(both, alone, rtol=1e-4, atol=1e-3)  # padding changes nothing
    with pytest.raises(ConfigError):
        vl_prompt(lm, "x", None, task="image")


def test_kv_cache_decoding_matches_full_forward(folder):
    """Greedy tokens from the cached loop equal argmax of an uncached forward over prompt +
    generated ids (the M-RoPE offset of the image prefill is carried through the cache)."""
    lm = prepare_qwen_vl(folder).train(False)
    p = vl_prompt(lm, "draw", np.full((40, 70, 3), 200, np.uint8))
    ids = generate_ids(lm, p, 1, Sampling(0.0, 1.0, 0), max_new_tokens=12, grammar=False)[0]
    b = vl_batch([p], [ids], lm.layout.pad)
    with torch.no_grad():
        logits = lm.model(**b, use_cache=False).logits[0]
    start = len(p.ids) - 1
    want = logits[start:start + len(ids)].argmax(-1).tolist()
    assert ids == want


def test_bad_inputs_are_typed(folder, tmp_path):
    lm = prepare_qwen_vl(folder)
    with pytest.raises(ConfigError):
        vl_prompt(lm, "x", np.zeros((4, 4), np.uint8))
    with pytest.raises(ConfigError):
        vl_loss(lm, [], [])
    (tmp_path / "config.json").write_text('{"model_type": "qwen2_5_vl"}')
    with pytest.raises(ModelLoadError):
        prepare_qwen_vl(tmp_path)
    with pytest.raises(ModelLoadError):
        prepare_qwen_vl(tmp_path / "missing")


def test_backbone_interface_prepares_qwen_vl_with_its_own_tower(folder):
    from svgrl.model.backbones import BackboneConfig, prepare_backbone
    from svgrl.model.prompts import prompt_for

    lm = prepare_backbone(BackboneConfig(backbone=str(folder)), vision=(64, 8))
    assert lm.vision is None and lm.image_processor is not None  # no prefix bolted on
    assert lm.vocab_rows >= lm.layout.vocab_size
    p = prompt_for(lm, "image", image=np.full((56, 56, 3), 255, np.uint8))
    assert p.pixel_values is not None and sum(p.mm_types()) > 0
    assert prompt_for(lm, "text", text="a star").pixel_values is None
    with pytest.raises(ConfigError):
        prompt_for(lm, "text", text="  ")
