"""The one sampler: `Decoder`, a stateful KV-cached batch decoder with the SVG grammar mask,
and `decode`, the batch-generate loop over it (used by `svgrl generate`, the GRPO rollout and
serving).

API (row ids are ints the decoder hands out; a row is one sequence being decoded)::

    dec = Decoder(model, sampling=Sampling(1.0, 1.0, 0), eos={eos}, pad_id=pad,
                  grammar=grammar_for(layout, vocab), logprobs=True)
    ids = dec.add([prompt_a, prompt_b], n=4, max_new_tokens=256)  # prefill; rows join
    while dec.live:
        for tok in dec.step():                # one token for every live row: `Token`s
            ...                               # (row id, token, done) for streaming
        for seq in dec.pop_finished():        # `Finished`: tokens, logprobs, versions, ...
            ...
    dec.add(..., sampling=s, generator=g)     # new rows may join between any two steps,
                                              # each request with its own sampling and seed
    dec.add_vl([vl_prompt_a, vl_prompt_b], n=4, max_new_tokens=256)  # Qwen2.5-VL prompts
    dec.drop(row_id)                          # cancel a row; it is never returned
    dec.check(prompt_len, max_new_tokens)     # ConfigError if a request cannot run here
    dec.reset()                               # forget every row (after a failed step)
    dec.load_weights(state_dict, version=3)   # swap weights between steps: rows in flight
                                              # keep their KV cache; later tokens record 3

How (vLLM's engine loop, reduced to what a CPU-first library needs; HF's cache API):

- Prefill: the prompts of one `add` call, left-padded, minus their last token, run once with
  ``use_cache``; with ``n > 1`` the cache is repeated n times (a GRPO group shares one prefill).
  The last prompt token is fed by the next `step`, so every step is the same: feed one token
  per row, get (B, V) logits, mask, sample.
- The running batch is one `transformers.DynamicCache` whose rows are left-padded to a common
  length; ``attention_mask`` hides the padding and ``position_ids`` count each row's own
  tokens, so a row decodes exactly as it would alone. A joining group is left-padded (or the
  batch is) to the longer cache and concatenated on the batch axis.
- A finished or dropped row stays in the batch (fed PAD, never sampled for) until more than
  ``1 - compact_below`` of the rows are dead; then the cache is cut to the live rows
  (``batch_select_indices``) and the left columns every remaining row pads are cropped, so
  the long tail does not pay for ended rows and a finished step does not pay for a copy of
  the cache.
- Per step: logits (float32) → the grammar's 0/−inf mask on each live row
  (`svgrl.tokens.grammar`, O(1) per row) → temperature / top-k / top-p (`sampling.sample`).
  The grammar's budget rule narrows the mask near a row's ``max_new_tokens``, so with the
  grammar every row closes its drawing in time and decodes strictly.
- ``logprobs=True`` records, per token, the log-probability of the drawn token under the
  masked distribution at the sampling temperature, before top-k/top-p truncation — what the
  GRPO update computes for π_old (`svgrl.rl.policy`), so an asynchronous trainer can use them
  as behaviour log-probs — and the weights' `version` each token was sampled with.
- Image prompts: a text-only backbone's vision prefix is spliced into the prompt embeddings at
  prefill (``embed``: `SvgLM.embed`, the one splice, left-padding aware). Qwen2.5-VL prompts
  (`add_vl`, left-padded like any others) carry pixel values and grid sizes into the prefill,
  with the model's 3-D M-RoPE positions computed there (`svgrl.model.qwen_vl.vl_inputs`);
  each row keeps its text offset, so every later step passes explicit positions and Qwen rows
  join, leave and compact like any others.

Sampling draws from `generator` (or torch's global RNG when None): with one generator the
tokens depend only on the seed and on which rows share the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from svgrl.errors import ConfigError
from svgrl.model.qwen_vl import VLPrompt, qwen_core, vl_inputs
from svgrl.model.sampling import Sampling, sample
from svgrl.tokens.grammar import Grammar, GrammarState


@dataclass
class Finished:
    """One decoded row. `tokens` end with EOS unless ``reason`` is "length" (budget spent)."""

    id: int
    tokens: list[int]
    reason: str  # "eos" | "length"
    logprobs: list[float] | None = None  # per token, when the decoder records them
    versions: list[int] = field(default_factory=list)  # weights version of each token

    @property
    def truncated(self) -> bool:
        return self.reason == "length"


@dataclass
class Token:
    """What one row produced in one `Decoder.step` (streaming)."""

    id: int
    token: int
    done: bool  # the row ended with this token (EOS or its budget)


@dataclass
class _Row:
    id: int
    max_new: int
    state: GrammarState | None
    sampling: Sampling
    generator: torch.Generator | None
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    reason: str = ""  # set when the row ends: "eos", "length" or "dropped"


class GrammarLogitsProcessor:
    """The SVG grammar as a transformers ``LogitsProcessor`` (``model.generate(
    logits_processor=[...])``): ``__call__(input_ids, scores)`` reads the tokens added since
    the previous call from ``input_ids[:, prompt_len:]``. Finished rows are left unmasked.
    `Decoder` keeps the same per-row `GrammarState` itself."""

    def __init__(self, grammar: Grammar, batch: int, max_new_tokens: int, prompt_len: int = 0):
        self.grammar = grammar
        self.states = [grammar.start(max_new_tokens) for _ in range(batch)]
        self.prompt_len = prompt_len
        self.seen = 0

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        new = input_ids[:, self.prompt_len + self.seen:].tolist()
        for st, toks in zip(self.states, new, strict=True):
            for t in toks:
                if not st.done:
                    st.advance(t)
        self.seen += len(new[0]) if new else 0
        return mask_rows_(self.grammar, scores, self.states)


def mask_rows_(grammar: Grammar, scores: Tensor, states: Sequence[GrammarState | None]
               ) -> Tensor:
    """In place: −inf where the grammar forbids the next token, row by row (B, V); rows whose
    state is None or done are left as they are (their samples are discarded, and an all
    −inf row would break the softmax)."""
    live = [i for i, st in enumerate(states) if st is not None and not st.done]
    if len(live) == len(states):
        return grammar.mask_logits_(scores, states)  # type: ignore[arg-type]
    if live:
        idx = torch.tensor(live)
        sub = scores.index_select(0, idx)
        grammar.mask_logits_(sub, [states[i] for i in live])  # type: ignore[misc]
        scores.index_copy_(0, idx, sub)
    return scores


def _left_pad(seqs: Sequence[Sequence[int]], pad: int) -> tuple[Tensor, Tensor]:
    """Left-padded (B, L) ids and attention mask."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            ids[i, width - len(s):] = torch.tensor(list(s), dtype=torch.long)
            mask[i, width - len(s):] = 1
    return ids, mask


