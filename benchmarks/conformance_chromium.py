"""Re-render conformance references with headless Chromium, for tests whose resvg reference
shows a feature resvg lacks (see tests/data/conformance/README.md for which ones).

    python benchmarks/conformance_chromium.py tests/data/conformance/shapes/rect/q-values.svg ...

Each test's `.png` beside its `.svg` is overwritten: a 200×200 CSS px window at device
scale 1.5 (300×300 pixels, the suite's reference size). Needs playwright and a Chromium
(`--chromium`, default /usr/bin/chromium).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("svgs", nargs="+", type=Path, help="test .svg files")
    ap.add_argument("--chromium", default="/usr/bin/chromium", help="browser executable")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 200, "height": 200}, device_scale_factor=1.5)
        for svg in args.svgs:
            page.goto(svg.resolve().as_uri())
            page.screenshot(path=str(svg.with_suffix(".png")))
            print(svg.with_suffix(".png"))
        browser.close()


if __name__ == "__main__":
    main()
