"""The GRPO objective against independent plain-Python hand computations and TRL's dapo loss."""

from __future__ import annotations

import math

import pytest
import torch

from svgrl.errors import ConfigError, SvgrlError, TensorError
from svgrl.rl.grpo import (
    constant_denominator,
    group_advantages,
    informative_groups,
    policy_loss,
    standardise_advantages,
    token_denominator,
    token_logprobs,
)

# Three prompts × 4 completions with interleaved group labels; group 7 is all-equal.
REWARDS = [1.0, 0.0, 0.4, 1.0, 0.0, 0.2, 0.4, 0.4, 0.0, 1.0, 0.4, 1.0]
GROUPS = [3, 3, 7, 5, 3, 5, 7, 7, 3, 5, 7, 5]


# ---------------------------------------------------------------- hand computations (no torch)


def hand_filter(rewards, groups):
    by_group: dict[int, list[float]] = {}
    for r, g in zip(rewards, groups, strict=True):
        by_group.setdefault(g, []).append(r)
    keep = []
    for g in groups:
        rs = by_group[g]
        keep.append(max(rs) != min(rs))
    return keep


def hand_group_adv(rewards, groups, scale=False, eps=1e-6):
    out = []
    for r, g in zip(rewards, groups, strict=True):
        rs = [rr for rr, gg in zip(rewards, groups, strict=True) if gg == g]
        m = sum(rs) / len(rs)
        a = r - m
        if scale:
            var = sum((x - m) ** 2 for x in rs) / (len(rs) - 1) if len(rs) > 1 else 0.0
            a = a / (math.sqrt(var) + eps)
        out.append(a)
    return out


def hand_standardise(adv, eps=1e-6):
    m = sum(adv) / len(adv)
    sd = math.sqrt(sum((a - m) ** 2 for a in adv) / len(adv))
    return [(a - m) / (sd + eps) for a in adv]


def hand_loss_and_grad(lp, old, adv, mask, denom, el=0.2, eh=0.28, ref=None, beta=0.0,
                       ent=None, ent_coef=0.0):
    """Loss and d loss / d lp, token by token."""
    total = 0.0
    grad = [[0.0] * len(row) for row in lp]
    for i in range(len(lp)):
        for t in range(len(lp[i])):
            if not mask[i][t]:
                continue
            rho = math.exp(lp[i][t] - old[i][t])
            c = min(max(rho, 1 - el), 1 + eh)
            t1, t2 = rho * adv[i], c * adv[i]
            term = -min(t1, t2)
            outside = rho < 1 - el or rho > 1 + eh
            g = -adv[i] * rho if (t1 <= t2 or not outside) else 0.0
            if beta:
                d = ref[i][t] - lp[i][t]
                term += beta * (math.exp(d) - d - 1)
                g += beta * (1 - math.exp(d))
            if ent_coef:
                term -= ent_coef * ent[i][t]
            total += term
            grad[i][t] = g / denom
    return total / denom, grad


# ---------------------------------------------------------------- fixtures


def rollout(n_seq: int, length: int, seed: int):
    """Fixed log-probs, old log-probs (ratios spread across both clip edges) and a ragged mask."""
    g = torch.Generator().manual_seed(seed)
    old = -torch.rand(n_seq, length, generator=g, dtype=torch.float64) * 3 - 0.1
    lp = old + (torch.rand(n_seq, length, generator=g, dtype=torch.float64) - 0.5) * 0.9
    lens = torch.randint(1, length + 1, (n_seq,), generator=g)
    mask = (torch.arange(length)[None, :] < lens[:, None]).to(torch.float64)
    lp = lp.masked_fill(mask == 0, -math.inf)  # padding garbage must not leak into loss or grad
    return lp, old, mask


def tolist(x):
    return x.tolist()


def flat(rows):
    return [v for row in rows for v in row]


# ---------------------------------------------------------------- advantages and filtering


def test_filter_drops_all_equal_groups_only():
    r, g = torch.tensor(REWARDS), torch.tensor(GROUPS)
    keep = informative_groups(r, g)
    assert keep.tolist() == hand_filter(REWARDS, GROUPS)
    assert not any(k for k, gg in zip(keep.tolist(), GROUPS, strict=True) if gg == 7)
    assert sum(keep.tolist()) == 8


@pytest.mark.parametrize("scale", [False, True])
def test_group_advantages_match_hand(scale):
    adv = group_advantages(torch.tensor(REWARDS, dtype=torch.float64), torch.tensor(GROUPS),
                           scale="group" if scale else "none")
    assert adv.tolist() == pytest.approx(hand_group_adv(REWARDS, GROUPS, scale), rel=1e-12)


