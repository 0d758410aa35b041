"""Small SVG folders for the bench tests, copied from the installed Tabler icons (PyPI
pytablericons, MIT)."""

from __future__ import annotations

import shutil

import pytest
from helpers.icons import tabler_file

NAMES = ("arrow-left", "heart", "star", "home", "circle-check", "user")


@pytest.fixture
def icon_folder(tmp_path):
    """A folder of six Tabler icons (outline, filled mixed)."""
    d = tmp_path / "icons"
    d.mkdir()
    for i, n in enumerate(NAMES):
        shutil.copy(tabler_file(n, "filled" if i % 2 else "outline"), d / f"{n}.svg")
    return d
