"""Paint servers → one flat colour, or (with gradients kept) a `Gradient` in canvas space.

OmniSVG's token set has one fill colour per path, so gradients collapse to a representative
colour: the *mean colour along the gradient*, integrating the piecewise-linear stop ramp over
offset 0..1 (pads included). Radial gradients weight offset t by 2t, because the ring at
radius t covers area ∝ t — so the outer colour, which covers most pixels, counts most.
Stop opacity is averaged alongside and later composited like any translucent fill. (By
default a drawing without gradient tokens gets a fitted colour instead, `svgrl.svg.flatten`;
this mean is the `flat_gradients="mean"` stand-in and what a gradient path's `fill` holds.)
"""

from __future__ import annotations

import math

from lxml import etree

from svgrl.errors import SvgValueError
from svgrl.svg.colors import RGBA, parse_color
from svgrl.svg.css import parse_declarations
from svgrl.svg.drawing import Gradient, bound_stops
from svgrl.svg.parse import SVG_NS, XLINK_HREF
from svgrl.svg.values import Affine, multiply, parse_length, parse_transform

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


_GEOMETRY = ("x1", "y1", "x2", "y2", "cx", "cy", "r", "fx", "fy", "gradientUnits",
             "gradientTransform")


def _attributes(grad: etree._Element, ids: dict) -> dict[str, str]:
    """Geometry attributes along the href chain (the nearest definition wins)."""
    out: dict[str, str] = {}
    seen = {grad.get("id", "")}
    el = grad
    while el is not None:
        for k in _GEOMETRY:
            if k not in out and el.get(k) is not None:
                out[k] = el.get(k)
        href = el.get("href") or el.get(XLINK_HREF)
        if not href or not href.startswith("#") or href[1:] in seen:
            break
        seen.add(href[1:])
        el = ids.get(href[1:])
        if el is None or etree.QName(el).localname not in GRADIENTS:
            break
    return out


def gradient_stops(grad: etree._Element, ids: dict, current: RGBA) -> tuple:
    """The stops of a gradient element (href chain followed), at most `MAX_STOPS` of them
    (`bound_stops`), as (offset, (r, g, b), opacity); fewer than 2: no gradient (a flat
    colour). Depends only on the element and the current colour, so callers cache it: a
    document may use one gradient of thousands of stops from thousands of elements."""
    stops_el = _stops(grad, ids, {grad.get("id", "")})
    if len(stops_el) < 2:
        return ()
    stops: list[tuple[float, tuple[int, int, int], float]] = []
    last = 0.0
    for s in stops_el:
        t, c = _stop_color(s, current)
        last = max(t, last)
        stops.append((last, tuple(round(v) for v in c[:3]), c[3]))
    return bound_stops(stops)


def gradient_paint(grad: etree._Element, ids: dict, current: RGBA, ctm: Affine,
                   bbox: tuple[float, float, float, float] | None, vp: tuple[float, float],
                   alpha: float, where: str = "", stops: tuple | None = None
                   ) -> Gradient | None:
    """The gradient element `grad` as a canvas-space `Gradient` for a shape with object
    bounding box `bbox` (x, y, w, h in user space) drawn under `ctm`, every stop's opacity
    multiplied by `alpha` (fill/stroke-opacity × group opacity). None when the gradient
    draws a flat colour instead (no geometry: one stop, an empty box, a singular matrix) —
    the caller then uses `gradient_color`. `stops`: `gradient_stops` of `grad`, when the
    caller has them. Geometry: SVG 1.1 §13.2; the focal radius (SVG 2 ``fr``) is taken as
    0."""
    if stops is None:
        stops = gradient_stops(grad, ids, current)
    if len(stops) < 2:
        return None
    stops = tuple((t, c, max(0.0, min(1.0, a * alpha))) for t, c, a in stops)
    att = _attributes(grad, ids)
    obb = att.get("gradientUnits", "objectBoundingBox").strip() != "userSpaceOnUse"
    m = ctm
    if obb:
        if bbox is None or bbox[2] <= 0 or bbox[3] <= 0:
            return None
        m = multiply(m, (bbox[2], 0.0, 0.0, bbox[3], bbox[0], bbox[1]))
    if att.get("gradientTransform"):
        m = multiply(m, parse_transform(att["gradientTransform"], where))
    a, b, c, d, e, f = m
    det = a * d - b * c
    if not math.isfinite(det) or abs(det) < 1e-12:
        return None
    radial = etree.QName(grad).localname == "radialGradient"
    diag = math.hypot(*vp) / math.sqrt(2)

    def length(key: str, default: str, ref: float) -> float:
        v = att.get(key, default)
        if obb:  # fractions of the box; "50%" = 0.5
            v = v.strip()
            return float(v[:-1]) / 100 if v.endswith("%") else float(v)
        return parse_length(v, ref, 0.0, where)

    def apply(x: float, y: float) -> tuple[float, float]:
        return a * x + c * y + e, b * x + d * y + f

    try:
        if radial:
            cx, cy = length("cx", "50%", vp[0]), length("cy", "50%", vp[1])
            r = length("r", "50%", diag)
            fx = length("fx", att.get("cx", "50%"), vp[0])
            fy = length("fy", att.get("cy", "50%"), vp[1])
        else:
            x1, y1 = length("x1", "0%", vp[0]), length("y1", "0%", vp[1])
            x2, y2 = length("x2", "100%", vp[0]), length("y2", "0%", vp[1])
    except (ValueError, SvgValueError):
        return None
    if radial:
        if r <= 0:
            return None
        if math.hypot(fx - cx, fy - cy) > r:  # a focus outside the circle moves onto it
            k = r * 0.999 / math.hypot(fx - cx, fy - cy)
            fx, fy = cx + (fx - cx) * k, cy + (fy - cy) * k
        pts = (*apply(cx, cy), *apply(cx + r, cy), *apply(cx, cy + r), *apply(fx, fy))
        return Gradient("radial", pts, stops)
    dx, dy = x2 - x1, y2 - y1
    dd = dx * dx + dy * dy
    if dd <= 1e-24:
        return None
    # t(p) = ((M⁻¹p − p1)·d)/|d|² is affine in p: t = g·(p − P1) with g = M⁻ᵀ d / |d|²;
    # the canvas gradient runs from P1 to P1 + g/|g|² (its iso-lines stay parallel).
    gx = (d * dx - b * dy) / det / dd
    gy = (-c * dx + a * dy) / det / dd
    gg = gx * gx + gy * gy
    px, py = apply(x1, y1)
    return Gradient("linear", (px, py, px + gx / gg, py + gy / gg), stops)


def is_svg(el: etree._Element) -> bool:
    return isinstance(el.tag, str) and el.tag.startswith("{" + SVG_NS + "}") or (
        isinstance(el.tag, str) and not el.tag.startswith("{"))
