"""The one sampler (`svgrl.model.sampler.Decoder`): rows joining a running batch decode as they
would alone, dropped rows vanish, compaction changes nothing, per-token log-probs equal a
teacher-forced forward pass, and a weight swap mid-decode keeps the rows' caches and records
the version of every token."""

from __future__ import annotations

import pytest
import torch

from svgrl.errors import ConfigError
from svgrl.model.backbones import BackboneConfig, prepare_backbone
from svgrl.model.prompts import build_prompt
from svgrl.model.sampler import Decoder, decode, run_rows
from svgrl.model.sampling import Sampling
from svgrl.tokens.grammar import grammar_for

GREEDY = Sampling(0.0, 1.0, 0)


@pytest.fixture(scope="module")
def lm():
    torch.manual_seed(0)
    lm = prepare_backbone(BackboneConfig(backbone="tiny", tiny_layers=1, tiny_d_model=32,
                                         tiny_heads=2, seed=1), vision=(32, 8))
    return lm.train(False)


@pytest.fixture(scope="module")
def prompts(lm):
    def ids(text: str) -> list[int]:
        return build_prompt(lm.tokenizer, lm.layout, "text", text=text).ids
    return ids("a star"), ids("a much longer description of a house with a red roof")


def decoder(lm, **kw) -> Decoder:
    kw = {"sampling": GREEDY, "grammar": grammar_for(lm.layout, lm.vocab_rows), **kw}
    return Decoder(lm.model, eos={lm.layout.eos}, pad_id=lm.layout.pad, **kw)


def test_rows_joining_mid_flight_decode_as_they_would_alone(lm, prompts):
    a, b = prompts
    alone_a = decode(lm.model, [a], max_new_tokens=20, sampling=GREEDY, eos={lm.layout.eos},
                     pad_id=lm.layout.pad, grammar=grammar_for(lm.layout, lm.vocab_rows),
                     logprobs=True)[0]
    alone_b = decode(lm.model, [b], max_new_tokens=14, sampling=GREEDY, eos={lm.layout.eos},
                     pad_id=lm.layout.pad, grammar=grammar_for(lm.layout, lm.vocab_rows),
                     logprobs=True)[0]
    dec = decoder(lm, logprobs=True)
    [ia] = dec.add([a], max_new_tokens=20)
    for _ in range(5):
        dec.step()
    assert dec.tokens(ia) == alone_a.tokens[:5]
    [ib] = dec.add([b], max_new_tokens=14)  # longer prompt: the running batch is re-padded
    got = {f.id: f for f in run_rows(dec, [ia, ib])}
    assert got[ia].tokens == alone_a.tokens and got[ib].tokens == alone_b.tokens
    assert torch.allclose(torch.tensor(got[ia].logprobs), torch.tensor(alone_a.logprobs),
                          atol=1e-4)
    assert dec.live == 0 and dec.rows == []


def test_dropped_rows_are_never_returned_and_others_continue(lm, prompts):
    dec = decoder(lm, sampling=Sampling(1.0, 1.0, 0), generator=torch.Generator().manual_seed(0))
    ids = dec.add([prompts[0]], n=3, max_new_tokens=12)
    dec.step()
    assert dec.drop(ids[1]) and not dec.drop(ids[1]) and not dec.drop(999)
    seen = []
    while dec.live:
        dec.step()
        seen += dec.pop_finished()
    assert sorted(f.id for f in seen) == [ids[0], ids[2]]
    with pytest.raises(KeyError):
        dec.tokens(ids[1])


def test_compaction_and_per_row_budgets_do_not_change_outputs(lm, prompts):
    def run(compact_below: float) -> dict[int, list[int]]:
        dec = decoder(lm, grammar=None, compact_below=compact_below)
        short = dec.add([prompts[0]], n=2, max_new_tokens=3)
        long = dec.add([prompts[1]], n=2, max_new_tokens=9)
        return {f.id: f.tokens for f in run_rows(dec, short + long)}

    kept, cut = run(0.0), run(1.0)  # never compacts / compacts as soon as a row ends
    assert kept == cut
    assert sorted(map(len, kept.values())) == [3, 3, 9, 9]


