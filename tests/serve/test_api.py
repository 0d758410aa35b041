"""The HTTP API on a live loopback server: answers, streaming, batching across clients,
back-pressure (429 / 503), cancellation on disconnect, and hostile requests — each refused
with a 4xx and a message, the server healthy afterwards."""

from __future__ import annotations

import base64
import json
import socket
import struct
import threading
import time
import zlib
from urllib.parse import urlparse

import httpx
import numpy as np
import pytest
from helpers.serve import live_server

from svgrl.serve.app import create_app
from svgrl.serve.config import ServeConfig
from svgrl.svg.image_io import decode_png, encode_png
from svgrl.tokens.grammar import grammar_for

CFG = dict(run="tiny", max_n=4, max_batch_rows=8, max_new_tokens=1024, default_new_tokens=32)


@pytest.fixture(scope="module")
def server(tiny_lm):
    app = create_app(tiny_lm, ServeConfig(**CFG), {"name": "tiny", "step": 0})
    with live_server(app) as url:
        yield url, app.state.engine


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server[0], timeout=60) as c:
        yield c


def healthy(c: httpx.Client) -> dict:
    """The server answers /health and a real request after whatever came before."""
    h = c.get("/health")
    assert h.status_code == 200 and h.json()["status"] == "ok"
    r = c.post("/v1/generate", json={"text": "ok", "n": 1, "max_new_tokens": 16})
    assert r.status_code == 200 and len(r.json()["samples"]) == 1
    return c.get("/health").json()


