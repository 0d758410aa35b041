"""Worker-pool plumbing shared by the verifiers (math, code, SVG)."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import signal


def kill_pool(pool: cf.ProcessPoolExecutor | None) -> None:
    """Stop a process pool *now*: SIGKILL its workers, then shut it down without waiting.

    `shutdown()` alone waits for running tasks, and a verifier past its deadline is exactly
    the case where a task will not finish (a hung math-verify, a runaway render)."""
    if pool is None:
        return
    for p in list(getattr(pool, "_processes", {}).values()):
        with contextlib.suppress(ProcessLookupError, AttributeError):
            os.kill(p.pid, signal.SIGKILL)
    pool.shutdown(wait=False, cancel_futures=True)
