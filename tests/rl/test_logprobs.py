"""Completion log-probs in bounded memory: the LM head runs over chunks of positions (each
checkpointed under grad) and gives the same log-probs, entropies and gradients as the whole
(B, T, V) logits tensor."""

from __future__ import annotations

import copy

import pytest
import torch

from svgrl.model.backbones import BackboneConfig, load_backbone
from svgrl.rl.grpo import token_logprobs
from svgrl.rl.policy import MASKED_LOGIT, build_micro, completion_logprobs, forward_logits


@pytest.fixture(scope="module")
def tiny():
    return load_backbone(BackboneConfig(backbone="tiny", tiny_layers=1, tiny_d_model=64,
                                        tiny_heads=2, seed=3))[0].eval()


def _micro(with_mask: bool):
    prompts = [[5, 6, 7, 8, 9], [5, 6, 7, 8, 9], [10, 11], [12, 13, 14]]
    comps = [[20, 21, 40], [22, 23, 24, 25, 26, 27], [26, 27, 28], [29]]
    mb = build_micro([0, 1, 2, 3], prompts, comps, pad_id=256)
    if with_mask:  # a grammar-like table: every other id forbidden in mask 1
        V = 260  # the tiny byte model's vocabulary
        allowed = torch.ones(2, V, dtype=torch.bool)
        allowed[1, 1::2] = False
        allowed[1, [21, 23, 25, 27]] = True
        mb.allowed_table = allowed
        mb.allowed_index = (torch.arange(mb.width)[None] % 2).repeat(4, 1)
    return mb


def _whole(model, mb, temperature):
    """The reference: the whole (B, T, V) logits tensor."""
    logits = forward_logits(model, mb, temperature)
    if mb.allowed_table is not None:
        logits = logits.masked_fill(~mb.allowed_table[mb.allowed_index], MASKED_LOGIT)
    return token_logprobs(logits, mb.targets, with_entropy=True)


@pytest.mark.parametrize("chunk", [1, 3, None])
@pytest.mark.parametrize("with_mask,temperature", [(False, 1.0), (True, 0.7)])
def test_chunked_logprobs_entropy_and_grads_equal_the_whole_logits(tiny, chunk, with_mask,
                                                                   temperature):
    mb = _micro(with_mask)
    m = mb.mask
    a, b = copy.deepcopy(tiny), copy.deepcopy(tiny)
    lp, ent = completion_logprobs(a, mb, temperature, with_entropy=True, chunk=chunk)
    want, want_ent = _whole(b, mb, temperature)
    assert torch.allclose(lp * m, want * m, atol=1e-6, rtol=0)
    # Entropy sums V terms of size ~1/V into a value ~5.5: float32 rounding is ~1e-6 there.
    assert torch.allclose(ent * m, want_ent * m, atol=1e-5, rtol=0)
    assert float(lp.detach()[m == 0].abs().sum()) == 0.0
    ((lp * m).sum() + 0.1 * (ent * m).sum()).backward()
    ((want * m).sum() + 0.1 * (want_ent * m).sum()).backward()
    for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.allclose(p.grad, q.grad, atol=1e-6, rtol=1e-5), name


def test_no_grad_scoring_skips_checkpointing_and_matches(tiny):
    mb = _micro(True)
    with torch.no_grad():
        lp, none = completion_logprobs(tiny, mb, 0.7, chunk=2)
        want, _ = _whole(tiny, mb, 0.7)
    assert none is None and not lp.requires_grad
    assert torch.allclose(lp * mb.mask, want * mb.mask, atol=1e-6, rtol=0)
