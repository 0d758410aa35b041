"""A small built dataset from the installed Tabler icons (PyPI pytablericons, MIT), shared by
the SFT and generation tests, and tiny-model settings that keep them fast."""

from __future__ import annotations

import pytest

# A very small tiny model: enough to exercise every code path quickly on CPU.
TINY = dict(backbone="tiny", tiny_layers=1, tiny_d_model=32, tiny_heads=2, seed=0)


@pytest.fixture(scope="session")
def tabler_data(tmp_path_factory):
    from svgrl.data.build import BuildConfig, build

    out = tmp_path_factory.mktemp("data") / "tabler"
    build(BuildConfig(source=("pytablericons",), out=str(out), limit=40, val=0.2,
                      progress=False), log=lambda m: None)
    return str(out)
