"""Styles: `<style>` sheets, `style=""`, presentation attributes.

Simple selectors — `*`, type, `.class`, `#id`, their compounds (`path.a`, `.a.b`) — are
matched per element through an index (the common case, and fast). Every other selector
(combinators, attribute selectors, structural pseudo-classes) is translated to XPath by
`cssselect` and evaluated once per document. Selectors that match nothing in a static
document (`:hover`, ...) are reported as unsupported. `!important` declarations are kept
apart: they win over normal ones (https://www.w3.org/TR/css-cascade-4/#importance).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from cssselect import GenericTranslator, SelectorError
from cssselect import parse as parse_selector

from svgrl.errors import SvgLimitError, SvgUnsafeError

_SIMPLE_SEL_RE = re.compile(r"^(\*|[A-Za-z][\w-]*)?((?:[.#][\w-]+)*)$")


@dataclass(frozen=True, slots=True)
class Rule:
    tag: str | None  # None matches any element
    classes: frozenset[str]
    id: str | None
    specificity: tuple[int, int, int, int]  # (ids, classes, types, source order)
    declarations: tuple[tuple[str, str], ...]
    important: tuple[tuple[str, str], ...] = ()
    selector: str | None = None  # one the index cannot match: see `compile_selector`

    def matches(self, tag: str, classes: set[str], el_id: str | None) -> bool:
        return ((self.tag is None or self.tag == tag) and (self.id is None or self.id == el_id)
                and self.classes <= classes)


def parse_declarations(text: str) -> list[tuple[str, str]]:
    """`a: b; c: d` → [(a, b), (c, d)] with names lower-cased and `!important` dropped."""
    normal, important = split_declarations(text)
    return normal + important


_IMPORTANT_RE = re.compile(r"!\s*important\s*$", re.IGNORECASE)


def split_declarations(text: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """`a: b; c: d !important` → ([(a, b)], [(c, d)]): normal and important declarations,
    names lower-cased, comments removed."""
    if "/*" in text:
        text = _strip_comments(text)
    normal: list[tuple[str, str]] = []
    important: list[tuple[str, str]] = []
    for decl in text.split(";"):
        name, sep, value = decl.partition(":")
        if sep:
            name = name.strip().lower()
            value = value.strip()
            out = normal
            if "!" in value:
                v = _IMPORTANT_RE.sub("", value)
                if v != value:
                    value, out = v.strip(), important
            if name and value:
                out.append((name, value))
    return normal, important


def _strip_comments(text: str) -> str:
    """Remove /* … */ with str.find: linear even for hostile input (a lazy regex rescans to
    the end from every unclosed "/*")."""
    out = []
    i = 0
    while (j := text.find("/*", i)) >= 0:
        out.append(text[i:j])
        k = text.find("*/", j + 2)
        if k < 0:
            return "".join(out)
        i = k + 2
    out.append(text[i:])
    return "".join(out)


_BRACE_RE = re.compile(r"[{}]")


def _blocks(text: str):
    """Yield (prelude, body) of each top-level `prelude { body }`; nested blocks stay inside
    their parent's body. One linear scan over the braces."""
    depth = 0
    start = open_at = 0
    for m in _BRACE_RE.finditer(text):
        if m.group() == "{":
            if depth == 0:
                open_at = m.start()
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                yield text[start:open_at], text[open_at + 1:m.start()]
                start = m.end()
        else:
            start = m.end()  # a stray "}" ends nothing; skip past it (CSS error recovery)


