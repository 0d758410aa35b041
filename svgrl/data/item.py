"""`SvgItem`: one SVG from a source, with its metadata, read lazily.

Items hold a file path (or, for sets stored as JSON such as Iconify, the few hundred bytes of
SVG text) rather than a closure, so they pickle and can be sent to build workers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from svgrl.errors import DataError

# Far above any real icon (the largest OpenMoji file is ~300 KB); the SVG parser applies its
# own, configurable limit after this one.
MAX_READ_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class SvgItem:
    """One SVG of a source.

    `id` is stable across machines and runs: ``"<source>/<path inside the source>"`` without
    the ``.svg`` suffix (e.g. ``"pytablericons/outline/arrow-left"``). `name` is the short
    name; `caption` the longer description the metadata gives (else the name in words);
    `tags` the metadata keywords in their original order, deduplicated.
    """

    id: str
    source: str
    name: str
    caption: str
    tags: tuple[str, ...] = ()
    license: str = ""
    path: str | None = None
    data: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if (self.path is None) == (self.data is None):
            raise DataError(f"SvgItem {self.id!r} needs exactly one of path= or data=")

    def read(self, max_bytes: int = MAX_READ_BYTES) -> bytes:
        """The SVG bytes; raises `DataError` for a missing file or one over `max_bytes`."""
        if self.data is not None:
            if len(self.data) > max_bytes:
                raise DataError(f"{self.id}: {len(self.data)} bytes exceeds {max_bytes}")
            return self.data
        try:
            with open(self.path, "rb") as f:  # type: ignore[arg-type]
                out = f.read(max_bytes + 1)
        except OSError as e:
            raise DataError(f"{self.id}: cannot read {self.path!r}: {e.strerror}") from e
        if len(out) > max_bytes:
            raise DataError(f"{self.id}: {self.path!r} is larger than {max_bytes} bytes")
        return out


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[\s_\-.+]+")


def words_from_name(name: str) -> str:
    """``"arrow-left_2"`` / ``"arrowLeft"`` → ``"arrow left 2"`` / ``"arrow left"``."""
    stem = os.path.basename(name)
    if stem.lower().endswith(".svg"):
        stem = stem[:-4]
    return " ".join(w.lower() for w in _SEPARATORS.split(_CAMEL.sub(" ", stem)) if w)


def unique(values) -> tuple[str, ...]:
    """Stripped, non-empty strings in first-seen order without repeats."""
    seen: dict[str, None] = {}
    for v in values:
        v = str(v).strip()
        if v and v not in seen:
            seen[v] = None
    return tuple(seen)


def compose_caption(title: str, context: str = "", tags: tuple[str, ...] = ()) -> str:
    """``"grinning face; smileys emotion / face smiling; cheerful, grin"`` — the raw
    metadata caption. Shortening into model-ready descriptions is the build's job."""
    rest = [t for t in tags if t.lower() != title.lower()]
    parts = [title.strip(), context.strip(), ", ".join(rest)]
    return "; ".join(p for p in parts if p)


def walk_svgs(root: Path, _top: Path | None = None) -> Iterator[Path]:
    """Every ``*.svg`` under `root`, depth first with each folder's entries in name order,
    so the order is the same on every machine and file system. Lazy: a folder is listed
    only when the walk reaches it. Hidden entries (``.name``) are skipped, and so is a
    symlink whose target lies outside `root` (a source folder is what it holds, not what
    its links point at); a symlink that cannot be resolved (a loop, a dangling link) is
    yielded, so the reader fails on it with a typed error the batch counts."""
    top = _top or Path(os.path.realpath(root))
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as e:
        raise DataError(f"cannot list folder {str(root)!r}: {e.strerror}") from e
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from walk_svgs(Path(entry.path), top)
            continue
        if not entry.name.lower().endswith(".svg"):
            continue
        if entry.is_symlink():
            try:
                target = Path(entry.path).resolve(strict=True)
            except (OSError, RuntimeError):  # ELOOP, ENOENT: let the read report it
                yield Path(entry.path)
                continue
            if not target.is_relative_to(top) or not target.is_file():
                continue
            yield Path(entry.path)
        elif entry.is_file(follow_symlinks=False):
            yield Path(entry.path)
