"""Policy forward passes over collated sequences: per-token log-probs of completions, with the
prompt computed **once per group**.

All G completions of a GRPO group continue the same prompt, so a microbatch runs the prompt
forward pass on its U distinct prompts only (left-padded, KV cache kept *with* its autograd
graph), repeats the cache rows to the B sequences, and runs the completions on top. The
result equals one forward pass over each ``prompt + completion`` (tested), at roughly
U·Lp + B·T instead of B·(Lp + T) token positions — with prompts longer than completions
and G = 8 that is most of the work of a step.

Shapes: B sequences, U distinct prompts among them, Lp padded prompt length, T max
completion length, V vocabulary. Completions are right-padded: mask[r, :k_r] = 1.

Qwen2.5-VL policies: the prompt pass also takes the U prompts' ``pixel_values`` and
``image_grid_thw`` (so the vision tower gets gradients) and their 3-D M-RoPE positions, and
completion token t of a row sits at position n + offset + t (n: the row's real prompt tokens,
offset: its M-RoPE offset) — the positions the sampler decoded it at
(`svgrl.model.qwen_vl.vl_inputs` serves both).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from svgrl.model.qwen_vl import VLPrompt, qwen_core, vl_inputs
from svgrl.rl.grpo import token_logprobs

MASKED_LOGIT = -1e9
# Logits per LM-head chunk: 2**24 float32 = 64 MiB, i.e. ~85 positions of a 197k vocabulary,
# ~380 of the 44k SVG vocabulary; the chunk's log-softmax and its backward double that.
LOGPROB_CHUNK_LOGITS = 2**24


@dataclass
class Micro:
    index: list[int]        # positions of these sequences in the caller's lists
    prompt_ids: Tensor      # (U, Lp) left-padded distinct prompts
    prompt_mask: Tensor     # (U, Lp)
    row: Tensor             # (B,) which prompt row each sequence continues
    targets: Tensor         # (B, T) completion tokens, right-padded
    mask: Tensor            # (B, T) float, 1 on completion tokens
    images: Tensor | None = None  # (U, 3, S, S) image of each prompt row (vision prefix)
    # Grammar-constrained sampling (SVG tasks): the sampler drew each token from the softmax
    # over the tokens the grammar allowed, so log-probs are taken over those same tokens.
    # Stored compactly: allowed_table (S, V) bool holds the distinct masks, allowed_index
    # (B, T) picks one per position (row 0 = all allowed, used on padding).
    allowed_table: Tensor | None = None
    allowed_index: Tensor | None = None
    vl: list[VLPrompt] | None = None  # Qwen2.5-VL: the U prompts (pixel values, grid sizes)

    @property
    def width(self) -> int:
        return int(self.targets.shape[1])


def left_pad(seqs: Sequence[list[int]], pad_id: int) -> tuple[Tensor, Tensor]:
    """(N, L) ids and 0/1 mask, each sequence flush right."""
    L = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), L), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), L), dtype=torch.long)
    for r, s in enumerate(seqs):
        ids[r, L - len(s):] = torch.tensor(s, dtype=torch.long)
        mask[r, L - len(s):] = 1
    return ids, mask


def positions(mask: Tensor) -> Tensor:
    """Position ids counting real tokens only (left padding must not shift rotary phases)."""
    return (mask.cumsum(1) - 1).clamp(min=0)


def build_micro(index: Sequence[int], prompt_ids: Sequence[list[int]],
                completion_ids: Sequence[list[int]], pad_id: int,
                group: Sequence[int] | None = None,
                images: Sequence[Tensor | None] | None = None, grammar: Any = None,
                max_new_tokens: int = 0) -> Micro:
    """Collate sequences `index`; those with equal `group` (default: equal prompt ids)
    share one prompt row. `images` (per sequence, or empty): the prompt images. `grammar`
    (a `svgrl.tokens.grammar.Grammar`) with the sampler's `max_new_tokens`: record the mask
    each token was sampled under (see `grammar_masks`). For a Qwen2.5-VL policy `images`
    holds each sequence's `VLPrompt` instead of an image tensor."""
    rows: dict[Any, int] = {}
    prompts: list[list[int]] = []
    imgs: list[Any] = []
    row = []
    for i in index:
        key = group[i] if group is not None else tuple(prompt_ids[i])
        if key not in rows:
            rows[key] = len(prompts)
            prompts.append(prompt_ids[i])
            if images:
                imgs.append(images[i])
        row.append(rows[key])
    p_ids, p_mask = left_pad(prompts, pad_id)
    comp = [completion_ids[i] for i in index]
    T = max(len(c) for c in comp)
    targets = torch.full((len(comp), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(comp), T), dtype=torch.float32)
    for r, c in enumerate(comp):
        targets[r, : len(c)] = torch.tensor(c, dtype=torch.long)
        mask[r, : len(c)] = 1
    table = idx = None
    if grammar is not None:
        table, idx = grammar_masks(grammar, comp, max_new_tokens, T)
    vl = imgs if imgs and isinstance(imgs[0], VLPrompt) else None
    return Micro(list(index), p_ids, p_mask, torch.tensor(row), targets, mask,
                 torch.stack(imgs) if imgs and vl is None else None, table, idx, vl)


