"""The generator contract (`svgrl.model.backend`) on both backends: svgrl's own `Decoder`
(`LocalBackend`) and vLLM's engine (`VllmBackend`). vLLM cannot be installed here (it brings
a CUDA torch), so `VllmBackend` runs against a fake engine (`tests/helpers/fake_vllm`) that
implements the part of vLLM's API the adapter uses, persistent batch included; the checks
are on our side: grammar masks applied, log-probs read, weights pushed with versions,
completions in request order."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from svgrl.model.backbones import BackboneConfig, prepare_backbone
from svgrl.model.backend import GenRequest, LocalBackend
from svgrl.model.folder import load_model_folder, save_model_folder
from svgrl.model.prompts import build_prompt
from svgrl.model.sampling import Sampling
from svgrl.tokens.codec import decode
from svgrl.tokens.grammar import grammar_for

FAKE = Path(__file__).resolve().parents[1] / "helpers" / "fake_vllm"
RL = Sampling(1.0, 1.0, 0)  # GRPO's sampling: temperature 1, no top-k / top-p


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    lm = prepare_backbone(BackboneConfig(backbone="tiny", tiny_layers=1, tiny_d_model=32,
                                         tiny_heads=2, seed=1), vision=None)
    out = tmp_path_factory.mktemp("gen") / "model"
    save_model_folder(lm, out)
    return out


@pytest.fixture
def fake_vllm(monkeypatch):
    """The fake `vllm` importable for one test, then gone from sys.modules again."""
    monkeypatch.syspath_prepend(str(FAKE))
    yield
    for name in [m for m in sys.modules if m == "vllm" or m.startswith("vllm.")
                 or m == "svgrl.model.vllm_grammar"]:
        del sys.modules[name]


def _backend(kind: str, folder: Path, **kw):
    if kind == "local":
        return LocalBackend(load_model_folder(folder), **kw)
    from svgrl.model.vllm_backend import VllmBackend

    return VllmBackend(folder, max_num_seqs=2, **kw)  # 2 rows: requests join, leave, move


def _requests(lm) -> list[GenRequest]:
    def ids(text: str) -> list[int]:
        return build_prompt(lm.tokenizer, lm.layout, "text", text=text).ids
    return [GenRequest(ids("a star"), max_new_tokens=16, n=2, sampling=RL, seed=1),
            GenRequest(ids("a house with a red roof"), max_new_tokens=10, n=1, sampling=RL,
                       seed=2),
            GenRequest(ids("arrow"), max_new_tokens=20, n=2, sampling=RL, seed=3)]


def _teacher_forced(model, prompt: list[int], tokens: list[int], grammar, budget: int
                    ) -> list[float]:
    """log p(token) under the grammar-masked softmax at temperature 1, by one forward pass."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prompt + tokens])).logits[0].float()
    rows = logits[len(prompt) - 1:-1]
    st = grammar.start(budget)
    out = []
    for t, row in zip(tokens, rows, strict=True):
        row = row.clone()
        grammar.mask_logits_(row[None], [st])
        out.append(float(torch.log_softmax(row, -1)[t]))
        st.advance(t)
    return out


def _perturbed(model) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    return {k: v + 0.05 * torch.randn(v.shape, generator=g) if v.is_floating_point() else v
            for k, v in model.state_dict().items()}


@pytest.mark.parametrize("kind", ["local", "vllm"])
def test_generator_contract(kind, folder, request):
    if kind == "vllm":
        request.getfixturevalue("fake_vllm")
    ref = load_model_folder(folder)  # an independent copy to score the completions with
    grammar = grammar_for(ref.layout, ref.vocab_rows)
    backend = _backend(kind, folder)
    reqs = _requests(ref)

    def check(outs, version: int) -> None:
        # in request order, n completions each, every one a whole drawing within budget
        assert [len(o) for o in outs] == [r.n for r in reqs]
        for r, rows in zip(reqs, outs, strict=True):
            for f in rows:
                assert 1 <= len(f.tokens) <= r.max_new_tokens
                assert f.reason == "eos" and f.tokens[-1] == ref.layout.eos
                decode(f.tokens, ref.layout, strict=True)
                assert grammar.accepts(f.tokens, r.max_new_tokens)
                assert f.versions == [version] * len(f.tokens)
                want = _teacher_forced(ref.model, r.prompt, f.tokens, grammar,
                                       r.max_new_tokens)
                assert f.logprobs == pytest.approx(want, abs=1e-4)

    check(backend.generate(reqs), 0)
    new = _perturbed(ref.model)
    backend.update_weights(new, version=1)
    ref.model.load_state_dict(new)
    outs = backend.generate(reqs)
    check(outs, 1)  # log-probs now match the new weights
    if kind == "vllm":
        llm = backend.llm
        assert llm.prefix_cache_resets == 1
        assert all(p.logprobs == 0 and not p.detokenize and
                   p.stop_token_ids == [ref.layout.eos] for p in llm.seen_params)


