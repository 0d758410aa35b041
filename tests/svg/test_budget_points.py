"""`budget.path_points` reads Skia's serialised points; it must equal `getPoints()`."""

from __future__ import annotations

import numpy as np
import skia

from svgrl.svg.budget import path_points


def test_path_points_equal_getpoints_for_every_verb():
    rng = np.random.default_rng(0)
    p = skia.Path()
    p.moveTo(1.5, -2.25)
    for _ in range(50):
        a = rng.uniform(-1e3, 1e3, 6).tolist()
        p.lineTo(a[0], a[1])
        p.quadTo(*a[:4])
        p.conicTo(*a[:4], 0.7)
        p.cubicTo(*a)
    p.close()
    p.moveTo(5, 5)  # a second contour
    p.lineTo(6, 7)
    n = p.countPoints()
    want = np.array([(q.fX, q.fY) for q in p.getPoints(n)], np.float64)
    got = path_points(p)
    assert got.shape == (n, 2) and np.array_equal(got, want)
    assert path_points(skia.Path()).shape == (0, 2)
