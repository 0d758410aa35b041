"""A reference reading of the grammar's subpath rule on decoded drawings (independent of
the state machine): every subpath must bear area — two L segments, or one C or A — before
it ends at Z, M or the end of its path."""

from __future__ import annotations

from svgrl.svg.drawing import Drawing


def degenerate_subpaths(d: Drawing) -> list[str]:
    """What is wrong with each degenerate subpath of `d` ('M Z', 'M M', 'M end', 'Z Z',
    'single line'); empty when every subpath bears area."""
    bad: list[str] = []
    for p in d.paths:
        lines, area, open_, start = 0, False, False, "M"
        for op in [c[0] for c in p.commands] + ["end"]:
            if op in ("M", "Z", "end"):
                if open_ and not area:
                    bad.append("single line" if lines else f"{start} {op}")
                elif op == "Z" and not open_ and start == "Z":
                    bad.append("Z Z")  # a Z with nothing since the previous one
                lines, area, start, open_ = 0, False, op, op == "M"
            else:  # a segment; after Z it starts a new subpath at the old start point
                open_ = True
                lines += op == "L"
                area = area or op in "CA" or lines >= 2
    return bad
