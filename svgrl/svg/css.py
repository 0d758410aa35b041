"""Styles: `<style>` sheets with simple selectors, `style=""`, presentation attributes.

Supported selectors: `*`, type, `.class`, `#id`, their compounds (`path.a`, `.a.b`) and comma
lists. Combinators (descendant, child, ...), attribute selectors and pseudo-classes are
reported as unsupported rather than guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from svgrl.errors import SvgUnsafeError

_COMMENT_RE = re.compile(r"/\*.*?\*/", re.S)
_RULE_RE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_AT_BLOCK_RE = re.compile(r"@[^{;]*(?:;|\{(?:[^{}]*\{[^{}]*\})*[^{}]*\})")
_SIMPLE_SEL_RE = re.compile(r"^(\*|[A-Za-z][\w-]*)?((?:[.#][\w-]+)*)$")


@dataclass(frozen=True, slots=True)
class Rule:
    tag: str | None  # None matches any element
    classes: frozenset[str]
    id: str | None
    specificity: tuple[int, int, int, int]  # (ids, classes, types, source order)
    declarations: tuple[tuple[str, str], ...]

    def matches(self, tag: str, classes: set[str], el_id: str | None) -> bool:
        return ((self.tag is None or self.tag == tag) and (self.id is None or self.id == el_id)
                and self.classes <= classes)


def parse_declarations(text: str) -> list[tuple[str, str]]:
    """`a: b; c: d` → [(a, b), (c, d)] with names lower-cased and `!important` dropped."""
    out = []
    for decl in text.split(";"):
        name, sep, value = decl.partition(":")
        if sep:
            value = value.replace("!important", "").strip()
            name = name.strip().lower()
            if name and value:
                out.append((name, value))
    return out


def parse_stylesheet(text: str, where: str = "") -> tuple[list[Rule], list[str]]:
    """Parse a `<style>` sheet. Returns the rules and the unsupported selectors it skipped."""
    text = _COMMENT_RE.sub("", text)
    if re.search(r"@import|url\(\s*['\"]?(?!#)[a-z]+:", text, re.I):
        raise SvgUnsafeError("style sheet refers to an external resource", reason="external-ref",
                             where=where)
    text = _AT_BLOCK_RE.sub("", text)
    rules: list[Rule] = []
    skipped: list[str] = []
    order = 0
    for m in _RULE_RE.finditer(text):
        decls = tuple(parse_declarations(m.group(2)))
        for sel in m.group(1).split(","):
            sel = sel.strip()
            sm = _SIMPLE_SEL_RE.match(sel)
            if not sel or not sm:
                skipped.append(sel)
                continue
            tag = sm.group(1) if sm.group(1) not in (None, "*") else None
            parts = re.findall(r"[.#][\w-]+", sm.group(2))
            ids = [p[1:] for p in parts if p[0] == "#"]
            classes = frozenset(p[1:] for p in parts if p[0] == ".")
            if len(ids) > 1:
                skipped.append(sel)
                continue
            order += 1
            rules.append(Rule(tag, classes, ids[0] if ids else None,
                              (len(ids), len(classes), int(tag is not None), order), decls))
    rules.sort(key=lambda r: r.specificity)
    return rules, skipped