def test_standardise_is_population_and_single_is_zero():
    a = [0.5, -0.25, -0.25, 0.1, -0.1]
    assert standardise_advantages(torch.tensor(a, dtype=torch.float64)).tolist() == pytest.approx(
        hand_standardise(a), rel=1e-12)
    assert standardise_advantages(torch.tensor([3.0])).tolist() == [0.0]


def test_full_pipeline_loss_and_grad_equal_hand():
    """rewards → filter → group centring → minibatch standardisation → clipped token loss."""
    r, g = torch.tensor(REWARDS, dtype=torch.float64), torch.tensor(GROUPS)
    keep = informative_groups(r, g)
    adv = standardise_advantages(group_advantages(r[keep], g[keep]))

    kept_r = [x for x, k in zip(REWARDS, hand_filter(REWARDS, GROUPS), strict=True) if k]
    kept_g = [x for x, k in zip(GROUPS, hand_filter(REWARDS, GROUPS), strict=True) if k]
    hand_adv = hand_standardise(hand_group_adv(kept_r, kept_g))
    assert adv.tolist() == pytest.approx(hand_adv, rel=1e-12)

    lp, old, mask = rollout(len(kept_r), 6, seed=0)
    lp.requires_grad_(True)
    denom = token_denominator(mask)
    loss, metrics = policy_loss(lp, old, adv.double(), mask, denominator=denom)
    loss.backward()

    want, want_grad = hand_loss_and_grad(tolist(lp.detach()), tolist(old), hand_adv,
                                         tolist(mask), sum(map(sum, tolist(mask))))
    assert loss.item() == pytest.approx(want, rel=1e-9)
    assert flat(lp.grad.tolist()) == pytest.approx(flat(want_grad), rel=1e-9, abs=1e-15)
    assert torch.isfinite(lp.grad).all()
    # The fixture exercises clipping on both sides, so the clip branches are really tested.
    assert 0 < metrics["clip_frac"] < 1
    assert metrics["clip_frac_low"] > 0 and metrics["clip_frac_high"] > 0
    assert metrics["n_tokens"] == denom


