"""Trainer role, one rollout batch: filtered batch → several minibatch optimiser steps.

    keep groups with ≥ 2 distinct rewards                (Magistral §2.1, before batching)
    A_i = r_i − mean(group)
    split the kept sequences into `minibatches` (seeded permutation, equal sizes)
    per minibatch: Â = standardise(A) over it; denominator = its completion tokens;
                   greedy microbatches under the token budget; Σ microbatch losses; step

Old log-probs: a batch that carries behaviour log-probs (asynchronous generation: tokens
sampled by earlier weight versions, `Batch.logprobs`) uses them as π_old, so the importance
ratio corrects for the policy lag (Magistral §3). Otherwise, with one minibatch the policy
has not moved when the loss is taken, so π_old = π_θ.detach() (ratio 1, as TRL does) and no
extra forward pass is needed; with more minibatches they are computed once, before the first
step, in a no-grad pass.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from svgrl.rl import grpo
from svgrl.rl.collate import greedy_microbatches, padding_report
from svgrl.rl.policy import build_micro, completion_logprobs, from_rows, score
from svgrl.rl.rollout import Batch


@dataclass
class Plan:
    """What the trainer will do with a verified batch."""

    batch: Batch            # kept sequences only
    advantages: Tensor      # (N_kept,) A_i (group-relative, not yet standardised)
    groups_total: int
    groups_kept: int


def plan_update(batch: Batch, *, advantage: str = "magistral",
                keep_equal_groups: bool = False) -> Plan:
    r = torch.tensor(batch.rewards, dtype=torch.float64)
    g = torch.tensor(batch.group, dtype=torch.long)
    keep = (torch.ones_like(r, dtype=torch.bool) if keep_equal_groups
            else grpo.informative_groups(r, g))
    total = len(set(batch.group))
    idx = keep.nonzero().flatten().tolist()
    if not idx:
        return Plan(batch.select([]), torch.zeros(0), total, 0)
    adv = grpo.group_advantages(r[idx], g[idx], scale="group" if advantage == "grpo" else "none")
    kept = batch.select(idx)
    return Plan(kept, adv.to(torch.float32), total, len(set(kept.group)))


def minibatch_split(n: int, minibatches: int, seed: int) -> list[list[int]]:
    """A seeded permutation of range(n) cut into ≤ `minibatches` near-equal parts."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    k = min(minibatches, n)
    return [order[j::k] for j in range(k)] if k else []


def update(model: Any, optimizer: Any, plan: Plan, cfg: Any, *, pad_id: int, l_max: int,
           step_seed: int, ref_model: Any = None, grammar: Any = None) -> dict[str, float]:
    """Run the minibatch updates of one rollout batch; returns weighted metrics. `grammar`:
    the grammar the rollout sampled under (with budget `l_max`); log-probs of the current,
    old and reference policies are then all taken over the tokens it allowed."""
    b = plan.batch
    n = len(b)
    if n == 0:
        return {}
    lengths = b.lengths

    def micro(ix: list[int]) -> Any:
        return build_micro(ix, b.prompt_ids, b.completion_ids, pad_id, b.group, b.images,
                           grammar, l_max)

    all_micros = [micro(ix) for ix in greedy_microbatches(lengths, cfg.token_budget)]
    rep = padding_report(lengths, cfg.token_budget)
    if b.logprobs:
        old = [torch.tensor(x, dtype=torch.float32) for x in b.logprobs]
    else:
        old = score(model, all_micros, n, cfg.temperature) if cfg.minibatches > 1 else None
    need_ref = ref_model is not None and (cfg.beta > 0 or cfg.log_kl_to_start)
    ref = score(ref_model, all_micros, n, cfg.temperature) if need_ref else None

    sums: dict[str, float] = {}
    tokens = 0.0
    losses, norms = [], []
    model.train()
    for part in minibatch_split(n, cfg.minibatches, step_seed):
        adv = plan.advantages[part]
        if cfg.advantage == "magistral":
            adv = grpo.standardise_advantages(adv)
        lens = [lengths[i] for i in part]
        denom = (grpo.token_denominator(torch.tensor([[len(b.completion_ids[i])] for i in part]))
                 if cfg.normaliser == "tokens" else grpo.constant_denominator(len(part), l_max))
        adv_of = dict(zip(part, adv.tolist(), strict=True))
        optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for local in greedy_microbatches(lens, cfg.token_budget):
            mb = micro([part[j] for j in local])
            # Entropy is logged every step; it reuses the logits this pass holds anyway.
            logp, ent = completion_logprobs(model, mb, cfg.temperature, with_entropy=True)
            old_mb = logp.detach() if old is None else from_rows(old, mb)
            ref_mb = from_rows(ref, mb) if ref is not None else None
            loss, m = grpo.policy_loss(
                logp, old_mb, torch.tensor([adv_of[i] for i in mb.index]), mb.mask,
                denominator=denom, epsilon_low=cfg.epsilon_low, epsilon_high=cfg.epsilon_high,
                ref_logprobs=ref_mb, beta=cfg.beta,
                entropy=ent if cfg.entropy_coef > 0 else ent.detach(),
                entropy_coef=cfg.entropy_coef)
            loss.backward()
            total += float(loss.detach())
            k = m.pop("n_tokens")
            tokens += k
            for key, v in m.items():
                sums[key] = sums.get(key, 0.0) + v * k
        if cfg.max_grad_norm > 0:
            norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(),
                                                              cfg.max_grad_norm)))
        optimizer.step()
        losses.append(total)
    optimizer.zero_grad(set_to_none=True)
    out = {k: v / max(tokens, 1.0) for k, v in sums.items()}
    if "kl_ref" in out:
        out["kl_to_start"] = out.pop("kl_ref")
    out.update(loss=sum(losses) / len(losses), train_tokens=tokens,
               pad_tokens_greedy=rep.greedy_padded - rep.real_tokens,
               pad_tokens_naive=rep.naive_padded - rep.real_tokens,
               padding_saved=rep.padding_saved, microbatches=rep.greedy_microbatches)
    if norms:
        out["grad_norm"] = sum(norms) / len(norms)
    out["_padding"] = str(rep)  # type: ignore[assignment]
    return out
