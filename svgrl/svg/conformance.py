"""Conformance: run an SVG test suite with reference renders, as a user would run svgrl.

Each test is an `.svg` next to the `.png` a conforming renderer draws for it (resvg's test
suite layout: `<area>/<feature>/<name>.svg`). svgrl simplifies the file, draws the result
with its own renderer at the reference's pixel size, and both images — composited on white,
colour kept — are compared pixel by pixel:

    a pixel differs   when any channel differs by more than `channel_tolerance` (of 255)
    a test passes     when at most `max_bad_fraction` of its pixels differ

The tolerance absorbs anti-aliasing (skia and tiny-skia cover edge pixels slightly
differently), not drawing errors: a wrong colour, a missing shape or a shape one pixel off
along its whole outline fails.

Tests that need what svgrl does not draw on purpose (text, filters, images, masks, markers,
patterns, gradients, blend modes) are reported under that reason and not counted; files that
must stay refused (entities, external references) are reported as refused, not counted.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from svgrl.errors import SvgrlError, SvgValueError
from svgrl.svg.image_io import decode_png, read_png
from svgrl.svg.load import simplify_svg
from svgrl.svg.render import render
from svgrl.svg.simplify import SimplifyOptions

# What svgrl does not draw, detected in the test's source (first match names the reason).
UNSUPPORTED: tuple[tuple[str, re.Pattern], ...] = tuple((name, re.compile(rx)) for name, rx in (
    ("text", r"<(text|tspan|textPath|tref)\b"),
    ("filter", r"<filter\b|\bfilter\s*[=:]"),
    ("image", r"<(image|feImage)\b"),
    ("mask", r"<mask\b|\bmask\s*[=:]"),
    ("marker", r"<marker\b|\bmarker(-start|-mid|-end)?\s*[=:]"),
    ("pattern", r"<pattern\b"),
    ("gradient", r"Gradient\b"),
    ("blend", r"mix-blend-mode|\bisolation\s*[=:]"),
    ("context-paint", r"context-(fill|stroke)"),
))
# What svgrl refuses on principle; the file must raise, and is not counted.
REFUSED: tuple[tuple[str, re.Pattern], ...] = tuple((name, re.compile(rx)) for name, rx in (
    ("entity", r"<!ENTITY"),
    # A resource pulled from outside the file (<a href> is a hyperlink, not a resource).
    ("external-ref", r"<use\b[^>]*href\s*=\s*[\"'](?!#)|@import"),
))


@dataclass(frozen=True)
class ConformanceConfig:
    channel_tolerance: int = field(default=64, metadata={
        "help": "a pixel differs when a channel differs by more than this (0-255)"})
    max_bad_fraction: float = field(default=0.005, metadata={
        "help": "a test passes when at most this fraction of its pixels differ"})


@dataclass
class TestResult:
    name: str  # area/feature/test, no suffix
    feature: str  # area/feature
    status: str  # "pass", "fail", "unsupported", "refused"
    detail: str = ""  # why: the unsupported feature, the error, or the differing fraction
    bad_fraction: float | None = None


def classify(text: str) -> tuple[str, str] | None:
    """("refused" | "unsupported", reason) for a test svgrl does not try to draw, else None."""
    for status, table in (("refused", REFUSED), ("unsupported", UNSUPPORTED)):
        for reason, rx in table:
            if rx.search(text):
                return status, reason
    return None


def render_like_reference(data: bytes, width: int, height: int) -> np.ndarray:
    """svgrl's drawing of `data` at the reference's size: simplify into the bigger side's
    square (aspect kept, centred), render it, and crop the centred reference frame."""
    side = max(width, height)
    drawing = simplify_svg(data, SimplifyOptions(output_size=float(side), for_grid=False)).drawing
    img = render(drawing, side)
    y0, x0 = (side - height) // 2, (side - width) // 2
    return img[y0:y0 + height, x0:x0 + width]


def render_resvg(data: bytes, width: int, height: int) -> np.ndarray:
    """resvg's drawing of `data` at the reference's size: the baseline that shows the
    tolerance is fair (resvg drew the references, so it should pass nearly everything)."""
    import resvg_py

    png = resvg_py.svg_to_bytes(svg_string=data.decode("utf-8", "replace"), width=width,
                                height=height, background="#ffffff", skip_system_fonts=True,
                                languages=["en"])
    return decode_png(bytes(png))


RENDERERS = {"svgrl": render_like_reference, "resvg": render_resvg}


def bad_fraction(ours: np.ndarray, ref: np.ndarray, tolerance: int) -> float:
    """Fraction of pixels where some channel differs by more than `tolerance`."""
    diff = np.abs(ours.astype(np.int16) - ref.astype(np.int16)).max(axis=2)
    return float((diff > tolerance).mean())


def run_test(svg: Path, root: Path, cfg: ConformanceConfig,
             draw: Callable[[bytes, int, int], np.ndarray] = render_like_reference
             ) -> TestResult:
    rel = svg.relative_to(root).with_suffix("").as_posix()
    feature = rel.rsplit("/", 1)[0]
    data = svg.read_bytes()
    text = data.decode("utf-8", "replace")
    kind = classify(text)
    if kind is not None and kind[0] == "unsupported":
        return TestResult(rel, feature, *kind)
    ref = read_png(str(svg.with_suffix(".png")))
    try:
        ours = draw(data, ref.shape[1], ref.shape[0])
        if ours.shape != ref.shape:
            raise SvgValueError(f"drew {ours.shape[1]}x{ours.shape[0]} pixels, the reference "
                                f"has {ref.shape[1]}x{ref.shape[0]}")
    except SvgrlError as e:
        if kind is not None:  # refused, as it must be
            return TestResult(rel, feature, "refused", kind[1])
        return TestResult(rel, feature, "fail", f"error {type(e).__name__}: {e}")
    except Exception as e:  # noqa: BLE001 - an untyped crash is a bug: report it, carry on
        return TestResult(rel, feature, "fail", f"crash {type(e).__name__}: {e}")
    if kind is not None:
        return TestResult(rel, feature, "fail", f"drawn, but must be refused ({kind[1]})")
    frac = bad_fraction(ours, ref, cfg.channel_tolerance)
    ok = frac <= cfg.max_bad_fraction
    return TestResult(rel, feature, "pass" if ok else "fail",
                      "" if ok else f"{frac:.1%} of pixels differ", frac)


def run_suite(root: str | Path, cfg: ConformanceConfig | None = None, only: str = "",
              renderer: str = "svgrl") -> list[TestResult]:
    """Every `*.svg` under `root` that has a `.png` beside it (optionally only names
    containing `only`), in a stable order, drawn by `renderer` (a key of RENDERERS)."""
    cfg = cfg or ConformanceConfig()
    root = Path(root)
    tests = sorted(p for p in root.rglob("*.svg") if p.with_suffix(".png").exists())
    draw = RENDERERS[renderer]
    return [run_test(p, root, cfg, draw) for p in tests
            if only in p.relative_to(root).as_posix()]


def summarise(results: list[TestResult]) -> dict:
    """Pass counts per feature and per area, over the tests svgrl tries to draw."""
    per: dict[str, Counter] = {}
    for r in results:
        per.setdefault(r.feature, Counter())[r.status] += 1
    unsupported = Counter(r.detail for r in results if r.status == "unsupported")
    refused = Counter(r.detail for r in results if r.status == "refused")
    passed = sum(r.status == "pass" for r in results)
    counted = sum(r.status in ("pass", "fail") for r in results)
    areas: dict[str, Counter] = {}
    for feat, c in per.items():
        areas.setdefault(feat.split("/")[0], Counter()).update(c)
    return {
        "tests": len(results),
        "counted": counted,
        "passed": passed,
        "pass_rate": round(passed / counted, 4) if counted else None,
        "areas": {a: _row(c) for a, c in sorted(areas.items())},
        "features": {f: _row(c) for f, c in sorted(per.items())},
        "unsupported": dict(unsupported.most_common()),
        "refused": dict(refused.most_common()),
        "failures": {r.name: r.detail for r in results if r.status == "fail"},
    }


def _row(c: Counter) -> dict:
    return {"passed": c["pass"], "counted": c["pass"] + c["fail"],
            "unsupported": c["unsupported"], "refused": c["refused"]}
