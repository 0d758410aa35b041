"""Policy forward passes over collated sequences: per-token log-probs of completions.

A microbatch is a list of sequences ``prompt + completion``, **left-padded** to its longest
total length L, so every completion ends at column L−1 and the last T = max completion
length columns hold all completion tokens (right-aligned). The model then needs logits only
for the last T+1 positions (``logits_to_keep``), which on a 49k vocabulary is most of the
memory of a forward pass.

Shapes: B sequences, L padded length, T max completion length, V vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from svgrl.rl.grpo import token_entropy, token_logprobs


@dataclass
class Micro:
    index: list[int]        # positions of these sequences in the caller's list
    input_ids: Tensor       # (B, L)
    attention_mask: Tensor  # (B, L)
    position_ids: Tensor    # (B, L)
    targets: Tensor         # (B, T) completion tokens, right-aligned
    mask: Tensor            # (B, T) 1 on completion tokens

    @property
    def width(self) -> int:
        return int(self.targets.shape[1])


def build_micro(index: Sequence[int], prompt_ids: Sequence[list[int]],
                completion_ids: Sequence[list[int]], pad_id: int) -> Micro:
    seqs = [prompt_ids[i] + completion_ids[i] for i in index]
    comp = [len(completion_ids[i]) for i in index]
    L, T, B = max(len(s) for s in seqs), max(comp), len(seqs)
    ids = torch.full((B, L), pad_id, dtype=torch.long)
    attn = torch.zeros((B, L), dtype=torch.long)
    for r, s in enumerate(seqs):
        ids[r, L - len(s):] = torch.tensor(s, dtype=torch.long)
        attn[r, L - len(s):] = 1
    # Positions count real tokens only, so left padding does not shift rotary phases.
    pos = (attn.cumsum(1) - 1).clamp(min=0)
    cols = torch.arange(T)
    mask = (cols.unsqueeze(0) >= (T - torch.tensor(comp)).unsqueeze(1)).to(torch.float32)
    return Micro(list(index), ids, attn, pos, ids[:, L - T:], mask)


def forward_logits(model: Any, mb: Micro, temperature: float = 1.0) -> Tensor:
    """(B, T, V) logits predicting the completion tokens, divided by the sampling
    temperature so log-probs are those of the distribution that sampled them."""
    out = model(input_ids=mb.input_ids, attention_mask=mb.attention_mask,
                position_ids=mb.position_ids, logits_to_keep=mb.width + 1, use_cache=False)
    logits = out.logits[:, :-1]  # position t predicts token t+1
    return logits / temperature if temperature != 1.0 else logits


def completion_logprobs(model: Any, mb: Micro, temperature: float = 1.0,
                        with_entropy: bool = False) -> tuple[Tensor, Tensor | None]:
    """(B, T) log-probs of the completion tokens (with grad if the model is in grad mode),
    and optionally the (B, T) entropy of each next-token distribution."""
    logits = forward_logits(model, mb, temperature)
    logp = token_logprobs(logits, mb.targets)
    ent = token_entropy(logits) if with_entropy else None
    return logp, ent


def to_rows(x: Tensor, mb: Micro) -> list[Tensor]:
    """(B, T) right-aligned → one 1-D tensor per sequence (its completion tokens only)."""
    n = mb.mask.sum(1).long().tolist()
    return [x[r, x.shape[1] - k:].detach().clone() for r, k in enumerate(n)]


def from_rows(rows: Sequence[Tensor], mb: Micro) -> Tensor:
    """Per-sequence 1-D tensors → (B, T) right-aligned (zeros where masked)."""
    out = torch.zeros(mb.targets.shape, dtype=torch.float32)
    for r, i in enumerate(mb.index):
        k = rows[i].shape[0]
        if k:
            out[r, out.shape[1] - k:] = rows[i]
    return out


@torch.no_grad()
def score(model: Any, micros: Sequence[Micro], n: int, temperature: float = 1.0) -> list[Tensor]:
    """Per-sequence completion log-probs under `model` (no grad), for old/reference policy."""
    rows: list[Tensor] = [torch.empty(0)] * n
    for mb in micros:
        logp, _ = completion_logprobs(model, mb, temperature)
        for r, x in zip(mb.index, to_rows(logp, mb), strict=True):
            rows[r] = x
    return rows
