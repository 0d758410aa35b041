"""The grammar's subpath rule at sampling time: a random-weights model sampled many times
never writes a degenerate subpath (M Z, M M, a single line, Z Z), and fewer of its samples
are blank — so fewer are redrawn — than under the previous rule (a path needs one segment)."""

from __future__ import annotations

from collections import Counter

import pytest
from helpers.subpaths import degenerate_subpaths

from svgrl.model import generate as gen
from svgrl.model.backbones import BackboneConfig, prepare_backbone
from svgrl.model.prompts import build_prompt
from svgrl.model.sampling import Sampling
from svgrl.model.select import draw, rejection
from svgrl.tokens import grammar as gm

FREE = Sampling(temperature=1.0, top_p=1.0, top_k=0)  # the whole distribution


@pytest.fixture(scope="module")
def lm():
    return prepare_backbone(BackboneConfig(backbone="tiny", tiny_layers=1, tiny_d_model=32,
                                           tiny_heads=2, seed=3), vision=None,
                            point_init="default").train(False)


def _old_rule(monkeypatch, lm):
    """The previous machine: a path needs one L/C/A segment; Z and M anywhere after M."""
    e = dict(gm._EDGES)
    e[gm.S_B0] = {gm.C_L: gm.S_LPT, gm.C_C: gm.S_C1, gm.C_A: gm.S_AR, gm.C_Z: gm.S_B0,
                  gm.C_M: gm.S_MPT0}
    e[gm.S_B1] = {**e[gm.S_B1], gm.C_Z: gm.S_B1, gm.C_M: gm.S_ZED}
    e[gm.S_ZED] = {gm.C_POINT: gm.S_B1}  # the point of an M after a segment
    monkeypatch.setattr(gm, "_EDGES", e)
    monkeypatch.setattr(gm, "CLOSE", gm._close_costs())
    old = gm.Grammar(lm.layout, lm.vocab_rows)
    monkeypatch.setattr(gen, "grammar_for", lambda layout, vocab: old)


def _draw(lm):
    prompt = build_prompt(lm.tokenizer, lm.layout, "text", text="a cat")
    return draw(lm, prompt, 100, FREE, seed=11, max_new_tokens=20, batch_size=100)


@pytest.mark.slow
def test_no_degenerate_subpath_and_fewer_redraws(lm, monkeypatch):
    new = _draw(lm)  # every sample as drawn, none filtered
    assert all(degenerate_subpaths(s.drawing) == [] for s in new)
    with monkeypatch.context() as m:
        _old_rule(m, lm)
        old = _draw(lm)
    # the old rule does write degenerate subpaths...
    assert sum(bool(degenerate_subpaths(s.drawing)) for s in old) > 10
    # ...and they cost redraws: `sample_valid` redraws exactly the samples `rejection` refuses
    why_new = Counter(filter(None, map(rejection, new)))
    why_old = Counter(filter(None, map(rejection, old)))
    assert why_new.total() < why_old.total(), (why_new, why_old)
    print(f"rejected (redrawn) of 100 as drawn: {why_old.total()} {dict(why_old)} -> "
          f"{why_new.total()} {dict(why_new)}")
