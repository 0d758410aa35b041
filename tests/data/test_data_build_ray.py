"""`svgrl data build --ray`: curation spread over a local Ray (2 CPUs) gives the dataset a
local build gives — same content hash, same failures — and every item is still bounded by
its own worker process (a CPU hog fails ``timeout`` under Ray as it does locally)."""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path

import pytest

from svgrl.data.build import BuildConfig, build

pytest.importorskip("ray")

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile"
NS = 'xmlns="http://www.w3.org/2000/svg"'


def _hog() -> str:
    """6,000 filled paths of 24 curves each: seconds of honest work (under every work
    budget, so only the CPU bound of its worker stops it)."""
    rng = random.Random(0)

    def path() -> str:
        xy = " ".join(f"{rng.uniform(0, 240):.1f}" for _ in range(2 + 6 * 24))
        return f'<path d="M{xy[:xy.index(" ", 6)]} C{xy[xy.index(" ", 6):]}" fill="#c33"/>'

    return f'<svg {NS} viewBox="0 0 240 240">' + "".join(path() for _ in range(6_000)) \
        + "</svg>"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    """Tabler icons, the hostile corpus and a CPU hog in one folder."""
    from svgrl.data.sources import iter_source

    d = tmp_path_factory.mktemp("mixed")
    for it in list(iter_source("pytablericons"))[:24]:
        (d / f"{it.name.replace(' ', '-')}.svg").write_bytes(it.read())
    for p in CORPUS.glob("*.svg"):
        shutil.copy(p, d / f"hostile-{p.name}")
    (d / "zz-hog.svg").write_text(_hog())
    return d


def _build(src: Path, out: Path, **kw) -> dict:
    return build(BuildConfig(source=(str(src),), out=str(out), shard_size=8, progress=False,
                             item_cpu_s=0.5, workers=2, **kw), log=lambda m: None)


@pytest.fixture(scope="module")
def local(mixed: Path, tmp_path_factory) -> dict:
    """The same build without Ray: the manifest to match."""
    return _build(mixed, tmp_path_factory.mktemp("local") / "out")


def _same_dataset(on_ray: dict, local: dict) -> None:
    assert on_ray["content_hash"] == local["content_hash"]
    for key in ("items", "curated", "failed", "kept", "splits", "exact_duplicates",
                "near_duplicates"):
        assert on_ray["counts"][key] == local["counts"][key], key
    # the hog went over its 0.5 s CPU bound in its worker, under Ray as locally
    assert on_ray["counts"]["failed"].get("timeout") == 1
    assert "zz-hog" in on_ray["counts"]["failure_examples"]["timeout"]


@pytest.mark.slow
def test_ray_build_has_the_local_hash_and_bounds_every_item(mixed: Path, local: dict,
                                                           tmp_path: Path):
    links = set(Path(tempfile.gettempdir()).glob("svgrl-ray-*"))
    on_ray = _build(mixed, tmp_path / "ray", ray=True)  # a deep folder: Ray gets a symlink
    assert local["counts"]["kept"] >= 20
    _same_dataset(on_ray, local)
    # nothing of Ray left in the dataset folder, and Ray is stopped
    assert not (tmp_path / "ray" / ".build").exists()
    assert not (tmp_path / "ray" / "ray").exists()
    import ray

    assert not ray.is_initialized()
    assert set(Path(tempfile.gettempdir()).glob("svgrl-ray-*")) == links


@pytest.mark.slow
def test_ray_address_build_on_a_separate_cluster(mixed: Path, local: dict, tmp_path: Path,
                                                 monkeypatch):
    """--ray-address: a `ray start --head` cluster (its workers get svgrl only from the job's
    runtime env) curates the same dataset, each item still bounded."""
    import ray
    from helpers.ray_head import ray_head

    if ray.is_initialized():
        pytest.skip("a Ray session is already open in this process")
    monkeypatch.chdir(tmp_path)  # Ray would put a checkout's folder on the workers' path
    with ray_head() as address:
        on_cluster = _build(mixed, tmp_path / "c", ray_address=address)
    _same_dataset(on_cluster, local)
    assert on_cluster["config"]["ray_address"] == address
    assert not ray.is_initialized()  # the driver left the cluster
