"""`Drawing` → compact SVG text (the only place svgrl writes XML)."""

from __future__ import annotations

from svgrl.svg.drawing import Drawing


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


def to_svg(drawing: Drawing) -> str:
    """Compact, valid SVG 1.1 text; black fill and nonzero rule are left implicit."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_num(drawing.width)} '
             f'{_num(drawing.height)}">']
    for p in drawing.paths:
        attrs = f'<path d="{path_data(p.commands)}"'
        if p.fill != (0, 0, 0):
            attrs += f' fill="{_color(p.fill)}"'
        if p.fill_rule == "evenodd":
            attrs += ' fill-rule="evenodd"'
        parts.append(attrs + "/>")
    parts.append("</svg>")
    return "".join(parts)
