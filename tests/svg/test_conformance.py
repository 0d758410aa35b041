"""The committed conformance suite (resvg's tests with reference renders): svgrl simplify +
render vs the reference PNG, pixel by pixel with colour. Per-feature pass counts are printed
(`pytest -s` or `-rA` shows them); the floors below are the levels reached, so a regression
in any area fails."""

from pathlib import Path

import numpy as np
import pytest

from svgrl.svg.conformance import (
    ConformanceConfig,
    bad_fraction,
    classify,
    render_like_reference,
    run_suite,
    summarise,
)

SUITE = Path(__file__).resolve().parent.parent / "data" / "conformance"
# Pass-rate floors per area (tests svgrl draws; unsupported and refused not counted).
FLOORS = {"masking": 1.0, "painting": 1.0, "shapes": 0.98, "structure": 1.0}
OVERALL_FLOOR = 0.995


@pytest.fixture(scope="module")
def summary():
    return summarise(run_suite(SUITE))


def test_suite_is_committed_with_licence():
    assert (SUITE / "LICENSE-MIT").exists()
    assert len(list(SUITE.rglob("*.svg"))) >= 500


def test_pass_rates_per_area_hold(summary):
    lines = [f"{f:34s} {r['passed']:4d} / {r['counted']}" for f, r in summary["features"].items()]
    print("\n".join(["", *lines, f"unsupported {summary['unsupported']}",
                     f"refused {summary['refused']}",
                     f"overall {summary['passed']} / {summary['counted']}"]))
    for area, floor in FLOORS.items():
        row = summary["areas"][area]
        assert row["passed"] / row["counted"] >= floor, (area, row, summary["failures"])
    assert summary["pass_rate"] >= OVERALL_FLOOR, summary["failures"]


def test_unsupported_features_are_not_counted(summary):
    # Text, gradients and markers exist in the suite; they are reported, never passed.
    assert {"text", "gradient", "marker"} <= set(summary["unsupported"])
    assert summary["counted"] + sum(summary["unsupported"].values()) \
        + sum(summary["refused"].values()) == summary["tests"]


def test_entities_and_external_references_stay_refused(summary):
    assert summary["refused"].get("entity", 0) >= 4
    assert summary["refused"].get("external-ref", 0) >= 1
    assert not any("must be refused" in why for why in summary["failures"].values())


def test_the_comparison_sees_colour_and_geometry():
    # The metric must fail a wrong colour and a shifted shape, and pass the same drawing.
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 200">'
           b'<rect x="20" y="20" width="160" height="160" fill="%s"/></svg>')
    green = render_like_reference(svg % b"green", 300, 300)
    cfg = ConformanceConfig()
    assert bad_fraction(green, green, cfg.channel_tolerance) == 0.0
    red = render_like_reference(svg % b"red", 300, 300)
    assert bad_fraction(green, red, cfg.channel_tolerance) > 0.5
    shifted = np.roll(green, 3, axis=1)
    assert bad_fraction(green, shifted, cfg.channel_tolerance) > cfg.max_bad_fraction


def test_classify_names_what_is_not_drawn():
    assert classify('<svg><text x="1">a</text></svg>') == ("unsupported", "text")
    assert classify('<!DOCTYPE svg [<!ENTITY a "b">]><svg/>') == ("refused", "entity")
    assert classify('<svg><use xlink:href="other.svg#a"/></svg>') == ("refused", "external-ref")
    assert classify('<svg><use href="#a"/></svg>') is None
