"""One progress-bar policy for every long job (curation, SFT, GRPO rollouts, bench,
simplify, fidelity, generate).

To a terminal a bar redraws as often as tqdm likes. Redirected to a file or a pipe (a log,
CI, `make demo > log`), every redraw becomes one more line, so a bar writes at most every
`LOG_INTERVAL` seconds there (and always its last state).
"""

from __future__ import annotations

import sys
from typing import Any

LOG_INTERVAL = 10.0  # seconds between a bar's lines when its stream is not a terminal


def is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def bar(*args: Any, **kwargs: Any) -> Any:
    """`tqdm.tqdm(*args, **kwargs)`, with ``mininterval`` `LOG_INTERVAL` unless the bar's
    stream (``file``, default stderr) is a terminal or the caller set one."""
    from tqdm import tqdm  # on first use: `svgrl --help` imports nothing heavy

    if not is_terminal(kwargs.get("file") or sys.stderr):
        kwargs.setdefault("mininterval", LOG_INTERVAL)
    return tqdm(*args, **kwargs)


__all__ = ["LOG_INTERVAL", "bar", "is_terminal"]
