"""SVG path data (`d=""`) → `skia.Path`, every command, absolute and relative.

Follows https://www.w3.org/TR/SVG2/paths.html: H/V become lines, S/T reflect the previous
control point, Q/T are kept as quads (exact as cubics later), arcs go through skia's SVG-style
`arcTo`, which produces conics.

Malformed data: with `on_error`, the path is drawn up to the error, as SVG 2 asks
(https://www.w3.org/TR/SVG2/paths.html#PathDataErrorHandling) and browsers do — the commands
before the first bad one are kept — and `on_error` is told what was wrong; without it, the
error is raised.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import skia

from svgrl.errors import SvgLimitError, SvgValueError
from svgrl.svg.values import NUMBER_RE

_CMDS = "MmZzLlHhVvCcSsQqTtAa"
# Tokens are found in one linear C-level pass; validation then only counts characters (see
# `_parse`). (A single fullmatch over "(sep* (cmd|number))*" backtracks exponentially on a
# run of digits followed by junk: numbers can split a digit run in 2^n ways.)
# Arc flags may be packed without separators ("a1 1 0 011 1"), so flags are re-split below.
_TOKEN_RE = re.compile(rf"[{_CMDS}]|{NUMBER_RE}")
_NUMBER_RE = re.compile(NUMBER_RE)
_ARGS = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "A": 7, "Z": 0}
_SMALL, _LARGE = skia.Path.ArcSize.kSmall_ArcSize, skia.Path.ArcSize.kLarge_ArcSize
_CCW, _CW = skia.PathDirection.kCCW, skia.PathDirection.kCW


def parse_path_data(d: str, *, max_length: int = 1_000_000, max_abs: float = 1e7,
                    where: str = "path@d",
                    on_error: Callable[[str], None] | None = None) -> skia.Path:
    """Parse path data into a new `skia.Path` in local user coordinates. Malformed data
    raises `SvgValueError`, or, given `on_error`, yields the path up to the error."""
    if len(d) > max_length:
        raise SvgLimitError(f"path data of {len(d):,} characters exceeds the limit of "
                            f"{max_length:,}", reason="path-length", where=where)
    path = skia.Path()
    try:
        _parse(d, path, max_abs, where)
    except SvgValueError as e:
        if on_error is None:
            raise
        on_error(str(e))
    return path


def _parse(d: str, path: skia.Path, max_abs: float, where: str) -> None:
    """Append the commands of `d` to `path`; at an error, raise with the commands before
    it already appended."""
    error = None
    toks = _simple_tokens(d)
    if toks is not None:
        try:
            vals = [t if t in _CMDS_SET else float(t) for t in toks]
        except ValueError:  # packed numbers (".5.5"), or a stray sign: the regex decides
            toks, vals = _unpack_numbers(toks)
    if toks is None:
        toks, vals, d, error = _regex_tokens(d, where)
    # Without an exponent, a token of n characters is below 10**n in magnitude: the
    # min/max pass is needed only when that bound does not already rule a number out.
    n = max(map(len, toks)) if toks else 0
    if "e" in d or "E" in d or n > 300 or 10.0 ** n > max_abs:
        nums = [v for v in vals if v.__class__ is float]
        if nums and (max(nums) > max_abs or min(nums) < -max_abs):
            big = max(nums, key=abs)
            raise SvgLimitError(f"number {big!r} exceeds the magnitude limit {max_abs:g}",
                                reason="magnitude", where=where)
    try:
        _build(toks, vals, where, path)
    except TypeError:
        raise error or SvgValueError("a command is missing numbers", where=where) from None
    except SvgValueError:
        if error is None:
            raise
    if error is not None:  # the first illegal character is the error to report
        raise error


def _simple_tokens(d: str) -> list[str] | None:
    """The tokens of path data written with nothing but digits, '.', '-', whitespace,
    commas and command letters (icon sets' path data, nearly always), found by string
    methods at a third of the regex's cost; None for any other data. Spaces go around
    each letter and before each '-' (no exponent can hold one here), so each token is
    one piece of a whitespace split. A piece that is not one number (".5.5", a lone
    '-') fails `float` in the caller, which then falls back to the regex: the tokens
    returned are always the ones `_TOKEN_RE` finds."""
    if d.translate(_SIMPLE_CHARS):
        return None
    for c, spaced in _SPACED:
        if c in d:
            d = d.replace(c, spaced)
    if "," in d:
        d = d.replace(",", " ")
    return d.split()


def _unpack_numbers(toks: list[str]) -> tuple[list[str] | None, list | None]:
    """`_simple_tokens`' pieces with packed numbers ("1.5.5" is 1.5 and .5) split as the
    regex splits them — a piece's regex tokens are its share of the whole data's, since no
    token spans a letter, a separator or the start of a '-' — with their values; (None,
    None) if a piece is not wholly numbers (an error, which the regex path reports)."""
    out: list[str] = []
    vals: list = []
    for t in toks:
        if t in _CMDS_SET:
            out.append(t)
            vals.append(t)
            continue
        try:
            vals.append(float(t))
            out.append(t)
        except ValueError:
            parts = _NUMBER_RE.findall(t)
            if sum(map(len, parts)) != len(t):
                return None, None
            out.extend(parts)
            vals.extend(map(float, parts))
    return out, vals


def _regex_tokens(d: str, where: str) -> tuple[list[str], list, str, SvgValueError | None]:
    """(tokens, values, the legal prefix of `d`, the error past it or None)."""
    error = None
    toks = _TOKEN_RE.findall(d)
    # Legal data is tokens and separators only, and tokens never hold a separator: so it is
    # legal exactly when the tokens hold every character that is not a separator. Counting
    # is a few C-level passes, where deleting the legal tokens with a second regex pass
    # costs a tenth of a parse. Spaces and commas are counted first (the usual separators);
    # only if other characters are left is whitespace counted in full (\s and str.split()
    # share one definition of it).
    other = len(d) - sum(map(len, toks))
    if other != d.count(" ") + d.count(",") and \
            other != len(d) - len("".join(d.split())) + d.count(","):
        # The longest legal prefix: a greedy match that may stop anywhere never backtracks
        # (unlike a fullmatch, which would retry every split of a digit run).
        at = _PREFIX_RE.match(d).end()
        error = SvgValueError(f"invalid path data near {d[max(0, at - 10):at + 10]!r}",
                              where=where)
        d = d[:at]
        toks = _TOKEN_RE.findall(d)
    return toks, [t if t in _CMDS_SET else float(t) for t in toks], d, error


def _build(toks: list[str], vals: list, where: str, path: skia.Path) -> None:
    # Each command computes all its points before touching `path`, so an error (raised,
    # or a TypeError from a command letter among the numbers) leaves the commands before it.
    # A command's letter, case and arity are looked up when its letter is read, not again
    # for each implicit repetition; branches are ordered by how often icon data uses them.
    n = len(toks)
    i = 0
    cmd = up = ""
    rel = False
    k = 0
    x = y = sx = sy = 0.0  # current point, subpath start
    cx = cy = 0.0  # last control point, for S/T reflection
    prev = ""
    started = False
    moveto, lineto, cubicto = path.moveTo, path.lineTo, path.cubicTo
    while i < n:
        t = toks[i]
        if t in _CMDS_SET:
            cmd = t
            i += 1
            if cmd in "Zz":
                if started:
                    path.close()
                x, y = sx, sy
                prev = "Z"
                continue
            up = _UPPER[cmd]
            rel = cmd != up
            k = _ARGS[up]
        elif not cmd:
            raise SvgValueError(f"path data must start with a command, got {t!r}", where=where)
        elif cmd in "Zz":
            raise SvgValueError(f"number {t!r} after {cmd!r} (Z takes none)", where=where)
        if up != "A":
            if i + k > n:
                raise SvgValueError(f"command {cmd!r} needs {k} numbers, path data ends early",
                                    where=where)
            args = vals[i:i + k]
            i += k
        else:
            args, i = _arc_args(toks, vals, i, where)
        if not started and up != "M":
            raise SvgValueError(f"path data must start with M, got {cmd!r}", where=where)
        if rel:
            ox, oy = x, y
        else:
            ox = oy = 0.0
        if up == "C":
            x1, y1, cx, cy = args[0] + ox, args[1] + oy, args[2] + ox, args[3] + oy
            x, y = args[4] + ox, args[5] + oy
            cubicto(x1, y1, cx, cy, x, y)
        elif up == "L":
            x, y = args[0] + ox, args[1] + oy
            lineto(x, y)
        elif up == "H":
            x = args[0] + ox
            lineto(x, y)
        elif up == "V":
            y = args[0] + oy
            lineto(x, y)
        elif up == "M":
            x, y = args[0] + ox, args[1] + oy
            moveto(x, y)
            sx, sy = x, y
            started = True
            cmd, up, k = ("l" if rel else "L"), "L", 2  # further pairs are implicit line-tos
        elif up == "S":
            x1, y1 = (2 * x - cx, 2 * y - cy) if prev in "CS" and prev else (x, y)
            cx, cy = args[0] + ox, args[1] + oy
            x, y = args[2] + ox, args[3] + oy
            cubicto(x1, y1, cx, cy, x, y)
        elif up == "Q":
            cx, cy = args[0] + ox, args[1] + oy
            x, y = args[2] + ox, args[3] + oy
            path.quadTo(cx, cy, x, y)
        elif up == "T":
            cx, cy = (2 * x - cx, 2 * y - cy) if prev in "QT" and prev else (x, y)
            x, y = args[0] + ox, args[1] + oy
            path.quadTo(cx, cy, x, y)
        else:  # A
            ex, ey = args[5] + ox, args[6] + oy
            path.arcTo(abs(args[0]), abs(args[1]), args[2], _LARGE if args[3] else _SMALL,
                       _CW if args[4] else _CCW, ex, ey)
            x, y = ex, ey
        prev = up  # after M this is "L": reflection (S, T) treats both alike


_CMDS_SET = frozenset(_CMDS)
_FLAGS = frozenset(("0", "1"))
_UPPER = {c: c.upper() for c in _CMDS}
# What `_simple_tokens` handles: every other character is deleted by this table.
_SIMPLE_CHARS = str.maketrans("", "", "0123456789.- ,\t\n\r" + _CMDS)
_SPACED = (*((c, f" {c} ") for c in _CMDS), ("-", " -"))
_PREFIX_RE = re.compile(rf"(?:[\s,]+|[{_CMDS}]|{NUMBER_RE})*")


def _arc_args(toks: list[str], vals: list, i: int, where: str) -> tuple[list[float], int]:
    """Read rx ry rotation large sweep x y, splitting flags packed into one token."""
    if i + 7 <= len(toks) and toks[i + 3] in _FLAGS and toks[i + 4] in _FLAGS:
        # The usual case, seven separate numbers with plain flags: their values are read.
        args = vals[i:i + 7]
        if all(v.__class__ is float for v in args):
            return args, i + 7
    out: list[float] = []
    pending: list[str] = []
    while len(out) < 7:
        if pending:
            t = pending.pop(0)
        elif i < len(toks):
            t = toks[i]
            i += 1
        else:
            raise SvgValueError("arc needs 7 numbers, path data ends early", where=where)
        if t in _CMDS_SET:
            raise SvgValueError(f"arc needs 7 numbers, found command {t!r}", where=where)
        if len(out) in (3, 4):
            if t[0] not in "01":
                raise SvgValueError(f"arc flag must be 0 or 1, got {t!r}", where=where)
            out.append(float(t[0]))
            if len(t) > 1:
                pending.insert(0, t[1:])
        else:
            out.append(float(t))
    if pending:
        raise SvgValueError(f"unexpected arc data {pending!r}", where=where)
    return out, i
