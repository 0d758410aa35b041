"""Fixtures for the data-source tests: an empty svgrl cache root in a tmp folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty svgrl cache root, also the default (via $SVGRL_CACHE) for this test."""
    root = tmp_path / "cache"
    root.mkdir()
    monkeypatch.setenv("SVGRL_CACHE", str(root))
    return root
