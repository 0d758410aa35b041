"""Encode a quantised `Drawing` into token ids and decode ids back (see `layout.py` for the
sequence format).

Both directions run on hot paths — decode for every RL completion, encode for every dataset
file — so they walk plain Python lists with per-layout lookup tables built once: id → kind,
id → payload (point, colour, angle), and ready-made ``("M", x, y)`` / ``("L", x, y)`` tuples so
that decoding a move or line allocates nothing.

Round trip: ``decode(encode(d)) == d`` for every quantised `d` (integer coordinates in
[0, G-1] on a (G-1)×(G-1) canvas, 12-bit colours, arc rotations on the layout's bins, every
path starting with M). Decoding a prefix or a broken sequence keeps what can be drawn and
reports the rest in a `DecodeReport`; ``strict=True`` raises `TokenError` instead.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from svgrl.errors import TokenError
from svgrl.svg.drawing import BLACK, GRADIENT_POINTS, Drawing, Effect, Gradient, Path
from svgrl.svg.quantize import SHIFT_STEPS, SIGMA_LEVELS, quantize_color, sigma_value
from svgrl.tokens.layout import (
    EFFECTS,
    MAX_STOPS,
    N_ALPHAS,
    N_COLOURS,
    N_OFFSETS,
    PAINTS,
    RULES,
    SPECIALS,
    TokenLayout,
)

# Token kinds (small ints so the decoder compares ints, not strings).
(K_FOREIGN, K_PAD, K_BOS, K_EOS, K_TASK, K_M, K_L, K_C, K_A, K_Z, K_FILL, K_RULE, K_ROT,
 K_LARGE, K_SWEEP, K_POINT, K_PAINT, K_OFFSET, K_ALPHA, K_EFFECT, K_SIGMA, K_SHIFT) = range(22)
N_KINDS = 22
MAX_DECODE_TOKENS = 1 << 22  # ~4M ids: far beyond any SVG budget, bounds time and memory
MAX_ISSUES = 32  # messages kept in a report (all are counted)


class _Tables:
    """Lookup lists indexed by absolute id; index `vocab_size` is a sentinel foreign token
    that out-of-range ids are mapped to."""

    __slots__ = ("kind", "val", "move", "line", "nib", "layout")

    def __init__(self, layout: TokenLayout):
        v = layout.vocab_size
        kind = [K_FOREIGN] * (v + 1)
        val: list = [None] * (v + 1)
        move: list = [None] * (v + 1)
        line: list = [None] * (v + 1)
        special_kinds = {"pad": K_PAD, "bos": K_BOS, "eos": K_EOS}
        for j, name in enumerate(SPECIALS):
            kind[layout.special_start + j] = special_kinds.get(name, K_TASK)
        for op, k in zip("MLCAZ", (K_M, K_L, K_C, K_A, K_Z), strict=True):
            kind[layout.command(op)] = k
        for c in range(N_COLOURS):
            kind[layout.fill_start + c] = K_FILL
            val[layout.fill_start + c] = ((c >> 8) * 17, (c >> 4 & 15) * 17, (c & 15) * 17)
        kind[layout.fill_none] = K_FILL  # payload None = no fill
        kind[layout.fill_current] = K_FILL
        val[layout.fill_current] = BLACK  # currentColor defaults to black
        for j, r in enumerate(RULES):
            kind[layout.rule_start + j] = K_RULE
            val[layout.rule_start + j] = r
        for j in range(layout.n_rotation):
            kind[layout.rotation_start + j] = K_ROT
            val[layout.rotation_start + j] = layout.rotation_value(j)
        for j in range(2):
            kind[layout.flag_start + j] = K_LARGE
            val[layout.flag_start + j] = j
            kind[layout.flag_start + 2 + j] = K_SWEEP
            val[layout.flag_start + 2 + j] = j
        g, p0 = layout.grid, layout.point_start
        for i in range(g * g):
            x, y = i % g, i // g
            kind[p0 + i] = K_POINT
            val[p0 + i] = (x, y)
            move[p0 + i] = ("M", x, y)
            line[p0 + i] = ("L", x, y)
        if layout.gradients:
            for j, name in enumerate(PAINTS):
                kind[layout.paint_start + j] = K_PAINT
                val[layout.paint_start + j] = name
            for j in range(N_OFFSETS):
                kind[layout.offset_start + j] = K_OFFSET
                val[layout.offset_start + j] = j / (N_OFFSETS - 1)
            for j in range(N_ALPHAS):
                kind[layout.alpha_start + j] = K_ALPHA
                val[layout.alpha_start + j] = j / N_ALPHAS
            for j, name in enumerate(EFFECTS):
                kind[layout.effect_start + j] = K_EFFECT
                val[layout.effect_start + j] = name
            for j in range(SIGMA_LEVELS):
                kind[layout.sigma_start + j] = K_SIGMA
                val[layout.sigma_start + j] = sigma_value(j)
            for j in range(2 * SHIFT_STEPS + 1):
                kind[layout.shift_start + j] = K_SHIFT
                val[layout.shift_start + j] = (j - SHIFT_STEPS) / 4
        self.kind, self.val, self.move, self.line, self.layout = kind, val, move, line, layout
        # Channel value (0-255) -> nearest 4-bit level, for encoding fills.
        self.nib = [min(15, round(c / 17)) for c in range(256)]


@lru_cache(maxsize=8)
def tables(layout: TokenLayout) -> _Tables:
    return _Tables(layout)


# --- encode ---------------------------------------------------------------------------------

def encode(drawing: Drawing, layout: TokenLayout) -> list[int]:
    """Token ids of a quantised drawing: ``BOS (FILL [RULE] M p ...)* EOS``.

    Coordinates are rounded and clipped to the grid (a no-op on quantised drawings); colours are
    rounded to 12 bits; arc rotations to the layout's bins. Raises `TokenError` if the canvas is
    not (G-1)×(G-1) (quantise first) or a path is malformed.
    """
    g, g1 = layout.grid, layout.grid - 1
    if drawing.width != g1 or drawing.height != g1:
        raise TokenError(
            f"canvas is {drawing.width!r}x{drawing.height!r}, the layout's grid needs "
            f"{g1}x{g1}: quantise first (svgrl.svg.normalise.quantize(d, grid={g}))",
            reason="input")
    nib = tables(layout).nib
    p0 = layout.point_start
    f0, fnone = layout.fill_start, layout.fill_none
    cm, cl, cc, ca, cz = (layout.command(op) for op in "MLCAZ")
    evenodd = layout.rule("evenodd")
    r0, nrot = layout.rotation_start, layout.n_rotation
    flag0 = layout.flag_start

    def pt(x: float, y: float) -> int:
        x = round(x)
        y = round(y)
        x = 0 if x < 0 else (g1 if x > g1 else x)
        y = 0 if y < 0 else (g1 if y > g1 else y)
        return p0 + y * g + x

    out = [layout.bos]
    append, extend = out.append, out.extend
    for pi, path in enumerate(drawing.paths):
        try:
            fill = path.fill
            if path.paint is not None and layout.gradients:
                _encode_gradient(path.paint, layout, pt, nib, out)
            elif fill is None:
                append(fnone)
            else:
                r, gr, b = fill
                if not (0 <= r <= 255 and 0 <= gr <= 255 and 0 <= b <= 255):
                    raise ValueError(f"fill {fill!r} is not 0-255")
                r, gr, b = int(r), int(gr), int(b)
                append(f0 + (nib[r] << 8 | nib[gr] << 4 | nib[b]))
            if path.effect is not None and layout.gradients:
                _encode_effect(path.effect, layout, out)
            if path.fill_rule == "evenodd":
                append(evenodd)
            elif path.fill_rule != "nonzero":
                raise TokenError(f"path {pi}: fill_rule {path.fill_rule!r} is not one of {RULES}",
                                 reason="input")
            cmds = path.commands
            if not cmds or cmds[0][0] != "M":
                raise TokenError(f"path {pi} must start with M, got {cmds[:1]!r}", reason="input")
            for c in cmds:
                op = c[0]
                if op == "L":
                    extend((cl, pt(c[1], c[2])))
                elif op == "C":
                    extend((cc, pt(c[1], c[2]), pt(c[3], c[4]), pt(c[5], c[6])))
                elif op == "M":
                    extend((cm, pt(c[1], c[2])))
                elif op == "Z":
                    append(cz)
                elif op == "A":
                    k = round((c[3] % 180.0) * nrot / 180.0) % nrot
                    extend((ca, pt(c[1], c[2]), r0 + k, flag0 + (1 if c[4] else 0),
                            flag0 + 2 + (1 if c[5] else 0), pt(c[6], c[7])))
                else:
                    raise TokenError(f"path {pi}: unknown command {c!r}", reason="input")
        except TokenError:
            raise
        except (IndexError, TypeError, ValueError, OverflowError) as e:
            raise TokenError(f"path {pi} is malformed ({e}): fill={path.fill!r}, "
                             f"commands={path.commands[:4]!r}...", reason="input") from None
    append(layout.eos)
    return out


def _encode_gradient(g: Gradient, layout: TokenLayout, pt, nib: list, out: list) -> None:
    """``LINEAR p1 p2 (OFFSET COLOUR [ALPHA])+`` or ``RADIAL c a b f (OFFSET COLOUR
    [ALPHA])+``."""
    if g.kind not in PAINTS or not 2 <= len(g.stops) <= MAX_STOPS:
        raise TokenError(f"gradient {g.kind!r} with {len(g.stops)} stops cannot be encoded "
                         f"(2..{MAX_STOPS} stops)", reason="input")
    out.append(layout.paint(g.kind))
    p = g.points
    out.extend(pt(p[i], p[i + 1]) for i in range(0, len(p), 2))
    f0 = layout.fill_start
    for t, (r, gr, b), a in g.stops:
        out.append(layout.offset(t))
        out.append(f0 + (nib[int(r)] << 8 | nib[int(gr)] << 4 | nib[int(b)]))
        if a < 1 - 0.5 / N_ALPHAS:
            out.append(layout.alpha(a))


def _encode_effect(e: Effect, layout: TokenLayout, out: list) -> None:
    """``BLUR SIGMA`` for a plain blur, else ``SHADOW|INNER SIGMA DX DY [ALPHA]``."""
    opaque = e.alpha >= 1 - 0.5 / N_ALPHAS
    if e.kind == "blur" and opaque and layout.shift(e.dx) == layout.shift(e.dy) == \
            layout.shift(0.0):
        out.extend((layout.effect("blur"), layout.sigma(e.sigma)))
        return
    name = "shadow" if e.kind == "blur" else "inner"
    out.extend((layout.effect(name), layout.sigma(e.sigma), layout.shift(e.dx),
                layout.shift(e.dy)))
    if not opaque:
        out.append(layout.alpha(e.alpha))


def gradient_fill(g: Gradient) -> tuple[int, int, int]:
    """The flat fill a decoded gradient path carries: its mean colour on 12 bits (what
    `svgrl.svg.quantize` stores next to a quantised gradient)."""
    return quantize_color(g.mean())


# --- decode ---------------------------------------------------------------------------------

@dataclass
class DecodeReport:
    """What a decode kept and dropped. `issues` holds the first `MAX_ISSUES` messages, each
    prefixed with the token position; `n_issues` counts all of them."""

    n_tokens: int = 0
    n_dropped: int = 0  # ids not used in the drawing (stray, incomplete, after EOS, foreign)
    n_paths: int = 0
    n_degenerate: int = 0  # kept paths without any L/C/A segment (they draw nothing)
    complete: bool = False  # an EOS closed the drawing
    truncated: bool = False  # the ids ended inside a command or path
    n_issues: int = 0
    issues: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True exactly when a strict decode accepts the sequence."""
        return self.n_issues == 0


