"""Magistral's GRPO objective (arXiv 2506.10910, §2.1) as pure tensor functions.

Shapes: N = sequences of a rollout batch, B = sequences of one microbatch, T = padded
completion length, V = vocabulary. One optimiser step consumes a *minibatch*; it may be split
into microbatches for gradient accumulation.

    keep = informative_groups(rewards, group)             # (N,) drop all-equal groups first
    adv  = group_advantages(rewards[keep], group[keep])   # (N',) A_i = r_i − mean_group(r)
    for each minibatch (index set I):
        a_hat = standardise_advantages(adv[I])            # Â over the minibatch's sequences
        denom = token_denominator(mask[I])                # Σ_i |o_i| over the *whole* minibatch
        for each microbatch J ⊂ I:
            loss, m = policy_loss(logp[J], old[J], a_hat[J], mask[J], denominator=denom)
            loss.backward()                               # Σ_J loss = minibatch objective

    L = −(1 / Σ_i |o_i|) Σ_i Σ_t min(ρ_it Â_i, clip(ρ_it, 1−ε_low, 1+ε_high) Â_i),  β = 0.

Because every microbatch divides by the minibatch's token count, the microbatch losses (and
gradients) add up to exactly the minibatch loss; dividing each microbatch by its own count
would weight short-sequence microbatches up.

Ablations (opt-in): ``group_advantages(scale="group")`` with no minibatch standardisation is
the original GRPO advantage (DeepSeekMath); ``constant_denominator`` is Dr. GRPO's
(arXiv 2503.20783) length-independent normaliser; ``beta > 0`` adds the k3 KL estimator to a
reference policy; ``entropy_coef > 0`` is an entropy bonus (1-shot RLVR, arXiv 2504.20571,
uses 0.001).

Where TRL's ``GRPOTrainer`` with ``loss_type="dapo"`` (trl 1.16, ``_compute_loss``) differs:

- Token normaliser: TRL divides by the completion-token count of the whole *generation batch
  gathered over all processes* (``num_items_in_batch``), rescaled by
  ``gradient_accumulation_steps / steps_per_generation / num_processes``; we divide by the
  token count of the optimiser-step minibatch. They coincide on one process with one
  optimiser step per generation batch.
- Group filtering: TRL keeps all-equal groups (advantage 0), so their tokens still count in
  the normaliser and dilute the step; Magistral drops them before batching.
- Advantage scaling: TRL's ``scale_rewards="group"`` (default) divides by the Bessel-corrected
  group std + 1e-4; ``"batch"`` divides ``r − mean_group`` by the std of the *rewards* of the
  whole batch, not the std of the advantages, and does not re-centre. Magistral standardises
  the advantages over the minibatch (we use the population std, so one sequence gives 0, not
  NaN). With ``scale_rewards="none"`` TRL's advantages are our ``group_advantages`` output.
- Entropy bonus: TRL always divides it by the token count of the *microbatch* and the number
  of accumulation steps; we apply the same denominator as the policy term.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from svgrl.errors import ConfigError, TensorError

# Magistral §2.1 defaults (clip-higher from DAPO, arXiv 2503.14476).
EPSILON_LOW = 0.2
EPSILON_HIGH = 0.28


def _check_1d(name: str, x: Tensor, n: int | None = None) -> None:
    if x.dim() != 1 or (n is not None and x.shape[0] != n):
        want = f"({n},)" if n is not None else "(N,)"
        raise TensorError(f"{name} must have shape {want}, got {tuple(x.shape)}")


def _float_dtype(x: Tensor) -> torch.dtype:
    return x.dtype if x.dtype.is_floating_point else torch.float32


def _group_ids(rewards: Tensor, group_index: Tensor) -> tuple[Tensor, int]:
    """Dense ids 0..G-1 for arbitrary group labels; validates both inputs."""
    _check_1d("rewards", rewards)
    _check_1d("group_index", group_index, rewards.shape[0])
    if rewards.shape[0] == 0:
        raise TensorError("rewards is empty: no sequences to score")
    if not torch.isfinite(rewards).all():
        bad = rewards[~torch.isfinite(rewards)][:3].tolist()
        raise TensorError(
            f"rewards must be finite, got {bad}; score failures with the floor reward"
        )
    if group_index.dtype.is_floating_point or group_index.dtype == torch.bool:
        raise TensorError(f"group_index must be an integer tensor, got {group_index.dtype}")
    uniq, inverse = torch.unique(group_index, return_inverse=True)
    return inverse, int(uniq.numel())


def informative_groups(rewards: Tensor, group_index: Tensor, *, tol: float = 0.0) -> Tensor:
    """Mask of sequences whose group has at least two different rewards (Magistral §2.1).

    rewards: (N,) float; group_index: (N,) int, equal for completions of the same prompt.
    Returns (N,) bool. A group whose rewards all lie within `tol` of each other has zero
    advantage everywhere; it is dropped *before* batching so it takes no slot and no token of
    the normaliser.
    """
    ids, g = _group_ids(rewards, group_index)
    r = rewards.detach().to(torch.float64)
    hi = torch.full((g,), -torch.inf, dtype=r.dtype).scatter_reduce(0, ids, r, "amax")
    lo = torch.full((g,), torch.inf, dtype=r.dtype).scatter_reduce(0, ids, r, "amin")
    return (hi - lo > tol)[ids]


def group_advantages(
    rewards: Tensor,
    group_index: Tensor,
    *,
    scale: Literal["none", "group"] = "none",
    eps: float = 1e-6,
) -> Tensor:
    """A_i = r_i − mean of r over i's group.  (N,) → (N,), no grad, computed in float64 and
    returned in the rewards' float dtype (float32 for integer rewards).

    scale="group" also divides by the group's Bessel-corrected std + eps (original GRPO, as
    TRL's ``scale_rewards="group"``); a group of one has std 0 and advantage 0.
    """
    if scale not in ("none", "group"):
        raise ConfigError(f"scale must be 'none' or 'group', got {scale!r}")
    ids, g = _group_ids(rewards, group_index)
    r = rewards.detach().to(torch.float64)
    count = torch.zeros(g, dtype=r.dtype).scatter_add(0, ids, torch.ones_like(r))
    mean = torch.zeros(g, dtype=r.dtype).scatter_add(0, ids, r) / count
    adv = r - mean[ids]
    if scale == "group":
        sq = torch.zeros(g, dtype=r.dtype).scatter_add(0, ids, adv * adv)
        std = torch.sqrt(sq / (count - 1).clamp(min=1))
        adv = adv / (std[ids] + eps)
    return adv.to(_float_dtype(rewards))


def standardise_advantages(advantages: Tensor, *, eps: float = 1e-6) -> Tensor:
    """Â = (A − mean) / (std + eps) over the sequences of one minibatch (Magistral §2.1).

    (B,) → (B,). The std is the population std (divides by B), so a single sequence gets 0.
    Call it once per optimiser-step minibatch, before splitting into microbatches.
    """
    _check_1d("advantages", advantages)
    if advantages.numel() == 0:
        raise TensorError("advantages is empty: the minibatch has no sequences")
    a = advantages.detach().to(torch.float64)
    a = (a - a.mean()) / (a.std(correction=0) + eps)
    return a.to(_float_dtype(advantages))


def token_denominator(mask: Tensor) -> float:
    """Σ_i |o_i|: completion tokens of the whole minibatch. mask: (B, T) of 0/1."""
    n = float(mask.sum())
    if n <= 0:
        raise TensorError("the minibatch has no completion tokens (mask sums to 0)")
    return n


def constant_denominator(n_sequences: int, max_completion_length: int) -> float:
    """Dr. GRPO's normaliser: a constant (sequences × max completion length), so the loss
    does not reward long wrong answers by diluting them (Dr. GRPO §3.1)."""
    if n_sequences < 1 or max_completion_length < 1:
        raise ConfigError(
            f"Dr. GRPO normaliser needs n_sequences ≥ 1 and max_completion_length ≥ 1, "
            f"got {n_sequences} and {max_completion_length}"
        )
    return float(n_sequences * max_completion_length)


def token_logprobs(logits: Tensor, tokens: Tensor, *, with_entropy: bool = False
                   ) -> tuple[Tensor, Tensor | None]:
    """(log π(tokens), entropy of each next-token distribution or None) from logits aligned
    with the tokens: (B, T, V), (B, T) → (B, T), (B, T). One log-softmax serves both.

    The caller shifts: logits[:, t] must be the prediction *for* tokens[:, t]. Forbidden
    tokens may carry a large finite negative logit (not -inf, so that 0·log 0 stays 0).
    """
    if logits.dim() != 3 or tokens.shape != logits.shape[:2]:
        raise TensorError(
            f"logits (B, T, V) and tokens (B, T) disagree: {tuple(logits.shape)} vs "
            f"{tuple(tokens.shape)}"
        )
    logp_all = torch.log_softmax(logits.float(), dim=-1)
    logp = logp_all.gather(-1, tokens.long().unsqueeze(-1)).squeeze(-1)
    ent = -(logp_all.exp() * logp_all).sum(-1) if with_entropy else None
    return logp, ent


def policy_loss(
    logprobs: Tensor,
    old_logprobs: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    denominator: float,
    epsilon_low: float = EPSILON_LOW,
    epsilon_high: float = EPSILON_HIGH,
    ref_logprobs: Tensor | None = None,
    beta: float = 0.0,
    entropy: Tensor | None = None,
    entropy_coef: float = 0.0,
) -> tuple[Tensor, dict[str, float]]:
    """Clipped token-level policy loss of one (micro)batch.

    logprobs: (B, T) log π_θ of the sampled tokens (carries grad); old_logprobs: (B, T) under
    the policy that sampled them; advantages: (B,) Â_i; mask: (B, T), 1 on completion
    tokens. Values at masked positions are ignored (they may be -inf or NaN).
    denominator: ``token_denominator`` of the whole minibatch (or ``constant_denominator``).

        ρ = exp(logprobs − old_logprobs)
        ℓ_t = −min(ρ Â, clip(ρ, 1−ε_low, 1+ε_high) Â) + β·k3(ref‖θ) − entropy_coef·H_t
        loss = Σ_masked ℓ_t / denominator

    k3(ref‖θ) = exp(ref − logp) − (ref − logp) − 1 (Schulman's low-variance estimator, as
    DeepSeekMath and TRL). The KL and entropy terms share the denominator, so microbatch
    losses still add up to the minibatch loss.

    Returns (loss, metrics); metrics are means over this call's masked tokens plus
    ``n_tokens`` so a caller can weight them across microbatches.
    """
    if logprobs.dim() != 2:
        raise TensorError(f"logprobs must have shape (B, T), got {tuple(logprobs.shape)}")
    for name, x in (("old_logprobs", old_logprobs), ("mask", mask), ("ref_logprobs", ref_logprobs),
                    ("entropy", entropy)):
        if x is not None and x.shape != logprobs.shape:
            raise TensorError(
                f"{name} must have the shape of logprobs {tuple(logprobs.shape)}, got "
                f"{tuple(x.shape)}"
            )
    _check_1d("advantages", advantages, logprobs.shape[0])
    if not 0.0 <= epsilon_low < 1.0 or epsilon_high < 0.0:
        raise ConfigError(
            f"need 0 ≤ epsilon_low < 1 and epsilon_high ≥ 0, got {epsilon_low}, {epsilon_high} "
            f"(Magistral uses 0.2 and 0.28)"
        )
    if not denominator > 0:
        raise ConfigError(
            f"denominator must be > 0, got {denominator}; pass token_denominator(minibatch mask)"
        )
    if beta < 0 or entropy_coef < 0:
        raise ConfigError(f"beta and entropy_coef must be ≥ 0, got {beta}, {entropy_coef}")
    if beta > 0 and ref_logprobs is None:
        raise ConfigError(f"beta={beta} needs ref_logprobs from a reference model; or set beta=0")
    if entropy_coef > 0 and entropy is None:
        raise ConfigError(f"entropy_coef={entropy_coef} needs the per-token entropy; or set 0")

    keep = mask.bool()
    zero = torch.zeros((), dtype=logprobs.dtype, device=logprobs.device)
    # Fill masked slots before exp(): padding may hold -inf/NaN whose grad would poison sums.
    log_ratio = torch.where(keep, logprobs - old_logprobs, zero)
    ratio = torch.exp(log_ratio)
    adv = advantages.to(logprobs.dtype).unsqueeze(1)  # (B, 1), broadcast over tokens
    clipped = torch.clamp(ratio, 1.0 - epsilon_low, 1.0 + epsilon_high)
    per_token = -torch.min(ratio * adv, clipped * adv)

    if beta > 0:
        d = torch.where(keep, ref_logprobs - logprobs, zero)
        kl_ref = torch.exp(d) - d - 1.0
        per_token = per_token + beta * kl_ref
    if entropy_coef > 0:
        per_token = per_token - entropy_coef * torch.where(keep, entropy, zero)

    loss = torch.where(keep, per_token, zero).sum() / denominator

    with torch.no_grad():
        n = keep.sum()
        denom = n.clamp(min=1).to(logprobs.dtype)

        def mean(x: Tensor) -> float:
            return float(torch.where(keep, x.to(logprobs.dtype), zero).sum() / denom)

        low = (ratio < 1.0 - epsilon_low) & (adv < 0)
        high = (ratio > 1.0 + epsilon_high) & (adv > 0)
        metrics = {
            "n_tokens": float(n),
            "clip_frac_low": mean(low),
            "clip_frac_high": mean(high),
            "clip_frac": mean(low | high),
            # k3 estimate of KL(π_old ‖ π_θ) on tokens sampled from π_old.
            "approx_kl": mean(ratio - 1.0 - log_ratio),
            "ratio_mean": mean(ratio),
        }
        if entropy is not None:
            metrics["entropy"] = mean(entropy)
        if ref_logprobs is not None:
            d = torch.where(keep, ref_logprobs - logprobs, zero)
            metrics["kl_ref"] = mean(torch.exp(d) - d - 1.0)
    return loss, metrics
