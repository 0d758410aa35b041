"""The simplifier's fast paths must give exactly what the general code gives: string-method
tokenising of path data vs the regex, the fused scale + normal accumulation vs
`_accumulate_normals`, the op-cost estimate vs a brute-force count, number lists."""

from __future__ import annotations

import random

import numpy as np
import pytest
import skia

from svgrl.errors import SvgLimitError, SvgValueError
from svgrl.svg import pathdata
from svgrl.svg.budget import op_pairs
from svgrl.svg.drawing import Drawing, Path
from svgrl.svg.quantize import _accumulate_normals, _scale_accumulate, quantize
from svgrl.svg.values import parse_numbers

_ALPHABET = (list("0123456789") * 4 + list(".-.-") + list(pathdata._CMDS)
             + [" ", " ", ",", "\t", "\n", "-.5", "0.5.5", "5.", "007"])


def _random_path_data(rng: random.Random) -> str:
    return "M1 2" + "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 60)))


def test_simple_tokens_are_the_regex_tokens():
    rng = random.Random(0)
    checked = unpacked = 0
    for _ in range(3000):
        d = _random_path_data(rng)
        toks = pathdata._simple_tokens(d)
        assert toks is not None  # only simple characters were used
        regex = pathdata._TOKEN_RE.findall(d)
        try:
            [t if t in pathdata._CMDS_SET else float(t) for t in toks]
        except ValueError:  # packed numbers are split as the regex splits them
            toks, vals = pathdata._unpack_numbers(toks)
            if toks is None:
                continue  # not all numbers: the caller falls back to the regex
            assert toks == regex and vals == [
                t if t in pathdata._CMDS_SET else float(t) for t in regex], d
            unpacked += 1
        assert toks == regex, d
        # and such data is legal: the regex leaves nothing but separators
        assert not pathdata._PREFIX_RE.match(d).end() < len(d), d
        checked += 1
    assert checked > 1000 and unpacked > 100
    for d in ("M1e3 2", "M1+2", "M1 2\u00a0L3 4", "M\u0661 2", "M1 2 x"):
        assert pathdata._simple_tokens(d) is None


@pytest.mark.parametrize("d,err", [
    ("M0 0 L1 2 3", SvgValueError), ("M0 0 L1 x2", SvgValueError), ("L1 2", SvgValueError),
    ("M0 0L1.5.5 2-3", None), ("M0 0L" + "9" * 8 + " 1", SvgLimitError),
    ("M0 0L" + "1" * 400 + " 1", SvgLimitError), ("M0 0L9999999 1", None),
    ("M0 0a1 1 0 011 1", None), ("M0 0 1 1z m2 2 -1-1", None)])
def test_path_data_errors_and_packing(d, err):
    if err is None:
        assert not pathdata.parse_path_data(d).isEmpty()
    else:
        with pytest.raises(err):
            pathdata.parse_path_data(d)


def test_fused_scale_accumulate_equals_the_general_pass():
    rng = np.random.default_rng(1)
    for trial in range(40):
        cmds: list = []
        for _ in range(int(rng.integers(1, 6))):
            pts = rng.uniform(0, 200, (int(rng.integers(2, 12)), 6)).round(int(trial % 3))
            cmds.append(("M", *pts[0, :2]))
            for row in pts[1:]:
                kind = rng.integers(5)
                if kind == 4:  # arcs: their tangents at both ends
                    r = float(rng.uniform(5, 80))
                    cmds.append(("A", r, r * float(rng.uniform(0.5, 1)), float(row[2]),
                                 int(row[3] > 100), int(row[4] > 100), *row[:2]))
                elif kind == 0:
                    cmds.append(("L", *row[:2]))
                elif kind == 1:  # zero-length and degenerate-handle edges too
                    cmds.append(("L", *cmds[-1][-2:]))
                elif kind == 2:
                    cmds.append(("C", *cmds[-1][-2:], *row[2:]))
                else:
                    cmds.append(("C", *row))
            if rng.random() < 0.7:
                cmds.append(("Z",))
            if rng.random() < 0.2:  # drawing on after Z, from the subpath start
                cmds.append(("L", *rng.uniform(0, 200, 2)))
        assert any(c[0] == "A" for c in cmds) or trial % 7
        k = 199 / 200
        want_forms: dict = {}
        scaled = [(c[0], *[v * k for v in c[1:]]) if c[0] != "A" else
                  ("A", c[1] * k, c[2] * k, *c[3:6], c[6] * k, c[7] * k) for c in cmds]
        _accumulate_normals(scaled, want_forms)
        forms: dict = {}
        got, ends = _scale_accumulate(tuple(cmds), k, forms)
        assert got == scaled
        assert forms == want_forms  # bit for bit: same terms added in the same order
        for c, q in zip(got, ends, strict=True):
            if q is not None and c[0] != "Z":
                assert q is forms[(c[-2], c[-1])]


