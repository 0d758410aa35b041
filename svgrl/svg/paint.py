"""Paint servers → one flat colour.

OmniSVG's token set has one fill colour per path, so gradients collapse to a representative
colour: the *mean colour along the gradient*, integrating the piecewise-linear stop ramp over
offset 0..1 (pads included). Radial gradients weight offset t by 2t, because the ring at
radius t covers area ∝ t — so the outer colour, which covers most pixels, counts most.
Stop opacity is averaged alongside and later composited like any translucent fill.
"""

from __future__ import annotations

from lxml import etree

from svgrl.svg.colors import RGBA, parse_color
from svgrl.svg.css import parse_declarations
from svgrl.svg.parse import SVG_NS, XLINK_HREF

GRADIENTS = ("linearGradient", "radialGradient")


def _stops(grad: etree._Element, ids: dict, seen: set) -> list[etree._Element]:
    stops = [c for c in grad if isinstance(c.tag, str) and etree.QName(c).localname == "stop"]
    if stops:
        return stops
    href = grad.get("href") or grad.get(XLINK_HREF)
    if href and href.startswith("#") and href[1:] not in seen:
        seen.add(href[1:])
        ref = ids.get(href[1:])
        if ref is not None and etree.QName(ref).localname in GRADIENTS:
            return _stops(ref, ids, seen)
    return []


def _stop_color(stop: etree._Element, current: RGBA) -> tuple[float, RGBA]:
    props = {k: v for k, v in stop.attrib.items() if k in ("offset", "stop-color", "stop-opacity")}
    if "style" in stop.attrib:
        props.update(parse_declarations(stop.attrib["style"]))
    off = props.get("offset", "0").strip()
    t = float(off[:-1]) / 100 if off.endswith("%") else float(off or 0)
    color = props.get("stop-color", "black").strip()
    r, g, b, a = current if color == "currentColor" else parse_color(color)
    op = props.get("stop-opacity", "1").strip()
    a *= float(op[:-1]) / 100 if op.endswith("%") else float(op)
    return max(0.0, min(1.0, t)), (r, g, b, max(0.0, min(1.0, a)))


def gradient_color(grad: etree._Element, ids: dict, current: RGBA) -> RGBA | None:
    """The representative colour of a gradient element, or None if it has no stops."""
    stops = _stops(grad, ids, {grad.get("id", "")})
    if not stops:
        return None
    pts: list[tuple[float, RGBA]] = []
    last = 0.0
    for s in stops:
        t, c = _stop_color(s, current)
        t = max(t, last)  # offsets are clamped to be non-decreasing (SVG 1.1 §13.2.4)
        pts.append((t, c))
        last = t
    if len(pts) == 1:
        return pts[0][1]
    radial = etree.QName(grad).localname == "radialGradient"
    # Pad: extend the first and last stop to 0 and 1, then integrate piecewise-linear
    # segments exactly (weight w(t) = 1 or 2t).
    pts = [(0.0, pts[0][1]), *pts, (1.0, pts[-1][1])]
    acc = [0.0, 0.0, 0.0, 0.0]
    total = 0.0
    for (t0, c0), (t1, c1) in zip(pts, pts[1:], strict=False):
        if t1 <= t0:
            continue
        if radial:
            # ∫ 2t·((1-u)c0 + u c1) dt over [t0,t1], u = (t-t0)/(t1-t0)
            w0 = (t1 - t0) * (2 * t0 + t1) / 3
            w1 = (t1 - t0) * (t0 + 2 * t1) / 3
        else:
            w0 = w1 = (t1 - t0) / 2
        for i in range(4):
            acc[i] += w0 * c0[i] + w1 * c1[i]
        total += w0 + w1
    if total <= 0:
        return pts[-1][1]
    return (round(acc[0] / total), round(acc[1] / total), round(acc[2] / total), acc[3] / total)


def is_svg(el: etree._Element) -> bool:
    return isinstance(el.tag, str) and el.tag.startswith("{" + SVG_NS + "}") or (
        isinstance(el.tag, str) and not el.tag.startswith("{"))
