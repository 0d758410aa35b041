"""Generation: under the grammar every sample of a random-weights model decodes strictly and
renders (1,000 samples, several budgets); sampling presets and top-k/top-p behave; the
transformers logits-processor form agrees; `svgrl generate` writes SVG + PNG from a run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from svgrl.errors import ConfigError
from svgrl.model.backbones import BackboneConfig, prepare_backbone
from svgrl.model.generate import generate, generate_ids, is_blank, to_samples
from svgrl.model.prompts import build_prompt
from svgrl.model.sampler import GrammarLogitsProcessor
from svgrl.model.sampling import PRESETS, Sampling, sample
from svgrl.svg.render import render
from svgrl.tokens.codec import decode
from svgrl.tokens.grammar import grammar_for

TINY = dict(backbone="tiny", tiny_layers=1, tiny_d_model=32, tiny_heads=2)


@pytest.fixture(scope="module")
def lm():
    # point_init="default": purely random rows, so the model favours no structure at all.
    return prepare_backbone(BackboneConfig(**TINY, seed=1), vision=(32, 8),
                            point_init="default").train(False)


@pytest.mark.slow  # ~35 s on 2 idle cores (1000 samples rendered)
def test_thousand_random_weight_samples_all_decode_and_render(lm):
    g = grammar_for(lm.layout, lm.vocab_rows)
    free = Sampling(temperature=1.0, top_p=1.0, top_k=0)  # the whole distribution
    prompt = build_prompt(lm.tokenizer, lm.layout, "text", text="a cat")
    rows = []
    for budget, n in ((12, 300), (24, 400), (48, 300)):
        got = generate_ids(lm, prompt, n, free, max_new_tokens=budget, seed=budget,
                           batch_size=250)
        assert all(len(r) <= budget for r in got)
        rows += got
    assert len(rows) == 1000
    for ids in rows:
        g.check(ids)  # raises TokenError on any forbidden or missing token
        d = decode(ids, lm.layout, strict=True)
        assert d.paths and render(d, 64).shape == (64, 64, 3)
    assert len({tuple(r) for r in rows}) > 990  # real sampling, not one repeated answer


def test_without_grammar_random_weights_break(lm):
    prompt = build_prompt(lm.tokenizer, lm.layout, "text", text="a cat")
    rows = generate_ids(lm, prompt, 20, Sampling(1.0, 1.0, 0), max_new_tokens=40,
                        grammar=False)
    g = grammar_for(lm.layout, lm.vocab_rows)
    assert sum(g.accepts(r) for r in rows) < 20


def test_image_prompt_uses_the_vision_prefix(lm):
    img = np.full((50, 50, 3), 255, np.uint8)
    img[10:40, 10:40] = 0
    p = build_prompt(lm.tokenizer, lm.layout, "image", image=img,
                     n_image_tokens=lm.n_image_tokens)
    assert p.ids[:lm.n_image_tokens] == [lm.layout.pad] * lm.n_image_tokens
    samples = to_samples(lm, generate_ids(lm, p, 4, PRESETS["image"], max_new_tokens=24))
    assert all(s.complete and not s.issues for s in samples)
    with pytest.raises(ConfigError, match="image"):
        build_prompt(lm.tokenizer, lm.layout, "image", image=None, n_image_tokens=4)
    with pytest.raises(ConfigError, match="vision prefix"):
        build_prompt(lm.tokenizer, lm.layout, "reference", image=img, n_image_tokens=0)


def test_sample_logprob_is_the_models_own_sequence_log_likelihood(lm):
    prompt = build_prompt(lm.tokenizer, lm.layout, "text", text="a cat")
    got = generate(lm, prompt, 3, Sampling(1.0, 1.0, 0), max_new_tokens=16, grammar=False,
                   logprobs=True, seed=3)
    for s in got:  # teacher-forced forward pass over prompt + sample
        ids = torch.tensor([list(prompt.ids) + s.ids])
        with torch.no_grad():
            logits = lm.model(input_ids=ids).logits[0].float()
        lp = torch.log_softmax(logits[len(prompt.ids) - 1:-1], -1).gather(
            1, ids[0, len(prompt.ids):, None]).sum()
        assert s.logprob == pytest.approx(float(lp), abs=1e-3) and s.logprob < 0
    assert generate(lm, prompt, 1, Sampling(), max_new_tokens=16)[0].logprob is None


def test_hf_logits_processor_form_tracks_tokens(lm):
    g = grammar_for(lm.layout, lm.vocab_rows)
    proc = GrammarLogitsProcessor(g, 1, 32, prompt_len=3)
    scores = torch.zeros(1, lm.vocab_rows)
    out = proc(torch.tensor([[5, 6, 7]]), scores.clone())
    assert torch.isfinite(out[0]).sum() == 1 and out[0, lm.layout.bos] == 0  # only <svg>
    out = proc(torch.tensor([[5, 6, 7, lm.layout.bos]]), scores.clone())
    assert bool(torch.isfinite(out[0, lm.layout.fill_start]))
    assert not bool(torch.isfinite(out[0, lm.layout.command("M")]))


def test_top_k_top_p_and_greedy():
    logits = torch.tensor([[0.0, 1.0, 5.0, 4.9, -1.0]]).repeat(2000, 1)
    gen = torch.Generator().manual_seed(0)
    got = sample(logits, Sampling(1.0, 1.0, 2), gen)
    assert set(got.tolist()) == {2, 3}
    got = sample(logits, Sampling(1.0, 0.3, 0), gen)  # top token alone holds > 0.3
    assert set(got.tolist()) == {2}
    assert sample(logits[:1], Sampling(0.0, 1.0, 0)).tolist() == [2]
    with pytest.raises(ConfigError):
        Sampling(-1.0, 0.9, 50)
    assert PRESETS["text"] == Sampling(0.5, 0.88, 50)
    assert PRESETS["image"] == Sampling(0.3, 0.90, 50)


def test_blank_detection():
    white = np.full((100, 100, 3), 255, np.uint8)
    assert is_blank(white)
    white[40:60, 40:60] = 0
    assert not is_blank(white)


def test_generate_cli_from_a_run(tabler_data, tmp_path):
    from svgrl.cli import main
    from svgrl.svg.image_io import read_png
    from svgrl.train.sft import SFTConfig, train_sft

    run = tmp_path / "run"
    train_sft(SFTConfig(data=tabler_data, out=str(run), max_steps=1, batch_size=2,
                        eval_every=0, eval_examples=2, progress=False, threads=1,
                        image_size=32, patch_size=8),
              BackboneConfig(**TINY), log=lambda m: None)
    out = tmp_path / "gen"
    assert main(["generate", "--run", str(run), "--text", "arrow left", "-n", "3", "-o",
                 str(out), "--max-new-tokens", "40"]) == 0
    summary = json.loads((out / "samples.json").read_text())
    assert len(summary["samples"]) == 3 and all(s["complete"] for s in summary["samples"])
    assert read_png(str(out / "0000.png")).shape == (200, 200, 3)
    assert (out / "0002.svg").read_text().startswith("<svg")
    ref = tmp_path / "ref.png"
    ref.write_bytes((out / "0000.png").read_bytes())
    assert main(["generate", "--run", str(run), "--reference", str(ref), "-n", "2", "-o",
                 str(tmp_path / "gen2"), "--max-new-tokens", "24"]) == 0
    # Typed errors: two prompts, a missing image, garbage image bytes.
    assert main(["generate", "--run", str(run), "--text", "x", "--image", str(ref), "-o",
                 str(out)]) == 2
    assert main(["generate", "--run", str(run), "--image", str(tmp_path / "no.png"), "-o",
                 str(out)]) == 2
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG garbage")
    assert main(["generate", "--run", str(run), "--image", str(bad), "-o", str(out)]) == 2
    assert main(["generate", "--run", str(tmp_path / "none"), "--text", "x", "-o",
                 str(out)]) == 2
