"""The scheduler alone, over a scripted row decoder (each row emits its request's budget of
tokens): first-come admission within ``max_batch_rows``, requests joining as rows free up,
the bounded queue, cancellation in and out of the queue, and a failing step that fails only
the batch in flight."""

from __future__ import annotations

import threading
import time

import pytest

from svgrl.model.sampling import Sampling
from svgrl.serve.decoder import Token
from svgrl.serve.engine import Busy, Engine, Request, Unavailable


class Scripted:
    """Rows of request `key` emit tokens 1, 2, ... up to its `max_new_tokens`. `fail_at`: the
    step number that raises."""

    def __init__(self, fail_at: int = -1, step_s: float = 0.002):
        self.rows: dict = {}
        self.steps = 0
        self.fail_at, self.step_s = fail_at, step_s
        self.batches: list[set] = []

    @property
    def live(self) -> int:
        return len(self.rows)

    def check(self, prompt, max_new_tokens) -> None:
        pass

    def add(self, key, prompt, n, sampling, *, max_new_tokens, seed=0) -> None:
        for i in range(n):
            self.rows[(key, i)] = [0, max_new_tokens]

    def cancel(self, key) -> None:
        self.rows = {k: v for k, v in self.rows.items() if k[0] != key}

    def reset(self) -> None:
        self.rows = {}

    def step(self) -> list[Token]:
        self.steps += 1
        if self.steps == self.fail_at:
            raise RuntimeError("boom")
        time.sleep(self.step_s)
        self.batches.append({k[0] for k in self.rows})
        out = []
        for (key, i), st in list(self.rows.items()):
            st[0] += 1
            done = st[0] >= st[1]
            out.append(Token(key, i, st[0], done))
            if done:
                del self.rows[(key, i)]
        return out


def request(n: int, tokens: int) -> tuple[Request, list, threading.Event]:
    events: list = []
    done = threading.Event()

    def emit(kind, data):
        events.append((kind, data))
        if kind in ("done", "error"):
            done.set()

    return Request(None, n, Sampling(), tokens, emit=emit), events, done


def test_rows_join_as_others_leave_fifo_within_the_row_budget():
    dec = Scripted()
    eng = Engine(dec, max_batch_rows=4, max_queue=10, progress_every=0)
    eng.start()
    try:
        reqs = [request(2, 30), request(2, 5), request(1, 5), request(3, 5), request(1, 5)]
        for r, _, _ in reqs:
            eng.submit(r)
        for r, ev, done in reqs:
            assert done.wait(10)
            rows = [d for k, d in ev if k == "row"]
            assert sorted(i for i, _ in rows) == list(range(r.n))
            assert all(ids == list(range(1, r.max_new_tokens + 1)) for _, ids in rows)
            assert [k for k, _ in ev][0] == "started" and ev[-1][0] == "done"
            assert any(k == "progress" for k, _ in ev)
        a, b, c, d, e = (r.id for r, _, _ in reqs)
        # a (2 rows × 30 tokens) and b (2 × 5) fill the 4 rows. When b leaves, c (1 row)
        # joins a mid-flight; d (3 rows) does not fit beside them, and e (1 row), which
        # would, does not overtake d (first come, first served): d and e join when a leaves.
        assert dec.batches[0] == {a, b}
        assert dec.batches[5] == {a, c}
        first_d = next(i for i, s in enumerate(dec.batches) if d in s)
        assert dec.batches[first_d] == {d, e} and first_d == 30
        assert max(sum(r.n for r, _, _ in reqs if r.id in s) for s in dec.batches) <= 4
        st = eng.stats()
        assert st["completed"] == 5 and st["live_rows"] == 0 and st["peak_requests"] == 2
    finally:
        eng.stop()


def test_queue_bound_cancellation_and_a_failing_step():
    dec = Scripted(step_s=0.01)
    eng = Engine(dec, max_batch_rows=2, max_queue=1, progress_every=0)
    with pytest.raises(Unavailable):
        eng.submit(request(1, 5)[0])  # not started yet
    eng.start()
    try:
        long, ev_long, done_long = request(2, 10_000)
        eng.submit(long)
        while eng.stats()["active"] == 0:
            time.sleep(0.001)
        waiting, ev_wait, _ = request(1, 5)
        eng.submit(waiting)
        with pytest.raises(Busy, match="1 requests already waiting"):
            eng.submit(request(1, 5)[0])
        eng.cancel(waiting)  # out of the queue: never started
        eng.cancel(long)  # out of the batch
        time.sleep(0.1)
        assert eng.stats()["live_rows"] == 0 and eng.stats()["cancelled"] == 2
        assert ev_wait == [] and not done_long.is_set()
        assert eng.stats()["rejected"] == 1
        # A step that raises fails the requests in it with a 500; the engine keeps serving.
        dec.fail_at = dec.steps + 2
        bad, ev_bad, done_bad = request(2, 50)
        eng.submit(bad)
        assert done_bad.wait(10) and ev_bad[-1] == ("error", (500, "generation failed: "
                                                              "RuntimeError: boom"))
        good, ev_good, done_good = request(2, 5)
        eng.submit(good)
        assert done_good.wait(10) and ev_good[-1][0] == "done"
        assert eng.running and eng.stats()["failed"] == 2 - 1  # one request (of 2 rows)
    finally:
        eng.stop()
    assert not eng.running
    with pytest.raises(Unavailable):
        eng.submit(request(1, 5)[0])