def test_kl_and_entropy_terms_equal_hand():
    lp, old, mask = rollout(5, 7, seed=1)
    ref = old + 0.3 * torch.sin(torch.arange(35, dtype=torch.float64)).view(5, 7)
    ent = torch.rand(5, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    adv = [0.7, -1.2, 0.4, 1.5, -0.6]
    lp.requires_grad_(True)
    loss, m = policy_loss(lp, old, torch.tensor(adv, dtype=torch.float64), mask,
                          denominator=token_denominator(mask), ref_logprobs=ref, beta=0.04,
                          entropy=ent, entropy_coef=0.001)
    loss.backward()
    want, want_grad = hand_loss_and_grad(tolist(lp.detach()), tolist(old), adv, tolist(mask),
                                         float(mask.sum()), ref=tolist(ref), beta=0.04,
                                         ent=tolist(ent), ent_coef=0.001)
    assert loss.item() == pytest.approx(want, rel=1e-9)
    assert flat(lp.grad.tolist()) == pytest.approx(flat(want_grad), rel=1e-9, abs=1e-15)
    assert m["kl_ref"] > 0 and "entropy" in m


def test_microbatches_sum_to_minibatch_loss_and_grad():
    lp, old, mask = rollout(6, 8, seed=3)
    adv = standardise_advantages(torch.tensor([1.0, -0.5, 0.3, -2.0, 0.8, 0.1])).double()
    denom = token_denominator(mask)

    full = lp.clone().requires_grad_(True)
    loss_full, _ = policy_loss(full, old, adv, mask, denominator=denom)
    loss_full.backward()

    parts = lp.clone().requires_grad_(True)
    total = 0.0
    for idx in ([0, 3], [1, 2, 5], [4]):
        loss, _ = policy_loss(parts[idx], old[idx], adv[idx], mask[idx], denominator=denom)
        loss.backward()
        total += loss.item()
    assert total == pytest.approx(loss_full.item(), rel=1e-12)
    assert torch.allclose(parts.grad, full.grad, rtol=1e-12, atol=0)

    # Normalising each microbatch by its own token count is a different (wrong) objective.
    wrong = sum(policy_loss(lp[i], old[i], adv[i], mask[i],
                            denominator=token_denominator(mask[i]))[0].item()
                for i in ([0, 3], [1, 2, 5], [4]))
    assert wrong != pytest.approx(loss_full.item(), rel=1e-3)


def test_dr_grpo_constant_denominator():
    lp, old, mask = rollout(4, 5, seed=4)
    adv = torch.tensor([1.0, -1.0, 0.5, -0.5], dtype=torch.float64)
    d = constant_denominator(4, 5)
    loss, _ = policy_loss(lp, old, adv, mask, denominator=d)
    want, _ = hand_loss_and_grad(tolist(lp), tolist(old), adv.tolist(), tolist(mask), 20.0)
    assert d == 20.0 and loss.item() == pytest.approx(want, rel=1e-9)


def test_logprobs_and_entropy_helpers():
    logits = torch.tensor([[[0.0, math.log(3.0)], [5.0, 5.0]]])
    tokens = torch.tensor([[1, 0]])
    logp, ent = token_logprobs(logits, tokens, with_entropy=True)
    assert logp.tolist()[0] == pytest.approx([math.log(0.75), math.log(0.5)])
    h = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert ent.tolist()[0] == pytest.approx([h, math.log(2)])
    assert token_logprobs(logits, tokens)[1] is None
    # A forbidden token at a large finite negative logit: excluded, entropy stays finite.
    masked = torch.tensor([[[0.0, math.log(3.0), -1e9]]])
    lp, en = token_logprobs(masked, torch.tensor([[1]]), with_entropy=True)
    assert lp.item() == pytest.approx(math.log(0.75)) and en.item() == pytest.approx(h)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("call, err", [
    (lambda: informative_groups(torch.tensor([1.0, math.nan]), torch.tensor([0, 0])), TensorError),
    (lambda: group_advantages(torch.ones(3), torch.tensor([0, 1])), TensorError),
    (lambda: group_advantages(torch.ones(2), torch.tensor([0.0, 1.0])), TensorError),
    (lambda: group_advantages(torch.ones(2), torch.tensor([0, 1]), scale="batch"), ConfigError),
    (lambda: standardise_advantages(torch.ones(2, 2)), TensorError),
    (lambda: token_denominator(torch.zeros(2, 3)), TensorError),
    (lambda: policy_loss(torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2), torch.ones(2, 3),
                         denominator=6), TensorError),
    (lambda: policy_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(3), torch.ones(2, 3),
                         denominator=6), TensorError),
    (lambda: policy_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2), torch.ones(2, 3),
                         denominator=0), ConfigError),
    (lambda: policy_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2), torch.ones(2, 3),
                         denominator=6, beta=0.1), ConfigError),
    (lambda: policy_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2), torch.ones(2, 3),
                         denominator=6, epsilon_low=1.5), ConfigError),
])
def test_bad_input_raises_typed_error(call, err):
    with pytest.raises(err) as info:
        call()
    assert isinstance(info.value, SvgrlError)


# ---------------------------------------------------------------- TRL's dapo loss


def trl_dapo_loss_reproduced(lp, old, adv, mask, num_items_in_batch, num_processes=1,
                             grad_accum=1, steps_per_generation=1, el=0.2, eh=0.28):
    """TRL 1.16 `GRPOTrainer._compute_loss`, loss_type="dapo", token-level IS, beta=0, no
    vLLM correction, no entropy mask (trl/trainer/grpo_trainer.py, the branch
    ``elif self.loss_type in ["cispo", "dapo", "vespo"]``), transcribed line for line."""
    coef_1 = torch.exp(lp - old)
    coef_2 = torch.clamp(coef_1, 1 - el, 1 + eh)
    per_token_loss = -torch.min(coef_1 * adv.unsqueeze(1), coef_2 * adv.unsqueeze(1))
    normalizer = num_items_in_batch.clamp(min=1.0) / num_processes
    normalizer = normalizer * grad_accum / steps_per_generation
    return (per_token_loss * mask).sum() / normalizer


def trl_advantages_reproduced(rewards, num_generations, scale_rewards):
    """TRL 1.16 `_generate_and_score_completions`, single reward function,
    multi_objective_aggregation="sum_then_normalize"; groups are consecutive blocks."""
    from_mean = rewards.view(-1, num_generations).mean(dim=1).repeat_interleave(num_generations)
    if scale_rewards == "group":
        std = rewards.view(-1, num_generations).std(dim=1).repeat_interleave(num_generations)
    else:
        std = rewards.std().expand_as(rewards)
    adv = rewards - from_mean
    if scale_rewards != "none":
        adv = adv / (std + 1e-4)
    return adv


