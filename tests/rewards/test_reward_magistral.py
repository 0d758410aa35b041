"""Magistral §2.2 rewards: format gate, length penalty numbers, language bonus, totals."""

from __future__ import annotations

import pytest

from svgrl.errors import ConfigError
from svgrl.rewards.format import check_format, split_thoughts
from svgrl.rewards.language import detect_language, language_consistent, strip_latex_and_code
from svgrl.rewards.length import length_penalty, make_length_reward
from svgrl.rewards.magistral import MagistralReward, MagistralRewardConfig

EN_PROBLEM = "What is the sum of one half and one half? Give the exact value."
EN_THOUGHTS = "We add the two halves together, which gives one whole, so the answer is one."
EN_ANSWER = "Adding both halves gives the final result: \\boxed{1}"


def good_math(answer: str = EN_ANSWER) -> str:
    return f"<think>{EN_THOUGHTS}</think>{answer}"


@pytest.mark.parametrize(
    ("completion", "task", "error"),
    [
        (good_math(), "math", None),
        ("\n<think>t</think> so \\boxed{2}", "math", None),
        ("<think>t</think> so 2", "math", "no_boxed_answer"),
        ("\\boxed{2}<think>t</think>", "math", "no_think_at_start"),
        ("no tags \\boxed{2}", "math", "no_think_at_start"),
        ("<think>t<think>u</think>\\boxed{2}", "math", "think_open_count"),
        ("<think>t</think>x</think>\\boxed{2}", "math", "think_close_count"),
        ("<think>never closed \\boxed{2}", "math", "no_think_close"),
        ("<think>\\boxed{2}</think> the answer is 2", "math", "no_boxed_answer"),
        ("<think>t</think>```python\nprint(1)\n```", "code", None),
        ("<think>t</think>```\nprint(1)\n```", "code", "code_block_without_language"),
        ("<think>t</think>print(1)", "code", "no_code_block"),
        ("<think>```python\nx\n```</think>done", "code", "no_code_block"),
    ],
)
def test_format(completion, task, error):
    assert check_format(completion, task).error == error


def test_format_with_thinking_off():
    assert check_format("so \\boxed{3}", "math", thinking=False).error is None
    parsed = split_thoughts("<think>a</think>b", thinking=False)
    assert parsed.error == "think_tag_when_thinking_off"


# The §2.2 schedule with the default l_max = 20480, l_cache = 4096 (ramp from 16384).
@pytest.mark.parametrize(
    ("tokens", "expected"),
    [(0, 0.0), (16384, 0.0), (16385, -0.1 / 4096), (17408, -0.025), (18432, -0.05),
     (20479, -0.1 * 4095 / 4096), (20480, -0.1), (20481, -0.1), (100_000, -0.1)],
)
def test_length_penalty_numbers(tokens, expected):
    cfg = MagistralRewardConfig()
    assert (cfg.l_max, cfg.l_cache) == (20480, 4096)
    assert length_penalty(tokens, cfg.l_max, cfg.l_cache) == pytest.approx(expected, abs=1e-15)


def test_length_reward_uses_token_ids_not_characters():
    reward = make_length_reward(l_max=10, l_cache=4)
    out = reward(["p"] * 3, ["x" * 100, "x", "y"],
                 completion_ids=[[1] * 6, [1] * 8, None])
    assert list(out) == [0.0, pytest.approx(-0.05), None]
    assert out.parts["tokens"] == [6, 8, None]


def test_config_checks_say_how_to_fix():
    with pytest.raises(ConfigError, match="need 0 < l_cache ≤ l_max"):
        MagistralRewardConfig(l_max=100, l_cache=200)
    with pytest.raises(ConfigError, match="format_reward=-0.1"):
        MagistralRewardConfig(format_reward=-0.1)


