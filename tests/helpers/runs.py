"""Tiny-model settings and kill -9 / resume drivers shared by the training tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

# A very small tiny model: enough to exercise every code path quickly on CPU.
TINY = dict(backbone="tiny", tiny_layers=1, tiny_d_model=32, tiny_heads=2, seed=0)


def kill_at(cmd: list[str], run: Path, min_step: int) -> int:
    """Run `cmd` (an `svgrl train ...` command line writing the run folder `run`) in a child
    and SIGKILL it once ``latest.json`` reaches `min_step`; returns the step it was killed at."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    latest = run / "latest.json"
    while time.monotonic() < deadline and proc.poll() is None:
        if latest.is_file() and json.loads(latest.read_text())["step"] >= min_step:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    return json.loads(latest.read_text())["step"]


def run_killed_then_resumed(cmd: list[str], run: Path, min_step: int) -> int:
    """`kill_at`, then run `cmd` again with ``--resume``; returns the step it was killed at."""
    killed_at = kill_at(cmd, run, min_step)
    run_to_end(cmd + ["--resume"])
    return killed_at


def run_to_end(cmd: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=600)
