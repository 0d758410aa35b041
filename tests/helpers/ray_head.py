"""A separate Ray cluster for tests: a 2-CPU head in its own processes (`ray start --head
--block`), stopped by signalling that command — never `ray stop`, which would stop every Ray
on the machine. Its environment has no PYTHONPATH: only the runtime env can bring a job
this svgrl."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pids_under(folder: str) -> list[int]:
    """Processes whose command line names `folder` (the cluster's temp dir)."""
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if folder in (p / "cmdline").read_bytes().decode(errors="replace"):
                    out.append(int(p.name))
            except OSError:
                continue
    return out


@contextlib.contextmanager
def ray_head(num_cpus: int = 2) -> Iterator[str]:
    """The address ("127.0.0.1:PORT") of a fresh Ray head, for the duration of the block."""
    exe = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
    tmp = tempfile.mkdtemp(prefix="svgrl-rc-")  # short: Ray's socket paths must fit
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
    log = Path(tmp) / "start.log"
    with open(log, "w") as f:
        proc = subprocess.Popen([exe, "start", "--head", "--block", "--num-cpus",
                                 str(num_cpus), "--port", str(port), "--include-dashboard",
                                 "false", "--temp-dir", tmp, "--disable-usage-stats"],
                                stdout=f, stderr=subprocess.STDOUT, env=env, cwd=tmp)
    try:
        deadline = time.monotonic() + 120
        while "--block" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "ray start did not come up in 120 s"
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for pid in _pids_under(tmp):  # the head's own children, if any outlived it
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
