"""`Drawing` → compact SVG text (the only place svgrl writes XML)."""

from __future__ import annotations

from svgrl.svg.drawing import HARD_ALPHA, MAX_SIGMA, Drawing, Effect, Gradient


def _num(v: float) -> str:
    if v == int(v):
        return str(int(v))
    s = f"{v:.3f}".rstrip("0").rstrip(".")
    return s.replace("0.", ".", 1) if s.startswith("0.") else s.replace("-0.", "-.", 1)


def _color(c) -> str:
    if c is None:
        return "none"
    r, g, b = c
    if r % 17 == 0 and g % 17 == 0 and b % 17 == 0:
        return f"#{r // 17:x}{g // 17:x}{b // 17:x}"
    return f"#{r:02x}{g:02x}{b:02x}"


def path_data(commands) -> str:
    """Absolute commands; a letter only when the command changes (or for M and Z)."""
    out = []
    last = ""
    for c in commands:
        op = c[0]
        if op == "A":
            args = " ".join([_num(c[1]), _num(c[2]), _num(c[3]), str(int(c[4])),
                             str(int(c[5])), _num(c[6]), _num(c[7])])
        else:
            args = " ".join(_num(v) for v in c[1:])
        if op != last or op in "MZ":
            out.append(op + args)
        else:
            out.append(" " + args)
        last = op
    return "".join(out)


def gradient_element(g: Gradient, gid: str) -> str:
    """A `<linearGradient>` / `<radialGradient>` in user space drawing `g` (pad spread). A
    radial gradient's semi-axes become its gradientTransform: the unit circle at the origin
    mapped onto them."""
    stops = "".join(f'<stop offset="{_num(t)}" stop-color="{_color(c)}"'
                    + (f' stop-opacity="{_num(a)}"/>' if a < 1 else "/>") for t, c, a in g.stops)
    if g.kind == "linear":
        x1, y1, x2, y2 = (_num(v) for v in g.points)
        return (f'<linearGradient id="{gid}" gradientUnits="userSpaceOnUse" x1="{x1}" '
                f'y1="{y1}" x2="{x2}" y2="{y2}">{stops}</linearGradient>')
    cx, cy, ax, ay, bx, by, fx, fy = g.points
    m11, m21, m12, m22 = ax - cx, ay - cy, bx - cx, by - cy
    det = m11 * m22 - m12 * m21
    if abs(det) < 1e-9:  # collapsed: the renderer draws the flat fill; so does the writer
        return ""
    ux = (m22 * (fx - cx) - m12 * (fy - cy)) / det
    uy = (-m21 * (fx - cx) + m11 * (fy - cy)) / det
    m = " ".join(_num(v) for v in (m11, m21, m12, m22, cx, cy))
    focus = f' fx="{_num(ux)}" fy="{_num(uy)}"' if ux or uy else ""
    return (f'<radialGradient id="{gid}" gradientUnits="userSpaceOnUse" cx="0" cy="0" r="1"'
            f'{focus} gradientTransform="matrix({m})">{stops}</radialGradient>')


def effect_element(e: Effect, fid: str, width: float, height: float) -> str:
    """A `<filter>` drawing `e` (the primitives of `svgrl.svg.render.effect_filter`), its
    region the whole canvas, in sRGB as skia blends."""
    sigma = min(e.sigma, MAX_SIGMA * max(width, height))
    prims = f'<feGaussianBlur stdDeviation="{_num(sigma)}"/>'
    if e.dx or e.dy:
        prims += f'<feOffset dx="{_num(e.dx)}" dy="{_num(e.dy)}"/>'
    if e.kind == "inner":
        hard = " ".join(str(v) for v in HARD_ALPHA)
        prims = (f'<feColorMatrix values="{hard}" result="h"/>' + prims[:-2] + ' result="m"/>'
                 '<feComposite in="h" in2="m" operator="arithmetic" k2="1" k3="-1"/>')
    if e.alpha < 1:
        prims += f'<feColorMatrix values="1 0 0 0 0 0 1 0 0 0 0 0 1 0 0 0 0 0 {_num(e.alpha)} 0"/>'
    return (f'<filter id="{fid}" filterUnits="userSpaceOnUse" x="0" y="0" '
            f'width="{_num(width)}" height="{_num(height)}" '
            f'color-interpolation-filters="sRGB">{prims}</filter>')


def to_svg(drawing: Drawing) -> str:
    """Compact, valid SVG 1.1 text; black fill and nonzero rule are left implicit; gradient
    paint and effects go into one `<defs>` (one element per distinct gradient or effect)."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_num(drawing.width)} '
             f'{_num(drawing.height)}">']
    ids: dict = {}
    defs = []
    for p in drawing.paths:
        if p.paint is not None and p.paint not in ids:
            el = gradient_element(p.paint, f"g{len(ids)}")
            ids[p.paint] = f"g{len(ids)}" if el else None
            defs.append(el)
    effects: dict = {}
    for p in drawing.paths:
        if p.effect is not None and p.effect not in effects:
            effects[p.effect] = f"e{len(effects)}"
            defs.append(effect_element(p.effect, effects[p.effect], drawing.width,
                                       drawing.height))
    if any(defs):
        parts.append("<defs>" + "".join(defs) + "</defs>")
    for p in drawing.paths:
        attrs = f'<path d="{path_data(p.commands)}"'
        if p.paint is not None and ids.get(p.paint):
            attrs += f' fill="url(#{ids[p.paint]})"'
        elif p.fill != (0, 0, 0):
            attrs += f' fill="{_color(p.fill)}"'
        if p.fill_rule == "evenodd":
            attrs += ' fill-rule="evenodd"'
        if p.effect is not None:
            attrs += f' filter="url(#{effects[p.effect]})"'
        parts.append(attrs + "/>")
    parts.append("</svg>")
    return "".join(parts)
