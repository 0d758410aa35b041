"""Greedy collation on hand-worked examples and as a property over random lengths."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svgrl.errors import ConfigError, SvgrlError, TensorError
from svgrl.rl.collate import (
    greedy_microbatches,
    naive_microbatches,
    padded_tokens,
    padding_report,
)


def test_worked_example():
    # Longest first: 9 → A; 7 → B (2×9 > 12); 5 → C; 4 → C (2×5 ≤ 12); 3 → D (3×5 > 12);
    # 2 → D (2×3 ≤ 12). Padded: 9 + 7 + 2×5 + 2×3 = 32 for 30 real tokens.
    lengths = [3, 9, 4, 2, 7, 5]
    assert greedy_microbatches(lengths, 12) == [[1], [4], [5, 2], [0, 3]]
    r = padding_report(lengths, 12)
    # Naive at the same step count: ceil(6 / 4) = 2 per batch in arrival order:
    # [3, 9] → 18, [4, 2] → 8, [7, 5] → 14 = 40 padded.
    assert (r.real_tokens, r.greedy_padded, r.naive_padded) == (30, 32, 40)
    assert (r.greedy_microbatches, r.naive_microbatches, r.padding_saved) == (4, 3, 8)
    assert "saved 8 padding tokens" in str(r)


def test_first_fit_reuses_earlier_microbatch():
    # 8, 8 fill A exactly (2×8 = 16); the 1s open B and both fit there.
    lengths = [1, 8, 1, 8]
    assert greedy_microbatches(lengths, 16) == [[1, 3], [0, 2]]
    r = padding_report(lengths, 16)
    assert (r.greedy_padded, r.naive_padded, r.padding_saved) == (18, 32, 14)


def test_equal_lengths_save_nothing_and_ties_keep_index_order():
    assert greedy_microbatches([4] * 5, 8) == [[0, 1], [2, 3], [4]]
    assert padding_report([4] * 5, 8).padding_saved == 0


def test_explicit_naive_batch_size_and_helpers():
    assert naive_microbatches(5, 2) == [[0, 1], [2, 3], [4]]
    assert padded_tokens([3, 9, 4], [[0, 1], [2]]) == 22
    assert padding_report([3, 9, 4, 2, 7, 5], 12, naive_batch_size=1).naive_padded == 30


@pytest.mark.parametrize("lengths, budget, err", [
    ([3, 20], 10, ConfigError),
    ([3, 0], 10, TensorError),
    ([3, 2.5], 10, TensorError),
    ([3, True], 10, TensorError),
    ([3], 0, ConfigError),
])
def test_bad_input(lengths, budget, err):
    with pytest.raises(err) as info:
        greedy_microbatches(lengths, budget)
    assert isinstance(info.value, SvgrlError)


def test_numpy_lengths_accepted():
    assert greedy_microbatches(np.array([2, 5, 3]), 6) == [[1], [2, 0]]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 50), max_size=60), st.integers(50, 300))
def test_partition_within_budget(lengths, budget):
    batches = greedy_microbatches(lengths, budget)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(len(lengths)))
    for b in batches:
        assert len(b) * max(lengths[i] for i in b) <= budget
        assert [lengths[i] for i in b] == sorted((lengths[i] for i in b), reverse=True)
    # First fit: a microbatch is opened only when every earlier one was full; they only grow,
    # so every earlier one is still full at the end.
    widths = [lengths[b[0]] for b in batches]
    for c in range(1, len(batches)):
        for b in range(c):
            assert (len(batches[b]) + 1) * widths[b] > budget
    assert padded_tokens(lengths, batches) >= sum(lengths)
