"""SVG `<filter>` elements → the effects a `Drawing` can carry (`svgrl.svg.drawing.Effect`).

A filter is a small image-processing graph; a `Drawing` has paths, not images. What colour
emoji use is narrow, though: design tools export three effects as fixed chains of
primitives (Figma's, in Microsoft's Fluent Emoji: 94 % of its files), and each has a
path-level form:

- *layer blur* — ``feFlood(transparent) feBlend(SourceGraphic) feGaussianBlur``, or a lone
  ``feGaussianBlur`` of SourceGraphic: every path of the group blurred by σ;
- *inner shadow* — ``feColorMatrix(SourceAlpha → hardAlpha) [feOffset] [feGaussianBlur]
  feComposite(arithmetic −1·in + 1·hardAlpha) feColorMatrix(colour) feBlend(normal)``:
  a colour shown where the group's coverage minus its blurred, moved copy is positive — a
  path (the group's outline) painted with that colour and an ``inner`` effect;
- *drop shadow* — the same with ``feComposite operator="out"`` blended under the shape:
  the group's outline, blurred and moved, in the shadow colour, drawn before the group.

`filter_effects` recognises these (in any number and order, up to `MAX_SHADOWS` shadows)
and returns them in user units; any other graph returns None and the caller keeps the
unfiltered content (recorded as a ``filter`` drop, as without effects). Lengths must be
user-space (`primitiveUnits` other than userSpaceOnUse are not recognised).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lxml import etree

from svgrl.errors import SvgValueError
from svgrl.svg.values import parse_numbers

MAX_SHADOWS = 8  # shadows one filter may stack (Fluent Emoji use at most 5)


@dataclass(frozen=True, slots=True)
class Shadow:
    """One shadow in user units: `inner` (over the shape) or a drop shadow (under it)."""

    inner: bool
    dx: float
    dy: float
    sigma: float
    color: tuple[int, int, int]
    alpha: float


@dataclass(frozen=True, slots=True)
class FilterEffects:
    """What a recognised filter does, in the user space of the element that references it:
    drop shadows under the content, inner shadows over it (in order), then a blur of the
    whole (0: none)."""

    shadows: tuple[Shadow, ...] = ()
    blur: float = 0.0


def _name(el) -> str | None:
    return etree.QName(el).localname if isinstance(el.tag, str) else None


def _float(el, key: str, default: float = 0.0) -> float | None:
    v = el.get(key)
    if v is None:
        return default
    try:
        x = float(v)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _sigma(el) -> float | None:
    """stdDeviation (one number, or two combined by their geometric mean); None if invalid."""
    try:
        v = parse_numbers(el.get("stdDeviation", "0"), "stdDeviation")
    except SvgValueError:
        return None
    if len(v) not in (1, 2) or any(not math.isfinite(x) or x < 0 for x in v):
        return None
    return math.sqrt(v[0] * v[-1])


def _matrix(el) -> tuple[float, ...] | None:
    if el.get("type", "matrix") != "matrix":
        return None
    try:
        v = tuple(parse_numbers(el.get("values", ""), "values"))
    except SvgValueError:
        return None
    return v if len(v) == 20 and all(math.isfinite(x) for x in v) else None


def _alpha_only(el) -> bool:
    """A matrix keeping only (a multiple ≥ 1 of) alpha: Figma's "hardAlpha" (127·A clamped)
    or SourceAlpha itself; both are taken as the coverage."""
    m = _matrix(el)
    return m is not None and not any(m[:15]) and m[15:18] == (0, 0, 0) and m[18] >= 1 \
        and m[19] == 0


def _normal(el) -> bool:
    return el.get("mode", "normal").strip() == "normal"


def filter_effects(flt: etree._Element) -> FilterEffects | None:
    """The effects of a `<filter>` element, or None when its graph is not one of the
    recognised chains (see the module docstring)."""
    if flt.get("primitiveUnits", "userSpaceOnUse").strip() != "userSpaceOnUse":
        return None
    prims = [c for c in flt if _name(c) is not None and _name(c).startswith("fe")]
    shadows: list[Shadow] = []
    blur = 0.0
    i, n = 0, len(prims)
    while i < n:
        el, name = prims[i], _name(prims[i])
        if name == "feFlood" and (_float(el, "flood-opacity", 1.0) or 0.0) == 0.0:
            i += 1  # a transparent backdrop ("BackgroundImageFix")
        elif name == "feBlend" and el.get("in") == "SourceGraphic" and _normal(el):
            i += 1  # the shape over the transparent backdrop, or over the drop shadows
        elif name == "feGaussianBlur" and i == n - 1 and (
                el.get("in") is None or (el.get("in") == "SourceGraphic" and not shadows)):
            s = _sigma(el)  # the last primitive: a blur of everything so far
            if s is None:
                return None
            blur = s
            i += 1
        elif name == "feColorMatrix" and el.get("in") == "SourceAlpha" and _alpha_only(el):
            shadow, used = _shadow(prims, i)
            if shadow is None or len(shadows) >= MAX_SHADOWS:
                return None
            shadows.append(shadow)
            i += used
        else:
            return None
    if blur == 0.0 and not shadows:
        return None
    return FilterEffects(tuple(shadows), blur)


def _shadow(prims: list, i: int) -> tuple[Shadow | None, int]:
    """``feColorMatrix(SourceAlpha) [feOffset] [feGaussianBlur] feComposite feColorMatrix
    feBlend`` starting at `prims[i]`."""
    j = i + 1
    dx = dy = sigma = 0.0
    if j < len(prims) and _name(prims[j]) == "feOffset":
        dx, dy = _float(prims[j], "dx"), _float(prims[j], "dy")
        if dx is None or dy is None:
            return None, 0
        j += 1
    if j < len(prims) and _name(prims[j]) == "feGaussianBlur":
        sigma = _sigma(prims[j])
        if sigma is None:
            return None, 0
        j += 1
    if j + 3 > len(prims):
        return None, 0
    comp, colour, blend = prims[j:j + 3]
    if (_name(comp), _name(colour), _name(blend)) != ("feComposite", "feColorMatrix", "feBlend"):
        return None, 0
    op = comp.get("operator", "over").strip()
    if op == "arithmetic":
        k = [_float(comp, f"k{m}") for m in (1, 2, 3, 4)]
        if k != [0.0, -1.0, 1.0, 0.0]:
            return None, 0
        inner = True
    elif op == "out":
        inner = False
    else:
        return None, 0
    m = _matrix(colour)
    if m is None or not _normal(blend) or any(m[r * 5 + c] for r in range(4) for c in range(3)):
        return None, 0
    if m[15:18] != (0, 0, 0) or not 0 < m[18] <= 1 or m[19] != 0:
        return None, 0
    # rgb rows are constants (the shadow colour), alpha = m18 · coverage
    rgb = tuple(round(255 * max(0.0, min(1.0, m[r * 5 + 4]))) for r in range(3))
    return Shadow(inner, dx, dy, sigma, rgb, m[18]), j + 3 - i