def _positions(mask: Tensor) -> Tensor:
    """Position ids of a left-padded batch: each row counts its own tokens from 0."""
    return (mask.cumsum(1) - 1).clamp(min=0)


def _pad_cache_left(cache: Any, by: int) -> None:
    """Prepend `by` zero positions to every layer of a `DynamicCache` (in place)."""
    if by <= 0:
        return
    for layer in cache.layers:
        for name in ("keys", "values"):
            t = getattr(layer, name)
            z = t.new_zeros(*t.shape[:2], by, t.shape[3])
            setattr(layer, name, torch.cat([z, t], 2))


def _zero_cache(like: Any, rows: int) -> Any:
    """A cache of `rows` rows and zero length, shaped like `like` (then left-padded)."""
    from transformers import DynamicCache

    out = DynamicCache()
    for i, layer in enumerate(like.layers):
        out.update(layer.keys.new_zeros(rows, layer.keys.shape[1], 0, layer.keys.shape[3]),
                   layer.values.new_zeros(rows, layer.values.shape[1], 0,
                                          layer.values.shape[3]), i)
    return out


def _cat_caches(a: Any, b: Any) -> Any:
    """`b`'s rows appended to `a`'s (same length, after `_pad_cache_left`)."""
    for la, lb in zip(a.layers, b.layers, strict=True):
        la.keys = torch.cat([la.keys, lb.keys], 0)
        la.values = torch.cat([la.values, lb.values], 0)
    return a


