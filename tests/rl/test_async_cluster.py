"""Where the asynchronous system runs: a local Ray whose files stay in the run folder, and a
separate Ray cluster (`ray start --head`, as on many machines) joined with --ray-address,
whose workers import this svgrl shipped as a runtime-env module."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from helpers.async_grpo import async_cfg, consumed_exactly_once

ray = pytest.importorskip("ray")


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


@pytest.fixture
def ray_cluster():
    """A 2-CPU Ray head in its own processes (`ray start --head --block`), stopped by
    signalling that command — never `ray stop`, which would stop every Ray on the machine.
    Its environment has no PYTHONPATH: only the runtime env can bring it this svgrl."""
    if ray.is_initialized():
        pytest.skip("a Ray session is already open in this process")
    exe = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
    tmp = tempfile.mkdtemp(prefix="svgrl-rc-")  # short: Ray's socket paths must fit
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
    log = Path(tmp) / "start.log"
    with open(log, "w") as f:
        proc = subprocess.Popen([exe, "start", "--head", "--block", "--num-cpus", "2",
                                 "--port", str(port), "--include-dashboard", "false",
                                 "--temp-dir", tmp, "--disable-usage-stats"],
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


@pytest.mark.slow
def test_async_grpo_joins_a_separate_ray_cluster(ray_cluster, tabler_data, tmp_path,
                                                 monkeypatch):
    from svgrl.cluster import start_ray
    from svgrl.rl.async_.controller import train_async

    # Ray puts the driver's working directory on its workers' path; from a checkout that
    # would hide whether the runtime env shipped svgrl (on other machines it is absent).
    monkeypatch.chdir(tmp_path)
    assert start_ray(ray_cluster, tmp_path / "probe")
    try:  # the cluster's workers import the svgrl shipped with the job
        where = ray.get(ray.remote(lambda: __import__("svgrl").__file__).remote(),
                        timeout=120)
    finally:
        ray.shutdown()
    assert "runtime_resources" in where and "py_modules" in where, where
    assert not (tmp_path / "probe").exists()

    run = tmp_path / "run"
    cfg = async_cfg(tabler_data, str(run), steps=2, ray_address=ray_cluster, save_every=1)
    res = train_async(cfg)
    assert res["steps"] == 2 and res["after"] is not None
    consumed_exactly_once(res["ledger"], 2, cfg.prompts_per_step)
    assert res["ledger"]["trainer_pid"] != os.getpid()
    assert (run / "checkpoints").is_dir() and (run / "metrics.jsonl").is_file()
    assert not (run / "ray").exists()  # the cluster keeps its files in its own temp dir
    assert not ray.is_initialized()  # the driver left the cluster


@pytest.mark.slow
def test_without_an_address_a_local_ray_writes_only_into_the_run_folder(
        tabler_data, tmp_path, monkeypatch):
    from svgrl.rl.async_.controller import train_async

    if ray.is_initialized():
        pytest.skip("a Ray session is already open in this process")
    home, tmpdir, cwd = (tmp_path / n for n in ("home", "tmp", "cwd"))
    for d in (home, tmpdir, cwd):
        d.mkdir()
    short = Path(tempfile.mkdtemp(prefix="svgrl-ra-"))  # Ray's socket paths must fit
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.chdir(cwd)
    run = short / "run"
    try:
        res = train_async(async_cfg(tabler_data, str(run), steps=1))
        assert res["steps"] == 1
        assert not ray.is_initialized()
        assert (run / "ray").is_dir() and list((run / "ray").iterdir())  # Ray's files: here
        for d in (home, tmpdir, cwd):
            assert not list(d.rglob("*")), (d, list(d.rglob("*")))
        assert [p.name for p in short.iterdir()] == ["run"]
    finally:
        shutil.rmtree(short, ignore_errors=True)
