"""Command-line inputs → (id, bytes) pairs: SVG files, folders, or source names."""

from __future__ import annotations

import os
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
    from svgrl.data.item import MAX_READ_BYTES
    from svgrl.data.sources import iter_source

    for inp in inputs:
        path = Path(inp).expanduser()
        if path.is_file() or (os.path.lexists(path) and not path.is_dir()):
            # a file, or a link that cannot be followed (a loop): read at most the limit
            try:
                with open(path, "rb") as f:
                    data = f.read(MAX_READ_BYTES + 1)
            except OSError as e:
                yield str(path), None, f"io: {e.strerror}"
                continue
            if len(data) > MAX_READ_BYTES:
                yield str(path), None, f"io: larger than {MAX_READ_BYTES:,} bytes"
            else:
                yield str(path), data, None
            continue
        for item in iter_source(inp if not path.is_dir() else path, cache_dir):
            try:
                yield item.id, item.read(), None
            except SvgrlError as e:
                yield item.id, None, f"io: {e}"