def decode(ids: Sequence[int], layout: TokenLayout, *, strict: bool = False) -> Drawing:
    """The drawing an id sequence describes. Non-strict: keeps every complete command and path,
    drops the rest (see `decode_report`). Strict: raises `TokenError` at the first problem."""
    return _decode(ids, layout, strict)[0]


def decode_report(ids: Sequence[int], layout: TokenLayout) -> tuple[Drawing, DecodeReport]:
    """Non-strict decode plus the report of what was dropped and why."""
    return _decode(ids, layout, False)


def drawing_through_tokens(drawing: Drawing, layout: TokenLayout) -> Drawing:
    """``decode(encode(drawing))``: the drawing as a model trained on these tokens sees it."""
    return _decode(encode(drawing, layout), layout, False)[0]


def _as_id_list(ids: Sequence[int], vocab: int) -> list[int]:
    if hasattr(ids, "tolist"):  # numpy array, torch tensor
        ids = ids.tolist()
    if not isinstance(ids, list):
        try:
            ids = list(ids)
        except TypeError:
            raise TokenError(f"ids must be a sequence of ints, got {type(ids).__name__}",
                             reason="input") from None
    if len(ids) > MAX_DECODE_TOKENS:
        raise TokenError(f"{len(ids)} ids exceed the decode limit of {MAX_DECODE_TOKENS}",
                         reason="input")
    if not ids:
        return ids
    try:
        lo, hi = min(ids), max(ids)
    except TypeError:
        lo = hi = None
    if type(lo) is not int or type(hi) is not int:
        # numpy/torch scalars become ints; a float hiding mid-list fails the table lookup.
        try:
            ids = [operator.index(t) for t in ids]
        except TypeError:
            bad = next(t for t in ids if not hasattr(t, "__index__"))
            raise TokenError(f"ids must be ints, got {bad!r}", reason="input") from None
        lo, hi = min(ids), max(ids)
    if lo < 0 or hi >= vocab:
        # The sentinel index `vocab` is a foreign token in every table.
        ids = [t if 0 <= t < vocab else vocab for t in ids]
    return ids