def parse_stylesheet(text: str, where: str = "", max_rules: int = 5_000
                     ) -> tuple[list[Rule], list[str]]:
    """Parse a `<style>` sheet. Returns the rules and the unsupported selectors it skipped.
    Raises `SvgLimitError` as soon as the sheet holds more than `max_rules` rules."""
    text = _strip_comments(text)
    if re.search(r"@import|url\(\s*['\"]?(?!#)[a-z]+:", text, re.I):
        raise SvgUnsafeError("style sheet refers to an external resource", reason="external-ref",
                             where=where)
    rules: list[Rule] = []
    skipped: list[str] = []
    order = 0
    for prelude, body in _blocks(text):
        # Statements like `@charset "x";` may precede a rule: only the last part counts.
        prelude = prelude.rsplit(";", 1)[-1].strip()
        if prelude.startswith("@") or "{" in body:
            continue  # at-rule blocks (@media, @font-face, ...) carry no drawable style
        normal, important = split_declarations(body)
        decls, imp = tuple(normal), tuple(important)
        for sel in prelude.split(","):
            sel = sel.strip()
            sm = _SIMPLE_SEL_RE.match(sel)
            if sel and not sm:
                rule = _complex_rule(sel, order + 1, decls, imp)
                if rule is None:
                    skipped.append(sel)
                    continue
                order += 1
                if order > max_rules:
                    raise SvgLimitError(f"more than {max_rules:,} CSS rules",
                                        reason="css-rules", where=where)
                rules.append(rule)
                continue
            if not sel:
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
            if order > max_rules:
                raise SvgLimitError(f"more than {max_rules:,} CSS rules", reason="css-rules",
                                    where=where)
            rules.append(Rule(tag, classes, ids[0] if ids else None,
                              (len(ids), len(classes), int(tag is not None), order), decls,
                              imp))
    rules.sort(key=lambda r: r.specificity)
    return rules, skipped


class _SvgTranslator(GenericTranslator):
    """Type selectors match SVG elements by local name (they live in the SVG namespace)."""

    def xpath_element(self, selector):
        if selector.element and not selector.namespace:
            selector.namespace = "*"
        return super().xpath_element(selector)


_TRANSLATOR = _SvgTranslator()
_DYNAMIC = (":hover", ":active", ":focus", ":visited", ":link", ":target", "::")


def _complex_rule(sel: str, order: int, decls, important) -> Rule | None:
    """A rule for a selector the index cannot match (compiled later, by the documents that
    need it), or None if it never matches a static document."""
    if any(d in sel for d in _DYNAMIC):
        return None
    return Rule(None, frozenset(), None, (0, 0, 0, order), decls, important, sel)


@functools.lru_cache(maxsize=1024)
def compile_selector(sel: str) -> tuple[str, tuple[int, int, int]] | None:
    """(XPath, specificity) of a selector, or None if it does not parse."""
    try:
        parsed = parse_selector(sel)
        if len(parsed) != 1 or parsed[0].pseudo_element:
            return None
        return _TRANSLATOR.selector_to_xpath(parsed[0]), parsed[0].specificity()
    except (SelectorError, ValueError, TypeError, NotImplementedError, RecursionError):
        return None


class RuleIndex:
    """Rules bucketed by the one key each must match (id, else a class, else the tag, else
    universal), so styling an element looks at the few rules that could apply instead of all
    of them: a sheet of 10⁴ rules must not cost 10⁴ checks per element."""

    def __init__(self, rules: list[Rule]):
        self.by_id: dict[str, list[Rule]] = {}
        self.by_class: dict[str, list[Rule]] = {}
        self.by_tag: dict[str, list[Rule]] = {}
        self.universal: list[Rule] = []
        for r in rules:
            if r.selector is not None:
                continue  # matched per document, not per element
            if r.id is not None:
                self.by_id.setdefault(r.id, []).append(r)
            elif r.classes:
                self.by_class.setdefault(min(r.classes), []).append(r)
            elif r.tag is not None:
                self.by_tag.setdefault(r.tag, []).append(r)
            else:
                self.universal.append(r)
        self.empty = not rules
        self.complex = [r for r in rules if r.selector is not None]

    def candidates(self, tag: str, classes: set[str], el_id: str | None) -> int:
        """How many rules `matching` would check: the work, known before doing it."""
        n = len(self.universal) + len(self.by_tag.get(tag, ()))
        if el_id is not None:
            n += len(self.by_id.get(el_id, ()))
        return n + sum(len(self.by_class.get(c, ())) for c in classes)

    def matching(self, tag: str, classes: set[str], el_id: str | None) -> list[Rule]:
        """Matching rules in cascade order (specificity, then source order)."""
        cands = list(self.universal)
        cands += self.by_tag.get(tag, ())
        if el_id is not None:
            cands += self.by_id.get(el_id, ())
        for c in classes:
            cands += self.by_class.get(c, ())
        out = [r for r in cands if r.matches(tag, classes, el_id)]
        out.sort(key=lambda r: r.specificity)
        return out