def test_strip_latex_and_code():
    text = "Soit $x^2$ et \\[\\int f\\] puis `code` ```py\nprint()\n``` \\frac{1}{2} fin"
    assert strip_latex_and_code(text) == "Soit et puis fin"


def test_language_detection_and_consistency():
    assert detect_language("Quelle est la somme de deux nombres entiers positifs ?") == "fr"
    assert detect_language("\\boxed{42}") is None  # nothing left to classify
    ok, langs = language_consistent(EN_PROBLEM, EN_THOUGHTS, EN_ANSWER)
    assert ok and langs == ["en", "en", "en"]
    fr = "Nous additionnons les deux moitiés, ce qui donne un entier, donc la réponse est un."
    ok, langs = language_consistent(EN_PROBLEM, fr, EN_ANSWER)
    assert not ok and langs[1] == "fr"


def _reward(math_verifier, code_verifier, **cfg):
    return MagistralReward(MagistralRewardConfig(**cfg), math_verifier, code_verifier)


def test_totals_match_the_paper(math_verifier, code_verifier):
    reward = _reward(math_verifier, code_verifier)
    fr = "Nous additionnons les deux moitiés, ce qui donne un entier, donc la réponse est un."
    completions = [
        good_math(),  # right, short, one language: 0.1 + 0.9 + 0 + 0.1
        good_math(EN_ANSWER.replace("{1}", "{\\frac{2}{2}}")),  # symbolically equal
        good_math(EN_ANSWER.replace("{1}", "{2}")),  # wrong: 0.1 + 0 + 0.1
        "<think>" + fr + "</think>" + EN_ANSWER,  # mixed languages: no bonus
        good_math(),  # half-way up the length ramp: −0.05
        good_math(),  # beyond l_max: −0.1
        "the answer is \\boxed{1}",  # no <think>: 0, grading stops (even at huge length)
        good_math(),  # not a math or code row: reward does not apply
    ]
    lens = [100, 100, 100, 100, 18432, 30000, 30000, 100]
    answers = ["1"] * 7 + [None]
    out = reward([EN_PROBLEM] * 8, completions, answer=answers,
                 completion_ids=[[0] * k for k in lens])
    assert list(out) == pytest.approx([1.1, 1.1, 0.2, 1.0, 1.05, 1.0, 0.0, None], abs=1e-12)
    assert out.parts["format"][6] == "no_think_at_start"
    assert out.parts["length"][6] is None  # stopped before the length penalty
    assert out.parts["reason"][2] == "not_equal"


def test_code_rows_and_no_thinking(math_verifier, code_verifier):
    reward = _reward(math_verifier, code_verifier, thinking=False, language_reward=0.0)
    tests = [{"input": "2 3\n", "output": "5\n"}, {"input": "10 -4", "output": "6"}]
    right = "Here:\n```python\na, b = map(int, input().split())\nprint(a + b)\n```"
    wrong = "Here:\n```python\na, b = map(int, input().split())\nprint(a - b)\n```"
    untagged = "Here:\n```\nprint(5)\n```"
    out = reward(["Add two numbers."] * 3, [right, wrong, untagged], tests=[tests] * 3)
    assert list(out) == pytest.approx([1.0, 0.1, 0.0])
    assert out.parts["reason"][:2] == ["passed", "test1_wrong"]
    assert out.parts["format"][2] == "code_block_without_language"


def test_broken_inputs_score_floor_without_raising(math_verifier, code_verifier):
    reward = _reward(math_verifier, code_verifier)
    out = reward(["p", "p"], [None, "<think>x</think>\\boxed{" + "{" * 5000],  # type: ignore[list-item]
                 answer=["1", "1"])
    assert list(out) == [0.0, 0.0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Hello there $x + unterminated", "Hello there"), ("a ``` b", "a"),
     ("\\[" * 1000 + "tail", ""), ("keep \\alpha words", "keep words")],
)
def test_strip_handles_unterminated_spans(text, expected):
    assert strip_latex_and_code(text) == expected
