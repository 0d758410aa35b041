"""The HTTP app: routes over one `Engine`.

``GET /`` the page · ``GET /health`` · ``GET /v1/info`` limits and model ·
``POST /v1/generate`` JSON answer · ``POST /v1/generate/upload`` the same from a multipart
form with an image file · ``POST /v1/generate/stream`` the same as server-sent events
(``queued``, ``started``, ``progress``, ``sample``, ``done``, ``error``) ·
``GET /docs`` and ``GET /redoc`` OpenAPI pages (assets served locally, nothing fetched
from a CDN) · ``GET /openapi.json``.

Status codes: 413 body or image over its limit, 415 an upload that is not a multipart
form, 422 a request that breaks a limit or cannot be read (the message says which and why;
malformed JSON included), 429 the wait queue is full (``Retry-After``), 500 a decode step
failed (the batch's requests only), 503 the engine is not running. Every error body is
``{"error": "..."}``. A client that disconnects — from either endpoint — has its request
cancelled: out of the queue, or its rows out of the batch before the next decode step.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from importlib import resources
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from svgrl.serve import selection
from svgrl.serve.config import ServeConfig
from svgrl.serve.engine import Busy, Engine, Unavailable
from svgrl.serve.engine import Request as Job
from svgrl.serve.limits import (
    GenerateBody,
    RequestError,
    build_request,
    candidates,
    upload_body,
)
from svgrl.serve.selection import choose

# Content-Security-Policy of the page: its own inline script and style, images from data:
# and blob: URLs (the samples), calls to this origin only.
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'")


def sample_record(lm: Any, ids: list[int], preview_size: int) -> dict:
    """One finished row → the JSON the API returns for it."""
    from svgrl.model.generate import is_blank
    from svgrl.svg.image_io import encode_png
    from svgrl.svg.render import render
    from svgrl.svg.write import to_svg
    from svgrl.tokens.codec import decode_report

    drawing, rep = decode_report(ids, lm.layout)
    rgb = render(drawing, preview_size)
    return {"svg": to_svg(drawing), "tokens": len(ids), "paths": len(drawing.paths),
            "complete": rep.complete, "blank": is_blank(rgb), "issues": list(rep.issues)[:4],
            "png": base64.b64encode(encode_png(rgb)).decode("ascii")}


def partial_svgs(lm: Any, rows: list[list[int]]) -> list[str]:
    """The drawings so far (lenient decode of unfinished rows), for live previews."""
    from svgrl.svg.write import to_svg
    from svgrl.tokens.codec import decode_report

    return [to_svg(decode_report(ids, lm.layout)[0]) for ids in rows]


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _wait_disconnect(request: Request) -> None:
    """Return when the client goes away (the body is already read, so the next ASGI message
    is ``http.disconnect``)."""
    while True:
        msg = await request.receive()
        if msg["type"] == "http.disconnect":
            return


class _Run:
    """One request through the engine, as an async stream of (kind, data) events."""

    def __init__(self, engine: Engine, job: Job):
        self.engine, self.job = engine, job
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue = asyncio.Queue()
        self.finished = False
        job.emit = self._emit

    def _emit(self, kind: str, data: Any) -> None:  # engine thread
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (kind, data))

    async def events(self, request: Request) -> AsyncIterator[tuple[str, Any]]:
        gone = asyncio.ensure_future(_wait_disconnect(request))
        try:
            while True:
                get = asyncio.ensure_future(self.queue.get())
                await asyncio.wait({get, gone}, return_when=asyncio.FIRST_COMPLETED)
                if not get.done():
                    get.cancel()
                    return
                kind, data = get.result()
                yield kind, data
                if kind in ("done", "error"):
                    self.finished = True
                    return
        finally:
            gone.cancel()
            if not self.finished:
                self.engine.cancel(self.job)


def create_app(lm: Any, cfg: ServeConfig, meta: dict | None = None, *,
               engine: Engine | None = None) -> Any:
    """The app serving `lm` under `cfg`'s limits. The engine starts and stops with the app
    (its lifespan)."""
    from svgrl.serve.decoder import BatchDecoder

    if engine is None:
        engine = Engine(BatchDecoder(lm, grammar=cfg.grammar), max_batch_rows=cfg.max_batch_rows,
                        max_queue=cfg.max_queue)
    meta = meta or {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine.start()
        yield
        engine.stop()

    # FastAPIOffline: FastAPI whose /docs (Swagger UI) and /redoc pages load their assets
    # from the package, not from a CDN — the page works offline and calls nobody else.
    app = FastAPIOffline(title="svgrl", version="1", lifespan=lifespan,
                         max_body_size=cfg.max_body_bytes,
                         description="Generate SVG from text or an image with an svgrl run.")
    app.state.engine = engine

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errs):
            return error(422, "malformed JSON in the request body")
        msg = "; ".join(f"{'.'.join(str(x) for x in e.get('loc', ())[1:]) or 'body'}: "
                        f"{e.get('msg')}" for e in errs[:5])
        return error(422, f"invalid request: {msg}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        msg = exc.detail if exc.status_code != 413 else (
            f"request body exceeds the limit of {cfg.max_body_bytes:,} bytes")
        return error(exc.status_code, str(msg), getattr(exc, "headers", None))

    async def start(body: GenerateBody) -> tuple[_Run, str]:
        job, task = await asyncio.to_thread(build_request, body, lm, cfg)
        run = _Run(engine, job)
        try:
            engine.check(job)
        except Exception as e:  # noqa: BLE001 - ConfigError: a budget this model can't run
            raise RequestError(422, str(e)) from None
        try:
            engine.submit(job)
        except Busy as e:
            raise RequestError(429, str(e)) from None
        except Unavailable as e:
            raise RequestError(503, str(e)) from None
        return run, task

    def summary(body: GenerateBody, run: _Run, task: str, samples: list, t0: float) -> dict:
        job, now = run.job, time.monotonic()
        return {"id": body.id, "task": task, "n": body.n, "candidates": candidates(body),
                "seed": job.seed,
                "max_new_tokens": job.max_new_tokens, "sampling": asdict(job.sampling),
                "samples": samples,
                "timings": {"queued_s": round(job.started - job.submitted, 4),
                            "decode_s": round(now - job.started, 4),
                            "total_s": round(now - t0, 4)},
                "model": {"run": meta.get("name"), "step": meta.get("step")}}

    def record(ids: list[int]) -> dict:
        return sample_record(lm, ids, cfg.preview_size)

    def checked(ids: list[int], check: bool) -> tuple[dict, str | None]:
        """(the sample's JSON, why it must be redrawn or None); not checked (None) for a
        request without redraws, which gets its samples as drawn (flagged if blank)."""
        return record(ids), (selection.why_rejected(lm, ids) if check else None)

    async def redraw(run: _Run, body: GenerateBody, rejected: dict[int, tuple[dict, str]],
                     request: Request) -> AsyncIterator[tuple[str, dict]]:
        """Fill the `rejected` slots with new draws — follow-up requests through the same
        queue and batch, fresh seeds, at most ``redraws × n`` extra samples — and yield a
        ``sample`` event per filled slot; slots still empty when the budget is spent get
        their original draw, marked ``"rejected": why``."""
        job = run.job
        pending = sorted(rejected)
        budget, spent, round_ = int(np.ceil(body.redraws * body.n)), 0, 0
        while pending and spent < budget:
            round_ += 1
            k = min(budget - spent, len(pending))
            extra = Job(job.prompt, k, job.sampling, job.max_new_tokens,
                        job.seed + 7_919 * round_, job.image)
            more = _Run(engine, extra)
            try:
                engine.submit(extra)
            except (Busy, Unavailable):
                break  # keep what we have rather than wait: the server is saturated
            spent += k
            async for kind, data in more.events(request):
                if kind == "row" and pending:
                    rec, why = await asyncio.to_thread(checked, data[1], True)
                    if why is None:
                        i = pending.pop(0)
                        yield "sample", {"index": i, **rec}
                elif kind == "error":
                    break
            if not more.finished:
                return  # the client went away
        for i in pending:
            rec, why = rejected[i]
            yield "sample", {"index": i, **rec, "rejected": why}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        html = resources.files("svgrl.serve").joinpath("static/index.html").read_text("utf-8")
        return HTMLResponse(html, headers={"Content-Security-Policy": CSP,
                                           "X-Content-Type-Options": "nosniff"})

    @app.get("/health", summary="liveness and queue state")
    async def health() -> JSONResponse:
        st = engine.stats()
        return JSONResponse({"status": "ok" if st["running"] else "down", **st},
                            status_code=200 if st["running"] else 503)

    @app.get("/v1/info", summary="the model and this server's limits")
    async def info() -> dict:
        return {"model": {"run": meta.get("name"), "step": meta.get("step"),
                          "image_input": lm.vision is not None
                          or lm.image_processor is not None},
                "limits": {"max_n": cfg.max_n, "max_new_tokens": cfg.max_new_tokens,
                           "max_candidates": cfg.max_candidates,
                           "max_batch_rows": cfg.max_batch_rows,
                           "default_new_tokens": cfg.default_new_tokens,
                           "max_image_bytes": cfg.max_image_bytes,
                           "max_image_pixels": cfg.max_image_pixels,
                           "max_body_bytes": cfg.max_body_bytes}}

    @app.post("/v1/generate", summary="generate SVGs (one JSON answer)")
    async def generate(body: GenerateBody, request: Request) -> JSONResponse:
        return await answer(body, request)

    @app.post("/v1/generate/upload", summary="generate SVGs from an uploaded image file",
              description="multipart/form-data: the file in field `image`; the other fields "
                          "of /v1/generate (n, max_new_tokens, task, ...) as form fields. "
                          "Answers as /v1/generate.",
              openapi_extra={"requestBody": {"content": {"multipart/form-data": {"schema": {
                  "type": "object", "required": ["image"],
                  "properties": {"image": {"type": "string", "format": "binary"},
                                 "n": {"type": "integer"}, "task": {"type": "string"},
                                 "max_new_tokens": {"type": "integer"},
                                 "seed": {"type": "integer"}}}}}, "required": True}})
    async def generate_upload(request: Request) -> JSONResponse:
        try:
            body = await upload_body(request, cfg)
        except RequestError as e:
            return error(e.status, e.message)
        return await answer(body, request)

    async def answer(body: GenerateBody, request: Request) -> JSONResponse:
        try:
            events = await generation(body, request)
        except RequestError as e:
            return error(e.status, e.message, {"Retry-After": "1"} if e.status == 429 else None)
        async for kind, data in events:
            if kind == "error":
                return error(data["status"], data["error"])
            if kind == "done":
                return JSONResponse(data)
        return error(499, "client disconnected")  # nobody reads this

    @app.post("/v1/generate/stream", summary="generate SVGs, streamed as server-sent events")
    async def generate_stream(body: GenerateBody, request: Request) -> Any:
        try:
            events = await generation(body, request)
        except RequestError as e:
            return error(e.status, e.message, {"Retry-After": "1"} if e.status == 429 else None)

        async def stream() -> AsyncIterator[str]:
            async for kind, data in events:
                yield sse(kind, data)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    async def generation(body: GenerateBody, request: Request
                         ) -> AsyncIterator[tuple[str, dict]]:
        """Queue the request (raising `RequestError` when it cannot be), then the events of
        its generation: ``queued``, ``started``, ``progress``, ``sample``, and ``done`` with
        the whole answer (or ``error``). Ends early, cancelling, if the client goes away."""
        t0 = time.monotonic()
        run, task = await start(body)

        async def events() -> AsyncIterator[tuple[str, dict]]:
            n, per = body.n, candidates(body)
            method = "best_of" if body.best_of else "consensus" if body.consensus else None
            rows: list[list[int]] = [[] for _ in range(n * per)]
            samples: list[dict | None] = [None] * n
            rejected: dict[int, tuple[dict, str]] = {}  # slot → (sample as drawn, why)
            yield "queued", {"n": n, "waiting": engine.stats()["waiting"]}
            async for kind, data in run.events(request):
                if kind == "started":
                    yield "started", {"n": n, "candidates": per}
                elif kind == "progress":
                    # One progress entry per answer: its longest candidate so far.
                    lead = [max(data[k * per:(k + 1) * per], key=len) for k in range(n)]
                    svgs = await asyncio.to_thread(partial_svgs, lm, lead)
                    yield "progress", {"tokens": [len(r) for r in lead], "svg": svgs}
                elif kind == "row":
                    rows[data[0]] = data[1]
                    if method is None:
                        rec, why = await asyncio.to_thread(checked, data[1],
                                                           body.redraws > 0)
                        if why is None:
                            samples[data[0]] = rec
                            yield "sample", {"index": data[0], **rec}
                        else:
                            rejected[data[0]] = (rec, why)
                elif kind == "error":
                    yield "error", {"status": data[0], "error": data[1]}
                    return
            if not run.finished:
                return  # the client went away
            redrawn = 0
            if rejected:
                async for kind, data in redraw(run, body, rejected, request):
                    if kind == "sample":
                        samples[data["index"]] = {k: v for k, v in data.items()
                                                  if k != "index"}
                        redrawn += "rejected" not in data
                    yield kind, data
                if any(s is None for s in samples):
                    return  # the client went away during the redraws
            if method is not None:
                picks = await asyncio.to_thread(choose, lm, rows, n, per, method,
                                                run.job.image)
                for k, (i, how) in enumerate(picks):
                    rec = await asyncio.to_thread(record, rows[i])
                    samples[k] = rec = {**rec, "selection": how}
                    yield "sample", {"index": k, **rec}
            done = summary(body, run, task, samples, t0)
            done["redrawn"] = redrawn
            done["rejected"] = dict(Counter(why for _, why in rejected.values()))
            yield "done", done

        return events()

    return _ContentLengthLimit(app, cfg.max_body_bytes)


class _ContentLengthLimit:
    """Refuse a body whose declared ``Content-Length`` is over the limit with a JSON 413
    before reading any of it. (Bodies without a length are counted as they stream by
    FastAPI's own ``max_body_size``.)"""

    def __init__(self, app: FastAPI, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes
        self.state = app.state  # tests and the CLI reach the engine through app.state

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            length = dict(scope.get("headers") or []).get(b"content-length", b"0")
            if not length.isdigit() or int(length) > self.max_bytes:
                msg = (f"request body of {int(length):,} bytes exceeds the limit of "
                       f"{self.max_bytes:,} bytes" if length.isdigit()
                       else "invalid Content-Length header")
                await error(413 if length.isdigit() else 400, msg)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
