"""Bounded work per item: run a function over untrusted items in killable worker processes.

A batch tool (simplify, fidelity, data build, tokenize, SVG rewards) must survive the one
item in a million that takes minutes, gigabytes, or the process with it (a renderer that
segfaults or aborts). Limits live in the kernel, not in the code being limited:

* each worker has an address-space limit (``RLIMIT_AS``); Python allocations past it raise
  ``MemoryError`` (the item fails ``memory``, the worker goes on), native ones usually abort
  the worker;
* before every item the worker arms a CPU-time timer (``ITIMER_PROF``, millisecond
  precision) with the item's budget; a runaway item is stopped by ``SIGPROF``, whose default
  action ends the worker even inside native code (``timeout``); ``RLIMIT_CPU`` one second
  later is the backstop;
* the parent also watches wall time per item (a read that blocks uses no CPU), and the
  item each worker is on sits in shared memory, so when a worker dies the parent knows
  exactly which item killed it; the other items of its chunk are re-run on a fresh worker.

The batch goes on; the failed item comes back as an `ItemFailure` with a typed ``reason``
(``timeout``, ``memory`` or ``crash``). Workers are spawned clean (no inherited threads), so
the function is named as ``"module:function"`` and imported in the worker.
The caller needs no ``if __name__ == "__main__"`` guard: workers are plain interpreters.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import math
import mmap
import os
import resource
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from svgrl.errors import ConfigError, WorkerStartError

REASONS = ("timeout", "memory", "crash", "error")
_SLOT_BYTES = 24  # item index, item start (monotonic s), task id: three doubles
_DEPTH = 1  # tasks in flight per worker: one, so a descheduled worker holds up no backlog


@dataclass(frozen=True)
class ItemLimits:
    """Per-item bounds of a batch tool (the honest icon takes milliseconds and tens of MB)."""

    item_cpu_s: float = field(default=20.0, metadata={"help": "CPU seconds one item may use"})
    item_memory_mb: int = field(default=3072, metadata={
        "help": "address space of a worker process (its imports included), MB"})
    item_wall_s: float = field(default=0.0, metadata={
        "help": "wall seconds one item may take; 0 = 2 × item_cpu_s + 5 (catches blocking reads)"})
    worker_start_s: float = field(default=120.0, metadata={
        "help": "wall seconds a worker may take to start (interpreter, imports and its init, "
                "e.g. a model load) before the pool gives up with WorkerStartError (an OSError)"})

    def __post_init__(self) -> None:
        if not 0 < self.item_cpu_s <= 3600:
            raise ConfigError(f"item_cpu_s={self.item_cpu_s}: use a value in (0, 3600] seconds")
        if not 256 <= self.item_memory_mb <= 1 << 20:
            raise ConfigError(f"item_memory_mb={self.item_memory_mb}: use at least 256 MB "
                              "(a worker's imports alone take ~200 MB of address space)")
        if self.item_wall_s < 0:
            raise ConfigError(f"item_wall_s={self.item_wall_s}: use 0 (derived) or a "
                              "positive value")
        if not 0 < self.worker_start_s <= 86400:
            raise ConfigError(f"worker_start_s={self.worker_start_s}: use a value in "
                              "(0, 86400] seconds")

    @property
    def wall(self) -> float:
        return self.item_wall_s or 2 * self.item_cpu_s + 5


@dataclass(frozen=True)
class ItemFailure:
    """An item that went over its bound (or took its worker down)."""

    reason: str
    message: str


def _cpu_used() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _worker_main(conn: Connection, out_conn: Connection, target: str, limits: ItemLimits,
                 init: str | None) -> None:
    import sys as _sys

    fd = int(_sys.argv[2])
    slot = memoryview(mmap.mmap(fd, _SLOT_BYTES)).cast("d")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    module, name = target.split(":")
    fn = getattr(importlib.import_module(module), name)
    if init:
        module, name = init.split(":")
        getattr(importlib.import_module(module), name)()
    mb = limits.item_memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (mb, mb))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    inf = resource.RLIM_INFINITY
    import queue
    import threading

    # Results leave through a thread (as multiprocessing's queues do): on a busy machine the
    # write that wakes the parent can cost the writer its time slice; the next item should
    # not wait for that.
    outbox: queue.SimpleQueue = queue.SimpleQueue()

    def sender() -> None:
        while (msg := outbox.get()) is not None:
            out_conn.send(msg)

    threading.Thread(target=sender, daemon=True).start()
    outbox.put(("ready", None))
    while True:
        msg = conn.recv()
        if msg is None:
            outbox.put(None)
            return
        task, items = msg
        slot[2] = task
        out = []
        for i, item in enumerate(items):
            slot[0], slot[1] = i, time.monotonic()
            budget = math.ceil(_cpu_used() + limits.item_cpu_s) + 1
            resource.setrlimit(resource.RLIMIT_CPU, (budget, inf))
            signal.setitimer(signal.ITIMER_PROF, limits.item_cpu_s)
            try:
                out.append(fn(item))
            except MemoryError:
                out.append(ItemFailure("memory", f"over the {limits.item_memory_mb} MB limit"))
            except Exception as e:  # noqa: BLE001 — an untyped bug fails its item, not the batch
                out.append(ItemFailure("error", f"{type(e).__name__}: {e}"[:300]))
            signal.setitimer(signal.ITIMER_PROF, 0)
            slot[1] = 0.0
        resource.setrlimit(resource.RLIMIT_CPU, (inf, inf))
        outbox.put((task, out))


_BOOT = (
    "import sys\n"
    "from multiprocessing.connection import Connection\n"
    "c = Connection(int(sys.argv[1]), writable=False)\n"
    "o = Connection(int(sys.argv[3]), readable=False)\n"
    "sys.path[:] = c.recv()\n"
    "from svgrl.bounded import _worker_main\n"
    "_worker_main(c, o, *c.recv())\n"
)


class _Worker:
    """A fresh interpreter (not multiprocessing's spawn, which re-imports the caller's main
    module) talking over two pipes; the current item's index, its start time and the
    current task live in a small shared memfd the parent reads without asking."""

    def __init__(self, target: str, limits: ItemLimits, init: str | None,
                 env: dict[str, str] | None):
        down_r, down_w = os.pipe()  # parent → worker
        up_r, up_w = os.pipe()  # worker → parent
        fd = os.memfd_create("svgrl-bounded-slot")
        os.ftruncate(fd, _SLOT_BYTES)
        self._mm = mmap.mmap(fd, _SLOT_BYTES)
        self.slot = memoryview(self._mm).cast("d")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, str(down_r), str(fd), str(up_w)],
            pass_fds=(down_r, up_w, fd), stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        os.close(down_r)
        os.close(up_w)
        os.close(fd)
        self.conn = Connection(up_r, writable=False)
        self.out = Connection(down_w, readable=False)
        self.out.send(list(sys.path))
        self.out.send((target, limits, init))
        self.born = time.monotonic()
        # (task id, item indices) sent and not answered yet (up to `_DEPTH`)
        self.tasks: deque[tuple[int, list[int]]] = deque()
        self.ready = False
        self.vm_mb = 0.0  # last seen address space, to tell a memory death from a crash
        self.sampled = 0.0

    def sample_memory(self, now: float) -> None:
        if now - self.sampled < 0.05:
            return
        self.sampled = now
        with contextlib.suppress(OSError, ValueError, IndexError), open(
            f"/proc/{self.proc.pid}/status", "rb"
        ) as f:
            for line in f:
                if line.startswith(b"VmSize:"):
                    self.vm_mb = int(line.split()[1]) / 1024
                    return

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()
        self.conn.close()
        self.out.close()
        with contextlib.suppress(BufferError):
            self.slot.release()
            self._mm.close()


class BoundedPool:
    """`workers` processes running ``target`` (``"module:function"``) item by item under
    `limits`. Reuse one pool across calls of `map` (starting a worker costs ~0.5 s).
    `init` (``"module:function"``) runs once in each worker before its first item; `env` is
    added to the workers' environment (read at process start, e.g. malloc tunables)."""

    def __init__(self, target: str, limits: ItemLimits | None = None, workers: int = 1, *,
                 init: str | None = None, env: dict[str, str] | None = None):
        if workers < 1:
            raise ConfigError(f"workers={workers}: use at least 1")
        self.target, self.limits, self.n = target, limits or ItemLimits(), workers
        self.init, self.env = init, env
        self._workers: list[_Worker] = []
        self._next_task = 0

    def _spawn(self) -> _Worker:
        w = _Worker(self.target, self.limits, self.init, self.env)
        self._workers.append(w)
        return w

    def start(self) -> None:
        """Start the workers now and wait until they are ready (otherwise `map` does)."""
        while len(self._workers) < self.n:
            self._spawn()
        try:
            while not all(w.ready for w in self._workers):
                self._collect(deque(), {})
        except BaseException:
            self.close()  # no half-started worker outlives the error
            raise

    def imap(self, items: Iterable[Any], window: int = 64, chunk: int = 1) -> Iterator[Any]:
        """`map` over a lazy iterable, `window` items read ahead at a time (so a stream of
        files is never all in memory)."""
        it = iter(items)
        while batch := list(itertools.islice(it, window)):
            yield from self.map(batch, chunk)

    def map(self, items: Iterable[Any], chunk: int = 1) -> Iterator[Any]:
        """``target(item)`` or an `ItemFailure` for every item, in input order. Items are
        sent `chunk` at a time; results stream back as chunks finish."""
        items = list(items)
        queue: deque[list[int]] = deque(
            list(range(i, min(i + chunk, len(items)))) for i in range(0, len(items), chunk))
        done: dict[int, Any] = {}
        emitted = 0
        while len(self._workers) < min(self.n, max(1, len(queue))):
            self._spawn()
        try:
            while emitted < len(items):
                self._dispatch(queue, items)
                self._collect(queue, done)
                while emitted in done:
                    yield done.pop(emitted)
                    emitted += 1
        except BaseException:
            self.close()  # a half-finished map leaves workers mid-task: start over next time
            raise

    def _dispatch(self, queue: deque[list[int]], items: list[Any]) -> None:
        for w in self._workers:
            while w.ready and len(w.tasks) < _DEPTH and queue:
                idx = queue.popleft()
                self._next_task += 1
                w.tasks.append((self._next_task, idx))
                w.out.send((self._next_task, [items[i] for i in idx]))

    def _collect(self, queue: deque[list[int]], done: dict[int, Any]) -> None:
        busy = any(w.tasks or not w.ready for w in self._workers)
        if not busy:
            return
        ready = wait([w.conn for w in self._workers], timeout=0.05)
        now = time.monotonic()
        for w in list(self._workers):
            if w.conn in ready:
                try:
                    kind, out = w.conn.recv()
                except (EOFError, OSError):
                    self._died(w, queue, done, None)
                    continue
                if kind == "ready":
                    w.ready = True
                elif w.tasks and kind == w.tasks[0][0]:
                    for i, r in zip(w.tasks.popleft()[1], out, strict=True):
                        done[i] = r
            elif w.proc.poll() is not None:
                self._died(w, queue, done, None)
            elif w.tasks:
                w.sample_memory(now)
                started = w.slot[1]
                if started and now - started > self.limits.wall:
                    self._died(w, queue, done, "timeout")
            elif not w.ready and now - w.born > self.limits.worker_start_s:
                raise WorkerStartError(f"a bounded worker for {self.target} did not start in "
                                       f"{self.limits.worker_start_s:g} s "
                                       "(ItemLimits.worker_start_s)")

    def _died(self, w: _Worker, queue: deque[list[int]], done: dict[int, Any],
              reason: str | None) -> None:
        """A worker ended mid-task: its current item fails; the rest of its chunk, and the
        chunks sent after it, re-run."""
        current, task = int(w.slot[0]), int(w.slot[2])
        w.kill()
        self._workers.remove(w)
        if w.tasks:
            # the task it was on; if it died between tasks, charge the next one's first item
            # (each death then removes one item: the batch always progresses)
            pos = next((n for n, (t, _) in enumerate(w.tasks) if t == task), None)
            if pos is None:
                pos, current = 0, 0
            for n, (_, idx) in reversed(list(enumerate(w.tasks))):
                if n != pos:
                    queue.appendleft(idx)
            idx = w.tasks[pos][1]
            k = min(current, len(idx) - 1)
            code = w.proc.returncode
            if reason is None:
                if code in (-signal.SIGXCPU, -signal.SIGPROF):
                    reason = "timeout"
                elif w.vm_mb >= 0.8 * self.limits.item_memory_mb:
                    reason = "memory"
                else:
                    reason = "crash"
            lim = self.limits
            what = {"timeout": f"over {lim.item_cpu_s:g} s CPU / {lim.wall:g} s wall",
                    "memory": f"over the {self.limits.item_memory_mb} MB limit",
                    "crash": f"the worker died ({_signal_name(code)})"}[reason]
            done[idx[k]] = ItemFailure(reason, what)
            rest = idx[:k] + idx[k + 1:]
            if rest:
                queue.appendleft(rest)
        elif not w.ready:
            raise WorkerStartError(f"a bounded worker for {self.target} died while starting "
                          f"({_signal_name(w.proc.returncode)})")
        self._spawn()

    def close(self) -> None:
        for w in self._workers:
            if not w.tasks and w.ready:
                with contextlib.suppress(OSError):
                    w.out.send(None)
            w.kill()
        self._workers = []

    def __enter__(self) -> BoundedPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def _signal_name(code: int | None) -> str:
    if code is None or code >= 0:
        return f"exit {code}"
    with contextlib.suppress(ValueError):
        return signal.Signals(-code).name
    return f"signal {-code}"


def bounded_map(target: str, items: Iterable[Any], limits: ItemLimits | None = None,
                workers: int = 1, chunk: int = 1) -> Iterator[Any]:
    """One-shot `BoundedPool.map` (the pool is closed when the iterator is exhausted)."""
    with BoundedPool(target, limits, workers) as pool:
        yield from pool.map(items, chunk)


__all__ = ["REASONS", "BoundedPool", "ItemFailure", "ItemLimits", "bounded_map"]
