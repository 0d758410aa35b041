import numpy as np
import pytest
import torch
from helpers.strategies import quantised_drawings
from helpers.subpaths import degenerate_subpaths
from hypothesis import given, settings
from hypothesis import strategies as st

from svgrl.errors import ConfigError, TokenError
from svgrl.tokens.codec import decode, decode_report, encode
from svgrl.tokens.grammar import CLOSE, S_BOS, Grammar, grammar_for
from svgrl.tokens.layout import TokenLayout

LAY = TokenLayout(base_vocab_size=1000)
GR = grammar_for(LAY)
SMALL = TokenLayout(grid=5, base_vocab_size=2, n_rotation=3)
GS = grammar_for(SMALL)


def _walk(gr, rng, max_len, after_bos=False, bias_eos=0.0):
    st_ = gr.start(max_len, after_bos=after_bos)
    ids = []
    while not st_.done:
        m = st_.mask()
        allowed = np.flatnonzero(m)
        assert allowed.size, "a reachable state must allow some token"
        if bias_eos and m[gr.layout.eos] and rng.random() < bias_eos:
            t = gr.layout.eos
        else:
            # Pick a class first so rare tokens (EOS, Z, A) are as likely as points.
            classes = sorted({gr.class_of[t] for t in allowed[:: max(1, allowed.size // 500)]}
                             | {gr.class_of[t] for t in allowed[-3:]})
            c = classes[rng.integers(len(classes))]
            choices = allowed[[gr.class_of[t] == c for t in allowed]]
            t = int(choices[rng.integers(choices.size)])
        assert st_.allows(t)
        st_.advance(t)
        ids.append(t)
    return ids


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), max_len=st.integers(CLOSE[S_BOS], 120),
       small=st.booleans())
def test_random_walks_strict_decode(seed, max_len, small):
    gr = GS if small else GR
    rng = np.random.default_rng(seed)
    ids = _walk(gr, rng, max_len)
    assert len(ids) <= max_len
    d = decode(ids, gr.layout, strict=True)
    assert d.paths and all(any(c[0] in "LCA" for c in p.commands) for p in d.paths)
    assert degenerate_subpaths(d) == []
    assert gr.accepts(ids)
    # Canonical: re-encoding the decoded drawing gives the same ids.
    assert encode(d, gr.layout) == ids


def test_long_walk_with_after_bos():
    rng = np.random.default_rng(0)
    ids = _walk(GR, rng, 2000, after_bos=True)
    assert len(ids) <= 2000
    decode([LAY.bos] + ids, LAY, strict=True)


@settings(max_examples=200, deadline=None)
@given(d=quantised_drawings(LAY, need_segment=True, min_paths=1))
def test_encoded_drawings_are_accepted_iff_every_subpath_bears_area(d):
    ids = encode(d, LAY)
    if degenerate_subpaths(d):  # M Z, M M, a single line, Z Z: never accepted
        with pytest.raises(TokenError, match="not allowed"):
            GR.check(ids)
        return
    GR.check(ids)
    assert GR.accepts(ids, max_len=len(ids))
    assert not GR.accepts(ids, max_len=len(ids) - 1)


@pytest.mark.parametrize("body, ok", [
    ("M Z", False), ("M M L L", False), ("M L Z", False), ("M L", False), ("M L L Z Z", False),
    ("M L L Z L Z", False), ("M L L Z L", False), ("M", False),
    ("M L L", True), ("M L L Z", True), ("M C Z", True), ("M A", True), ("M L C Z M A Z", True),
    ("M L L Z L L", True), ("M L L Z C Z M L A", True)])
def test_degenerate_subpaths_are_refused(body, ok):
    p = LAY.point(1, 1)
    seg = {"M": [LAY.command("M"), p], "L": [LAY.command("L"), p], "Z": [LAY.command("Z")],
           "C": [LAY.command("C"), p, p, p],
           "A": [LAY.command("A"), p, LAY.rotation(0), LAY.large_flag(0), LAY.sweep_flag(1), p]}
    ids = [LAY.bos, LAY.fill((0, 0, 0))] + [t for op in body.split() for t in seg[op]]
    assert GR.accepts([*ids, LAY.eos]) is ok
    # ...and as the second path of a drawing (the next FILL ends the subpath like EOS does)
    good = [LAY.bos, LAY.fill(None), LAY.command("M"), p, LAY.command("C"), p, p, p]
    assert GR.accepts(good + ids[1:] + [LAY.eos]) is ok
    assert GR.accepts(ids + good[1:] + [LAY.eos]) is ok


@settings(max_examples=300, deadline=None)
@given(ids=st.lists(st.sampled_from(
    [SMALL.bos, SMALL.eos, SMALL.pad, SMALL.fill(None), SMALL.fill((0, 0, 0)),
     SMALL.rule("evenodd"), SMALL.rule("nonzero"), SMALL.rotation(60), SMALL.large_flag(1),
     SMALL.sweep_flag(0), 0, 99] + [SMALL.command(op) for op in "MLCAZ"]
    + [SMALL.point(1, 2), SMALL.point(4, 4)]), max_size=30))
def test_accepted_implies_strict_decodable(ids):
    if GS.accepts(ids):
        decode(ids, SMALL, strict=True)
    # ...and a strict decode of a canonical sequence implies acceptance.
    try:
        d = decode(ids, SMALL, strict=True)
    except TokenError:
        return
    if encode(d, SMALL) == ids:
        assert GS.accepts(ids)


def test_budget_forces_eos():
    lay = LAY
    st_ = GR.start(10)
    for t in (lay.bos, lay.fill((0, 0, 0)), lay.command("M"), lay.point(1, 1)):
        st_.advance(t)
    # 6 left: L p L p EOS and C p p p EOS fit; A r θ fa fs p EOS (7) does not.
    m = st_.mask()
    assert m[lay.command("L")] and m[lay.command("C")] and not m[lay.command("A")]
    assert not m[lay.eos] and not m[lay.command("Z")]  # the subpath has no segment yet
    st_.advance(lay.command("L")).advance(lay.point(2, 2))
    m = st_.mask()  # 4 left, one line drawn: another L (L p EOS); C p p p EOS (5) is too long
    assert m[lay.command("L")] and not m[lay.command("C")]
    assert not m[lay.eos] and not m[lay.command("Z")]  # a single line has no area
    st_.advance(lay.command("L")).advance(lay.point(2, 1))
    m = st_.mask()  # 2 left: Z or EOS; M p ... and a new path do not fit
    assert m[lay.eos] and m[lay.command("Z")] and not m[lay.command("M")]
    assert not m[lay.fill((0, 0, 0))]
    st_.advance(lay.command("Z"))
    assert np.flatnonzero(st_.mask()).tolist() == [lay.eos]
    with pytest.raises(TokenError):
        st_.copy().advance(lay.command("Z"))
    st_.advance(lay.eos)
    assert st_.done and st_.remaining == 0
    assert set(np.flatnonzero(st_.mask()).tolist()) == {lay.pad, lay.eos}


def test_masks_are_precomputed_and_read_only():
    st_ = GR.start(2000).advance(LAY.bos)
    a = st_.mask()
    st_.advance(LAY.fill(None)).advance(LAY.command("M")).advance(LAY.point(1, 1))
    st_.advance(LAY.command("L")).advance(LAY.point(3, 1))
    st_.advance(LAY.command("L"))
    b1 = st_.mask()
    st_.advance(LAY.point(3, 3)).advance(LAY.command("L"))
    assert st_.mask() is b1 and a is not b1
    assert not a.flags.writeable
    assert torch.equal(st_.mask_torch(), torch.from_numpy(b1.copy()))
    assert st_.mask_torch() is st_.mask_torch()
    assert b1.sum() == LAY.grid**2 and not b1[:LAY.base_vocab_size].any()


def test_text_and_non_canonical_tokens_are_never_offered():
    lay = LAY
    st_ = GR.start(100).advance(lay.bos)
    m = st_.mask()
    assert m[lay.fill((0, 0, 0))] and m[lay.fill(None)] and not m[lay.fill_current]
    st_.advance(lay.fill((0, 0, 0)))
    m = st_.mask()
    assert m[lay.rule("evenodd")] and not m[lay.rule("nonzero")] and m[lay.command("M")]
    assert not m[:lay.base_vocab_size].any()
    with pytest.raises(TokenError) as e:
        st_.advance(5)
    assert e.value.position == 2
    with pytest.raises(TokenError):
        st_.advance(2.5)


def test_padded_vocabulary():
    gr = Grammar(LAY, vocab_size=LAY.vocab_size + 64)
    st_ = gr.start(50)
    assert st_.mask().shape == (LAY.vocab_size + 64,)
    st_.advance(LAY.bos)
    assert not st_.allows(LAY.vocab_size + 3) and not st_.mask()[LAY.vocab_size:].any()
    with pytest.raises(ConfigError):
        Grammar(LAY, vocab_size=LAY.vocab_size - 1)


def test_check_reports_first_bad_position():
    ids = encode_ids = [LAY.bos, LAY.fill(None), LAY.command("M"), LAY.point(1, 1), LAY.eos]
    with pytest.raises(TokenError) as e:
        GR.check(encode_ids)
    assert e.value.position == 4  # EOS before any segment
    with pytest.raises(TokenError) as e:
        GR.check(ids[:4])
    assert e.value.reason == "truncated"
    _, rep = decode_report(ids, LAY)
    assert rep.n_degenerate == 1


@pytest.mark.parametrize("max_len", [0, 8, -1, 9.0])
def test_max_len_too_small(max_len):
    with pytest.raises(ConfigError):
        GR.start(max_len)


def test_torch_bias_matches_mask():
    st1 = GR.start(100).advance(LAY.bos)
    st2 = GR.start(100)
    b = GR.batch_bias([st1, st2])
    assert b.shape == (2, LAY.vocab_size)
    for row, st_ in zip(b, (st1, st2), strict=True):
        assert torch.equal(row == 0, torch.from_numpy(st_.mask().copy()))
        assert torch.isinf(row[~torch.from_numpy(st_.mask().copy())]).all()
    assert st1.bias_torch() is st1.bias_torch()


def test_mask_logits_in_place_equals_adding_the_bias():
    """The range/keep plans of `mask_logits_` must forbid exactly what `batch_bias` does,
    for batches whose rows sit in many different grammar states."""
    import random

    import numpy as np
    import torch

    from svgrl.tokens.grammar import grammar_for
    from svgrl.tokens.layout import TokenLayout

    layout = TokenLayout(grid=32, base_vocab_size=17)
    g = grammar_for(layout, layout.vocab_size + 5)
    rng = random.Random(0)
    for _ in range(20):
        states = []
        for _ in range(12):
            st = g.start(64)
            for _ in range(rng.randint(0, 40)):
                if st.done:
                    break
                st.advance(int(rng.choice(np.flatnonzero(st.mask()))))
            states.append(st)
        scores = torch.randn(len(states), g.vocab_size)
        want = scores.clone().add_(g.batch_bias(states))
        assert torch.equal(g.mask_logits_(scores, states), want)


GRAD = grammar_for(TokenLayout(grid=9, base_vocab_size=3, n_rotation=4, gradients=True))


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), max_len=st.integers(CLOSE[S_BOS], 160))
def test_random_walks_with_gradient_paint_strict_decode(seed, max_len):
    rng = np.random.default_rng(seed)
    ids = _walk(GRAD, rng, max_len)
    assert len(ids) <= max_len and GRAD.accepts(ids)
    d = decode(ids, GRAD.layout, strict=True)
    assert d.paths and degenerate_subpaths(d) == []
    # Offsets that go back are clamped on decode, so ids re-encode to a canonical spelling
    # that decodes to the same drawing.
    again = encode(d, GRAD.layout)
    assert GRAD.accepts(again) and decode(again, GRAD.layout, strict=True) == d
