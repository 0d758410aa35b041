"""`svgrl demo` at its tiny scale: every stage runs through the library functions, the index
page opens in Chromium with every picture loaded and the numbers in it, and a rerun reuses
the finished stages."""

from __future__ import annotations

import json
import os
import shutil
import time

import numpy as np
import pytest

from svgrl.demo import SCALES, DemoConfig, comparisons, paired, run_demo

CHROMIUM = os.environ.get("SVGRL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


@pytest.mark.slow  # trains two tiny models, benches six systems, starts Chromium
def test_tiny_demo_end_to_end_opens_in_chromium_and_reruns_from_its_stages(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no chromium at {CHROMIUM} (CI installs Debian's chromium)")
    cfg = DemoConfig(out=str(tmp_path / "demo"), scale="tiny", threads=1, progress=False)
    page = run_demo(cfg)
    root = tmp_path / "demo" / "tiny"
    s = SCALES["tiny"]
    ev = json.loads((root / "grpo" / "eval.json").read_text())
    assert {"before", "after", "change"} <= set(ev)
    bench = json.loads((root / "bench-image" / "results.json").read_text())
    names = list(bench["systems"])
    assert "vtracer" in names and any("best_of" in n for n in names) \
        and any("consensus" in n for n in names)
    assert all(m["n"] == s.bench for m in bench["systems"].values())
    analysis = json.loads((root / "analysis" / "analysis.json").read_text())
    assert len(analysis["steps"]) == s.grpo_steps and len(analysis["coords"]) == s.grpo_steps

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            tab = browser.new_page()
            errors: list[str] = []
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.on("console", lambda m: m.type == "error" and errors.append(m.text))
            tab.goto(page.as_uri(), wait_until="load")
            images = tab.evaluate("Array.from(document.images).map(i => "
                                  "[i.complete, i.naturalWidth, i.getAttribute('src')])")
            text = tab.evaluate("document.body.innerText")
            links = tab.evaluate("Array.from(document.links).map(a => a.href)")
        finally:
            browser.close()
    assert not errors
    # samples: per icon target + SFT + GRPO + GRPO best-of + text; trajectory + curves
    assert len(images) == s.samples * 5 + 2
    assert all(c and w > 0 for c, w, _ in images), images
    assert f"{ev['before']['reward']:.3f} → {ev['after']['reward']:.3f}" in text
    assert "paired change" in text and "vtracer" in text
    for href in links:  # every stage's report the page links to exists
        assert href.startswith("file:") and os.path.exists(href[len("file://"):]), href

    stamp = (root / "sft" / "latest.json").stat().st_mtime_ns
    t0 = time.perf_counter()
    run_demo(cfg)
    assert time.perf_counter() - t0 < 60  # nothing retrained, re-benched or resampled
    assert (root / "sft" / "latest.json").stat().st_mtime_ns == stamp


def _bench(seed: int, plain: dict[str, float], cons: dict[str, float]) -> dict:
    return {"task": "text", "seed": seed,
            "systems": {"run:r": {}, "run,consensus=8:r": {}},
            "samples": {"run:r": [{"id": k, "ssim": v} for k, v in plain.items()],
                        "run,consensus=8:r": [{"id": k, "ssim": v} for k, v in cons.items()]}}


def test_paired_rows_average_each_target_over_seeds():
    runs = [_bench(0, {"a": 0.5, "b": 0.5, "c": 0.5}, {"a": 0.6, "b": 0.4, "c": 0.5}),
            _bench(1, {"a": 0.5, "b": 0.5, "c": 0.5}, {"a": 0.8, "b": 0.5, "c": 0.4})]
    one = paired(runs[0], "run,consensus=8:r", "run:r")
    assert one["n"] == 3 and one["runs"] == 1 and (one["wins"], one["losses"]) == (1, 1)
    both = paired(runs, "run,consensus=8:r", "run:r")
    # per target over the two seeds: a +0.2, b −0.05, c −0.05
    assert both["n"] == 3 and both["runs"] == 2 and (both["wins"], both["losses"]) == (1, 2)
    assert both["mean"] == pytest.approx(0.1 / 3)
    assert both["se"] == pytest.approx(np.std([0.2, -0.05, -0.05], ddof=1) / np.sqrt(3))
    rows = comparisons({}, runs)
    assert len(rows) == 1 and rows[0]["runs"] == 2 and rows[0]["task"] == "text"
    assert paired([runs[0], {"samples": {}}], "run,consensus=8:r", "run:r") is None
