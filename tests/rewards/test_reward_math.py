from __future__ import annotations

import threading

import pytest

from svgrl.errors import ConfigError
from svgrl.rewards.math import MathVerifier, last_boxed, math_correctness


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\\boxed{1}", "1"),
        ("first \\boxed{1} then \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("\\boxed {x^{2}}", "x^{2}"),
        ("\\fbox{3} and later \\boxed{4}", "4"),
        ("\\boxed{a} then \\fbox{b}", "b"),
        ("\\boxed{\\{1,2\\}}", "\\{1,2\\}"),
        ("no box here", None),
        ("\\boxed{unterminated", None),
        ("\\boxed{ok} \\boxed{unterminated", "ok"),
    ],
)
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


@pytest.mark.parametrize(
    ("gold", "answer", "ok"),
    [
        ("1/2", "\\frac{1}{2}", True),
        ("0.5", "\\frac12", True),
        ("(x+1)^2", "x^2+2x+1", True),
        ("\\sqrt{2}", "2^{1/2}", True),
        ("\\frac{\\pi}{4}", "\\pi/4", True),
        ("3", "4", False),
        ("\\pi", "3.14", False),
        ("x^2", "x^3", False),
    ],
)
def test_symbolic_equivalence(math_verifier, gold, answer, ok):
    out = math_correctness(["p"], [f"so \\boxed{{{answer}}}"], [gold], math_verifier)
    assert list(out) == [1.0 if ok else 0.0]
    assert out.parts["extracted"] == [answer]


def test_rows_without_gold_do_not_apply_and_missing_box_scores_zero(math_verifier):
    out = math_correctness(["p"] * 3, ["\\boxed{2}", "2", "\\boxed{2}"], [None, "2", "2"],
                           math_verifier)
    assert list(out) == [None, 0.0, 1.0]
    assert out.parts["reason"][1] == "no_boxed"


def test_works_from_a_non_main_thread(math_verifier):
    # math-verify's signal.alarm timeouts need a main thread; the pool gives it one.
    result = {}
    t = threading.Thread(target=lambda: result.update(
        out=math_verifier.verify_batch(["1/3", "2"], ["\\frac{2}{6}", "3"])))
    t.start()
    t.join(60)
    assert result["out"] == [(True, "equal"), (False, "not_equal")]


def test_hard_deadline_kills_the_pool_and_recovers():
    v = MathVerifier(workers=1, timeout_s=1, hard_timeout_s=0.01)
    try:
        v._get_pool()  # started (math-verify imported) before the clock runs
        out = v.verify_batch(["x"] * 40, [f"\\int_0^1 x^{{{k}}} dx" for k in range(40)])
        assert (False, "timeout") in out  # cut off, not hung
        v.hard_timeout_s = 30.0
        assert v.verify_batch(["2"], ["1+1"]) == [(True, "equal")]  # a fresh pool
    finally:
        v.close()


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="workers=0"):
        MathVerifier(workers=0)
