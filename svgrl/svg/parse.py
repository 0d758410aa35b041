"""Hardened XML reading: bytes → lxml element tree, with limits.

Entity resolution, DTD loading and network access are off; internal entity declarations are
refused outright (billion-laughs), and size, element count and depth are bounded before any
SVG semantics run. Every failure is a typed `SvgError` naming the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from svgrl.errors import SvgLimitError, SvgSyntaxError, SvgUnsafeError

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


@dataclass(frozen=True)
class ParseLimits:
    """Bounds on untrusted input. Defaults admit every icon set we know with a wide margin."""

    max_bytes: int = field(default=8 << 20, metadata={"help": "largest accepted file, bytes"})
    max_elements: int = field(default=8_000, metadata={
        "help": "most elements, counting those instantiated by <use>"})
    max_use_instances: int = field(default=2_000, metadata={
        "help": "most <use> instantiations (bounds exponential use-of-use expansion)"})
    max_css_rules: int = field(default=5_000, metadata={"help": "most rules in <style> sheets"})
    max_depth: int = field(default=128, metadata={"help": "deepest element nesting"})
    max_path_length: int = field(default=2_000_000, metadata={
        "help": "longest path data / points attribute, characters"})
    max_abs: float = field(default=1e7, metadata={"help": "largest absolute coordinate value"})
    max_attributes: int = field(default=512, metadata={"help": "most attributes on one element"})
    max_dashes: int = field(default=10_000, metadata={
        "help": "most dashes in a document (counted from path lengths before dashing)"})
    max_op_pairs: int = field(default=500_000, metadata={
        "help": "path-op work: estimated segment pairs compared by clip/viewport ops, summed "
                "over the document (self-overlapping strokes are quadratic or worse)"})
    max_css_matches: int = field(default=100_000, metadata={
        "help": "most (rule, element) checks while styling, <use> copies included"})


_ENTITY_RE = re.compile(rb"<!ENTITY", re.IGNORECASE)
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
    huge_tree=False, remove_comments=True, remove_pis=True, recover=False,
)


DEFAULT_LIMITS = ParseLimits()


# Files people hand to an SVG tool by mistake, recognised by their first bytes.
_NOT_SVG = ((b"\x89PNG", "PNG image"), (b"\xff\xd8\xff", "JPEG image"), (b"GIF8", "GIF image"),
            (b"RIFF", "RIFF (WebP?) image"), (b"%PDF", "PDF"), (b"PK\x03\x04", "zip archive"),
            (b"\x1f\x8b", "gzip (an .svgz? unzip it first)"), (b"BM", "BMP image"))


def read_xml(data: bytes | str, limits: ParseLimits = DEFAULT_LIMITS,
             where: str = "") -> etree._Element:
    """Parse untrusted SVG text into an lxml root element (`<svg>`), or raise `SvgError`."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > limits.max_bytes:
        raise SvgLimitError(f"file of {len(data):,} bytes exceeds the limit of "
                            f"{limits.max_bytes:,}", reason="file-size", where=where)
    if not data.strip():
        raise SvgSyntaxError("empty document", reason="empty-file", where=where)
    for magic, kind in _NOT_SVG:
        if data.startswith(magic):
            raise SvgSyntaxError(f"not an SVG: this is a {kind} file", reason="not-svg",
                                 where=where)
    if _ENTITY_RE.search(data):
        raise SvgUnsafeError("entity declarations are refused (XXE / billion laughs)",
                             reason="entity", where=where)
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as e:
        msg = str(e)
        if "resource limit" in msg.lower():
            raise SvgLimitError(f"XML parser limit: {msg}", reason="xml-limit",
                                where=where) from None
        if "depth" in msg.lower():
            raise SvgLimitError(f"nesting too deep: {msg}", reason="depth",
                                where=where) from None
        if "encoding" in msg.lower() or "utf-8" in msg.lower() or "char" in msg.lower():
            raise SvgSyntaxError(f"not valid UTF-8 XML: {msg}", reason="encoding",
                                 where=where) from None
        raise SvgSyntaxError(f"not well-formed XML: {msg}", reason="xml", where=where) from None
    except ValueError as e:  # lxml raises ValueError for some encoding declarations
        raise SvgSyntaxError(f"cannot decode document: {e}", reason="encoding",
                             where=where) from None
    if root is None:
        raise SvgSyntaxError("empty document", reason="empty-file", where=where)
    tag = root.tag if isinstance(root.tag, str) else ""
    qname = etree.QName(tag)
    if qname.localname != "svg" or qname.namespace not in (SVG_NS, None):
        raise SvgSyntaxError(f"root element is {tag!r}, not an SVG <svg>", reason="not-svg",
                             where=where)
    _check_tree(root, limits, where)
    return root


def _check_tree(root: etree._Element, limits: ParseLimits, where: str) -> None:
    n = 0
    for el in root.iter():
        n += 1
        if n > limits.max_elements:
            raise SvgLimitError(f"more than {limits.max_elements:,} elements",
                                reason="elements", where=where)
        if len(el.attrib) > limits.max_attributes:
            raise SvgLimitError(f"an element with {len(el.attrib):,} attributes (limit "
                                f"{limits.max_attributes:,})", reason="attributes", where=where)
    # Depth only needs checking when the tree is deep enough to matter; lxml already stops
    # at 256 without huge_tree, so this walk is bounded.
    if n > limits.max_depth:
        stack = [(root, 1)]
        while stack:
            el, d = stack.pop()
            if d > limits.max_depth:
                raise SvgLimitError(f"nesting deeper than {limits.max_depth}", reason="depth",
                                    where=where)
            stack.extend((c, d + 1) for c in el)
