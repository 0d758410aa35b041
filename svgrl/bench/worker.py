"""Run one system in its own process, one sample at a time, with a time limit per sample.

A system may crash (a tracer segfaults on a degenerate image), hang, or leak; none of that
may end the bench. The worker process builds the system once (a model loads once), then
answers one `SystemInput` per request. The parent waits at most `timeout` seconds for an
answer: past that it kills the process, records the sample as failed (``timeout``), and
starts a fresh worker for the next sample; a dead process is recorded as ``crashed``.
Processes start with ``spawn`` (no inherited torch thread pools or locks from the parent).

Seconds are measured inside the worker around the system call alone, so process start,
model load and the pipe are not charged to the samples; model load is ``setup_seconds``.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import time
from dataclasses import dataclass
from typing import Any

from svgrl.bench.systems import SamplingFlags, Spec, SystemInput, make_system


@dataclass
class Answer:
    svg: str | None
    error: str | None
    seconds: float | None
    info: dict | None = None  # what the system reports about this sample (refine: steps, ...)


def _serve(conn: Any, spec: Spec, flags: SamplingFlags, threads: int, factory: Any) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, threads)))
    t0 = time.perf_counter()
    try:
        system = factory(spec, flags, threads)
    except BaseException as e:  # noqa: BLE001 — reported to the parent as the system's failure
        conn.send(("setup-error", f"{type(e).__name__}: {e}", 0.0))
        return
    conn.send(("ready", getattr(system, "settings", {}), time.perf_counter() - t0))
    while True:
        try:
            inp = conn.recv()
        except EOFError:
            return
        if inp is None:
            return
        t = time.perf_counter()
        try:
            svg = system(inp)
            dt = time.perf_counter() - t
            conn.send(("ok", (svg, getattr(system, "last_info", None)), dt))
        except Exception as e:  # noqa: BLE001 — one sample's failure, the worker goes on
            conn.send(("error", f"{type(e).__name__}: {e}", time.perf_counter() - t))


class SystemWorker:
    """``worker(inp) -> Answer``; `setup_error` is set when the system could not be built."""

    def __init__(self, spec: Spec, flags: SamplingFlags, *, threads: int = 1,
                 timeout: float = 120.0, setup_timeout: float = 600.0, factory: Any = None):
        self.spec, self.flags, self.threads = spec, flags, threads
        # factory(spec, flags, threads) -> system; a module-level function (it is pickled)
        self.factory = factory or make_system
        self.timeout, self.setup_timeout = timeout, setup_timeout
        self.settings: dict = {}
        self.setup_seconds = 0.0
        self.setup_error: str | None = None
        self.restarts = 0
        self._proc: Any = None
        self._conn: Any = None
        self._start()

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self.spec, self.flags,
                                                      self.threads, self.factory), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        if not parent.poll(self.setup_timeout):
            self._kill()
            self.setup_error = f"setup took over {self.setup_timeout:g} s"
            return
        try:
            kind, payload, secs = parent.recv()
        except EOFError:
            self.setup_error = f"crashed while starting (exit code {self._exitcode()})"
            self._kill()
            return
        if kind == "setup-error":
            self.setup_error = payload
            self._kill()
            return
        self.settings, self.setup_seconds = payload, secs

    def _exitcode(self) -> Any:
        self._proc.join(1)
        return self._proc.exitcode

    def _kill(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    def __call__(self, inp: SystemInput) -> Answer:
        if self.setup_error is not None:
            return Answer(None, f"system failed to start: {self.setup_error}", None)
        if self._proc is None:
            self.restarts += 1
            self._start()
            if self.setup_error is not None:
                return Answer(None, f"system failed to restart: {self.setup_error}", None)
        try:
            self._conn.send(inp)
            if not self._conn.poll(self.timeout):
                self._kill()
                return Answer(None, f"timeout: no answer within {self.timeout:g} s", None)
            kind, payload, secs = self._conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            code = self._exitcode()
            self._kill()
            return Answer(None, f"crashed: the system's process died (exit code {code})", None)
        if kind == "ok":
            svg, info = payload
            if not isinstance(svg, str):
                return Answer(None, f"bad output: the system returned "
                                    f"{type(svg).__name__}, not SVG text", secs)
            return Answer(svg, None, secs, info if isinstance(info, dict) else None)
        return Answer(None, payload, secs)

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(BrokenPipeError, OSError):
                self._conn.send(None)
            if self._proc is not None:
                self._proc.join(5)
        self._kill()
