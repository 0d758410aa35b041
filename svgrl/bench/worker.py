"""Run one system in its own process, one sample at a time, bounded per sample.

A system may crash (a tracer segfaults on a degenerate image), hang, or run away; none of
that may end the bench. Each system runs in one `svgrl.bounded` worker: a fresh interpreter
that builds the system once (`init`: a model loads once), then answers one `SystemInput`
per item under the pool's limits — `timeout` seconds of CPU and of wall time, an
address-space cap. A sample over a limit, or one that takes its process down, comes back
failed (``timeout``, ``memory``, ``crash``) and the pool starts a fresh worker (which builds
the system again) for the next sample.

The system is named to the worker through the environment (``SVGRL_BENCH_SYSTEM``: spec,
sampling flags, threads and the factory as ``"module:function"``), since bounded workers
import their code by name rather than unpickling it.

Seconds are measured inside the worker around the system call alone, so process start,
model load and the pipe are not charged to the samples; model load is ``setup_seconds``.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

from svgrl.bench.systems import SamplingFlags, Spec, SystemInput, parse_spec
from svgrl.bounded import BoundedPool, ItemFailure, ItemLimits

_ENV = "SVGRL_BENCH_SYSTEM"
DEFAULT_FACTORY = "svgrl.bench.factory:make_system"


@dataclass
class Answer:
    svg: str | None
    error: str | None
    seconds: float | None
    info: dict | None = None  # what the system reports about this sample (refine: steps, ...)


# --- inside the worker process -----------------------------------------------------------

_state: dict[str, Any] = {}


def init() -> None:
    """Build the system named in the environment (once per worker process)."""
    cfg = json.loads(os.environ[_ENV])
    if cfg["threads"]:
        os.environ["OMP_NUM_THREADS"] = str(cfg["threads"])
    t0 = time.perf_counter()
    try:
        module, name = cfg["factory"].split(":")
        factory = getattr(importlib.import_module(module), name)
        system = factory(parse_spec(cfg["spec"]), SamplingFlags(**cfg["flags"]), cfg["threads"])
        _state.update(system=system, error=None, settings=getattr(system, "settings", {}))
    except Exception as e:  # noqa: BLE001 — reported as the system's failure to start
        _state.update(system=None, error=f"{type(e).__name__}: {e}"[:500], settings={})
    _state["setup_seconds"] = time.perf_counter() - t0


def answer(inp: SystemInput | None) -> tuple:
    """(kind, payload, seconds, info) for one sample; ``None`` asks for the setup report."""
    if inp is None:
        return "setup", _state["settings"], _state["setup_seconds"], _state["error"]
    if _state["error"] is not None:
        return "error", f"system failed to start: {_state['error']}", None, None
    t = time.perf_counter()
    try:
        svg = _state["system"](inp)
    except Exception as e:  # noqa: BLE001 — one sample's failure, the worker goes on
        return "error", f"{type(e).__name__}: {e}"[:500], time.perf_counter() - t, None
    dt = time.perf_counter() - t
    info = getattr(_state["system"], "last_info", None)
    return "ok", svg, dt, info if isinstance(info, dict) else None


# --- in the bench process ------------------------------------------------------------------

class SystemWorker:
    """``worker(inp) -> Answer``; `setup_error` is set when the system could not be built."""

    def __init__(self, spec: Spec, flags: SamplingFlags, *, threads: int = 1,
                 timeout: float = 120.0, memory_mb: int = 16384,
                 factory: str | None = None, start_timeout: float = 120.0):
        env = {_ENV: json.dumps({"spec": spec.text, "flags": asdict(flags),
                                 "threads": threads, "factory": factory or DEFAULT_FACTORY})}
        limits = ItemLimits(item_cpu_s=timeout, item_memory_mb=memory_mb, item_wall_s=timeout,
                            worker_start_s=start_timeout)
        self._pool = BoundedPool("svgrl.bench.worker:answer", limits, 1,
                                 init="svgrl.bench.worker:init", env=env)
        self.settings: dict = {}
        self.setup_seconds = 0.0
        self.setup_error: str | None = None
        self.restarts = 0
        first = self._one(None)
        if isinstance(first, ItemFailure):
            self.setup_error = f"{first.reason}: {first.message}"
        else:
            _, self.settings, self.setup_seconds, self.setup_error = first

    def _one(self, item: Any) -> Any:
        try:
            # run the generator to its end: one left suspended at its yield is closed when
            # collected, and `map` treats that as a broken batch and kills the worker — a
            # fresh process (imports, model load) for every sample
            return list(self._pool.map([item]))[0]
        except OSError as e:  # the worker died before it was ready (e.g. at import)
            self._pool.close()
            return ItemFailure("crash", str(e))

    def __call__(self, inp: SystemInput) -> Answer:
        if self.setup_error is not None:
            return Answer(None, f"system failed to start: {self.setup_error}", None)
        out = self._one(inp)
        if isinstance(out, ItemFailure):
            self.restarts += out.reason in ("timeout", "memory", "crash")
            return Answer(None, f"{out.reason}: {out.message}", None)
        kind, payload, secs, info = out
        if kind != "ok":
            return Answer(None, payload, secs)
        if not isinstance(payload, str):
            return Answer(None, f"bad output: the system returned {type(payload).__name__}, "
                                "not SVG text", secs)
        return Answer(payload, None, secs, info)

    def close(self) -> None:
        self._pool.close()
