from __future__ import annotations

import pytest

from svgrl.rewards.base import RewardOutput, call_safely, combine, per_completion


def _len_reward(prompts, completions, **cols):
    return [float(len(c)) for c in completions]


def _maybe(prompts, completions, kind, **cols):
    return RewardOutput([1.0 if k == "a" else None for k in kind], {"kind": kind})


def _boom(prompts, completions, **cols):
    raise RuntimeError("renderer exploded")


def test_reward_output_is_a_list_with_parts():
    out = RewardOutput([1.0, None], {"why": ["x", "y"]})
    assert out == [1.0, None] and out.parts["why"] == ["x", "y"]
    with pytest.raises(ValueError, match="part 'why' has 1 values for 2"):
        RewardOutput([1.0, None], {"why": ["x"]})


def test_per_completion_catches_each_item_and_keeps_going():
    def fn(prompt, completion, gold):
        if completion == "bad":
            raise ValueError("cannot parse")
        return float(completion == gold), {"seen": completion}

    out = per_completion(fn, ["p"] * 3, ["a", "bad", "b"], {"gold": ["a", "x", "x"]}, floor=-1.0)
    assert list(out) == [1.0, -1.0, 0.0]
    assert out.parts["error"][1] == "ValueError: cannot parse"
    assert out.parts["error"][0] is None and out.parts["seen"] == ["a", None, "b"]


def test_combine_weights_skips_none_and_keeps_parts():
    out = combine(
        {"len": (_len_reward, 0.5), "maybe": (_maybe, 2.0)},
        ["p", "p", "p"], ["ab", "abcd", ""], kind=["a", "b", "b"],
    )
    assert list(out) == [0.5 * 2 + 2.0, 0.5 * 4, 0.0]
    assert out.parts["len"] == [2.0, 4.0, 0.0]
    assert out.parts["maybe"] == [1.0, None, None]
    assert out.parts["maybe/kind"] == ["a", "b", "b"]


def test_combine_total_is_none_when_no_reward_applies():
    out = combine({"maybe": (_maybe, 1.0)}, ["p"], ["c"], kind=["z"])
    assert list(out) == [None]


def test_a_raising_reward_scores_the_floor_and_never_raises():
    out = combine({"boom": (_boom, 1.0), "len": (_len_reward, 1.0)}, ["p", "p"], ["a", "bb"])
    assert list(out) == [1.0, 2.0]
    assert out.parts["boom/error"] == ["RuntimeError: renderer exploded"] * 2
    wrong = call_safely(lambda p, c, **k: [1.0], ["p", "p"], ["a", "b"], floor=-0.5)
    assert list(wrong) == [-0.5, -0.5] and "returned 1 values for 2" in wrong.parts["error"][0]
