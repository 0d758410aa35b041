"""Where the asynchronous system runs: a local Ray whose files stay in the run folder, and a
separate Ray cluster (`ray start --head`, as on many machines) joined with --ray-address,
whose workers import this svgrl shipped as a runtime-env module."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from helpers.async_grpo import async_cfg, consumed_exactly_once
from helpers.ray_head import ray_head

ray = pytest.importorskip("ray")


@pytest.fixture
def ray_cluster():
    """A 2-CPU Ray head of its own (`helpers.ray_head`)."""
    if ray.is_initialized():
        pytest.skip("a Ray session is already open in this process")
    with ray_head() as address:
        yield address


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
