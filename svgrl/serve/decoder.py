"""Rows that join and leave one KV-cached, grammar-masked decoding batch between steps — what
continuous batching (Orca, OSDI '22 "iteration-level scheduling"; vLLM) needs from a sampler.

The batch holds one left-padded KV cache (B, heads, T, d) per layer, an attention mask
(B, T) with 0 on the left pads, and each row's next position id. A joining request is
prefilled alone (its prompt once, the cache repeated for its `n` rows) and concatenated onto
the batch after left-padding whichever side is shorter; a finished or cancelled row is
removed with ``batch_select_indices`` and the columns every remaining row pads are cropped,
so the cache is never longer than the longest live row. Positions are per row, so RoPE sees
each row's own offsets and the pads change nothing but the mask.

Per step: last logits (B, V) → the grammar's mask for each row's state
(`svgrl.tokens.grammar`, the same masks `svgrl.model.generate` applies) → per-request
temperature / top-k / top-p (`svgrl.model.sampling.sample`, with the request's own
generator, so a request's samples depend on its seed, not on its neighbours) → one forward
of the live rows.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import torch

from svgrl.errors import ConfigError
from svgrl.model.sampling import Sampling, sample
from svgrl.tokens.grammar import GrammarState, grammar_for


@dataclass
class Token:
    """One decode step's output for one row."""

    key: Hashable  # the request the row belongs to
    row: int  # index of the row within its request
    token: int
    done: bool  # the row ended (</svg> or its budget) with this token


@dataclass
class _Join:
    key: Hashable
    prompt: Any
    n: int
    sampling: Sampling
    max_new_tokens: int
    gen: torch.Generator


@dataclass
class _Row:
    key: Hashable
    row: int
    state: GrammarState | None
    left: int  # tokens of budget left
    sampling: Sampling = field(repr=False)
    gen: torch.Generator = field(repr=False)


