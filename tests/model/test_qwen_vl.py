"""Qwen2.5-VL backbone path on a tiny random Qwen2.5-VL built here (1-layer vision tower,
2-layer LM, character-level tokenizer with Qwen's special tokens, PIL image processor), saved
to a tmp folder and loaded as a local HF folder — no weights are downloaded."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from svgrl.errors import ConfigError, ModelLoadError
from svgrl.model.qwen_vl import (
    load_vl_folder,
    prepare_qwen_vl,
    save_vl_folder,
    vl_generate_ids,
    vl_loss,
    vl_prompt,
)
from svgrl.model.sampling import Sampling
from svgrl.svg.load import load_drawing
from svgrl.svg.render import render
from svgrl.tokens.codec import decode, encode

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>",
            "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['content'] is string %}"
    "{{ m['content'] }}{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif c['type'] == 'text' %}{{ c['text'] }}"
    "{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def build_tiny_qwen_vl(out: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import (
        PreTrainedTokenizerFast,
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
    )
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    chars = [chr(i) for i in range(32, 127)] + ["\n"]
    tok = Tokenizer(models.WordLevel({c: i for i, c in enumerate(chars)}, unk_token=" "))
    tok.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tok.decoder = decoders.Fuse()
    t = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                pad_token="<|endoftext|>", chat_template=TEMPLATE)
    t.add_special_tokens({"additional_special_tokens": SPECIALS[1:]})
    ids = t.convert_tokens_to_ids(SPECIALS)
    # 28-px merged patches; at most 56² px → ≤ 4 image tokens per prompt.
    ip = Qwen2VLImageProcessorPil(min_pixels=28 * 28, max_pixels=56 * 56, patch_size=14,
                                  merge_size=2, temporal_patch_size=2)
    cfg = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=len(t), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=4096, pad_token_id=ids[0],
                         eos_token_id=ids[2], bos_token_id=ids[0],
                         rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3],
                                          "rope_theta": 10000.0}),
        vision_config=dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2,
                           out_hidden_size=64, patch_size=14, spatial_merge_size=2,
                           temporal_patch_size=2, window_size=56, fullatt_block_indexes=[0]),
        image_token_id=ids[5], video_token_id=ids[6], vision_start_token_id=ids[3],
        vision_end_token_id=ids[4])
    torch.manual_seed(0)
    Qwen2_5_VLForConditionalGeneration(cfg).save_pretrained(out)
    t.save_pretrained(out)
    ip.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_tiny_qwen_vl(tmp_path_factory.mktemp("qwen_vl"))


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
    rows = vl_generate_ids(lm, p, 4, Sampling(1.0, 1.0, 0), max_new_tokens=120, seed=3)
    for ids in rows:
        d = decode(ids, lm.layout, strict=True)
        assert d.paths and render(d, 64).shape == (64, 64, 3)


def test_save_and_reload_keeps_weights_tokens_and_outputs(folder, tmp_path):
    lm = prepare_qwen_vl(folder).train(False)
    with torch.no_grad():  # move the weights off the saved init so a reload is visible
        lm.model.get_output_embeddings().weight.add_(0.01)
    save_vl_folder(lm, tmp_path / "run")
    again = load_vl_folder(tmp_path / "run")
    assert again.layout == lm.layout and again.tokenizer.get_vocab() == lm.tokenizer.get_vocab()
    rgb = np.full((30, 50, 3), 90, np.uint8)
    p, q = vl_prompt(lm, "draw", rgb), vl_prompt(again, "draw", rgb)
    assert p.ids == q.ids and torch.equal(p.pixel_values, q.pixel_values)
    s = Sampling(1.0, 1.0, 0)
    assert vl_generate_ids(lm, p, 2, s, max_new_tokens=40, seed=5) == \
        vl_generate_ids(again, q, 2, s, max_new_tokens=40, seed=5)
    with pytest.raises(ModelLoadError):
        load_vl_folder(folder)  # a fresh Qwen folder has no SVG layout yet


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
    ids = vl_generate_ids(lm, p, 1, Sampling(0.0, 1.0, 0), max_new_tokens=12,
                          grammar=False)[0]
    from svgrl.model.qwen_vl import _batch

    b = _batch([p], [ids], lm.layout.pad)
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


def test_cli_backbone_path_refuses_qwen_vl_with_a_pointer(folder):
    from svgrl.model.backbones import BackboneConfig
    from svgrl.model.svglm import prepare_backbone

    with pytest.raises(ModelLoadError, match="svgrl.model.qwen_vl"):
        prepare_backbone(BackboneConfig(backbone=str(folder)))