def test_logprobs_are_the_masked_tempered_distribution_of_the_drawn_tokens(lm, prompts):
    g = grammar_for(lm.layout, lm.vocab_rows)
    s = Sampling(0.7, 1.0, 0)
    [f] = decode(lm.model, [prompts[0]], max_new_tokens=16, sampling=s, eos={lm.layout.eos},
                 pad_id=lm.layout.pad, grammar=g, logprobs=True,
                 generator=torch.Generator().manual_seed(3))
    seq = torch.tensor([prompts[0] + f.tokens])
    with torch.no_grad():
        logits = lm.model(input_ids=seq).logits[0, len(prompts[0]) - 1:-1].float()
    st = g.start(16)
    want = []
    for t, row in zip(f.tokens, logits, strict=True):
        row = row.clone()
        g.mask_logits_(row[None], [st])
        want.append(float(torch.log_softmax(row / 0.7, -1)[t]))
        st.advance(t)
    assert torch.allclose(torch.tensor(f.logprobs), torch.tensor(want), atol=1e-4)
    assert f.versions == [0] * len(f.tokens)


def test_weight_swap_mid_decode_keeps_the_cache_and_records_versions(lm, prompts):
    import copy

    model = copy.deepcopy(lm.model)
    same = {k: v.clone() for k, v in model.state_dict().items()}
    other = {k: v + 0.05 * torch.randn_like(v) for k, v in same.items()}

    def run(swap: dict | None, version: int):
        dec = Decoder(model, sampling=GREEDY, eos={lm.layout.eos}, pad_id=lm.layout.pad,
                      logprobs=True)
        [i] = dec.add([prompts[0]], max_new_tokens=12)
        for _ in range(4):
            dec.step()
        if swap is not None:
            dec.load_weights(swap, version)
        out = run_rows(dec, [i])[0]
        model.load_state_dict(same)
        return out

    base = run(None, 0)
    again = run(same, 1)
    assert again.tokens == base.tokens and again.versions == [0] * 4 + [1] * 8
    moved = run(other, 2)
    lp, base_lp = torch.tensor(moved.logprobs), torch.tensor(base.logprobs)
    assert moved.versions == [0] * 4 + [2] * 8 and moved.tokens[:4] == base.tokens[:4]
    assert torch.equal(lp[:4], base_lp[:4]) and not torch.allclose(lp[4:], base_lp[4:])
    # The swapped row kept the cache the old weights wrote: a fresh start with the new
    # weights (prompt and first tokens recomputed) scores the same tokens differently.
    model.load_state_dict(other)
    seq = torch.tensor([prompts[0] + moved.tokens])
    with torch.no_grad():
        fresh = torch.log_softmax(model(input_ids=seq).logits[0].float(), -1)
    model.load_state_dict(same)
    n = len(prompts[0])
    fresh_lp = fresh[n - 1:-1].gather(1, torch.tensor(moved.tokens)[:, None]).squeeze(1)
    assert not torch.allclose(fresh_lp[4:], lp[4:], atol=1e-4)


def test_bad_requests_are_config_errors(lm, prompts):
    dec = decoder(lm)
    with pytest.raises(ConfigError):
        dec.add([], max_new_tokens=4)
    with pytest.raises(ConfigError):
        dec.add([prompts[0]], max_new_tokens=0)
    with pytest.raises(ConfigError, match="image"):
        Decoder(lm.model, sampling=GREEDY, eos={0}, pad_id=0).add(
            [prompts[0]], max_new_tokens=4, images=torch.zeros(1, 3, 32, 32))


def test_a_request_with_its_own_seed_samples_the_same_whatever_its_neighbours(lm, prompts):
    s = Sampling(1.0, 0.9, 20)

    def mine(neighbours: int) -> list[list[int]]:
        dec = decoder(lm, sampling=GREEDY, generator=torch.Generator().manual_seed(9))
        if neighbours:
            dec.add([prompts[1]], n=neighbours, max_new_tokens=10)
            dec.step()
        ids = dec.add([prompts[0]], n=2, max_new_tokens=10, sampling=s,
                      generator=torch.Generator().manual_seed(5))
        streamed: dict[int, list[int]] = {i: [] for i in ids}
        while dec.live:
            for t in dec.step():
                if t.id in streamed:
                    streamed[t.id].append(t.token)
        return [streamed[i] for i in ids]

    alone = mine(0)
    assert mine(3) == alone and alone[0] != alone[1]
    with pytest.raises(ConfigError, match="positions"):
        decoder(lm).check(10, lm.model.config.max_position_embeddings)
