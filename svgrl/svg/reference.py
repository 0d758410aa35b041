"""Reference rendering of *original* SVG files with resvg, in our normalised frame.

To compare pixels with our normalised drawing, the original document is nested, untouched
but for its placement, inside an outer `<svg>` whose square viewport matches
`normalise()`: same scale, same centring, same viewport clip. resvg is the reference, never
the hot path.

The original is untrusted and resvg is a full renderer, so before it sees the document:
every `<image>` / `<feImage>` reference that is not an internal ``#id`` or a ``data:`` URI
is removed (resvg would read local files, FIFOs or ``/dev/zero``), an embedded raster is
kept only when its header passes `check_image`, and embedded SVG images are removed (a
nested document escapes our parse limits). System fonts are never loaded and no resource
directory is given. Callers that render many untrusted files run this in a bounded worker
(`svgrl.bounded`): a crash or a hang in resvg is then one file's failure.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re

import numpy as np
import resvg_py
from lxml import etree

from svgrl.errors import SvgError, SvgLimitError
from svgrl.svg.image_io import check_image, decode_png
from svgrl.svg.parse import DEFAULT_LIMITS, SVG_NS, XLINK_HREF, ParseLimits, read_xml
from svgrl.svg.simplify import SimplifyOptions, canvas

# resvg follows references (patterns, masks, clip paths, filters, use) recursively: a chain
# of 2,000 nested patterns overflows its stack (SIGSEGV). Honest icons nest a few levels.
MAX_REFERENCE_DEPTH = 32
MAX_TURBULENCE_OCTAVES = 10  # each octave halves the amplitude: 2⁻¹⁰ is below one grey level
_URL = re.compile(r"url\(\s*['\"]?#([^)'\"\s]+)")


def _refs(el: etree._Element) -> set[str]:
    out = set()
    for k, v in el.attrib.items():
        if k in ("href", XLINK_HREF):
            if v.strip().startswith("#"):
                out.add(v.strip()[1:])
        elif "url(" in v:
            out.update(_URL.findall(v))
    return out


def reference_depth(root: etree._Element) -> int:
    """Longest chain of ``url(#…)`` / ``href="#…"`` references (a cycle counts as
    unbounded: `MAX_REFERENCE_DEPTH` + 1)."""
    ids = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    memo: dict[str, int] = {}
    on_path: set[str] = set()

    def depth(i: str) -> int:
        if i in memo:
            return memo[i]
        if i in on_path or len(on_path) > MAX_REFERENCE_DEPTH:
            return MAX_REFERENCE_DEPTH + 1
        target = ids.get(i)
        if target is None:
            return 0
        on_path.add(i)
        refs = set().union(*(_refs(e) for e in target.iter() if isinstance(e.tag, str)))
        d = 1 + max((depth(r) for r in refs), default=0)
        on_path.discard(i)
        memo[i] = d = min(d, MAX_REFERENCE_DEPTH + 1)
        return d

    return max((depth(i) for i in ids), default=0)


def _embedded_ok(uri: str) -> bool:
    """A ``data:`` raster whose header passes the pixel budget."""
    head, sep, payload = uri.partition(",")
    if not sep or "svg" in head.lower():
        return False
    try:
        data = (base64.b64decode(payload, validate=False) if head.lower().endswith(";base64")
                else payload.encode("latin-1", "replace"))
        check_image(data)
    except (SvgError, binascii.Error, ValueError):
        return False
    return True


def strip_external(root: etree._Element) -> int:
    """Remove every image reference resvg would resolve outside the document (or that
    fails the pixel budget); returns how many were removed."""
    removed = 0
    for el in root.iter():
        if not isinstance(el.tag, str) or etree.QName(el).localname not in ("image", "feImage"):
            continue
        for attr in ("href", XLINK_HREF):
            value = (el.get(attr) or "").strip()
            if not value or value.startswith("#"):
                continue
            if value[:5].lower() == "data:" and _embedded_ok(value):
                continue
            del el.attrib[attr]
            removed += 1
    return removed


def reference_render(data: bytes | str, size: int = 200,
                     limits: ParseLimits = DEFAULT_LIMITS) -> np.ndarray:
    """Render an original SVG with resvg into a size × size frame, white background."""
    root = copy.deepcopy(read_xml(data, limits))
    if reference_depth(root) > MAX_REFERENCE_DEPTH:
        raise SvgLimitError(f"references nest deeper than {MAX_REFERENCE_DEPTH} (or form a "
                            "cycle): resvg would recurse without bound", reason="nesting")
    strip_external(root)
    for el in root.iter(f"{{{SVG_NS}}}feTurbulence"):
        try:
            octaves = float(el.get("numOctaves") or 1)
        except ValueError:
            continue
        if octaves > MAX_TURBULENCE_OCTAVES:
            el.set("numOctaves", str(MAX_TURBULENCE_OCTAVES))
    w, h, _ = canvas(root, SimplifyOptions(limits=limits))
    if not (w > 0 and h > 0):  # not rendered (SVG): the page stays white
        return np.full((size, size, 3), 255, np.uint8)
    m = max(w, h)
    outer = etree.Element(f"{{{SVG_NS}}}svg", nsmap={None: SVG_NS})
    outer.set("width", str(size))
    outer.set("height", str(size))
    outer.set("viewBox", f"0 0 {m!r} {m!r}")
    root.set("x", repr((m - w) / 2))
    root.set("y", repr((m - h) / 2))
    root.set("width", repr(w))
    root.set("height", repr(h))
    outer.append(root)
    png = resvg_py.svg_to_bytes(svg_string=etree.tostring(outer, encoding="unicode"),
                                background="#ffffff", skip_system_fonts=True,
                                resources_dir=None)
    return decode_png(bytes(png))
