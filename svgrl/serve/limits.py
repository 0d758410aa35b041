"""A generation request: its JSON schema, the per-request limits, and turning it into an
engine `Request` — every check that can refuse a request happens here, before it queues.

Input safety: an uploaded image arrives as base64 (or SVG text) inside the JSON body and
stays bytes in memory; it goes through `svgrl.svg.image_io.load_image`, the same path as the
CLI's ``--image``: raster images are refused from their header when over the pixel budget
(before any decoding), SVG through the hardened parser (no entities, DTD or network, bounded
size, elements and ``<use>`` expansion). Nothing in a request names a file.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from svgrl.errors import ConfigError, SvgError
from svgrl.model.prompts import MAX_TEXT_CHARS, prompt_for
from svgrl.model.sampling import PRESETS, Sampling
from svgrl.serve.config import ServeConfig
from svgrl.serve.engine import Request

if TYPE_CHECKING:
    from starlette.requests import Request as HttpRequest


class RequestError(Exception):
    """A request refused with an HTTP status and a message for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class GenerateBody(BaseModel):
    """``POST /v1/generate`` (and ``/v1/generate/stream``): a text prompt *or* an image."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(None, description="text-to-SVG: the description",
                             examples=["arrow left"])
    image: str | None = Field(None, description=(
        "image-to-SVG: a PNG/JPEG (base64, optionally as a data: URL) or SVG text"))
    task: Literal["image", "reference"] = Field("image", description=(
        "with an image: vectorise it (image) or redraw the character in another style "
        "(reference)"))
    n: int = Field(4, description="number of samples (the server's --max-n caps it)")
    max_new_tokens: int | None = Field(None, description=(
        "token budget per SVG; the grammar closes every drawing within it "
        "(default: the server's --default-new-tokens)"))
    preset: Literal["text", "image", "reference"] | None = Field(None, description=(
        "sampling preset (OmniSVG's settings); default: the task's own"))
    temperature: float | None = Field(None, description="override the preset (0 = greedy)")
    top_p: float | None = Field(None, description="override the preset")
    top_k: int | None = Field(None, description="override the preset (0 = off)")
    best_of: int | None = Field(None, description=(
        "image prompts: draw this many candidates per sample and return the one whose "
        "render best matches the prompt image"))
    consensus: int | None = Field(None, description=(
        "draw this many candidates per sample and return the most typical one (render "
        "similarity medoid, outliers dropped)"))
    redraws: float = Field(4.0, description=(
        "samples that come out empty, blank or unrenderable are redrawn, up to this many × n "
        "extra samples (0: return them as drawn, flagged)"))
    seed: int | None = Field(None, description=(
        "sampling seed (default: random; returned). A request decoded alone is reproducible "
        "from it; one sharing its batch also depends on its neighbours"))
    id: str | None = Field(None, max_length=200, description="echoed back in the answer")


def check_limits(body: GenerateBody, cfg: ServeConfig) -> None:
    """The numeric limits, each with a message naming the value and the allowed range."""
    if (body.text is None) == (body.image is None):
        raise RequestError(422, "give exactly one of 'text' or 'image'")
    if body.text is not None and (not body.text.strip() or len(body.text) > MAX_TEXT_CHARS):
        raise RequestError(422, f"'text' must be 1..{MAX_TEXT_CHARS} characters, got "
                                f"{len(body.text)}")
    if not 1 <= body.n <= cfg.max_n:
        raise RequestError(422, f"n={body.n}: this server gives 1..{cfg.max_n} samples per "
                                "request")
    budget = body.max_new_tokens
    if budget is not None and not 8 <= budget <= cfg.max_new_tokens:
        raise RequestError(422, f"max_new_tokens={budget}: this server allows "
                                f"8..{cfg.max_new_tokens}")
    if body.image is not None and len(body.image) > cfg.max_image_bytes * 4 // 3 + 128:
        raise RequestError(413, f"image of about {len(body.image) * 3 // 4:,} bytes exceeds "
                                f"the limit of {cfg.max_image_bytes:,} bytes")
    if body.best_of is not None and body.consensus is not None:
        raise RequestError(422, "choose one of 'best_of' and 'consensus'")
    per = candidates(body)
    if not 1 <= per <= cfg.max_candidates:
        raise RequestError(422, f"best_of/consensus={per}: this server draws 1.."
                                f"{cfg.max_candidates} candidates per sample")
    if body.best_of is not None and body.image is None:
        raise RequestError(422, "'best_of' scores candidates against the prompt image: give "
                                "'image' (for text prompts use 'consensus')")
    if body.n * per > cfg.max_batch_rows:
        raise RequestError(422, f"n × candidates = {body.n * per} rows exceeds this server's "
                                f"batch of {cfg.max_batch_rows}; ask for fewer")
    if not 0 <= body.redraws <= 10:
        raise RequestError(422, f"redraws={body.redraws}: use 0..10 (× n extra samples)")
    if body.seed is not None and not 0 <= body.seed < 2**63:
        raise RequestError(422, f"seed={body.seed}: use 0..2**63-1")


def candidates(body: GenerateBody) -> int:
    """Candidates drawn per returned sample (1 without best-of / consensus)."""
    return body.best_of or body.consensus or 1


def image_bytes(value: str, max_bytes: int) -> bytes:
    """The bytes of an uploaded image: SVG text as is, else base64 (a data: URL's payload)."""
    s = value.strip()
    if s.startswith("<"):
        data = s.encode("utf-8")
    else:
        if s.startswith("data:"):
            s = s.partition(",")[2]
        try:
            data = base64.b64decode(s, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError(422, "'image' is neither SVG text nor valid base64") from None
    if len(data) > max_bytes:
        raise RequestError(413, f"image of {len(data):,} bytes exceeds the limit of "
                                f"{max_bytes:,} bytes")
    if not data:
        raise RequestError(422, "'image' is empty")
    return data


def sampling_of(body: GenerateBody, task: str) -> Sampling:
    p = PRESETS[body.preset or task]
    try:
        return Sampling(p.temperature if body.temperature is None else body.temperature,
                        p.top_p if body.top_p is None else body.top_p,
                        p.top_k if body.top_k is None else body.top_k)
    except ConfigError as e:
        raise RequestError(422, str(e)) from None


def build_request(body: GenerateBody, lm: Any, cfg: ServeConfig) -> tuple[Request, str]:
    """(engine request, task) for a checked body. Blocking (decodes the image): run it in
    a worker thread."""
    from svgrl.svg.image_io import load_image

    check_limits(body, cfg)
    task = "text" if body.text is not None else body.task
    image = None
    if body.image is not None:
        data = image_bytes(body.image, cfg.max_image_bytes)
        try:
            image = load_image(data, max_pixels=cfg.max_image_pixels)
        except SvgError as e:  # too many pixels: 413; an SVG over a parse limit: 422
            raise RequestError(413 if e.reason == "image-size" else 422,
                               f"image refused: {e}") from None
    try:
        prompt = prompt_for(lm, task, text=body.text or "", image=image)
    except ConfigError as e:
        raise RequestError(422, str(e)) from None
    seed = body.seed if body.seed is not None else secrets.randbelow(2**31)
    req = Request(prompt, body.n * candidates(body), sampling_of(body, task),
                  body.max_new_tokens or cfg.default_new_tokens, seed, image)
    return req, task


async def upload_body(request: HttpRequest, cfg: ServeConfig) -> GenerateBody:
    """A multipart form → the JSON request it stands for (the file as base64). The form parser
    spools a large file to Python's temp folder, which `svgrl serve` makes private."""
    from pydantic import ValidationError
    from python_multipart.exceptions import MultipartParseError
    from starlette.datastructures import UploadFile
    from starlette.exceptions import HTTPException

    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise RequestError(415, "send multipart/form-data with the file in field 'image'")
    try:
        form = await request.form(max_files=1, max_fields=16, max_part_size=64 << 10)
    except (MultipartParseError, HTTPException) as e:
        raise RequestError(422, f"unreadable form: {getattr(e, 'detail', e)}") from None
    try:
        file = form.get("image")
        if not isinstance(file, UploadFile):
            raise RequestError(422, "give the image as a file in form field 'image'")
        data = await file.read(cfg.max_image_bytes + 1)
        if len(data) > cfg.max_image_bytes:
            raise RequestError(413, f"image exceeds the limit of {cfg.max_image_bytes:,} bytes")
        fields = {k: v for k, v in form.items() if k != "image"}
        if any(not isinstance(v, str) for v in fields.values()):
            raise RequestError(422, "only 'image' may be a file")
        try:
            return GenerateBody(image=base64.b64encode(data).decode("ascii"), **fields)
        except ValidationError as e:
            msg = "; ".join(f"{'.'.join(str(x) for x in err.get('loc', ()))}: {err.get('msg')}"
                            for err in e.errors()[:5])
            raise RequestError(422, f"invalid request: {msg}") from None
    finally:
        await form.close()
