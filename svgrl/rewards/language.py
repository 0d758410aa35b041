"""Magistral's language-consistency reward (arXiv 2506.10910 §2.2): strip LaTeX and code from
the problem, the thoughts and the answer, classify each with a fastText-like language-ID model
(here py3langid, which ships its model), and reward +0.1 when all agree.

Segments with too few letters after stripping (e.g. an answer that is only ``\\boxed{42}``) carry
no language signal; they are left out of the vote rather than guessed.
"""

from __future__ import annotations

import re

# Delimited spans removed in this order (``` before `, $$ before $). Unterminated spans run to
# the end of the text. A str.find scan, not a lazy regex, so hostile text stays linear.
_PAIRS = [("```", "```"), ("`", "`"), ("$$", "$$"), ("$", "$"), ("\\[", "\\]"), ("\\(", "\\)")]
_MACRO = re.compile(r"\\[A-Za-z]+\*?(?:\{[^{}]*\})*")  # \frac{1}{2}, \alpha, \begin{x}
_TAGS = re.compile(r"</?think>")
MIN_LETTERS = 8
MAX_CHARS = 2_000  # language ID needs little text; bounds time on huge completions


def _strip_pairs(text: str, open_: str, close: str) -> str:
    out, i = [], 0
    while True:
        j = text.find(open_, i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        k = text.find(close, j + len(open_))
        if k < 0:
            break
        out.append(" ")
        i = k + len(close)
    return "".join(out)


def strip_latex_and_code(text: str) -> str:
    for open_, close in _PAIRS:
        text = _strip_pairs(text, open_, close)
    text = _TAGS.sub(" ", _MACRO.sub(" ", text))
    return re.sub(r"\s+", " ", text).strip()


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of `text` after stripping, or ``None`` when it has too few letters."""
    import py3langid

    clean = strip_latex_and_code(text[: 2 * MAX_CHARS])[:MAX_CHARS]
    if sum(ch.isalpha() for ch in clean) < MIN_LETTERS:
        return None
    return py3langid.classify(clean)[0]


def language_consistent(problem: str, thoughts: str, answer: str) -> tuple[bool, list[str | None]]:
    """Whether every segment with a language signal has the same language (needs the problem
    and at least one of thoughts/answer to have one). Also returns the detected languages."""
    langs = [detect_language(t) for t in (problem, thoughts, answer)]
    known = [x for x in langs if x is not None]
    ok = langs[0] is not None and len(known) >= 2 and len(set(known)) == 1
    return ok, langs