def grammar_masks(grammar: Any, completions: Sequence[list[int]], max_new_tokens: int,
                  width: int) -> tuple[Tensor, Tensor]:
    """Replay each completion through the grammar the sampler used: (S, V) distinct allowed
    masks and (B, width) the mask of each position. A completion the grammar rejects (not
    sampled under it) keeps all tokens allowed from that point on."""
    table: list[Tensor] = [torch.ones(grammar.vocab_size, dtype=torch.bool)]
    slot: dict[int, int] = {}
    index = torch.zeros((len(completions), width), dtype=torch.long)
    for r, comp in enumerate(completions):
        st = grammar.start(max_new_tokens)
        for t, tok in enumerate(comp):
            if st.done or not st.allows(tok):
                break
            m = st.mask()
            k = slot.get(id(m))
            if k is None:
                k = slot[id(m)] = len(table)
                table.append(grammar.torch_mask(m))
            index[r, t] = k
            st.advance(tok)
    return torch.stack(table), index


def forward_logits(model: Any, mb: Micro, temperature: float = 1.0) -> Tensor:
    """(B, T, V) logits predicting each completion token, divided by the sampling
    temperature. Materialises the whole (B, T, V) tensor: the reference the bounded-memory
    `completion_logprobs` is tested against, not used in training."""
    if mb.vl is not None:
        logits = _backbone(model)[1](forward_hidden(model, mb))
        return logits / temperature if temperature != 1.0 else logits
    # Image prompts: the vision prefix enters here, so its parameters get gradients.
    extra = {"images": mb.images} if mb.images is not None else {}
    out_p = model(input_ids=mb.prompt_ids, attention_mask=mb.prompt_mask,
                  position_ids=positions(mb.prompt_mask), use_cache=True, logits_to_keep=1,
                  **extra)
    cache = out_p.cache
    cache.batch_select_indices(mb.row)  # (U, ...) → (B, ...), graph kept
    p_mask = mb.prompt_mask[mb.row]
    c_mask = mb.mask.long()
    start = p_mask.sum(1, keepdim=True)
    c_pos = start + torch.arange(mb.width).unsqueeze(0)
    out_c = model(input_ids=mb.targets, attention_mask=torch.cat([p_mask, c_mask], 1),
                  position_ids=c_pos, cache=cache, use_cache=True)
    # Token 0 is predicted by the prompt's last position, token t by completion position t−1.
    logits = torch.cat([out_p.logits[mb.row][:, -1:], out_c.logits[:, :-1]], 1)
    return logits / temperature if temperature != 1.0 else logits


def _backbone(model: Any) -> tuple[Any, Any]:
    """(decoder without the LM head, LM head) of an HF causal LM or a `SvgPolicy`."""
    lm = getattr(model, "lm_model", model)
    return lm.get_decoder(), lm.get_output_embeddings()


def forward_hidden(model: Any, mb: Micro) -> Tensor:
    """(B, T, D) final hidden states predicting each completion token — `forward_logits`
    before the LM head (same prompt-once cache, same alignment)."""
    decoder, _ = _backbone(model)
    if mb.vl is not None:
        return _forward_hidden_vl(model, mb)
    if mb.images is not None:  # the vision prefix enters here, so it gets gradients
        first = {"inputs_embeds": model.embed(mb.prompt_ids, mb.images,
                                              offsets=(mb.prompt_mask == 0).sum(1))}
    else:
        first = {"input_ids": mb.prompt_ids}
    out_p = decoder(**first, attention_mask=mb.prompt_mask,
                    position_ids=positions(mb.prompt_mask), use_cache=True)
    cache = out_p.cache
    cache.batch_select_indices(mb.row)  # (U, ...) → (B, ...), graph kept
    p_mask = mb.prompt_mask[mb.row]
    c_pos = p_mask.sum(1, keepdim=True) + torch.arange(mb.width).unsqueeze(0)
    out_c = decoder(input_ids=mb.targets, attention_mask=torch.cat([p_mask, mb.mask.long()], 1),
                    position_ids=c_pos, cache=cache, use_cache=True)
    return torch.cat([out_p.last_hidden_state[mb.row][:, -1:],
                      out_c.last_hidden_state[:, :-1]], 1)


