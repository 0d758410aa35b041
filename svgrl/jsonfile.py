"""Reading svgrl's own JSON files (manifests, run files, layouts, configs) with bounded
size and typed errors; versioned files carry ``{"format": ..., "version": ...}``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from svgrl.errors import SvgrlError

MAX_JSON_BYTES = 256 * 1024 * 1024


def read_json(path: str | os.PathLike, what: str, error: type[SvgrlError] = SvgrlError,
              max_bytes: int = MAX_JSON_BYTES) -> object:
    """Parse `path`; any problem raises `error` naming `what` and the path."""
    path = Path(path)
    try:
        if path.stat().st_size > max_bytes:
            raise error(f"{what} {str(path)!r} is larger than {max_bytes} bytes")
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise error(f"cannot read {what} {str(path)!r}: {e.strerror}") from e
    except (ValueError, UnicodeDecodeError) as e:
        raise error(f"{what} {str(path)!r} is not valid JSON: {e}") from e


def read_versioned(path: str | os.PathLike, fmt: str, version: int, what: str,
                   error: type[SvgrlError] = SvgrlError,
                   max_bytes: int = MAX_JSON_BYTES) -> dict:
    """A JSON object whose ``format`` is `fmt` and ``version`` is `version`, else `error`
    saying which of the two is wrong."""
    d = read_json(path, what, error, max_bytes)
    if not isinstance(d, dict) or d.get("format") != fmt:
        raise error(f"{str(path)!r} is not an svgrl {what}")
    if d.get("version") != version:
        raise error(f"{str(path)!r} has {what} version {d.get('version')!r}; this svgrl reads "
                    f"version {version}")
    return d
