"""report.html in a real browser (Debian's Chromium, driven by Playwright): every image of
the worst-first grid loads at the render size, both plots draw one point per system, the
table has a row per system, and the page asks for nothing beyond itself."""

from __future__ import annotations

import os
import shutil

import pytest

from svgrl.bench.run import BenchConfig, run_bench

CHROMIUM = os.environ.get("SVGRL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


@pytest.mark.slow  # starts Chromium and three system workers
def test_report_opens_in_chromium_with_every_image_loaded(icon_folder, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no chromium at {CHROMIUM} (CI installs Debian's chromium)")
    empty = tmp_path / "none"
    empty.mkdir()
    systems = ["oracle", "potrace", f"folder:{empty}"]  # the folder system fails every sample
    res = run_bench(BenchConfig(data=str(icon_folder), out=str(tmp_path / "b"), limit=3,
                                systems=systems, progress=False))
    report = tmp_path / "b" / "report.html"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page()
            errors: list[str] = []
            outside: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("request", lambda r: r.url.startswith(("file:", "data:"))
                    or outside.append(r.url))
            page.goto(report.as_uri(), wait_until="load")
            images = page.evaluate(
                "Array.from(document.images).map(i => [i.complete, i.naturalWidth, "
                "i.naturalHeight, i.alt])")
            plots = page.evaluate("Array.from(document.querySelectorAll('.plots svg'))"
                                  ".map(s => s.querySelectorAll('circle').length)")
            rows = page.evaluate("document.querySelectorAll('table:not(.grid) tr').length")
            title = page.title()
        finally:
            browser.close()
    assert not errors and not outside
    # grid: 3 targets × (target + 3 systems), every one decoded at the 200 px render size
    assert len(images) == 3 * (1 + len(systems))
    assert all(c and w == 200 and h == 200 for c, w, h, _ in images), images
    assert sorted({a for *_, a in images} - {t["id"] for t in res["targets"]}) == \
        sorted(systems)
    # the failing system still has its (blank) renders and its points: its tokens are None,
    # so it has no point on the tokens plot, one on neither if it has no seconds
    points = sum(1 for s in res["systems"].values()
                 if s["tokens_mean"] is not None and s["ssim"] is not None)
    assert plots[0] == points == 2
    assert rows == 1 + len(systems) and "svgrl bench" in title