def png_header(w: int, h: int) -> bytes:
    """A valid-looking PNG declaring w × h pixels, a few dozen bytes long."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(b"IEND", b""))


def test_generate_text_returns_valid_svgs_and_previews(client, tiny_lm):
    r = client.post("/v1/generate", json={"text": "arrow left", "n": 3, "max_new_tokens": 40,
                                          "seed": 7, "id": "req-1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == "req-1" and body["task"] == "text" and body["seed"] == 7
    assert len(body["samples"]) == 3
    g = grammar_for(tiny_lm.layout, tiny_lm.vocab_rows)
    for s in body["samples"]:
        assert s["svg"].startswith("<svg") and s["complete"] and 1 <= s["tokens"] <= 40
        assert decode_png(base64.b64decode(s["png"])).shape == (200, 200, 3)
    assert body["timings"]["total_s"] >= body["timings"]["decode_s"] > 0
    # Same seed, same samples: the seed is the request's own, whoever shares the batch.
    again = client.post("/v1/generate", json={"text": "arrow left", "n": 3,
                                              "max_new_tokens": 40, "seed": 7}).json()
    assert [s["svg"] for s in again["samples"]] == [s["svg"] for s in body["samples"]]
    assert g is not None


def test_image_input_png_and_svg(client):
    img = np.full((64, 64, 3), 255, np.uint8)
    img[16:48, 16:48] = 0
    png = base64.b64encode(encode_png(img)).decode()
    for image in (png, "data:image/png;base64," + png,
                  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">'
                  '<path d="M4 4h16v16H4z"/></svg>'):
        r = client.post("/v1/generate", json={"image": image, "n": 2, "max_new_tokens": 24})
        assert r.status_code == 200, r.text
        assert r.json()["task"] == "image" and len(r.json()["samples"]) == 2
    r = client.post("/v1/generate", json={"image": png, "task": "reference", "n": 1})
    assert r.status_code == 200 and r.json()["task"] == "reference"


def test_stream_sends_progress_then_samples_then_done(client):
    events = []
    with client.stream("POST", "/v1/generate/stream",
                       json={"text": "a star", "n": 2, "max_new_tokens": 150}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        kind = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[6:])))
    kinds = [k for k, _ in events]
    assert kinds[:2] == ["queued", "started"] and kinds[-1] == "done"
    assert kinds.count("sample") == 2 and sorted(d["index"] for k, d in events
                                                 if k == "sample") == [0, 1]
    done = events[-1][1]
    assert [s["svg"] for s in done["samples"]] == [d["svg"] for k, d in
                                                   sorted(((k, d) for k, d in events
                                                           if k == "sample"),
                                                          key=lambda e: e[1]["index"])]


def test_clients_are_batched_together(server, client):
    url, engine = server
    before = engine.stats()
    results = []

    def one(i: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as c:
            results.append(c.post("/v1/generate", json={"text": f"icon {i}", "n": 2,
                                                        "max_new_tokens": 120, "id": str(i)}))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.json()["id"] for r in results) == ["0", "1", "2", "3"]
    after = engine.stats()
    # Rows of several clients shared decode steps (8 rows of 4 requests fit in one batch).
    assert after["peak_requests"] >= 2 and after["peak_rows"] > 2
    assert after["completed"] - before["completed"] == 4


def _stream_until_started(url: str, body: dict) -> socket.socket:
    """Open a raw streaming request and read until the 'started' event; return the socket."""
    u = urlparse(url)
    s = socket.create_connection((u.hostname, u.port))
    data = json.dumps(body).encode()
    s.sendall(b"POST /v1/generate/stream HTTP/1.1\r\nHost: x\r\nContent-Type: "
              b"application/json\r\nContent-Length: " + str(len(data)).encode() +
              b"\r\n\r\n" + data)
    got = b""
    while b"event: started" not in got:
        chunk = s.recv(65536)
        assert chunk, got
        got += chunk
    return s


def _wait(cond, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_client_disconnect_cancels_its_rows(server, client):
    url, engine = server
    before = engine.stats()["cancelled"]
    s = _stream_until_started(url, {"text": "long", "n": 4, "max_new_tokens": 1024})
    assert engine.stats()["live_rows"] == 4
    s.close()
    _wait(lambda: engine.stats()["cancelled"] == before + 1 and engine.stats()["live_rows"] == 0)
    # The plain JSON endpoint too: send the request, hang up while it decodes.
    u = urlparse(url)
    s = socket.create_connection((u.hostname, u.port))
    data = json.dumps({"text": "long", "n": 4, "max_new_tokens": 1024}).encode()
    s.sendall(b"POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
    _wait(lambda: engine.stats()["live_rows"] == 4)
    s.close()
    _wait(lambda: engine.stats()["cancelled"] == before + 2 and engine.stats()["live_rows"] == 0)
    healthy(client)


BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
                  + "".join(f'<!ENTITY {chr(98 + i)} "' + f"&{chr(97 + i)};" * 10 + '">'
                            for i in range(8))
                  + ']><svg xmlns="http://www.w3.org/2000/svg"><text>&i;</text></svg>')


USE_BOMB = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
            '<defs><path id="u0" d="M0 0h1v1z"/>'
            + "".join(f'<g id="u{i}">' + f'<use xlink:href="#u{i - 1}"/>' * 10 + "</g>"
                      for i in range(1, 9))
            + '</defs><use xlink:href="#u8"/></svg>')  # 10⁸ paths if expanded


@pytest.mark.parametrize("body,status,words", [
    ({"text": "x", "n": 10**6}, 422, "n=1000000"),
    ({"text": "x", "n": 0}, 422, "n=0"),
    ({"text": "x", "max_new_tokens": 10**9}, 422, "max_new_tokens"),
    ({"text": "x", "max_new_tokens": 2}, 422, "max_new_tokens"),
    ({"text": "x" * 5000}, 422, "'text'"),
    ({"text": "x", "image": "abc"}, 422, "exactly one"),
    ({}, 422, "exactly one"),
    ({"text": "x", "temperature": -1}, 422, "temperature"),
    ({"text": "x", "n": "many"}, 422, "n"),
    ({"text": "x", "path": "/etc/passwd"}, 422, "path"),
    ({"image": "!!not base64!!"}, 422, "base64"),
    ({"image": base64.b64encode(b"not an image at all").decode()}, 422, "cannot decode"),
    ({"image": base64.b64encode(png_header(50_000, 50_000)).decode()}, 413, "50000×50000"),
    ({"image": BILLION_LAUGHS}, 422, "entit"),
    ({"image": USE_BOMB}, 422, "<use> instantiations"),
    ({"image": "<svg xmlns='http://www.w3.org/2000/svg'>" + "<g>" * 5000}, 422, "refused"),
])
def test_hostile_bodies_get_a_4xx_with_a_message(client, body, status, words):
    r = client.post("/v1/generate", json=body)
    assert r.status_code == status, r.text
    assert words.lower() in r.json()["error"].lower()


def test_malformed_and_oversized_bodies(client):
    r = client.post("/v1/generate", content=b'{"text": "x", "n": ',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422 and "malformed JSON" in r.json()["error"]
    # 50 MB declared: refused from the header before the body is read.
    r = client.post("/v1/generate", content=b"x" * (50 << 20),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and "52,428,800 bytes exceeds the limit" in r.json()["error"]

    def chunks():  # no Content-Length: counted while it streams
        for _ in range(50):
            yield b"x" * (1 << 20)

    r = client.post("/v1/generate", content=chunks(),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and "exceeds the limit" in r.json()["error"]
    st = healthy(client)
    assert st["failed"] == 0


def test_queue_full_is_429_and_stopped_engine_is_503(tiny_lm):
    cfg = ServeConfig(run="tiny", max_n=2, max_batch_rows=2, max_queue=1,
                      default_new_tokens=16)
    app = create_app(tiny_lm, cfg)
    engine = app.state.engine
    with live_server(app) as url, httpx.Client(base_url=url, timeout=30) as c:
        busy = _stream_until_started(url, {"text": "a", "n": 2, "max_new_tokens": 1024})
        waiting = socket.create_connection((urlparse(url).hostname, urlparse(url).port))
        data = json.dumps({"text": "b", "n": 2, "max_new_tokens": 16}).encode()
        waiting.sendall(b"POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: "
                        b"application/json\r\nContent-Length: " + str(len(data)).encode()
                        + b"\r\n\r\n" + data)
        _wait(lambda: engine.stats()["waiting"] == 1)
        r = c.post("/v1/generate", json={"text": "c", "n": 1})
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        assert "busy" in r.json()["error"]
        busy.close()  # the running request goes; the waiting one runs and answers
        answer = b""
        while b'"samples"' not in answer:
            chunk = waiting.recv(65536)
            assert chunk
            answer += chunk
        waiting.close()
        assert answer.startswith(b"HTTP/1.1 200")
        assert c.get("/health").status_code == 200
        engine.stop()
        h = c.get("/health")
        assert h.status_code == 503 and h.json()["status"] == "down"
        r = c.post("/v1/generate", json={"text": "c", "n": 1})
        assert r.status_code == 503 and "not running" in r.json()["error"]


def test_page_docs_and_info(client):
    r = client.get("/")
    assert r.status_code == 200 and 'id="prompt"' in r.text
    assert "default-src 'none'" in r.headers["content-security-policy"]
    for docs in ("/docs", "/redoc"):
        r = client.get(docs)
        assert r.status_code == 200 and "cdn" not in r.text and "googleapis" not in r.text
    spec = client.get("/openapi.json").json()
    assert {"/v1/generate", "/v1/generate/stream", "/health"} <= set(spec["paths"])
    info = client.get("/v1/info").json()
    assert info["limits"]["max_n"] == 4 and info["model"]["image_input"] is True


def test_requests_never_open_files(client):
    """Python's audit hook sees every file the process opens or lists: while requests that
    name paths (as an image, inside SVG references, style imports) are served, nothing is
    opened except modules being imported."""
    import sys

    seen: list[tuple[str, str]] = []
    on = [False]

    def hook(event: str, args: tuple) -> None:
        if on[0] and event in ("open", "os.listdir", "os.scandir", "os.remove", "os.rename",
                               "os.mkdir", "shutil.copyfile"):
            seen.append((event, str(args[0]) if args else ""))

    sys.addaudithook(hook)  # stays installed (hooks cannot be removed); gated by `on`
    refs = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
            ' viewBox="0 0 10 10"><image href="file:///etc/hostname" width="9" height="9"/>'
            '<use xlink:href="/etc/passwd#a"/><path d="M0 0h5v5z" fill="url(/etc/passwd#g)"/>'
            '</svg>')
    styled = refs.replace("</svg>", "<style>@import url(/etc/passwd);</style></svg>")
    on[0] = True
    try:
        for body in ({"image": refs, "n": 1, "max_new_tokens": 16}, {"image": styled},
                     {"image": "/etc/passwd"}, {"image": "L2V0Yy9wYXNzd2Q="},
                     {"text": "/etc/passwd", "n": 1, "max_new_tokens": 16}):
            assert client.post("/v1/generate", json=body).status_code in (200, 422)
    finally:
        on[0] = False
    imports = tuple(p for p in sys.path if p)
    other = [(e, p) for e, p in seen
             if not (p.startswith(imports) and (e != "open" or p.endswith((".py", ".pyc",
                                                                          ".so"))))]
    assert other == []


def test_multipart_upload(client):
    img = np.full((40, 40, 3), 255, np.uint8)
    img[10:30, 5:35] = 0
    r = client.post("/v1/generate/upload", files={"image": ("icon.png", encode_png(img),
                                                            "image/png")},
                    data={"n": "2", "max_new_tokens": "24", "id": "up"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == "up" and len(r.json()["samples"]) == 2
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4"><path d="M0 0h3v3z"/></svg>'
    r = client.post("/v1/generate/upload", files={"image": ("a.svg", svg, "image/svg+xml")},
                    data={"task": "reference", "n": "1"})
    assert r.status_code == 200 and r.json()["task"] == "reference"
    for kwargs, status, words in [
        ({"files": {"image": ("b.png", png_header(50_000, 50_000), "image/png")}}, 413,
         "50000×50000"),
        ({"files": {"image": ("a.png", b"junk", "image/png")}, "data": {"n": "999"}}, 422,
         "n=999"),
        ({"files": {"image": ("a.png", b"junk", "image/png")}, "data": {"n": "x"}}, 422, "n"),
        ({"files": {"other": ("a.png", b"junk", "image/png")}}, 422, "field 'image'"),
        ({"files": {"image": ("a.png", b"j", "image/png"), "image2": ("b.png", b"j",
                                                                        "image/png")}},
         422, "form"),
        ({"json": {"text": "x"}}, 415, "multipart"),
    ]:
        r = client.post("/v1/generate/upload", **kwargs)
        assert r.status_code == status, (kwargs, r.text)
        assert words.lower() in r.json()["error"].lower()
    healthy(client)


def test_consensus_and_best_of(client):
    r = client.post("/v1/generate", json={"text": "a house", "n": 2, "consensus": 3,
                                          "max_new_tokens": 48})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["candidates"] == 3 and len(body["samples"]) == 2
    for s in body["samples"]:
        sel = s["selection"]
        assert sel["method"] == "consensus" and sel["candidates"] == 3
        assert 0 <= sel["chosen"] < 3 and len(sel["scores"]) == 3
        assert sel["chosen"] in sel["kept"]
        if sel["valid"] == 3 and len(sel["kept"]) == 3:  # the medoid of all three
            assert sel["scores"][sel["chosen"]] == max(sel["scores"])
    img = np.full((64, 64, 3), 255, np.uint8)
    img[8:56, 20:44] = 0
    r = client.post("/v1/generate", json={"image": base64.b64encode(encode_png(img)).decode(),
                                          "n": 1, "best_of": 4, "max_new_tokens": 48})
    assert r.status_code == 200, r.text
    sel = r.json()["samples"][0]["selection"]
    assert sel["method"] == "best_of" and len(sel["scores"]) == 4
    valid = [x for x in sel["scores"] if x is not None]
    assert sel["scores"][sel["chosen"]] == max(valid)
    for bad, words in [({"text": "x", "best_of": 3}, "prompt image"),
                       ({"text": "x", "consensus": 2, "best_of": 2}, "one of"),
                       ({"text": "x", "consensus": 100}, "candidates per sample"),
                       ({"text": "x", "n": 4, "consensus": 4}, "exceeds this server's batch")]:
        r = client.post("/v1/generate", json=bad)
        assert r.status_code == 422 and words in r.json()["error"], r.text


def test_rejected_samples_are_redrawn_within_the_budget(server, client, monkeypatch):
    """The validity test itself (`svgrl.model.select.rejection`: empty, blank, unrenderable)
    is `svgrl generate`'s; here it is replaced by a scripted verdict, to drive the redraw
    path of the server deterministically."""
    from svgrl.serve import selection

    engine = server[1]
    verdicts: list[str | None] = ["blank", "empty", "blank"]
    monkeypatch.setattr(selection, "why_rejected",
                        lambda lm, ids: verdicts.pop(0) if verdicts else None)
    before = engine.stats()["submitted"]
    r = client.post("/v1/generate", json={"text": "x", "n": 4, "max_new_tokens": 24})
    body = r.json()
    assert r.status_code == 200 and len(body["samples"]) == 4
    assert all("rejected" not in s for s in body["samples"])
    assert body["redrawn"] == 3 and body["rejected"] == {"blank": 2, "empty": 1}
    assert engine.stats()["submitted"] - before == 2  # the request + one round of 3 redraws
    # Every draw rejected: the budget (0.5 × n = 2 extra samples) is spent, then the
    # samples come back as drawn, each saying why it was rejected.
    monkeypatch.setattr(selection, "why_rejected", lambda lm, ids: "blank")
    before = engine.stats()["submitted"]
    with client.stream("POST", "/v1/generate/stream", json={
            "text": "x", "n": 4, "max_new_tokens": 24, "redraws": 0.5}) as s:
        lines = [ln for ln in s.iter_lines() if ln.startswith("data: ")]
    done = json.loads(lines[-1][6:])
    assert [smp["rejected"] for smp in done["samples"]] == ["blank"] * 4
    assert done["redrawn"] == 0 and engine.stats()["submitted"] - before == 2
    # redraws=0: nothing is checked or redrawn.
    monkeypatch.setattr(selection, "why_rejected", lambda lm, ids: 1 / 0)
    r = client.post("/v1/generate", json={"text": "x", "n": 2, "redraws": 0,
                                          "max_new_tokens": 24})
    assert r.status_code == 200 and r.json()["redrawn"] == 0
    r = client.post("/v1/generate", json={"text": "x", "redraws": 50})
    assert r.status_code == 422 and "redraws" in r.json()["error"]