def _decode(ids: Sequence[int], layout: TokenLayout, strict: bool) -> tuple[Drawing, DecodeReport]:
    try:
        lst = _as_id_list(ids, layout.vocab_size)
        try:
            out = _decode_list(lst, layout, strict)
        except TokenError:
            _check_other_layout(lst, layout)
            raise
    except TypeError:  # a non-int id met a table lookup
        bad = next(t for t in ids if not hasattr(t, "__index__"))
        raise TokenError(f"ids must be ints, got {bad!r}", reason="input") from None
    if not out[0].paths and lst:
        _check_other_layout(lst, layout)
    return out


def _check_other_layout(ids: list[int], layout: TokenLayout) -> None:
    """Nothing decoded: when the ids are a drawing in the *other* kind of layout — a dataset's
    (SVG ids from 0) read with a model's (SVG ids after its text vocabulary), or the
    reverse — raise saying so, instead of returning an empty drawing."""
    base = layout.base_vocab_size
    if not ids:
        return
    if not base:
        # A model's ids start with its <svg>: that fixes the shift to try.
        shift = ids[0] - layout.bos
        if shift <= 0:
            return
        model = TokenLayout(grid=layout.grid, n_rotation=layout.n_rotation,
                            base_vocab_size=shift)
        if _draws(ids, model):
            raise TokenError(
                "these ids draw nothing in this layout (SVG ids from 0, a dataset's) but are "
                f"a drawing in a layout with SVG ids from {shift} — a model's: decode model "
                "output with the model's layout (model.layout)", reason="layout")
        return
    if min(ids) >= base:
        return
    data = TokenLayout(grid=layout.grid, n_rotation=layout.n_rotation)
    if _draws(ids, data):
        raise TokenError(
            f"these ids draw nothing in this layout (SVG ids from {base}) but are a drawing "
            "in a dataset's layout (SVG ids from 0): decode a dataset's `tokens` with the "
            "dataset's layout, or move them into the model's with "
            "svgrl.model.prompts.shift_tokens", reason="layout")