def test_equals_trl_dapo_where_definitions_coincide():
    """Same advantages, one process, one optimiser step per generation batch, no all-equal
    group: TRL's dapo normaliser is the minibatch token count, i.e. ours."""
    lp, old, mask = rollout(8, 6, seed=5)
    lp = lp.masked_fill(mask == 0, 0.0)  # TRL multiplies by the mask, so padding must be finite
    rewards = torch.tensor([1.0, 0.0, 0.3, 0.6, 0.2, 0.9, 0.9, 0.1], dtype=torch.float64)
    adv_trl = trl_advantages_reproduced(rewards, 4, "group")
    adv_ours = group_advantages(rewards, torch.tensor([0] * 4 + [1] * 4), scale="group", eps=1e-4)
    assert adv_ours.tolist() == pytest.approx(adv_trl.tolist(), rel=1e-6)

    a = adv_trl
    ours, _ = policy_loss(lp, old, a, mask, denominator=token_denominator(mask))
    theirs = trl_dapo_loss_reproduced(lp, old, a, mask, mask.sum())
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-12)

    # Where they differ: an all-equal group kept by TRL still counts in its normaliser.
    lp2, old2, mask2 = rollout(12, 6, seed=6)
    lp2 = lp2.masked_fill(mask2 == 0, 0.0)
    a2 = torch.cat([a, torch.zeros(4, dtype=torch.float64)])
    theirs2 = trl_dapo_loss_reproduced(torch.cat([lp, lp2[8:]]), torch.cat([old, old2[8:]]), a2,
                                       torch.cat([mask, mask2[8:]]),
                                       torch.cat([mask, mask2[8:]]).sum())
    assert theirs2.item() == pytest.approx(
        ours.item() * float(mask.sum()) / float(mask.sum() + mask2[8:].sum()), rel=1e-12)


def _trl_trainer_shell(el, eh):
    """A GRPOTrainer instance without __init__, carrying only what `_compute_loss` reads on
    one CPU process; the model forward is replaced by fixed log-probs."""
    import types
    from collections import defaultdict

    from trl import GRPOTrainer

    t = GRPOTrainer.__new__(GRPOTrainer)
    ident = lambda x, **_: x  # noqa: E731 - one process: gather/reduce are the identity
    attrs = dict(
        loss_type="dapo", epsilon_low=el, epsilon_high=eh, beta=0.0, top_entropy_quantile=1.0,
        off_policy_mask_threshold=None, importance_sampling_level="token", use_vllm=False,
        vllm_importance_sampling_correction=False, _entropy_bonus_enabled=False,
        aux_loss_enabled=False, current_gradient_accumulation_steps=1,
        model=types.SimpleNamespace(training=True),
        accelerator=types.SimpleNamespace(num_processes=1, gather=ident, reduce=ident,
                                          gather_for_metrics=ident, sync_gradients=True),
        args=types.SimpleNamespace(delta=None, steps_per_generation=1,
                                   use_bias_correction_kl=False),
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
    )
    for k, v in attrs.items():
        object.__setattr__(t, k, v)
    return t


def test_equals_trl_compute_loss_called_for_real():
    pytest.importorskip("trl", reason="TRL is only installed in the benchmark environment")
    lp, old, mask = rollout(6, 5, seed=7)
    lp = lp.masked_fill(mask == 0, 0.0)
    adv = torch.tensor([1.3, -0.4, 0.2, -1.1, 0.6, -0.6], dtype=torch.float64)
    trainer = _trl_trainer_shell(0.2, 0.28)
    theirs_lp = lp.clone().requires_grad_(True)
    trainer._get_per_token_logps_and_entropies = (
        lambda *a, **k: (theirs_lp, torch.zeros_like(theirs_lp), None))
    inputs = {
        "prompt_ids": torch.zeros(6, 1, dtype=torch.long), "prompt_mask": torch.ones(6, 1),
        "completion_ids": torch.zeros(6, 5, dtype=torch.long), "completion_mask": mask,
        "advantages": adv, "old_per_token_logps": old, "num_items_in_batch": mask.sum(),
    }
    theirs = trainer._compute_loss(None, inputs)
    theirs.backward()

    ours_lp = lp.clone().requires_grad_(True)
    ours, m = policy_loss(ours_lp, old, adv, mask, denominator=token_denominator(mask))
    ours.backward()
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-12)
    assert torch.allclose(ours_lp.grad, theirs_lp.grad, rtol=1e-10, atol=1e-15)
    assert m["clip_frac"] == pytest.approx(trainer._metrics["train"]["clip_ratio/region_mean"][0])
