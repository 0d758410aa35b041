"""CSS colour values → (r, g, b, alpha).

The named colours are CSS Color Module Level 4's 148 keywords (W3C, public standard data).
"""

from __future__ import annotations

import colorsys
import functools
import math
import re

from svgrl.errors import SvgValueError

_NAMED_HEX = """
aliceblue f0f8ff antiquewhite faebd7 aqua 00ffff aquamarine 7fffd4 azure f0ffff beige f5f5dc
bisque ffe4c4 black 000000 blanchedalmond ffebcd blue 0000ff blueviolet 8a2be2 brown a52a2a
burlywood deb887 cadetblue 5f9ea0 chartreuse 7fff00 chocolate d2691e coral ff7f50
cornflowerblue 6495ed cornsilk fff8dc crimson dc143c cyan 00ffff darkblue 00008b darkcyan 008b8b
darkgoldenrod b8860b darkgray a9a9a9 darkgreen 006400 darkgrey a9a9a9 darkkhaki bdb76b
darkmagenta 8b008b darkolivegreen 556b2f darkorange ff8c00 darkorchid 9932cc darkred 8b0000
darksalmon e9967a darkseagreen 8fbc8f darkslateblue 483d8b darkslategray 2f4f4f
darkslategrey 2f4f4f darkturquoise 00ced1 darkviolet 9400d3 deeppink ff1493 deepskyblue 00bfff
dimgray 696969 dimgrey 696969 dodgerblue 1e90ff firebrick b22222 floralwhite fffaf0
forestgreen 228b22 fuchsia ff00ff gainsboro dcdcdc ghostwhite f8f8ff gold ffd700
goldenrod daa520 gray 808080 green 008000 greenyellow adff2f grey 808080 honeydew f0fff0
hotpink ff69b4 indianred cd5c5c indigo 4b0082 ivory fffff0 khaki f0e68c lavender e6e6fa
lavenderblush fff0f5 lawngreen 7cfc00 lemonchiffon fffacd lightblue add8e6 lightcoral f08080
lightcyan e0ffff lightgoldenrodyellow fafad2 lightgray d3d3d3 lightgreen 90ee90 lightgrey d3d3d3
lightpink ffb6c1 lightsalmon ffa07a lightseagreen 20b2aa lightskyblue 87cefa
lightslategray 778899 lightslategrey 778899 lightsteelblue b0c4de lightyellow ffffe0
lime 00ff00 limegreen 32cd32 linen faf0e6 magenta ff00ff maroon 800000 mediumaquamarine 66cdaa
mediumblue 0000cd mediumorchid ba55d3 mediumpurple 9370db mediumseagreen 3cb371
mediumslateblue 7b68ee mediumspringgreen 00fa9a mediumturquoise 48d1cc mediumvioletred c71585
midnightblue 191970 mintcream f5fffa mistyrose ffe4e1 moccasin ffe4b5 navajowhite ffdead
navy 000080 oldlace fdf5e6 olive 808000 olivedrab 6b8e23 orange ffa500 orangered ff4500
orchid da70d6 palegoldenrod eee8aa palegreen 98fb98 paleturquoise afeeee palevioletred db7093
papayawhip ffefd5 peachpuff ffdab9 peru cd853f pink ffc0cb plum dda0dd powderblue b0e0e6
purple 800080 rebeccapurple 663399 red ff0000 rosybrown bc8f8f royalblue 4169e1
saddlebrown 8b4513 salmon fa8072 sandybrown f4a460 seagreen 2e8b57 seashell fff5ee
sienna a0522d silver c0c0c0 skyblue 87ceeb slateblue 6a5acd slategray 708090 slategrey 708090
snow fffafa springgreen 00ff7f steelblue 4682b4 tan d2b48c teal 008080 thistle d8bfd8
tomato ff6347 turquoise 40e0d0 violet ee82ee wheat f5deb3 white ffffff whitesmoke f5f5f5
yellow ffff00 yellowgreen 9acd32
""".split()
NAMED: dict[str, tuple[int, int, int]] = {
    _NAMED_HEX[i]: tuple(int(_NAMED_HEX[i + 1][j : j + 2], 16) for j in (0, 2, 4))  # type: ignore[misc]
    for i in range(0, len(_NAMED_HEX), 2)
}

RGBA = tuple[int, int, int, float]
_FUNC_RE = re.compile(r"^(rgba?|hsla?)\(\s*([^)]*)\)$")


def _channel(tok: str) -> int:
    v = float(tok[:-1]) * 2.55 if tok.endswith("%") else float(tok)
    return max(0, min(255, round(v))) if math.isfinite(v) else 0


def _percent(tok: str) -> float:
    """A saturation or lightness: a percentage (the % is optional, as browsers accept),
    clamped to 0..1."""
    v = float(tok.removesuffix("%")) / 100
    return max(0.0, min(1.0, v)) if math.isfinite(v) else 0.0


_HUE_UNITS = {"deg": 1.0, "grad": 0.9, "rad": 180 / math.pi, "turn": 360.0}


def _hue(tok: str) -> float:
    for unit, k in _HUE_UNITS.items():
        if tok.endswith(unit):
            return float(tok[:-len(unit)]) * k
    return float(tok)


def _alpha(tok: str) -> float:
    v = float(tok[:-1]) / 100 if tok.endswith("%") else float(tok)
    return max(0.0, min(1.0, v)) if math.isfinite(v) else 1.0


@functools.lru_cache(maxsize=4096)
def parse_color(value: str) -> RGBA:
    """Parse a CSS colour (no `currentColor`/`none`/`url()` — callers handle those).
    Raises `SvgValueError` for anything else, as CSS Color 4 defines it: out-of-range
    channels are clamped; rgb() may not mix numbers and percentages.

    >>> parse_color("#f00")
    (255, 0, 0, 1.0)
    """
    v = value.strip().lower()
    try:
        if v.startswith("#"):
            h = v[1:]
            if len(h) in (3, 4):
                h = "".join(c * 2 for c in h)
            if len(h) == 6:
                return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), 1.0
            if len(h) == 8:
                return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), int(h[6:8], 16) / 255
        elif v in NAMED:
            r, g, b = NAMED[v]
            return r, g, b, 1.0
        elif v == "transparent":
            return 0, 0, 0, 0.0
        elif m := _FUNC_RE.match(v):
            args = [a for a in re.split(r"[\s,/]+", m.group(2).strip()) if a]
            if m.group(1).startswith("rgb") and len(args) in (3, 4):
                if len({a.endswith("%") for a in args[:3]}) > 1:
                    raise ValueError("rgb() mixes numbers and percentages")
                a = _alpha(args[3]) if len(args) == 4 else 1.0
                return _channel(args[0]), _channel(args[1]), _channel(args[2]), a
            if m.group(1).startswith("hsl") and len(args) in (3, 4):
                hue = _hue(args[0])
                hue = hue % 360 / 360 if math.isfinite(hue) else 0.0
                r, g, b = colorsys.hls_to_rgb(hue, _percent(args[2]), _percent(args[1]))
                a = _alpha(args[3]) if len(args) == 4 else 1.0
                return round(r * 255), round(g * 255), round(b * 255), a
    except ValueError:
        pass
    raise SvgValueError(f"cannot parse colour {value!r}")