def _draws(ids: list[int], layout: TokenLayout) -> bool:
    """True when `ids` decode strictly in `layout` to a drawing with at least one path."""
    try:
        return bool(_decode_list(_as_id_list(ids, layout.vocab_size), layout, True)[0].paths)
    except (TokenError, ValueError):
        return False


def _read_gradient(ids: list[int], i: int, kind: list, val: list
                   ) -> tuple[Gradient | None, int, str]:
    """(gradient, tokens used, problem) for the gradient paint starting at `ids[i]`.
    Offsets that go back are clamped to the previous one, as SVG does."""
    n = len(ids)
    name = val[ids[i]]
    n_pts = GRADIENT_POINTS[name]
    j = i + 1
    pts: list[float] = []
    while j < n and len(pts) < 2 * n_pts and kind[ids[j]] == K_POINT:
        pts.extend(val[ids[j]])
        j += 1
    if len(pts) < 2 * n_pts:
        return None, j - i, f"{name} gradient needs {n_pts} points"
    stops: list = []
    last = 0.0
    while (len(stops) < MAX_STOPS and j + 1 < n and kind[ids[j]] == K_OFFSET
           and kind[ids[j + 1]] == K_FILL and val[ids[j + 1]] is not None):
        last = max(last, val[ids[j]])
        colour, alpha = val[ids[j + 1]], 1.0
        j += 2
        if j < n and kind[ids[j]] == K_ALPHA:
            alpha = val[ids[j]]
            j += 1
        stops.append((last, colour, alpha))
    if len(stops) < 2:
        return None, j - i, f"{name} gradient needs 2 to {MAX_STOPS} stops (offset, colour)"
    return Gradient(name, tuple(pts), tuple(stops)), j - i, ""


