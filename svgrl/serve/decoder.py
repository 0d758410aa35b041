"""Continuous batching for the server: requests (keys) whose rows join and leave the one
sampler's running batch (`svgrl.model.sampler.Decoder`) between decode steps — what
iteration-level scheduling (Orca, OSDI '22; vLLM) needs from a sampler.

Each request brings its own sampling settings and seed (its samples do not depend on its
neighbours), its own budget and `n` rows; ``cancel`` drops a request's rows; a row that ends
is cut from the batch at once, with the cache columns every remaining row pads (so the cache
is never longer than the longest live row).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import torch

from svgrl.model.sampler import Decoder
from svgrl.model.sampling import Sampling
from svgrl.tokens.grammar import grammar_for


@dataclass
class Token:
    """One decode step's output for one row."""

    key: Hashable  # the request the row belongs to
    row: int  # index of the row within its request
    token: int
    done: bool  # the row ended (</svg> or its budget) with this token


class BatchDecoder:
    """The running batch of an `SvgLM`, keyed by request: a text backbone (tiny, SmolLM2,
    any HF causal LM; the vision prefix is spliced in at prefill) or Qwen2.5-VL (its
    `VLPrompt`s join through the sampler's ``add_vl``: pixel values, M-RoPE positions).

    ``add`` queues a request's rows to join (prefill) at the next step, so a failing prefill
    fails that step; ``cancel`` drops them; ``step`` decodes one token for every live row and
    returns what each row produced. Not thread-safe: one thread (the engine's) drives it.
    """

    def __init__(self, lm: Any, *, grammar: bool = True):
        self.lm = lm
        self.vl = lm.image_processor is not None
        self.grammar = grammar_for(lm.layout, lm.vocab_rows) if grammar else None
        # compact_below=1: a row that ends leaves the batch (and its cache) at once.
        self.decoder = Decoder(lm.model, sampling=Sampling(), eos={lm.layout.eos},
                               pad_id=lm.layout.pad, grammar=self.grammar, embed=lm.embed,
                               compact_below=1.0)
        self._rows: dict[int, tuple[Hashable, int]] = {}  # decoder row id → (key, row)
        self._joins: list[tuple[Hashable, Any, int, Sampling, int, int]] = []
        # `live` is read from the server's threads while the engine thread steps: a join
        # moves its rows from `_joins` to `_rows` under this lock, so they count once.
        self._lock = threading.Lock()

    @property
    def live(self) -> int:
        """Rows decoding now or joining at the next step."""
        with self._lock:
            return len(self._rows) + sum(j[2] for j in self._joins)

    @property
    def cache_len(self) -> int:
        return int(self.decoder.mask.shape[1]) if self.decoder.live else 0

    def check(self, prompt: Any, max_new_tokens: int) -> None:
        """Raise `ConfigError` if `prompt` plus `max_new_tokens` cannot run on this model."""
        self.decoder.check(len(prompt.ids), max_new_tokens)

    def add(self, key: Hashable, prompt: Any, n: int, sampling: Sampling, *,
            max_new_tokens: int, seed: int = 0) -> None:
        self.check(prompt, max_new_tokens)
        self._joins.append((key, prompt, n, sampling, max_new_tokens, seed))

    def _join(self, key: Hashable, prompt: Any, n: int, sampling: Sampling,
              max_new_tokens: int, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        if self.vl:
            ids = self.decoder.add_vl(prompt, n=n, max_new_tokens=max_new_tokens,
                                      sampling=sampling, generator=gen)
        else:
            img = None
            if prompt.image is not None and self.lm.vision is not None:
                from svgrl.model.vision import image_tensor

                img = image_tensor(prompt.image, self.lm.vision.cfg.image_size)[None]
            ids = self.decoder.add([prompt.ids], n=n, max_new_tokens=max_new_tokens,
                                   images=img, sampling=sampling, generator=gen)
        with self._lock:
            self._rows.update({i: (key, r) for r, i in enumerate(ids)})
            self._joins.pop(0)

    def reset(self) -> None:
        """Forget every row (after a failed step)."""
        self.decoder.reset()
        self._rows, self._joins = {}, []

    def cancel(self, key: Hashable) -> None:
        """Drop `key`'s rows before the next step (queued joins too)."""
        self._joins = [j for j in self._joins if j[0] != key]
        for i, (k, _) in list(self._rows.items()):
            if k == key:
                self.decoder.drop(i)
                del self._rows[i]

    def step(self) -> list[Token]:
        while self._joins:  # each join counts as live until the sampler holds its rows
            self._join(*self._joins[0])
        out = []
        for t in self.decoder.step():
            key, row = self._rows[t.id]
            out.append(Token(key, row, t.token, t.done))
            if t.done:
                del self._rows[t.id]
        self.decoder.pop_finished()  # the engine reads tokens as they come
        return out
