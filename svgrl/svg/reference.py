"""Reference rendering of *original* SVG files with resvg, in our normalised frame.

To compare pixels with our normalised drawing, the original document is nested, untouched
but for its placement, inside an outer `<svg>` whose square viewport matches
`normalise()`: same scale, same centring, same viewport clip. resvg is the reference, never
the hot path.
"""

from __future__ import annotations

import copy

import numpy as np
import resvg_py
from lxml import etree

from svgrl.svg.image_io import decode_png
from svgrl.svg.parse import DEFAULT_LIMITS, SVG_NS, ParseLimits, read_xml
from svgrl.svg.viewport import root_viewport


def reference_render(data: bytes | str, size: int = 200,
                     limits: ParseLimits = DEFAULT_LIMITS) -> np.ndarray:
    """Render an original SVG with resvg into a size × size frame, white background."""
    root = copy.deepcopy(read_xml(data, limits))
    w, h, _ = root_viewport(root, limits)
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
                                background="#ffffff", skip_system_fonts=True)
    return decode_png(bytes(png))