def _read_effect(ids: list[int], i: int, kind: list, val: list) -> tuple[Effect | None, int, str]:
    """(effect, tokens used, problem) for the effect starting at `ids[i]`."""
    n, name = len(ids), val[ids[i]]
    if i + 1 >= n or kind[ids[i + 1]] != K_SIGMA:
        return None, 1, f"{name} needs a blur level"
    sigma = val[ids[i + 1]]
    if name == "blur":
        return Effect("blur", sigma), 2, ""
    if i + 3 >= n or kind[ids[i + 2]] != K_SHIFT or kind[ids[i + 3]] != K_SHIFT:
        j = 2 + (i + 2 < n and kind[ids[i + 2]] == K_SHIFT)
        return None, j, f"{name} needs a blur level and two offsets"
    alpha, used = 1.0, 4
    if i + 4 < n and kind[ids[i + 4]] == K_ALPHA:
        alpha, used = val[ids[i + 4]], 5
    return Effect("blur" if name == "shadow" else "inner", sigma, val[ids[i + 2]],
                  val[ids[i + 3]], alpha), used, ""


def _decode_list(ids: list[int], layout: TokenLayout, strict: bool) -> tuple[Drawing, DecodeReport]:
    t_ = tables(layout)
    kind, val, move, line = t_.kind, t_.val, t_.move, t_.line
    n = len(ids)
    rep = DecodeReport(n_tokens=n)

    def problem(pos: int, msg: str, dropped: int, reason: str = "syntax") -> None:
        if strict:
            raise TokenError(msg, reason=reason, position=pos)
        rep.n_issues += 1
        rep.n_dropped += dropped
        rep.truncated = rep.truncated or reason == "truncated"
        if len(rep.issues) < MAX_ISSUES:
            rep.issues.append(f"{pos}: {msg}")

    def name(pos: int, ids: list[int] = ids) -> str:  # default arg: keeps `ids` a fast local
        return layout.describe(ids[pos]) if pos < len(ids) else "the end"

    paths: list[Path] = []
    cmds: list | None = None  # current path's commands; [] until its first M
    fill = BLACK
    paint: Gradient | None = None
    effect: Effect | None = None
    rule = "nonzero"
    seg = False  # current path has an L/C/A segment
    start = 0  # position of the current path's fill token
    seen_bos = False

    def finish(cmds: list | None, fill: tuple | None, rule: str, seg: bool, start: int,
               paint: Gradient | None = None, effect: Effect | None = None) -> None:
        if cmds is None:
            return
        if not cmds:
            problem(start, "path has a fill but no M: dropped", 0, "degenerate")
            return
        if not seg:
            problem(start, "path has no L/C/A segment (draws nothing): kept", 0, "degenerate")
            rep.n_degenerate += 1
        paths.append(Path(tuple(cmds), fill, rule, paint, effect))

    if strict and (not n or kind[ids[0]] != K_BOS):
        raise TokenError(f"a drawing starts with <svg>, got {name(0)}", position=0)
    i = 0
    while i < n:
        t = ids[i]
        k = kind[t]
        if k in (K_L, K_M):
            if i + 1 < n and kind[ids[i + 1]] == K_POINT:
                if k == K_L:
                    if cmds:
                        cmds.append(line[ids[i + 1]])
                        seg = True
                    else:
                        problem(i, "L before the path's M: dropped", 2)
                elif cmds is not None:
                    cmds.append(move[ids[i + 1]])
                else:
                    problem(i, "M outside a path (no fill before it): dropped", 2)
                i += 2
            else:
                reason = "truncated" if i + 1 >= n else "syntax"
                problem(i, f"{'LM'[k == K_M]} needs a point, got {name(i + 1)}: dropped", 1, reason)
                i += 1
        elif k == K_C:
            if (i + 3 < n and kind[ids[i + 1]] == K_POINT and kind[ids[i + 2]] == K_POINT
                    and kind[ids[i + 3]] == K_POINT):
                if cmds:
                    a, b, c = val[ids[i + 1]], val[ids[i + 2]], val[ids[i + 3]]
                    cmds.append(("C", a[0], a[1], b[0], b[1], c[0], c[1]))
                    seg = True
                else:
                    problem(i, "C before the path's M: dropped", 4)
                i += 4
            else:
                j = 1
                while j < 3 and i + j < n and kind[ids[i + j]] == K_POINT:
                    j += 1
                reason = "truncated" if i + j >= n else "syntax"
                problem(i, f"C needs 3 points, got {name(i + j)}: dropped", j, reason)
                i += j
        elif k == K_FILL:
            finish(cmds, fill, rule, seg, start, paint, effect)
            cmds, fill, rule, seg, start, paint, effect = ([], val[t], "nonzero", False, i,
                                                           None, None)
            i += 1
            if i < n and kind[ids[i]] == K_EFFECT:
                effect, used, msg = _read_effect(ids, i, kind, val)
                if effect is None:
                    problem(i, f"{msg}: dropped", used, "truncated" if i + used >= n else "syntax")
                i += used
            if i < n and kind[ids[i]] == K_RULE:
                rule = val[ids[i]]
                i += 1
        elif k == K_PAINT:
            finish(cmds, fill, rule, seg, start, paint, effect)
            cmds, rule, seg, start, effect = None, "nonzero", False, i, None
            g, used, msg = _read_gradient(ids, i, kind, val)
            if g is None:
                problem(i, f"{msg}: dropped", used, "truncated" if i + used >= n else "syntax")
                paint = None
            else:
                cmds, paint, fill = [], g, gradient_fill(g)
            i += used
            if g is not None and i < n and kind[ids[i]] == K_EFFECT:
                effect, used, msg = _read_effect(ids, i, kind, val)
                if effect is None:
                    problem(i, f"{msg}: dropped", used, "truncated" if i + used >= n else "syntax")
                i += used
            if g is not None and i < n and kind[ids[i]] == K_RULE:
                rule = val[ids[i]]
                i += 1
        elif k == K_Z:
            if cmds:
                cmds.append(("Z",))
            else:
                problem(i, "Z before the path's M: dropped", 1)
            i += 1
        elif k == K_A:
            want = (K_POINT, K_ROT, K_LARGE, K_SWEEP, K_POINT)
            j = 0
            while j < 5 and i + 1 + j < n and kind[ids[i + 1 + j]] == want[j]:
                j += 1
            if j == 5:
                if cmds:
                    r, e = val[ids[i + 1]], val[ids[i + 5]]
                    cmds.append(("A", r[0], r[1], val[ids[i + 2]], val[ids[i + 3]],
                                 val[ids[i + 4]], e[0], e[1]))
                    seg = True
                else:
                    problem(i, "A before the path's M: dropped", 6)
                i += 6
            else:
                reason = "truncated" if i + 1 + j >= n else "syntax"
                problem(i, f"A needs radii, rotation, 2 flags and a point; operand {j + 1} is "
                        f"{name(i + 1 + j)}: dropped", 1 + j, reason)
                i += 1 + j
        elif k == K_EOS:
            finish(cmds, fill, rule, seg, start, paint, effect)
            cmds = None
            rep.complete = True
            i += 1
            break
        elif k == K_BOS and not seen_bos and cmds is None and not paths:
            seen_bos = True
            i += 1
        else:
            problem(i, f"unexpected {name(i)}: dropped", 1)
            i += 1
    else:
        finish(cmds, fill, rule, seg, start, paint, effect)
        problem(n, "no </svg> at the end", 0, "truncated")
    # After EOS only padding may follow.
    while i < n:
        if kind[ids[i]] != K_PAD:
            problem(i, f"{name(i)} after </svg>: dropped", 1)
        i += 1
    if n and not seen_bos:
        problem(0, "no <svg> at the start", 0)
    if not paths:
        problem(n, "the drawing has no path", 0, "degenerate")
    rep.n_paths = len(paths)
    g1 = layout.grid - 1
    return Drawing(g1, g1, tuple(paths)), rep
