"""Worker-pool plumbing shared by the verifiers (math, code, SVG)."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import signal
import threading


def kill_pool(pool: cf.ProcessPoolExecutor | None) -> None:
    """Stop a process pool *now*: SIGKILL its workers, then shut it down without waiting.

    `shutdown()` alone waits for running tasks, and a verifier past its deadline is exactly
    the case where a task will not finish (a hung math-verify, a runaway render)."""
    if pool is None:
        return
    if hasattr(pool, "close") and not hasattr(pool, "shutdown"):  # a svgrl.bounded pool
        pool.close()
        return
    for p in list(getattr(pool, "_processes", {}).values()):
        with contextlib.suppress(ProcessLookupError, AttributeError):
            os.kill(p.pid, signal.SIGKILL)
    pool.shutdown(wait=False, cancel_futures=True)


class PoolOwner:
    """A verifier's lazily started process pool (a `ProcessPoolExecutor` or a
    `svgrl.bounded.BoundedPool`): subclasses build it in ``_get_pool`` (under
    ``self._lock``); `close()` — and garbage collection — kill its workers at once."""

    def __init__(self) -> None:
        self._pool: cf.ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _kill_pool(self) -> None:
        pool, self._pool = self._pool, None
        kill_pool(pool)

    def close(self) -> None:
        with self._lock:
            self._kill_pool()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._kill_pool()
