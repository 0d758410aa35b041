"""Round trip and grammar on real icon sets: Tabler and Font Awesome (installed from PyPI),
OpenMoji and Twemoji (npm cache, skipped when absent). A spread sample of each set keeps the
suite fast; `svgrl tokenize` and benchmarks/bench_tokens.py run whole sets."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from helpers.subpaths import degenerate_subpaths

from svgrl.data.npm import default_cache_root
from svgrl.svg.load import load_drawing
from svgrl.svg.render import render
from svgrl.tokens.codec import decode, drawing_through_tokens, encode
from svgrl.tokens.grammar import grammar_for
from svgrl.tokens.layout import TokenLayout
from svgrl.tokens.stats import collect_files

LAY = TokenLayout(base_vocab_size=49152)


def _pkg(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec and spec.submodule_search_locations, f"{name} is a test dependency"
    return Path(next(iter(spec.submodule_search_locations)))


def _sets():
    fa = _pkg("fontawesomefree") / "static" / "fontawesomefree" / "svgs"
    npm = default_cache_root() / "npm"
    return [
        pytest.param(_pkg("pytablericons") / "icons", id="tabler"),
        pytest.param(fa, id="fontawesome"),
        pytest.param(npm / "openmoji" / "color" / "svg", id="openmoji", marks=pytest.mark.npm),
        pytest.param(npm / "@twemoji" / "svg", id="twemoji", marks=pytest.mark.npm),
    ]


@pytest.mark.parametrize("folder", _sets())
def test_real_icons_round_trip_pixel_identical(folder):
    if not folder.is_dir():
        pytest.skip(f"{folder} not fetched (svgrl data fetch)")
    files = collect_files((str(folder),), limit=400)
    grammar = grammar_for(LAY)
    loaded = 0
    for f in files:
        try:
            d = load_drawing(f)
        except Exception:  # noqa: BLE001 - files the SVG core does not accept are out of scope
            continue
        loaded += 1
        ids = encode(d, LAY)
        back = decode(ids, LAY, strict=True)
        assert back == d, f
        assert drawing_through_tokens(d, LAY) == d
        # The quantiser drops subpaths that fill nothing (a lone line; a few files have
        # one), so every real drawing is one the grammar lets the model write.
        assert not degenerate_subpaths(d), f
        grammar.check(ids)
        assert np.array_equal(render(back), render(d)), f
    assert loaded >= len(files) // 3, f"only {loaded} of {len(files)} files loaded"
