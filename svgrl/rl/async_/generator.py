"""Generator role of the asynchronous system: a `Decoder` that never waits for the trainer.

The controller hands it `Work` (one prompt → one group of G completions) and new weights;
the generator keeps decoding. Between two decode steps it takes the newest weights
(`Decoder.load_weights`: rows in flight keep their KV cache, later tokens record the new
version), drops the groups whose oldest token is already more than K versions behind
(they would break the off-policy bound; their work is started again), admits waiting work
as new rows, and puts every group whose G rows have ended on the completion queue.

A plain class: `svgrl.rl.async_.controller` wraps it as a Ray actor with two threads (one
runs `run`, the other takes `add_work` / `set_weights` / `stats`), so it can be tested and
reused without Ray.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from svgrl.model.qwen_vl import VLPrompt


@dataclass
class Work:
    """One prompt to sample a group for. `gid` is the group's id for the whole run."""

    gid: int
    row: dict
    prompt: str
    prompt_ids: list[int]
    image: Tensor | VLPrompt | None  # vision-prefix image, or a Qwen2.5-VL policy's prompt
    l_max: int


@dataclass
class Group:
    """G finished completions of one `Work`, with what the loss needs per token."""

    gid: int
    completion_ids: list[list[int]]
    truncated: list[bool]
    logprobs: list[list[float]]
    versions: list[list[int]]
    generator: int = 0


@dataclass
class _Flight:
    work: Work
    rows: list[int]
    done: dict[int, Any] = field(default_factory=dict)


class Generator:
    """Decode groups for the `Work` it is given, forever, with the newest weights.

    `model` is the policy (its weights are replaced by `set_weights`); `grammar`, `eos`,
    `pad_id` as `svgrl.model.sampler.Decoder`; `put(group)` delivers a finished group (the
    bounded queue: it may block, and that time counts as idle)."""

    def __init__(self, model: Any, *, group_size: int, temperature: float, top_p: float,
                 eos: set[int], pad_id: int, grammar: Any = None, embed: Any = None,
                 max_rows: int = 64, max_staleness: int = 2, seed: int = 0, ident: int = 0,
                 version: int = 0):
        from svgrl.model.sampler import Decoder
        from svgrl.model.sampling import Sampling

        self.group_size, self.max_rows, self.k, self.ident = group_size, max_rows, \
            max_staleness, ident
        gen = torch.Generator().manual_seed(seed)
        self.dec = Decoder(model.eval(), sampling=Sampling(temperature, top_p, 0), eos=eos,
                           pad_id=pad_id, grammar=grammar, generator=gen, logprobs=True,
                           embed=embed, version=version)
        self.embed = embed
        self._lock = threading.Lock()
        self._waiting: deque[Work] = deque()
        self._weights: tuple[dict, int] | None = None
        self._stop = False
        self.flights: dict[int, _Flight] = {}   # gid → group in flight
        self.row_gid: dict[int, int] = {}
        self.counters = {"groups": 0, "tokens": 0, "restarted_stale": 0, "weight_swaps": 0,
                         "busy_s": 0.0, "idle_s": 0.0}

    # --- called from the controller (another thread) ------------------------------------
    def add_work(self, items: list[Work]) -> None:
        with self._lock:
            self._waiting.extend(items)

    def set_weights(self, state_dict: dict[str, Tensor], version: int) -> None:
        with self._lock:
            if self._weights is None or version > self._weights[1]:
                self._weights = (state_dict, version)

    def stop(self) -> None:
        self._stop = True

    def stats(self) -> dict[str, float]:
        return dict(self.counters, version=self.dec.version, pid=os.getpid())

    # --- the loop ---------------------------------------------------------------------
    def _take_weights(self) -> None:
        with self._lock:
            new, self._weights = self._weights, None
        if new is None or new[1] <= self.dec.version:
            return
        self.dec.load_weights(new[0], new[1])
        self.counters["weight_swaps"] += 1
        floor = new[1] - self.k  # tokens older than this are out of the bound already
        for gid in list(self.flights):
            f = self.flights[gid]
            firsts = [fin.versions[0] for fin in f.done.values() if fin.versions]
            firsts += [v[0] for r in f.rows if r not in f.done if (v := self._row_versions(r))]
            if firsts and min(firsts) < floor:
                for r in f.rows:
                    if r not in f.done:
                        self.dec.drop(r)
                    self.row_gid.pop(r, None)
                del self.flights[gid]
                with self._lock:
                    self._waiting.appendleft(f.work)  # sample it again, fresh
                self.counters["restarted_stale"] += 1

    def _row_versions(self, row_id: int) -> list[int]:
        for r in self.dec.rows:
            if r.id == row_id and not r.reason:
                return r.versions
        return []

    def _admit(self) -> None:
        while self.dec.live + self.group_size <= max(self.max_rows, self.group_size):
            with self._lock:
                if not self._waiting:
                    return
                w = self._waiting.popleft()
            if isinstance(w.image, VLPrompt):  # a Qwen2.5-VL policy's prompt
                rows = self.dec.add_vl(w.image, n=self.group_size, max_new_tokens=w.l_max)
            else:
                img = w.image[None] if w.image is not None else None
                rows = self.dec.add([w.prompt_ids], n=self.group_size, max_new_tokens=w.l_max,
                                    images=img)
            self.flights[w.gid] = _Flight(w, rows)
            for r in rows:
                self.row_gid[r] = w.gid

    def tick(self) -> list[Group]:
        """One turn of the loop: newest weights, admit work, one decode step; the groups
        that finished. Returns [] at once (after a short sleep) when nothing is decoding."""
        t0 = time.perf_counter()
        self._take_weights()
        self._admit()
        if not self.dec.live:
            time.sleep(0.002)
            self.counters["idle_s"] += time.perf_counter() - t0
            return []
        self.counters["tokens"] += self.dec.live
        self.dec.step()
        ready = []
        for fin in self.dec.pop_finished():
            gid = self.row_gid.pop(fin.id, None)
            if gid is None:
                continue
            f = self.flights[gid]
            f.done[fin.id] = fin
            if len(f.done) == len(f.rows):
                del self.flights[gid]
                done = [f.done[r] for r in f.rows]
                ready.append(Group(gid, [d.tokens for d in done], [d.truncated for d in done],
                                   [list(d.logprobs) for d in done],
                                   [list(d.versions) for d in done], self.ident))
        self.counters["busy_s"] += time.perf_counter() - t0
        return ready

    def run(self, put: Any) -> None:
        """Decode until `stop`; `put(Group)` each finished group."""
        while not self._stop:
            for g in self.tick():
                t1 = time.perf_counter()
                put(g)  # the bounded queue: waiting here is idle time
                self.counters["idle_s"] += time.perf_counter() - t1
                self.counters["groups"] += 1
