"""Command-line inputs → (id, bytes) pairs: SVG files, folders, or source names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from svgrl.errors import SvgrlError

Item = tuple[str, bytes | None, str | None]


def iter_inputs(inputs: list[str], cache_dir: str | None = None) -> Iterator[Item]:
    """Yield (id, data, error) for every SVG named by `inputs`, in order.

    An input is a ``.svg`` file, a folder (searched recursively), or a source name known to
    `svgrl.data.sources` (``pytablericons``, ``openmoji``, ``@iconify-json/mdi``, ...).
    Unreadable items come back with `data=None` and the error text, so batch tools count them
    and carry on.
    """
    from svgrl.data.sources import iter_source

    for inp in inputs:
        path = Path(inp).expanduser()
        if path.is_file():
            try:
                yield str(path), path.read_bytes(), None
            except OSError as e:
                yield str(path), None, f"io: {e.strerror}"
            continue
        for item in iter_source(inp if not path.is_dir() else path, cache_dir):
            try:
                yield item.id, item.read(), None
            except SvgrlError as e:
                yield item.id, None, f"io: {e}"


