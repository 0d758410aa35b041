"""The row decoder under continuous batching: requests that join mid-flight, with different
prompt lengths and budgets, leave at different steps or are cancelled, decode exactly what
each would decode alone (greedy), and the shared cache shrinks as rows leave."""

from __future__ import annotations

import pytest

from svgrl.errors import ConfigError
from svgrl.model.generate import generate_ids
from svgrl.model.prompts import build_prompt
from svgrl.model.sampling import Sampling
from svgrl.serve.decoder import BatchDecoder
from svgrl.tokens.grammar import grammar_for

GREEDY = Sampling(0.0, 1.0, 0)


def test_joining_and_leaving_rows_decode_as_alone(tiny_lm):
    lm = tiny_lm
    texts = ["a cat", "arrow left pointing somewhere far away", "x", "house with a chimney"]
    budgets = [20, 45, 12, 30]
    prompts = [build_prompt(lm.tokenizer, lm.layout, "text", text=t) for t in texts]
    alone = [generate_ids(lm, p, 2, GREEDY, max_new_tokens=b)
             for p, b in zip(prompts, budgets, strict=True)]
    joins = {0: [(0, 0)], 3: [(1, 1)], 8: [(2, 2)], 25: [(3, 3)]}
    d = BatchDecoder(lm)
    d.add("cancel-me", prompts[3], 3, GREEDY, max_new_tokens=50)
    got: dict = {}
    widths = []
    step = 0
    while d.live or step <= max(joins):
        for key, i in joins.get(step, []):
            d.add(key, prompts[i], 2, GREEDY, max_new_tokens=budgets[i])
        if step == 10:
            d.cancel("cancel-me")
        for t in d.step():
            got.setdefault((t.key, t.row), []).append(t.token)
        widths.append(d.cache_len)
        step += 1
    for k in range(4):
        assert [got[(k, r)] for r in range(2)] == alone[k], f"request {k}"
    assert [len(got[("cancel-me", r)]) for r in range(3)] == [10, 10, 10]
    g = grammar_for(lm.layout, lm.vocab_rows)
    assert all(g.accepts(ids) for key, ids in got.items() if key[0] != "cancel-me")
    # Rows leaving crop the shared cache: it ends empty, and after request 1 (the longest
    # prompt) left, it is narrower than at its widest.
    assert widths[-1] == 0 and max(widths) > widths[-3] > 0


def test_cancel_before_join_and_budget_checks(tiny_lm):
    d = BatchDecoder(tiny_lm)
    p = build_prompt(tiny_lm.tokenizer, tiny_lm.layout, "text", text="a")
    d.add(1, p, 4, GREEDY, max_new_tokens=16)
    d.cancel(1)
    assert d.live == 0 and d.step() == []
    with pytest.raises(ConfigError, match="cannot hold a drawing"):
        d.add(2, p, 1, GREEDY, max_new_tokens=2)
    with pytest.raises(ConfigError, match="positions"):
        d.check(p, 10**7)


def test_live_counts_joining_rows_once_while_the_sampler_takes_them(tiny_lm):
    # The server reads `live` from its own threads while the engine steps; a read that
    # lands after the sampler took a join's rows but before the join's bookkeeping must
    # not count those rows twice (it did: 8 live rows for a request of 4).
    d = BatchDecoder(tiny_lm)
    p = build_prompt(tiny_lm.tokenizer, tiny_lm.layout, "text", text="a")
    seen = []
    add = d.decoder.add

    def add_then_read(*args, **kwargs):
        ids = add(*args, **kwargs)
        seen.append(d.live)  # what a stats() call in that window sees
        return ids

    d.decoder.add = add_then_read
    d.add("k", p, 4, GREEDY, max_new_tokens=16)
    assert d.live == 4
    d.step()
    assert seen == [4] and d.live == 4
