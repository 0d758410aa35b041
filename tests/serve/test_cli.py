"""`svgrl serve` as a user starts it: a subprocess on a loopback port serving a run folder,
answering /health and a generation, stopping cleanly on SIGTERM; bad flags are typed errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from svgrl.cli import main

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # a fresh interpreter imports torch + transformers and loads the run
def test_serve_cli_runs_a_run_folder(tiny_run):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "svgrl.cli", "serve", "--run", tiny_run,
                             "--port", str(port), "--default-new-tokens", "24"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        r = httpx.post(url + "/v1/generate", json={"text": "arrow", "n": 2}, timeout=60)
        assert r.status_code == 200 and len(r.json()["samples"]) == 2
        assert r.json()["model"]["step"] == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status says SIGTERM.
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert "Traceback" not in err, err
    assert f"http://127.0.0.1:{port}/" in err


def test_serve_cli_errors(tmp_path, capsys):
    assert main(["serve"]) == 2
    assert "--run" in capsys.readouterr().err
    assert main(["serve", "--run", str(tmp_path / "none")]) == 2
    assert "svgrl run folder" in capsys.readouterr().err
    assert main(["serve", "--run", "x", "--max-n", "64", "--max-batch-rows", "8"]) == 2
    assert "--max-batch-rows" in capsys.readouterr().err
    # a port in use fails before the model loads (the run here does not even exist)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--run", str(tmp_path / "none"), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err
