"""Small SVG folders for the bench tests, copied from the installed Tabler icons (PyPI
pytablericons, MIT)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

NAMES = ("arrow-left", "heart", "star", "home", "circle-check", "user")


def tabler_file(name: str, style: str = "outline") -> Path:
    spec = importlib.util.find_spec("pytablericons")
    return Path(next(iter(spec.submodule_search_locations))) / "icons" / style / f"{name}.svg"


@pytest.fixture
def icon_folder(tmp_path):
    """A folder of six Tabler icons (outline, filled mixed)."""
    d = tmp_path / "icons"
    d.mkdir()
    for i, n in enumerate(NAMES):
        shutil.copy(tabler_file(n, "filled" if i % 2 else "outline"), d / f"{n}.svg")
    return d
