"""The scheduler: requests from many clients decoded together on one model, continuously.

One thread owns the model and loops: admit waiting requests while their rows fit in
``max_batch_rows`` (first come, first served; a request's rows join together), run one
decode step for every live row, hand each row's tokens to its request, drop what finished or
was cancelled. A request therefore starts at the next step after rows free up instead of
waiting for the whole batch to finish (iteration-level scheduling, as in Orca and vLLM).

Back-pressure is explicit: at most ``max_queue`` requests wait; `submit` raises `Busy`
(→ 429) beyond that and `Unavailable` (→ 503) when the engine is stopping or broken. The
handlers talk to the thread only through `submit` / `cancel` and the request's `emit`
callback, which they make thread-safe (see `svgrl.serve.app`).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from svgrl.errors import SvgrlError
from svgrl.model.sampling import Sampling


class Busy(SvgrlError):
    """The wait queue is full (HTTP 429)."""


class Unavailable(SvgrlError):
    """The engine is not running (HTTP 503)."""


@dataclass(eq=False)
class Request:
    """One generation request as the engine sees it. Events passed to `emit` (from the engine
    thread): ``("started", None)``, ``("progress", [ids so far per row])``,
    ``("row", (row, ids))`` when a row ends, ``("done", None)``,
    ``("error", (http_status, message))``."""

    prompt: Any
    n: int
    sampling: Sampling
    max_new_tokens: int
    seed: int = 0
    # The decoded input image (best-of scores against it; a Qwen2.5-VL prompt holds only
    # its processor's pixel values), None for a text request.
    image: Any = None
    emit: Callable[[str, Any], None] = lambda kind, data: None
    id: int = field(default_factory=itertools.count().__next__)
    rows: list[list[int]] = field(default_factory=list)
    finished_rows: int = 0
    submitted: float = 0.0
    started: float = 0.0


class Engine:
    """Continuous batching over a row decoder (``check`` / ``add`` / ``cancel`` / ``step`` /
    ``live`` / ``reset``, see `svgrl.serve.decoder.BatchDecoder`)."""

    def __init__(self, decoder: Any, *, max_batch_rows: int = 32, max_queue: int = 64,
                 progress_every: float = 0.25):
        self.decoder = decoder
        self.max_batch_rows = max_batch_rows
        self.max_queue = max_queue
        self.progress_every = progress_every
        self._cond = threading.Condition()
        self._waiting: deque[Request] = deque()
        self._active: dict[int, Request] = {}
        self._cancel: list[Request] = []
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.error: str | None = None  # set when the loop died
        self.counts = {"submitted": 0, "completed": 0, "cancelled": 0, "rejected": 0,
                       "failed": 0, "steps": 0, "tokens": 0, "peak_rows": 0,
                       "peak_requests": 0}
        self._last_progress = 0.0

    # -- called from the server's threads ------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="svgrl-engine",
                                            daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return (self._thread is not None and self._thread.is_alive() and not self._stopping
                and self.error is None)

    def check(self, req: Request) -> None:
        """Raise `ConfigError` now if `req` cannot run (prompt too long for the model, a
        budget the grammar cannot close in) rather than failing it inside the loop."""
        self.decoder.check(req.prompt, req.max_new_tokens)

    def submit(self, req: Request) -> None:
        with self._cond:
            if not self.running:
                raise Unavailable("the generation engine is not running"
                                  + (f" ({self.error})" if self.error else ""))
            if len(self._waiting) >= self.max_queue:
                self.counts["rejected"] += 1
                raise Busy(f"server busy: {len(self._waiting)} requests already waiting "
                           f"(limit {self.max_queue}); retry shortly")
            req.submitted = time.monotonic()
            req.rows = [[] for _ in range(req.n)]
            self._waiting.append(req)
            self.counts["submitted"] += 1
            self._cond.notify_all()

    def cancel(self, req: Request) -> None:
        """Forget `req` (the client went away): out of the queue, or its rows out of the
        batch before the next step. Idempotent; a finished request is left alone."""
        with self._cond:
            if req in self._waiting:
                self._waiting.remove(req)
                self.counts["cancelled"] += 1
            elif req.id in self._active:
                self._cancel.append(req)
                self._cond.notify_all()

    def stats(self) -> dict:
        with self._cond:
            return {"running": self.running, "waiting": len(self._waiting),
                    "active": len(self._active), "live_rows": self.decoder.live,
                    "max_batch_rows": self.max_batch_rows, "max_queue": self.max_queue,
                    **self.counts, **({"error": self.error} if self.error else {})}

    # -- the engine thread --------------------------------------------------------------

    def _loop(self) -> None:
        try:
            while True:
                with self._cond:
                    while not (self._stopping or self._waiting or self._cancel
                               or self.decoder.live):
                        self._cond.wait()
                    if self._stopping:
                        break
                try:
                    with self._cond:
                        self._take_cancels()
                        self._admit()
                    self._step()
                except Exception as e:  # noqa: BLE001 - fail this batch, keep serving
                    self._fail_batch(e)
        except BaseException as e:  # the loop itself is gone: nobody will be served
            self.error = f"{type(e).__name__}: {e}"
            raise
        finally:
            with self._cond:
                for r in [*self._active.values(), *self._waiting]:
                    self._emit(r, "error", (503, "the server is shutting down"
                                            if self.error is None else
                                            f"the generation engine stopped: {self.error}"))
                self._active.clear()
                self._waiting.clear()

    def _fail_batch(self, e: Exception) -> None:
        """A decode step (or a join) raised: the requests in the batch get a 500 naming the
        error, the decoder starts empty, waiting requests go on."""
        with self._cond:
            for r in self._active.values():
                self._emit(r, "error", (500, f"generation failed: {type(e).__name__}: {e}"))
            self.counts["failed"] += len(self._active)
            self._active.clear()
            self._cancel.clear()
            self.decoder.reset()

    def _take_cancels(self) -> None:
        for r in self._cancel:
            if self._active.pop(r.id, None) is not None:
                self.decoder.cancel(r.id)
                self.counts["cancelled"] += 1
        self._cancel.clear()

    def _admit(self) -> None:
        while self._waiting and self.decoder.live + self._waiting[0].n <= self.max_batch_rows:
            r = self._waiting.popleft()
            self.decoder.add(r.id, r.prompt, r.n, r.sampling, max_new_tokens=r.max_new_tokens,
                             seed=r.seed)
            r.started = time.monotonic()
            self._active[r.id] = r
            self._emit(r, "started", None)

    def _step(self) -> None:
        if not self.decoder.live:
            return
        out = self.decoder.step()
        c = self.counts
        c["steps"] += 1
        c["peak_rows"] = max(c["peak_rows"], len(out))
        c["peak_requests"] = max(c["peak_requests"], len({t.key for t in out}))
        self.counts["tokens"] += len(out)
        ended: list[Request] = []
        with self._cond:
            for t in out:
                r = self._active.get(t.key)
                if r is None:  # cancelled while this step ran
                    continue
                r.rows[t.row].append(t.token)
                if t.done:
                    r.finished_rows += 1
                    self._emit(r, "row", (t.row, list(r.rows[t.row])))
                    if r.finished_rows == r.n:
                        ended.append(r)
            for r in ended:
                del self._active[r.id]
                self.counts["completed"] += 1
            now = time.monotonic()
            if now - self._last_progress >= self.progress_every:
                self._last_progress = now
                for r in self._active.values():
                    self._emit(r, "progress", [list(ids) for ids in r.rows])
        for r in ended:
            self._emit(r, "done", None)

    @staticmethod
    def _emit(r: Request, kind: str, data: Any) -> None:
        with contextlib.suppress(Exception):  # a gone client must not stop the loop
            r.emit(kind, data)
