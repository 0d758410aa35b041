"""Starting or joining Ray — the one place every Ray user of svgrl (the asynchronous GRPO
engine, the distributed data build) does it.

Without an address a local Ray starts whose files (sockets, logs, object spill) all stay in
one folder the caller owns (``FOLDER/ray``), with no dashboard, no usage report and no auth
token under ``~/.ray``: nothing is written outside that folder. With an address the driver
joins that cluster and leaves it as it found it; the cluster's workers import *this* svgrl,
not whatever the nodes have installed: the package folder goes with the job as a runtime-env
``py_modules`` entry (Ray zips it and uploads it to the cluster once, as OpenRLHF and verl
ship their working directory). The nodes need the same third-party packages (torch,
transformers, ray …) in the Python that `ray start` ran.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path

from svgrl.errors import ConfigError

# Ray keeps unix sockets under its temp dir; their paths must fit in 107 bytes.
SOCKET_ROOM = 60
_links: dict[Path, Path] = {}  # Ray folder → the short symlink Ray was given for it


def ray_folder(folder: str | os.PathLike) -> Path:
    """Where a local Ray started for `folder` keeps its files."""
    return (Path(folder).expanduser() / "ray").resolve()


def runtime_env() -> dict:
    """The runtime env under which a cluster's workers import this svgrl package."""
    return {"py_modules": [str(Path(__file__).resolve().parent)]}


def start_ray(address: str, folder: str | os.PathLike, num_cpus: int = 2) -> bool:
    """Join `address`, or start a local Ray of `num_cpus` CPUs whose files stay under
    ``FOLDER/ray``. True when this call started or joined Ray (and so should `stop_ray` it:
    for a joined cluster that only disconnects this driver)."""
    import ray

    if ray.is_initialized():
        return False
    if address:
        try:
            ray.init(address=address, runtime_env=runtime_env(), log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise ConfigError(f"--ray-address {address!r}: cannot join that Ray cluster "
                              f"({type(e).__name__}: {e}); start one with `ray start --head` "
                              "and pass the address it prints") from e
        return True
    tmp = ray_folder(folder)
    tmp.mkdir(parents=True, exist_ok=True)
    given = tmp
    if len(str(tmp)) > SOCKET_ROOM:
        # A deep folder: Ray gets a short symlink to it in the system temp folder (removed
        # by `stop_ray`); the files themselves still live under FOLDER/ray.
        given = Path(tempfile.gettempdir()) / f"svgrl-ray-{secrets.token_hex(4)}"
        if len(str(given)) > SOCKET_ROOM:
            raise ConfigError(f"{tmp}: Ray's socket paths under this folder would be too "
                              "long for unix sockets; use a shorter --out path")
        given.symlink_to(tmp, target_is_directory=True)
        _links[tmp] = given
    # torch's compile cache (an optimiser's first step makes it) defaults to
    # $TMPDIR/torchinductor_$USER; the workers inherit this process's environment.
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(tmp / "torchinductor"))
    # No usage report and no auth token under ~/.ray: nothing outside the folder.
    for k, v in (("RAY_USAGE_STATS_ENABLED", "0"), ("RAY_AUTH_MODE", "disabled")):
        os.environ.setdefault(k, v)
    try:
        # Ray runs its workers at nice 15 (to keep its own daemons responsive on a busy
        # node); here the workers are the job's own roles, which should get the CPU on
        # the driver's terms — on a shared machine nice 15 starves them. A joined cluster
        # keeps its own setting (`ray start --system-config`).
        ray.init(num_cpus=num_cpus, include_dashboard=False, _temp_dir=str(given),
                 log_to_driver=False, _system_config={"worker_niceness": 0})
    except BaseException:
        _unlink(tmp)
        raise
    return True


def stop_ray(started: bool, folder: str | os.PathLike | None = None) -> None:
    """Shut down a Ray this process started; with `folder`, also remove ``FOLDER/ray``
    (a tool whose output is not a run folder should not leave Ray's logs in it)."""
    if not started:
        return
    import ray

    ray.shutdown()
    for tmp in list(_links):
        _unlink(tmp)
    if folder is not None:
        shutil.rmtree(ray_folder(folder), ignore_errors=True)


def _unlink(tmp: Path) -> None:
    link = _links.pop(tmp, None)
    if link is not None:
        link.unlink(missing_ok=True)


__all__ = ["SOCKET_ROOM", "ray_folder", "runtime_env", "start_ray", "stop_ray"]