class BatchDecoder:
    """A stateful decoding batch over an `SvgLM` with a text backbone (tiny, SmolLM2, any HF
    causal LM; the vision prefix is spliced in at prefill).

    ``add`` queues a request's rows to join before the next step; ``cancel`` drops them;
    ``step`` decodes one token for every live row and returns what each row produced.
    Not thread-safe: one thread (the engine's) drives it.
    """

    def __init__(self, lm: Any, *, grammar: bool = True):
        if lm.image_processor is not None:
            raise ConfigError("continuous batching covers text backbones (with the vision "
                              "prefix); Qwen2.5-VL's multimodal positions are not batched "
                              "here — use `svgrl generate` for that model")
        self.lm = lm
        self.grammar = grammar_for(lm.layout, lm.vocab_rows) if grammar else None
        self.device = lm.model.get_input_embeddings().weight.device
        self.limit = getattr(lm.model.config.get_text_config(), "max_position_embeddings", None)
        self._joins: list[_Join] = []
        self._rows: list[_Row] = []
        self._cancelled: set[Hashable] = set()
        self._cache: Any = None
        self._mask: torch.Tensor | None = None  # (B, T) 1 = real token, 0 = left pad
        self._pos: torch.Tensor | None = None  # (B,) position id of the next token
        self._logits: torch.Tensor | None = None  # (B, V) logits of the next token

    @property
    def live(self) -> int:
        """Rows decoding now or joining at the next step."""
        return len(self._rows) + sum(j.n for j in self._joins)

    @property
    def cache_len(self) -> int:
        return 0 if self._mask is None else int(self._mask.shape[1])

    def check(self, prompt: Any, max_new_tokens: int) -> None:
        """Raise `ConfigError` if `prompt` plus `max_new_tokens` cannot run on this model."""
        if self.limit and len(prompt.ids) + max_new_tokens > self.limit:
            raise ConfigError(f"prompt ({len(prompt.ids)} tokens) + max_new_tokens "
                              f"{max_new_tokens} exceeds the model's {self.limit} positions; "
                              "lower max_new_tokens")
        if self.grammar is not None:
            self.grammar.start(max_new_tokens)  # raises if the budget cannot hold a drawing

    def add(self, key: Hashable, prompt: Any, n: int, sampling: Sampling, *,
            max_new_tokens: int, seed: int = 0) -> None:
        self.check(prompt, max_new_tokens)
        self._cancelled.discard(key)
        self._joins.append(_Join(key, prompt, n, sampling, max_new_tokens,
                                 torch.Generator().manual_seed(seed)))

    def reset(self) -> None:
        """Forget every row (after a failed step)."""
        self._joins, self._rows, self._cancelled = [], [], set()
        self._cache = self._mask = self._pos = self._logits = None

    def cancel(self, key: Hashable) -> None:
        """Drop `key`'s rows before the next step (queued joins too)."""
        self._joins = [j for j in self._joins if j.key != key]
        if any(r.key == key for r in self._rows):
            self._cancelled.add(key)

    @torch.no_grad()
    def step(self) -> list[Token]:
        if self._cancelled:
            self._keep([i for i, r in enumerate(self._rows) if r.key not in self._cancelled])
            self._cancelled.clear()
        for j in self._joins:
            self._join(j)
        self._joins = []
        if not self._rows:
            return []
        logits = self._logits.float()
        if self.grammar is not None:
            self.grammar.mask_logits_(logits, [r.state for r in self._rows])
        nxt = torch.empty(len(self._rows), dtype=torch.long)
        for idx, r0 in self._cohorts():
            nxt[idx] = sample(logits[idx], r0.sampling, r0.gen)
        out, keep = [], []
        eos = self.lm.layout.eos
        for i, (r, t) in enumerate(zip(self._rows, nxt.tolist(), strict=True)):
            if r.state is not None:
                r.state.advance(t)
            r.left -= 1
            done = t == eos or r.left <= 0
            out.append(Token(r.key, r.row, t, done))
            if not done:
                keep.append(i)
        if len(keep) < len(self._rows):
            nxt = nxt[keep]
            self._keep(keep)
        if self._rows:
            self._forward(nxt)
        return out

    # -- batch bookkeeping -------------------------------------------------------------

    def _cohorts(self) -> list[tuple[torch.Tensor, _Row]]:
        """Row indices per request (rows of one request are contiguous)."""
        groups: dict[Hashable, list[int]] = {}
        for i, r in enumerate(self._rows):
            groups.setdefault(r.key, []).append(i)
        return [(torch.tensor(ix), self._rows[ix[0]]) for ix in groups.values()]

    def _join(self, j: _Join) -> None:
        lm, p = self.lm, j.prompt
        ids = torch.tensor(p.ids, device=self.device)[None]
        img = None
        if p.image is not None and lm.vision is not None:
            from svgrl.model.vision import image_tensor

            img = image_tensor(p.image, lm.vision.cfg.image_size)[None].to(self.device)
        res = lm.model(inputs_embeds=lm.embed(ids, img), use_cache=True, logits_to_keep=1)
        cache, L = res.cache, ids.shape[1]
        if j.n > 1:
            cache.batch_repeat_interleave(j.n)
        logits = res.logits[:, -1].repeat(j.n, 1)
        mask = torch.ones(j.n, L, dtype=torch.long, device=self.device)
        pos = torch.full((j.n,), L, dtype=torch.long, device=self.device)
        self._rows += [_Row(j.key, i, self.grammar.start(j.max_new_tokens)
                            if self.grammar is not None else None, j.max_new_tokens,
                            j.sampling, j.gen) for i in range(j.n)]
        if self._cache is None:
            self._cache, self._mask, self._pos, self._logits = cache, mask, pos, logits
            return
        T = self._mask.shape[1]
        width = max(T, L)
        for mine, theirs in zip(_layers(self._cache), _layers(cache), strict=True):
            mine.keys = torch.cat([_lpad(mine.keys, width), _lpad(theirs.keys, width)])
            mine.values = torch.cat([_lpad(mine.values, width), _lpad(theirs.values, width)])
        self._mask = torch.cat([_lpad(self._mask, width, dim=1), _lpad(mask, width, dim=1)])
        self._pos = torch.cat([self._pos, pos])
        self._logits = torch.cat([self._logits, logits])

    def _keep(self, keep: list[int]) -> None:
        """Keep rows `keep` (in order) and crop the pad columns all of them share."""
        self._rows = [self._rows[i] for i in keep]
        if not self._rows:
            self._cache = self._mask = self._pos = self._logits = None
            return
        idx = torch.tensor(keep, device=self.device)
        self._mask, self._pos, self._logits = self._mask[idx], self._pos[idx], self._logits[idx]
        lead = int(self._mask.argmax(dim=1).min())  # first real column of the earliest row
        for layer in _layers(self._cache):
            layer.keys, layer.values = layer.keys[idx, :, lead:], layer.values[idx, :, lead:]
        self._mask = self._mask[:, lead:]

    def _forward(self, nxt: torch.Tensor) -> None:
        self._mask = torch.cat([self._mask, self._mask.new_ones(len(nxt), 1)], dim=1)
        res = self.lm.model(input_ids=nxt.to(self.device)[:, None], attention_mask=self._mask,
                            position_ids=self._pos[:, None], cache=self._cache,
                            use_cache=True)
        self._cache, self._logits = res.cache, res.logits[:, -1]
        self._pos = self._pos + 1


def _layers(cache: Any) -> list[Any]:
    layers = getattr(cache, "layers", None)
    if layers is None or any(not hasattr(x, "keys") or getattr(x, "is_sliding", False)
                             for x in layers):
        raise ConfigError("continuous batching needs a full-attention key/value cache "
                          f"(got {type(cache).__name__}); this backbone is not supported")
    return layers


def _lpad(x: torch.Tensor, width: int, dim: int = 2) -> torch.Tensor:
    """Left-pad `x` with zeros along `dim` to `width`."""
    short = width - x.shape[dim]
    if short <= 0:
        return x
    shape = list(x.shape)
    shape[dim] = short
    return torch.cat([x.new_zeros(shape), x], dim=dim)