class Decoder:
    """A running batch of rows decoded together (see the module docstring for the API).

    `model`: an HF causal LM (or a module with its call signature) — ``model(input_ids=…,
    attention_mask=…, position_ids=…, cache=…, use_cache=True)``. `embed`:
    ``embed(input_ids, images, offsets=…) -> inputs_embeds`` for prompts with images
    (`SvgLM.embed`, the vision-prefix splice); `eos`: the ids that end a row; `pad_id`: fed
    to dead rows.
    """

    def __init__(self, model: Any, *, sampling: Sampling, eos: Iterable[int], pad_id: int,
                 grammar: Grammar | None = None, generator: torch.Generator | None = None,
                 logprobs: bool = False, embed: Callable[..., Tensor] | None = None,
                 compact_below: float = 0.5, version: int = 0):
        self.model, self.sampling, self.grammar = model, sampling, grammar
        self.eos = set(int(e) for e in eos)
        if not self.eos:
            raise ConfigError("the decoder needs at least one end-of-sequence id")
        self.pad_id, self.generator, self.logprobs = int(pad_id), generator, logprobs
        self.embed, self.compact_below, self.version = embed, compact_below, version
        self.device = next(model.parameters()).device
        self.rows: list[_Row] = []        # batch order; dead rows stay until compaction
        self.cache: Any = None            # DynamicCache over the rows, left-padded
        self.mask = torch.zeros((0, 0), dtype=torch.long)  # (B, cache length)
        self.pos = torch.zeros(0, dtype=torch.long)        # (B,) position of the next input
        self.cur = torch.zeros(0, dtype=torch.long)        # (B,) the next input token
        self.finished: list[Finished] = []
        self._next_id = 0
        self._padded = False  # some row has left padding in the cache
        # Qwen2-VL / Qwen2.5-VL: positions are always passed (M-RoPE offsets per row).
        self._mrope = qwen_core(model) is not None
        cfg = getattr(model, "config", None)
        cfg = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
        self.limit = getattr(cfg, "max_position_embeddings", None)

    # --- state ---------------------------------------------------------------------------
    @property
    def live(self) -> int:
        """Rows still decoding."""
        return sum(not r.reason for r in self.rows)

    def row_ids(self) -> list[int]:
        return [r.id for r in self.rows if not r.reason]

    def tokens(self, row_id: int) -> list[int]:
        """The tokens a live row has so far (streaming)."""
        for r in self.rows:
            if r.id == row_id and not r.reason:
                return list(r.tokens)
        raise KeyError(row_id)

    # --- rows join -----------------------------------------------------------------------
    def check(self, prompt_len: int, max_new_tokens: int) -> None:
        """Raise `ConfigError` if a prompt of `prompt_len` tokens plus `max_new_tokens` cannot
        run here (the model's positions, the grammar's shortest drawing)."""
        if self.limit and prompt_len + max_new_tokens > self.limit:
            raise ConfigError(f"prompt ({prompt_len} tokens) + max_new_tokens {max_new_tokens}"
                              f" exceeds the model's {self.limit} positions; lower "
                              "max_new_tokens")
        if not 1 <= max_new_tokens <= 1_000_000:
            raise ConfigError(f"max_new_tokens={max_new_tokens}: use 1 to 1000000")
        if self.grammar is not None:
            self.grammar.start(max_new_tokens)  # raises if the budget cannot hold a drawing

    def _new_rows(self, count: int, max_new_tokens: int, sampling: Sampling | None,
                  generator: torch.Generator | None) -> list[_Row]:
        rows = []
        for _ in range(count):
            st = self.grammar.start(max_new_tokens) if self.grammar is not None else None
            rows.append(_Row(self._next_id, max_new_tokens, st, sampling or self.sampling,
                             generator if generator is not None else self.generator))
            self._next_id += 1
        return rows

    def reset(self) -> None:
        """Forget every row (e.g. after a failed step)."""
        self.rows, self.cache, self.finished, self._padded = [], None, [], False
        self.mask = torch.zeros((0, 0), dtype=torch.long)
        self.pos = self.cur = torch.zeros(0, dtype=torch.long)

    @torch.no_grad()
    def add(self, prompts: Sequence[Sequence[int]], *, n: int = 1, max_new_tokens: int,
            images: Tensor | None = None, sampling: Sampling | None = None,
            generator: torch.Generator | None = None) -> list[int]:
        """Prefill `prompts` (lists of ids) and add ``n`` rows for each (prompt-major order)
        to the running batch; returns their row ids. `images` (len(prompts), 3, S, S): each
        prompt's image for the vision prefix (its placeholders lead the prompt). `sampling` /
        `generator` override the decoder's for these rows (a serving request's own settings
        and seed: its samples then do not depend on its neighbours)."""
        if not prompts or any(len(p) < 1 for p in prompts) or n < 1:
            raise ConfigError("add() needs at least one non-empty prompt and n ≥ 1")
        for p in prompts:
            self.check(len(p), max_new_tokens)
        if images is not None and (self.embed is None or len(images) != len(prompts)):
            raise ConfigError("image prompts need the model's vision prefix (embed=) and one "
                              "image per prompt")
        heads = [list(p[:-1]) for p in prompts]
        ids, mask = _left_pad(heads, self.pad_id)
        cache = None
        if ids.shape[1] > 0:
            dev = self.device
            kw: dict[str, Any] = {"attention_mask": mask.to(dev),
                                  "position_ids": _positions(mask).to(dev), "use_cache": True}
            if images is not None:
                offsets = (mask == 0).sum(1)
                kw["inputs_embeds"] = self.embed(ids.to(dev), images.to(dev), offsets=offsets)
            else:
                kw["input_ids"] = ids.to(dev)
            cache = self.model(**kw, logits_to_keep=1).cache
            if n > 1:
                cache.batch_repeat_interleave(n)
        elif images is not None:
            raise ConfigError("image prompts need the image placeholders and one more token")
        rep = lambda t: t.repeat_interleave(n, 0)  # noqa: E731
        last = torch.tensor([p[-1] for p in prompts], dtype=torch.long)
        pos = torch.tensor([len(p) - 1 for p in prompts], dtype=torch.long)
        rows = self._new_rows(len(prompts) * n, max_new_tokens, sampling, generator)
        self._join(rows, cache, rep(mask), rep(pos), rep(last))
        return [r.id for r in rows]

    @torch.no_grad()
    def add_vl(self, prompts: Any, *, n: int = 1, max_new_tokens: int,
               sampling: Sampling | None = None, generator: torch.Generator | None = None
               ) -> list[int]:
        """Qwen2.5-VL: prefill `prompts` (`VLPrompt`s, or one; pixel values and grid sizes)
        and add ``n`` rows for each, as `add` does for plain prompts."""
        prompts = [prompts] if isinstance(prompts, VLPrompt) else list(prompts)
        if not self._mrope:
            raise ConfigError("Qwen2.5-VL prompts need a Qwen2-VL / Qwen2.5-VL model")
        if not prompts or n < 1 or any(len(p.ids) < 2 for p in prompts):
            raise ConfigError("add_vl() needs Qwen2.5-VL prompts of at least two tokens and "
                              "n ≥ 1")
        for p in prompts:
            self.check(len(p.ids), max_new_tokens)
            if p.ids[-1] == p.image_token_id:
                raise ConfigError("a Qwen2.5-VL prompt must not end inside its image")
        # All but the last token, as `add`: the image pads are all in the head.
        heads = [list(p.ids[:-1]) for p in prompts]
        ids, mask = _left_pad(heads, self.pad_id)
        kw, delta = vl_inputs(self.model, ids, mask, prompts)
        cache = self.model(**{k: v.to(self.device) for k, v in kw.items()}, use_cache=True,
                           logits_to_keep=1).cache
        if n > 1:
            cache.batch_repeat_interleave(n)
        rep = lambda t: t.repeat_interleave(n, 0)  # noqa: E731
        last = torch.tensor([p.ids[-1] for p in prompts], dtype=torch.long)
        pos = torch.tensor([len(h) for h in heads], dtype=torch.long) + delta.cpu()
        rows = self._new_rows(len(prompts) * n, max_new_tokens, sampling, generator)
        self._join(rows, cache, rep(mask), rep(pos), rep(last))
        return [r.id for r in rows]

    def _join(self, rows: list[_Row], cache: Any, mask: Tensor, pos: Tensor, cur: Tensor
              ) -> None:
        if self.rows and self.live == 0:
            self._compact()  # only dead rows left: start afresh
        if not self.rows:
            self.rows, self.cache, self.mask, self.pos, self.cur = rows, cache, mask, pos, cur
            self._padded = bool((mask == 0).any())
            return
        la, lb = self.mask.shape[1], mask.shape[1]
        # One-token prompts have no cache yet: zero rows in the other side's shape.
        if cache is None and self.cache is not None:
            cache = _zero_cache(self.cache, len(rows))
        elif self.cache is None and cache is not None:
            self.cache = _zero_cache(cache, len(self.rows))
        if cache is not None:
            _pad_cache_left(self.cache, lb - la)
            _pad_cache_left(cache, la - lb)
            self.cache = _cat_caches(self.cache, cache)
        width = max(la, lb)
        pad = lambda m: torch.cat([torch.zeros((len(m), width - m.shape[1]),  # noqa: E731
                                               dtype=torch.long), m], 1)
        self.mask = torch.cat([pad(self.mask), pad(mask)], 0)
        self.pos = torch.cat([self.pos, pos])
        self.cur = torch.cat([self.cur, cur])
        self.rows += rows
        self._padded = bool((self.mask == 0).any())

    # --- rows leave ----------------------------------------------------------------------
    def drop(self, row_id: int) -> bool:
        """Cancel a live row (its tokens are discarded); False if it is not live."""
        for r in self.rows:
            if r.id == row_id and not r.reason:
                r.reason = "dropped"
                return True
        return False

    def pop_finished(self) -> list[Finished]:
        """Rows that ended since the last call, in the order they ended."""
        out, self.finished = self.finished, []
        return out

    def _compact(self) -> None:
        keep = [i for i, r in enumerate(self.rows) if not r.reason]
        if len(keep) == len(self.rows):
            return
        idx = torch.tensor(keep, dtype=torch.long)
        if self.cache is not None:
            if keep:
                self.cache.batch_select_indices(idx.to(self.device))
            else:
                self.cache = None
        self.rows = [self.rows[i] for i in keep]
        self.mask, self.pos, self.cur = self.mask[idx], self.pos[idx], self.cur[idx]
        if not keep:
            self.mask = self.mask[:, :0]
            return
        # Crop the left columns every remaining row pads (a long row that left).
        lead = int(self.mask.argmax(1).min()) if self.mask.shape[1] and \
            bool(self.mask.any(1).all()) else 0
        if lead > 0:
            for layer in self.cache.layers:
                layer.keys, layer.values = layer.keys[:, :, lead:], layer.values[:, :, lead:]
            self.mask = self.mask[:, lead:]
        self._padded = bool((self.mask == 0).any())

    # --- weights -------------------------------------------------------------------------
    @torch.no_grad()
    def load_weights(self, state_dict: dict[str, Tensor], version: int) -> None:
        """Swap the model's weights between steps (in place); rows in flight keep their KV
        cache, and every later token records `version`."""
        self.model.load_state_dict(state_dict, strict=True)
        self.version = version

    # --- one decoding step ---------------------------------------------------------------
    @torch.no_grad()
    def step(self) -> list[Token]:
        """Feed one token per row; sample the next token of every live row. Returns what each
        live row produced (its rows that ended are also in `pop_finished`)."""
        if not self.live:
            return []
        dev = self.device
        cur = self.cur.to(dev)[:, None]
        mask = torch.cat([self.mask, torch.ones((len(self.rows), 1), dtype=torch.long)], 1)
        if not self._padded and not self._mrope:
            # No row is padded: the model's own positions and causal mask are the same, and
            # cheaper than building a 4-D mask every step.
            res = self.model(input_ids=cur, cache=self.cache, use_cache=True)
        else:
            res = self.model(input_ids=cur, attention_mask=mask.to(dev),
                             position_ids=self.pos.to(dev)[:, None],
                             cache=self.cache, use_cache=True)
        self.mask = mask
        self.cache = res.cache
        self.pos = self.pos + 1
        logits = res.logits[:, -1].float()
        if self.grammar is not None:
            mask_rows_(self.grammar, logits, [None if r.reason else r.state for r in self.rows])
        nxt, lp = self._sample(logits)
        toks = nxt.tolist()
        out = []
        for i, r in enumerate(self.rows):
            if r.reason:
                toks[i] = self.pad_id
                continue
            t = toks[i]
            r.tokens.append(t)
            r.versions.append(self.version)
            if lp is not None:
                r.logprobs.append(lp[i])
            if r.state is not None:
                r.state.advance(t)
            if t in self.eos:
                r.reason = "eos"
            elif len(r.tokens) >= r.max_new:
                r.reason = "length"
            out.append(Token(r.id, t, bool(r.reason)))
            if r.reason:
                self.finished.append(Finished(r.id, r.tokens, r.reason,
                                              r.logprobs if self.logprobs else None,
                                              r.versions))
        self.cur = torch.tensor(toks, dtype=torch.long)
        dead = len(self.rows) - self.live
        if dead and dead > (1.0 - self.compact_below) * len(self.rows):
            self._compact()
        return out

    def _sample(self, logits: Tensor) -> tuple[Tensor, list[float] | None]:
        """(B,) next ids and, with `logprobs`, their log-probabilities; rows that share one
        sampling setting and generator are drawn together (all of them, most of the time)."""
        first = self.rows[0]
        if all(r.sampling is first.sampling and r.generator is first.generator
               for r in self.rows):
            parts: list[tuple[Tensor | None, _Row]] = [(None, first)]
        else:
            groups: dict[tuple[int, int], list[int]] = {}
            for i, r in enumerate(self.rows):
                groups.setdefault((id(r.sampling), id(r.generator)), []).append(i)
            parts = [(torch.tensor(ix), self.rows[ix[0]]) for ix in groups.values()]
        nxt = torch.empty(len(self.rows), dtype=torch.long)
        lp = torch.empty(len(self.rows)) if self.logprobs else None
        for idx, r in parts:
            sub = logits if idx is None else logits[idx]
            ids = sample(sub, r.sampling, r.generator)
            if idx is None:
                nxt = ids
            else:
                nxt[idx] = ids
            if lp is not None:
                t = r.sampling.temperature or 1.0
                got = torch.log_softmax(sub / t, -1).gather(1, ids[:, None]).squeeze(1)
                if idx is None:
                    lp = got
                else:
                    lp[idx] = got
        return nxt, (lp.tolist() if lp is not None else None)


