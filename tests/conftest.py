"""Fixtures shared across test folders."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>",
            "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['content'] is string %}"
    "{{ m['content'] }}{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif c['type'] == 'text' %}{{ c['text'] }}"
    "{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def build_tiny_qwen_vl(out: Path) -> Path:
    """A tiny random Qwen2.5-VL folder (1-layer vision tower, 2-layer LM, character-level
    tokenizer with Qwen's special tokens, PIL image processor) as save_pretrained writes it."""
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


@pytest.fixture(scope="session")
def tiny_qwen_vl(tmp_path_factory) -> Path:
    """Built once per session and only read by the tests (they write into their own
    folders)."""
    return build_tiny_qwen_vl(tmp_path_factory.mktemp("qwen_vl"))


@pytest.fixture(scope="module")
def folder(tiny_qwen_vl) -> Path:
    return tiny_qwen_vl


@pytest.fixture(scope="session")
def tabler_data(tmp_path_factory):
    """A small built dataset from the installed Tabler icons (PyPI pytablericons, MIT),
    shared by the SFT, GRPO and generation tests."""
    from svgrl.data.build import BuildConfig, build

    out = tmp_path_factory.mktemp("data") / "tabler"
    # min_split=0: the splits by fraction alone, so the tests built on this data keep it
    # as it was before small builds got a minimum split size
    build(BuildConfig(source=("pytablericons",), out=str(out), limit=40, val=0.2,
                      min_split=0, progress=False), log=lambda m: None)
    return str(out)