def _forward_hidden_vl(model: Any, mb: Micro) -> Tensor:
    """`forward_hidden` of a Qwen2.5-VL policy: the prompt pass through the vision tower and
    the decoder with explicit 3-D positions, the completions at position n + offset + t."""
    core = qwen_core(model)
    dev = mb.prompt_ids.device
    kw, delta = vl_inputs(model, mb.prompt_ids, mb.prompt_mask, mb.vl)
    out_p = core(**{k: v.to(dev) for k, v in kw.items()}, use_cache=True)
    cache = out_p.cache
    cache.batch_select_indices(mb.row)  # (U, ...) → (B, ...), graph kept
    p_mask = mb.prompt_mask[mb.row]
    start = p_mask.sum(1, keepdim=True) + delta.to(dev)[mb.row][:, None]
    out_c = core(input_ids=mb.targets, attention_mask=torch.cat([p_mask, mb.mask.long()], 1),
                 position_ids=start + torch.arange(mb.width).unsqueeze(0), cache=cache,
                 use_cache=True)
    return torch.cat([out_p.last_hidden_state[mb.row][:, -1:],
                      out_c.last_hidden_state[:, :-1]], 1)


def completion_logprobs(model: Any, mb: Micro, temperature: float = 1.0,
                        with_entropy: bool = False, chunk: int | None = None
                        ) -> tuple[Tensor, Tensor | None]:
    """(B, T) log-probs of the completion tokens (with grad if grad mode is on), and
    optionally the (B, T) entropy of each next-token distribution; 0 on padding.

    Bounded memory: the LM head runs on `chunk` completion positions at a time (default:
    `LOGPROB_CHUNK_LOGITS` // V), and with grad each chunk is checkpointed (its logits are
    recomputed in the backward pass), so at most (chunk, V) logits exist at once instead of
    (B, T, V) — with a 150k–200k vocabulary and long completions, the whole tensor is
    gigabytes."""
    hidden = forward_hidden(model, mb)
    _, head = _backbone(model)
    if chunk is None:
        chunk = max(1, LOGPROB_CHUNK_LOGITS // int(head.weight.shape[0]))
    sel = mb.mask.bool()
    h, tgt = hidden[sel], mb.targets[sel]  # (N, D), (N,) real positions only
    allowed = mb.allowed_index[sel] if mb.allowed_table is not None else None

    def piece(h_c: Tensor, t_c: Tensor, a_c: Tensor | None) -> tuple[Tensor, Tensor]:
        logits = head(h_c)
        if temperature != 1.0:
            logits = logits / temperature
        if a_c is not None:
            # A large finite value, not -inf: 0·log 0 in the entropy must stay 0, not NaN.
            logits = logits.masked_fill(~mb.allowed_table[a_c], MASKED_LOGIT)
        lp, ent = token_logprobs(logits[None], t_c[None], with_entropy=with_entropy)
        return lp[0], (ent[0] if ent is not None else lp.new_zeros(0))

    # Checkpointing pays a second pass through the head; it is only worth it when the logits
    # would not fit in one chunk anyway (a small vocabulary fits whole).
    recompute = torch.is_grad_enabled() and h.requires_grad and h.shape[0] > chunk
    lps, ents = [], []
    for s in range(0, h.shape[0], chunk):
        args = (h[s:s + chunk], tgt[s:s + chunk],
                allowed[s:s + chunk] if allowed is not None else None)
        lp, ent = checkpoint(piece, *args, use_reentrant=False) if recompute else piece(*args)
        lps.append(lp)
        ents.append(ent)
    logp = hidden.new_zeros(sel.shape, dtype=torch.float32)
    logp = logp.masked_scatter(sel, torch.cat(lps)) if lps else logp
    ent = None
    if with_entropy:
        ent = hidden.new_zeros(sel.shape, dtype=torch.float32)
        ent = ent.masked_scatter(sel, torch.cat(ents)) if ents else ent
    return logp, ent


def to_rows(x: Tensor, mb: Micro) -> list[Tensor]:
    """(B, T) → one 1-D tensor per sequence (its completion tokens only)."""
    n = mb.mask.sum(1).long().tolist()
    return [x[r, :k].detach().clone() for r, k in enumerate(n)]


def from_rows(rows: Sequence[Tensor], mb: Micro) -> Tensor:
    """Per-sequence 1-D tensors (indexed like the caller's lists) → (B, T), zeros where
    masked."""
    out = torch.zeros(mb.targets.shape, dtype=torch.float32)
    for r, i in enumerate(mb.index):
        out[r, : rows[i].shape[0]] = rows[i]
    return out


@torch.no_grad()
def score(model: Any, micros: Sequence[Micro], n: int, temperature: float = 1.0) -> list[Tensor]:
    """Per-sequence completion log-probs under `model` (no grad): old or reference policy."""
    rows: list[Tensor] = [torch.empty(0)] * n
    for mb in micros:
        logp, _ = completion_logprobs(model, mb, temperature)
        for i, x in zip(mb.index, to_rows(logp, mb), strict=True):
            rows[i] = x
    return rows
