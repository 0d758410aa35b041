"""Magistral's language-consistency reward (arXiv 2506.10910 §2.2): strip LaTeX and code from
the problem, the thoughts and the answer, classify each with a fastText-like language-ID model
(here py3langid, which ships its model), and reward +0.1 when all agree.

Segments with too few letters after stripping (e.g. an answer that is only ``\\boxed{42}``) carry
no language signal; they are left out of the vote rather than guessed.
"""

from __future__ import annotations

import re

_STRIP = [
    re.compile(r"```.*?(```|$)", re.DOTALL),  # fenced code (also unterminated)
    re.compile(r"`[^`\n]*`"),  # inline code
    re.compile(r"\$\$.*?\$\$", re.DOTALL),
    re.compile(r"\$[^$]*\$"),
    re.compile(r"\\\[.*?\\\]", re.DOTALL),
    re.compile(r"\\\(.*?\\\)", re.DOTALL),
    re.compile(r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.DOTALL),
    re.compile(r"\\[A-Za-z]+\*?(\{[^{}]*\})*"),  # remaining macros with simple arguments
    re.compile(r"</?think>"),
]
MIN_LETTERS = 8


def strip_latex_and_code(text: str) -> str:
    for pat in _STRIP:
        text = pat.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip()


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of `text` after stripping, or ``None`` when it has too few letters."""
    import py3langid

    clean = strip_latex_and_code(text)
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
