"""The page in a real browser: headless Chromium (Debian's, driven by Playwright) types a
prompt, waits for the results, and checks the grid — every tile's image loaded at the
preview size, the right count, live progress seen on the way, Download yields the SVG."""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest
from helpers.serve import live_server

from svgrl.serve.app import create_app
from svgrl.serve.config import ServeConfig
from svgrl.svg.image_io import encode_png

CHROMIUM = os.environ.get("SVGRL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no chromium at {CHROMIUM} (CI installs Debian's chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def test_page_generates_a_grid_of_samples(browser, tiny_lm, tmp_path):
    app = create_app(tiny_lm, ServeConfig(run="tiny", max_n=8, default_new_tokens=120),
                     {"name": "tiny", "step": 0})
    with live_server(app) as url:
        context = browser.new_context(accept_downloads=True)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.goto(url + "/")
        # Selectors, not wait_for_function: the page's CSP forbids eval, Playwright's too.
        page.wait_for_selector("#model:has-text('tiny')")
        page.fill("#prompt", "arrow pointing left")
        page.fill("#n", "5")
        page.fill("#maxTokens", "400")
        page.click("#go")
        # Live progress: a tile shows a running token count before all samples are in.
        page.wait_for_selector(".tile[data-state=running], .tile[data-state=done]",
                               timeout=30_000)
        page.wait_for_selector("body[data-done]", timeout=60_000)
        tiles = page.locator(".tile")
        assert tiles.count() == 5
        loaded = page.eval_on_selector_all(
            ".tile img[data-final]",
            "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
        assert loaded == [[True, 200, 200]] * 5
        assert page.locator(".tile[data-state=done]").count() == 5
        assert int(page.get_attribute("#grid", "data-progress")) >= 1  # live updates seen
        captions = page.locator(".tile figcaption").all_inner_texts()
        assert all("tokens" in c for c in captions)
        assert "5 samples" in page.inner_text("#status")
        with page.expect_download() as dl:
            page.locator(".tile .download").nth(2).click()
        path = tmp_path / "sample.svg"
        dl.value.save_as(path)
        assert path.read_text().startswith("<svg") and dl.value.suggested_filename == \
            "svgrl-3.svg"
        page.locator(".tile .copy").nth(1).click()
        page.wait_for_selector("#status:has-text('copied sample 2')")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied.startswith("<svg") and copied.endswith("</svg>")
        # An image dropped in (through the file chooser) instead of a prompt.
        img = np.full((48, 48, 3), 255, np.uint8)
        img[8:40, 12:36] = 0
        (tmp_path / "in.png").write_bytes(encode_png(img))
        page.set_input_files("#file", str(tmp_path / "in.png"))
        page.wait_for_selector("#drop img")
        page.fill("#n", "3")
        page.click("#go")
        page.wait_for_selector("body[data-done]", timeout=60_000)
        assert page.locator(".tile img[data-final]").count() == 3
        page.click("#clearImage")
        # "pick 1 of 3" on a text prompt: each tile is the consensus of three candidates.
        page.fill("#prompt", "a star")
        page.fill("#n", "2")
        page.fill("#per", "3")
        page.fill("#maxTokens", "60")
        page.click("#go")
        page.wait_for_selector("body[data-done]", timeout=60_000)
        captions = page.locator(".tile figcaption").all_inner_texts()
        assert len(captions) == 2 and all("consensus" in c and "/3" in c for c in captions)
        page.fill("#per", "1")
        # The form takes its limits from /v1/info: 50 samples is over the server's 8.
        assert page.get_attribute("#n", "max") == "8"
        page.fill("#n", "50")
        page.click("#go")
        assert page.eval_on_selector("#n", "e => e.validity.rangeOverflow") is True
        page.fill("#n", "2")
        page.fill("#prompt", "")
        page.click("#go")
        page.wait_for_selector("#status.err")
        assert "type a description" in page.inner_text("#status")
        assert errors == []
        # Stop: the browser aborts the stream and the server drops the request's rows.
        engine = app.state.engine
        before = engine.stats()["cancelled"]
        page.fill("#prompt", "a very long drawing")
        page.fill("#n", "8")
        page.fill("#maxTokens", "1024")
        page.click("#go")
        page.wait_for_selector(".tile[data-state=running]", timeout=30_000)
        page.click("#stop")
        page.wait_for_selector("#status:has-text('stopped')")
        deadline = time.monotonic() + 20
        while engine.stats()["cancelled"] == before or engine.stats()["live_rows"]:
            assert time.monotonic() < deadline, engine.stats()
            time.sleep(0.05)
        # The OpenAPI page renders every operation, with its assets from this server only.
        docs = context.new_page()
        hosts: set[str] = set()
        docs.on("request", lambda r: hosts.add(r.url.split("/")[2]))
        docs.goto(url + "/docs")
        docs.wait_for_selector("#operations-default-generate_v1_generate_post, .opblock",
                               timeout=30_000)
        assert docs.locator(".opblock").count() >= 4
        assert hosts == {url.split("/")[2]}
        context.close()