def test_quantize_shares_points_between_paths():
    a = Path((("M", 10.0, 10.0), ("L", 100.3, 10.0), ("L", 100.3, 100.7), ("Z",)))
    b = Path((("M", 100.3, 10.0), ("L", 180.0, 10.0), ("L", 100.3, 100.7), ("Z",)))
    q = quantize(Drawing(200.0, 200.0, (a, b)))
    pa, pb = q.paths[0].commands, q.paths[1].commands
    assert pa[1][1:] == pb[0][1:] and pa[2][1:] == pb[2][1:]


def _brute_pairs(pts: np.ndarray) -> int:
    win = np.stack([pts[:-3], pts[1:-2], pts[2:-1], pts[3:]], 1)
    lo, hi = win.min(1), win.max(1)
    m, n = len(lo), 0
    for i in range(m):
        for j in range(i + 1, m):
            n += bool(lo[i, 0] <= hi[j, 0] and lo[j, 0] <= hi[i, 0]
                      and lo[i, 1] <= hi[j, 1] and lo[j, 1] <= hi[i, 1])
    return m + n


def test_op_pairs_counts_overlapping_boxes_exactly():
    rng = np.random.default_rng(2)
    for n, scale in ((300, 100.0), (260, 1.0), (400, 1e4)):
        pts = rng.uniform(0, scale, (n, 2)).astype(np.float32).astype(np.float64)
        p = skia.Path()
        p.moveTo(*pts[0])
        for x, y in pts[1:]:
            p.lineTo(x, y)
        got = op_pairs(p, exact_up_to=10**9)
        assert got == _brute_pairs(pts)
    small = skia.Path()
    small.addRect(skia.Rect.MakeWH(5, 5))
    assert op_pairs(small) == small.countPoints()


def test_parse_numbers_fast_and_general_agree():
    assert parse_numbers("0 0 512 512") == [0.0, 0.0, 512.0, 512.0]
    assert parse_numbers(" 1,2\t3 ,4 ") == [1.0, 2.0, 3.0, 4.0]
    assert parse_numbers("1-2 .5.5") == [1.0, -2.0, 0.5, 0.5]  # packed: the general path
    assert parse_numbers("") == []
    with pytest.raises(SvgLimitError):
        parse_numbers("0 0 1e9 1")
    with pytest.raises(SvgLimitError):
        parse_numbers("inf 1")
    with pytest.raises(SvgValueError):
        parse_numbers(", ,")


def test_quantize_drops_subpaths_that_fill_nothing():
    lone = (("M", 10.0, 10.0), ("L", 90.0, 10.0))
    tri = (("M", 10.0, 50.0), ("L", 90.0, 50.0), ("L", 50.0, 90.0), ("Z",))
    arc = (("M", 10.0, 150.0), ("A", 40.0, 40.0, 0.0, 0, 1, 90.0, 150.0))
    q = quantize(Drawing(200.0, 200.0, (Path(lone + (("Z",),) + tri + lone + arc),)))
    ops = [c[0] for c in q.paths[0].commands]
    assert ops[:5] == ["M", "L", "L", "Z", "M"]  # both lone lines gone, area kept
    assert ops[5:] and set(ops[5:]) <= {"A", "C"}
    assert quantize(Drawing(200.0, 200.0, (Path(lone),))).paths == ()  # nothing left: no path
