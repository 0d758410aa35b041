"""`svgrl data fetch`: ``npm pack`` a package into the cache and unpack it safely.

Atomic: the tarball is packed and unpacked inside a temporary folder next to the target,
then renamed into place, so a killed fetch leaves either nothing or a complete package.
Tarballs are extracted with tarfile's ``"data"`` filter (no absolute paths, no ``..``, no
links leaving the folder, no device files) after a size/count check against decompression
bombs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from svgrl.data import npm
from svgrl.errors import FetchError, SourceNotFoundError

# The npm sets svgrl knows how to read, plus any @iconify-json/<set>.
NPM_SOURCES = ("openmoji", "@twemoji/svg", "@tabler/icons", "lucide-static")
MARKER = ".svgrl-fetch.json"
MAX_UNPACKED_BYTES = 4 * 1024**3
MAX_MEMBERS = 200_000
NPM_HINT = (
    "npm (Node.js) is not on PATH; install it, e.g. `apt-get install npm` on Debian/Ubuntu, "
    "`brew install node` on macOS, or from https://nodejs.org, then run again: {cmd}"
)


@dataclass(frozen=True)
class FetchResult:
    package: str
    path: Path
    version: str
    tarball_bytes: int
    unpacked_bytes: int
    files: int
    seconds: float
    skipped: bool


def check_name(name: str) -> str:
    if name in NPM_SOURCES:
        return name
    if name.startswith(npm.ICONIFY_PREFIX) and npm._ICONIFY_SET.match(
            name[len(npm.ICONIFY_PREFIX):]):
        return name
    raise SourceNotFoundError(
        f"cannot fetch {name!r}: svgrl reads the npm sets {', '.join(NPM_SOURCES)} and any "
        f"{npm.ICONIFY_PREFIX}<set> (e.g. {npm.ICONIFY_PREFIX}mdi); PyPI sets "
        f"(pytablericons, fontawesomefree) install with pip"
    )


def safe_unpack(tarball: Path, dest: Path) -> tuple[int, int]:
    """Extract `tarball` into the empty folder `dest`; (files, bytes). Raises `FetchError`
    for a member that would land outside `dest`, a link out of it, or a bomb."""
    try:
        with tarfile.open(tarball, "r:*") as tar:
            members = tar.getmembers()
            total = sum(m.size for m in members if m.isfile())
            if len(members) > MAX_MEMBERS or total > MAX_UNPACKED_BYTES:
                raise FetchError(
                    f"{tarball.name}: {len(members)} members / {total} bytes exceeds the "
                    f"limit of {MAX_MEMBERS} members / {MAX_UNPACKED_BYTES} bytes"
                )
            tar.extractall(dest, members=members, filter="data")
    except tarfile.FilterError as e:
        raise FetchError(f"{tarball.name}: refused unsafe member: {e}") from e
    except (tarfile.TarError, EOFError, OSError) as e:
        raise FetchError(f"{tarball.name}: not a readable tarball: {e}") from e
    return sum(1 for m in members if m.isfile()), total


def _npm_pack(package: str, workdir: Path, npm_exe: str, timeout: float) -> tuple[Path, str]:
    cmd = [npm_exe, "pack", package, "--json", "--pack-destination", str(workdir)]
    try:
        proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise FetchError(f"`npm pack {package}` took longer than {timeout:.0f} s") from e
    except OSError as e:
        raise FetchError(f"cannot run {npm_exe!r}: {e.strerror}") from e
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise FetchError(f"`npm pack {package}` failed (exit {proc.returncode}):\n{tail}")
    version = ""
    try:
        info = json.loads(proc.stdout)[0]
        version = str(info.get("version", ""))
    except (ValueError, LookupError, AttributeError):
        pass
    tarballs = sorted(workdir.glob("*.tgz"))
    if len(tarballs) != 1:
        raise FetchError(f"`npm pack {package}` left {len(tarballs)} tarballs, expected 1")
    return tarballs[0], version


def _package_root(unpacked: Path) -> Path:
    # npm tarballs hold one top folder, by convention `package/` (some use another name).
    entries = list(unpacked.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return unpacked


def _read_marker(marker: Path) -> dict | None:
    """The marker a finished fetch leaves, or None (absent or unreadable: fetch again)."""
    try:
        meta = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def fetch(
    package: str,
    cache_dir: str | Path | None = None,
    *,
    force: bool = False,
    npm_exe: str = "npm",
    timeout: float = 900.0,
    log: Callable[[str], None] = print,
) -> FetchResult:
    """Fetch one npm source into ``<cache>/npm/<package>``; skip if present unless `force`."""
    package = check_name(package)
    cache = npm.cache_root(cache_dir)
    dest = npm.package_dir(cache, package)
    marker = dest / MARKER
    meta = _read_marker(marker) if dest.is_dir() and not force else None
    if meta is not None:
        log(f"{package}: already fetched ({meta.get('version', '?')}) at {dest}; "
            f"--force fetches again")
        return FetchResult(package, dest, meta.get("version", ""),
                           meta.get("tarball_bytes", 0), meta.get("unpacked_bytes", 0),
                           meta.get("files", 0), 0.0, True)
    exe = shutil.which(npm_exe)
    if exe is None:
        raise FetchError(NPM_HINT.format(cmd=npm.fetch_command(package, cache)))
    start = time.perf_counter()
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".fetch-", dir=dest.parent))
    except OSError as e:
        raise FetchError(f"cannot write to the cache folder {str(dest.parent)!r}: "
                         f"{e.strerror}; choose another with --cache DIR") from e
    try:
        log(f"{package}: npm pack ...")
        tarball, version = _npm_pack(package, work, exe, timeout)
        size = tarball.stat().st_size
        log(f"{package}: {version or '?'} tarball {size / 1e6:.1f} MB, unpacking ...")
        unpacked = work / "unpacked"
        unpacked.mkdir()
        files, total = safe_unpack(tarball, unpacked)
        root = _package_root(unpacked)
        meta = {"package": package, "version": version, "tarball_bytes": size,
                "unpacked_bytes": total, "files": files, "fetched_at": time.time()}
        (root / MARKER).write_text(json.dumps(meta, indent=1))
        try:
            if dest.exists():
                # A directory cannot be os.replace()d over a non-empty one: move the old
                # copy aside first (it is deleted with the work folder).
                os.rename(dest, work / "old")
            os.rename(root, dest)
        except OSError as e:
            raise FetchError(f"{package}: cannot move the unpacked package to {dest} "
                             f"({e.strerror}); is another fetch running?") from e
    finally:
        shutil.rmtree(work, ignore_errors=True)
    seconds = time.perf_counter() - start
    log(f"{package}: {files} files, {total / 1e6:.1f} MB unpacked in {seconds:.1f} s -> {dest}")
    return FetchResult(package, dest, version, size, total, files, seconds, False)
