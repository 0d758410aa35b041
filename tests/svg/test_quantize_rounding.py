"""The quantiser's joint rounding of a cubic's control points: the closed rule picks the best
of the four floor/ceil pairs, and the inlined copy in the quantiser agrees with it."""

import itertools
import math
import random

from svgrl.svg.drawing import Drawing, Path
from svgrl.svg.normalise import quantize
from svgrl.svg.quantize import _round_pair


def _form(u1, u2, t1, t2):
    a, b = u1 - t1, u2 - t2
    return a * a + b * b + 1.5 * a * b


def test_round_pair_is_the_best_of_the_four_pairs():
    rng = random.Random(0)
    for _ in range(5000):
        t1, t2 = rng.uniform(0, 199), rng.uniform(0, 199)
        best = min(_form(u1, u2, t1, t2) for u1, u2 in itertools.product(
            (math.floor(t1), math.floor(t1) + 1), (math.floor(t2), math.floor(t2) + 1)))
        assert _form(*_round_pair(t1, t2), t1, t2) <= best + 1e-9
    # Both fractions near a half, same side: plain rounding moves both up (form 0.075),
    # the pair rounds one down so the errors cancel (form 0.0107).
    assert _round_pair(10.5 - 1e-9, 20.5 - 1e-9) in ((10, 21), (11, 20))


def test_quantiser_rounds_control_points_as_round_pair():
    rng = random.Random(1)
    for _ in range(100):
        pts = [rng.uniform(10, 180) for _ in range(6)]
        x0, y0 = rng.randint(10, 180), rng.randint(10, 180)
        x3, y3 = rng.randint(10, 180), rng.randint(10, 180)
        d = Drawing(199.0, 199.0, (Path((("M", x0, y0), ("C", *pts[:4], x3, y3), ("Z",)),
                                        (0, 0, 0)),))
        (path,) = quantize(d).paths
        c = next(c for c in path.commands if c[0] == "C")
        # End points are on the grid already, so the targets are the control points.
        assert (c[1], c[3]) == _round_pair(pts[0], pts[2])
        assert (c[2], c[4]) == _round_pair(pts[1], pts[3])
