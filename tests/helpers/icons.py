"""Paths of the installed Tabler icons (PyPI pytablericons, MIT)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def tabler_file(name: str, style: str = "outline") -> Path:
    spec = importlib.util.find_spec("pytablericons")
    return Path(next(iter(spec.submodule_search_locations))) / "icons" / style / f"{name}.svg"
