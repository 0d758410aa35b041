"""Parsing of SVG attribute values: numbers, lengths and transform lists.

Affine transforms are 6-tuples (a, b, c, d, e, f) meaning the matrix
    | a c e |
    | b d f |
as in the SVG spec (https://www.w3.org/TR/SVG11/coords.html#TransformMatrixDefined).
They compose in plain Python: cheaper than crossing into skia for a handful of multiplies.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from svgrl.errors import SvgLimitError, SvgValueError

Affine = tuple[float, float, float, float, float, float]
IDENTITY: Affine = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)

NUMBER_RE = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_LENGTH_RE = re.compile(rf"^\s*({NUMBER_RE})\s*([a-zA-Z]+|%)?\s*$")
# CSS px per absolute unit (https://www.w3.org/TR/css-values-4/#absolute-lengths).
_ABSOLUTE_PX = {None: 1.0, "px": 1.0, "pt": 4 / 3, "pc": 16.0, "mm": 96 / 25.4,
                "cm": 96 / 2.54, "in": 96.0, "q": 96 / 25.4 / 4}


@dataclass(frozen=True, slots=True)
class LengthContext:
    """What relative CSS units resolve against (https://www.w3.org/TR/css-values-4/).

    svgrl draws no text and loads no font, so the font-metric units take the CSS fallbacks
    for an unknown font: ex and ch are 0.5em, cap 0.7em, ic 1em, lh and rlh the
    `line-height: normal` of 1.2em. Viewport units are relative to the root viewport
    (horizontal writing: vi = vw, vb = vh)."""

    em: float = 16.0  # the element's computed font-size in px (CSS `medium`)
    rem: float = 16.0  # the root element's font-size
    vw: float = 100.0  # root viewport width and height, user units
    vh: float = 100.0

    def px(self, unit: str) -> float:
        """User units per one `unit` (one of the relative units)."""
        em, vw, vh = self.em, self.vw / 100, self.vh / 100
        return {"em": em, "ex": em / 2, "ch": em / 2, "cap": em * 0.7, "ic": em,
                "lh": em * 1.2, "rem": self.rem, "rlh": self.rem * 1.2, "vw": vw, "vh": vh,
                "vi": vw, "vb": vh, "vmin": min(vw, vh), "vmax": max(vw, vh)}[unit]


DEFAULT_LENGTHS = LengthContext()


def check_number(v: float, max_abs: float, where: str) -> float:
    if not math.isfinite(v) or abs(v) > max_abs:
        raise SvgLimitError(f"number {v!r} exceeds the magnitude limit {max_abs:g}",
                            reason="magnitude", where=where)
    return v


def parse_number(value: str, where: str = "", max_abs: float = 1e7) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SvgValueError(f"not a number: {value!r}", where=where) from None
    return check_number(v, max_abs, where)


def parse_length(value: str | None, reference: float = 0.0, default: float = 0.0,
                 where: str = "", max_abs: float = 1e7,
                 ctx: LengthContext = DEFAULT_LENGTHS) -> float:
    """A length in user units; percentages are relative to `reference`, relative units
    (em, rem, vw, ...) to `ctx`. Raises `SvgValueError` for what is not a length."""
    if value is None:
        return default
    m = _LENGTH_RE.match(value)
    unit = m.group(2).lower() if m and m.group(2) else None  # CSS units ignore case
    if m is None or not (unit in _ABSOLUTE_PX or unit == "%" or unit in _RELATIVE):
        raise SvgValueError(f"not a length: {value!r}", reason="invalid-length", where=where)
    v = float(m.group(1))
    if unit == "%":
        v = v * reference / 100
    elif unit in _ABSOLUTE_PX:
        v = v * _ABSOLUTE_PX[unit]
    else:
        v = v * ctx.px(unit)
    return check_number(v, max_abs, where)


_RELATIVE = frozenset(("em", "ex", "ch", "cap", "ic", "lh", "rem", "rlh", "vw", "vh", "vi",
                       "vb", "vmin", "vmax"))
# CSS absolute-size keywords (https://www.w3.org/TR/css-fonts-4/#absolute-size-mapping).
_FONT_KEYWORDS = {"xx-small": 9.0, "x-small": 10.0, "small": 13.0, "medium": 16.0,
                  "large": 18.0, "x-large": 24.0, "xx-large": 32.0, "xxx-large": 48.0}


def parse_font_size(value: str, parent: float, ctx: LengthContext, where: str = "",
                    max_abs: float = 1e7) -> float:
    """A computed font-size in px: keywords, lengths, and em/ex/% of the parent's size."""
    v = value.strip().lower()
    if v in _FONT_KEYWORDS:
        return _FONT_KEYWORDS[v]
    if v in ("smaller", "larger"):
        return parent / 1.2 if v == "smaller" else parent * 1.2
    size = parse_length(v, parent, parent, where, max_abs,
                        LengthContext(parent, ctx.rem, ctx.vw, ctx.vh))
    return size if size >= 0 else parent


def parse_numbers(value: str, where: str = "", max_abs: float = 1e7) -> list[float]:
    """A comma/whitespace separated list of numbers (viewBox, points, dasharray)."""
    parts = value.replace(",", " ").split()  # = re.split(r"[\s,]+") less empty parts
    if parts:
        try:  # the usual case, every part one number: converted once, then bounded
            out = [float(p) for p in parts]
        except ValueError:
            pass
        else:
            for v in out:
                check_number(v, max_abs, where)
            return out
    out = []
    for p in parts:
        # "1-2" style packing is legal in points lists; split it the way path data does.
        for tok in re.findall(NUMBER_RE, p) if not _is_number(p) else [p]:
            out.append(parse_number(tok, where, max_abs))
    if not parts and value.strip():
        raise SvgValueError(f"not a number list: {value!r}", where=where)
    return out


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def multiply(m: Affine, n: Affine) -> Affine:
    """m · n: apply n first, then m."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (a * a2 + c * b2, b * a2 + d * b2, a * c2 + c * d2, b * c2 + d * d2,
            a * e2 + c * f2 + e, b * e2 + d * f2 + f)


def translate(tx: float, ty: float) -> Affine:
    return (1.0, 0.0, 0.0, 1.0, tx, ty)


def scale(sx: float, sy: float) -> Affine:
    return (sx, 0.0, 0.0, sy, 0.0, 0.0)


def scale_factor(m: Affine) -> float:
    """Geometric mean of the axis scales: how much a unit length grows on average."""
    return math.sqrt(abs(m[0] * m[3] - m[1] * m[2]))


_TRANSFORM_RE = re.compile(r"\s*(matrix|translate|scale|rotate|skewX|skewY)\s*\(([^)]*)\)\s*,?")
_ARGC = {"matrix": (6,), "translate": (1, 2), "scale": (1, 2), "rotate": (1, 3),
         "skewX": (1,), "skewY": (1,)}


def parse_transform(value: str, where: str = "", max_abs: float = 1e7) -> Affine:
    """Parse an SVG transform list into one affine (left to right = outer to inner)."""
    m = IDENTITY
    pos = 0
    value = value.strip()
    while pos < len(value):
        mt = _TRANSFORM_RE.match(value, pos)
        if not mt:
            raise SvgValueError(f"cannot parse transform {value!r} near {value[pos:pos + 20]!r}",
                                where=where)
        pos = mt.end()
        name = mt.group(1)
        args = [parse_number(t, where, max_abs) for t in re.findall(NUMBER_RE, mt.group(2))]
        if len(args) not in _ARGC[name]:
            raise SvgValueError(f"{name}() takes {_ARGC[name]} numbers, got {mt.group(0)!r}",
                                where=where)
        if name == "matrix":
            t = tuple(args)
        elif name == "translate":
            t = translate(args[0], args[1] if len(args) == 2 else 0.0)
        elif name == "scale":
            t = scale(args[0], args[1] if len(args) == 2 else args[0])
        elif name == "rotate":
            r = math.radians(args[0])
            cs, sn = math.cos(r), math.sin(r)
            t = (cs, sn, -sn, cs, 0.0, 0.0)
            if len(args) == 3:
                c = translate(args[1], args[2])
                t = multiply(c, multiply(t, translate(-args[1], -args[2])))
        elif name == "skewX":
            t = (1.0, 0.0, math.tan(math.radians(args[0])), 1.0, 0.0, 0.0)
        else:
            t = (1.0, math.tan(math.radians(args[0])), 0.0, 1.0, 0.0, 0.0)
        m = multiply(m, t)  # type: ignore[arg-type]
    return m