def test_vllm_without_the_grammar_writes_no_drawings(folder, fake_vllm):
    """The mask is the processor's doing: the same engine without it writes no drawing;
    and a seeded request samples the same again, wherever it sits in the batch."""
    from svgrl.model.vllm_backend import VllmBackend

    lm = load_model_folder(folder)
    reqs = [GenRequest(r.prompt, max_new_tokens=8, n=2, sampling=RL, seed=r.seed)
            for r in _requests(lm)[:2]]
    b = VllmBackend(folder, grammar=False)
    outs = b.generate(reqs)
    g = grammar_for(lm.layout, lm.vocab_rows)
    assert not any(g.accepts(f.tokens) for rows in outs for f in rows)
    again = b.generate(reqs[::-1])[::-1]
    assert [[f.tokens for f in r] for r in outs] == [[f.tokens for f in r] for r in again]


def test_without_vllm_the_error_names_the_extra(folder):
    from svgrl.model.vllm_backend import VllmBackend, VllmUnavailableError

    if "vllm" in sys.modules:
        pytest.skip("a vllm module is importable here")
    with pytest.raises(VllmUnavailableError, match=r"svgrl\[gpu\]"):
        VllmBackend(folder)


def test_vllm_refuses_a_model_with_the_vision_prefix(tmp_path, fake_vllm):
    from svgrl.errors import ConfigError
    from svgrl.model.vllm_backend import VllmBackend

    lm = prepare_backbone(BackboneConfig(backbone="tiny", tiny_layers=1, tiny_d_model=32,
                                         tiny_heads=2, seed=1), vision=(32, 8))
    save_model_folder(lm, tmp_path / "m")
    with pytest.raises(ConfigError, match="vision prefix"):
        VllmBackend(tmp_path / "m")


def test_grammar_processor_follows_requests_through_the_persistent_batch(folder, fake_vllm):
    """Rows added (grammar on / off), tokens appended to vLLM's live output lists, a swap,
    a removal and a one-way move: each row's mask is its own request's grammar state."""
    from types import SimpleNamespace

    from vllm import SamplingParams
    from vllm.v1.sample.logits_processor import BatchUpdate, MoveDirectionality

    from svgrl.model.vllm_grammar import SvgGrammarLogitsProcessor

    lm = load_model_folder(folder)
    v = lm.vocab_rows
    cfg = SimpleNamespace(model_config=SimpleNamespace(model=str(folder),
                                                       get_vocab_size=lambda: v))
    proc = SvgGrammarLogitsProcessor(cfg, torch.device("cpu"), False)
    g = grammar_for(lm.layout, v)
    on, off = (SamplingParams(max_tokens=20, extra_args={"svgrl_grammar": x})
               for x in (True, False))
    a, b, c = [], [], []  # the requests' output lists, appended to as vLLM does

    def allowed(row: torch.Tensor) -> torch.Tensor:
        return torch.isfinite(row)

    def want(tokens: list[int]) -> torch.Tensor:
        st = g.start(20)
        for t in tokens:
            st.advance(t)
        return torch.from_numpy(st.mask().copy())

    def step(update=None, rows=3) -> torch.Tensor:
        proc.update_state(update)
        return proc.apply(torch.zeros(rows, v))

    out = step(BatchUpdate(3, [], [(0, on, [1], a), (1, off, [1], b), (2, on, [1], c)], []))
    assert torch.equal(allowed(out[0]), want([])) and torch.equal(allowed(out[2]), want([]))
    assert allowed(out[1]).all()  # grammar off: untouched
    a.append(lm.layout.bos)
    b.append(5)
    out = step()
    assert torch.equal(allowed(out[0]), want(a)) and torch.equal(allowed(out[2]), want([]))
    out = step(BatchUpdate(3, [], [], [(0, 2, MoveDirectionality.SWAP)]))
    assert torch.equal(allowed(out[0]), want(c)) and torch.equal(allowed(out[2]), want(a))
    out = step(BatchUpdate(2, [1], [], [(2, 1, MoveDirectionality.UNIDIRECTIONAL)]), rows=2)
    assert torch.equal(allowed(out[1]), want(a)) and torch.equal(allowed(out[0]), want(c))
    assert not torch.equal(want(a), want(c))  # the two states do differ


def test_svgrl_generate_on_the_vllm_backend(folder, tmp_path, fake_vllm, capsys):
    import json

    from svgrl.cli import main

    out = tmp_path / "s"
    code = main(["generate", "--run", str(folder), "--text", "a star", "--backend", "vllm",
                 "-n", "3", "-o", str(out), "--max-new-tokens", "16", "--no-progress",
                 "--redraws", "0"])
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "samples.json").read_text())
    assert summary["backend"] == "vllm" and len(summary["samples"]) == 3
    assert all(s["complete"] for s in summary["samples"])  # the grammar closed each one
    assert len(list(out.glob("*.svg"))) == 3


def test_svgrl_generate_without_vllm_names_the_extra(folder, tmp_path, capsys):
    from svgrl.cli import main

    if "vllm" in sys.modules:
        pytest.skip("a vllm module is importable here")
    code = main(["generate", "--run", str(folder), "--text", "a star", "--backend", "vllm",
                 "-o", str(tmp_path / "s"), "--no-progress"])
    assert code == 2 and "svgrl[gpu]" in capsys.readouterr().err