def decode(model: Any, prompts: Sequence[Sequence[int]], *, max_new_tokens: int,
           sampling: Sampling, eos: Iterable[int], pad_id: int, n: int = 1,
           grammar: Grammar | None = None, generator: torch.Generator | None = None,
           images: Tensor | None = None, embed: Callable[..., Tensor] | None = None,
           vl: Sequence[VLPrompt] | None = None, logprobs: bool = False,
           compact_below: float = 0.5,
           progress: Callable[[int, list[Finished]], None] | None = None) -> list[Finished]:
    """`n` completions of each prompt, prompt-major (all rows decoded as one batch): the
    batch-generate loop of `svgrl generate` and the GRPO rollout. `vl`: the prompts as
    Qwen2.5-VL `VLPrompt`s (their ids are `prompts`), for a Qwen2.5-VL model. `progress`:
    see `run_rows`."""
    dec = Decoder(model, sampling=sampling, eos=eos, pad_id=pad_id, grammar=grammar,
                  generator=generator, logprobs=logprobs, embed=embed,
                  compact_below=compact_below)
    if vl is not None:
        if [list(p.ids) for p in vl] != [list(p) for p in prompts]:
            raise ConfigError("decode(vl=...) needs one VLPrompt per prompt, with its ids")
        ids = dec.add_vl(vl, n=n, max_new_tokens=max_new_tokens)
    else:
        ids = dec.add(prompts, n=n, max_new_tokens=max_new_tokens, images=images)
    return run_rows(dec, ids, progress)


def run_rows(dec: Decoder, ids: list[int],
             progress: Callable[[int, list[Finished]], None] | None = None
             ) -> list[Finished]:
    """Step `dec` until it has no live rows; the `Finished` rows `ids`, in that order.
    `progress(tokens, finished)` after every decode step: the tokens that step produced (one
    per live row; every token of a row comes from a step) and the rows it ended."""
    done: dict[int, Finished] = {}
    while dec.live:
        produced = len(dec.step())
        finished = dec.pop_finished()
        for f in finished:
            done[f.id] = f
        if progress is not None:
            progress(produced, finished)
    return [done[i] for i in ids]
