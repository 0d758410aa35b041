"""Captions: metadata text shortened into model-ready descriptions, and the `Captioner`
interface for captioning renders with a local vision-language model.

OmniSVG (arXiv 2504.06263, MMSVG-2M) captioned each render with BLIP-2. svgrl downloads no
weights, so a build captions from metadata (`SvgItem.caption` / `name` / `tags`) and, when
the caller passes a `Captioner`, also stores the model's text in the ``render_caption``
column (empty otherwise). A captioner is any callable over a batch of renders::

    class MyBlip2:
        name = "blip2-opt-2.7b@local"     # recorded in the manifest and resume fingerprint
        image_size = 224                  # renders are made at this size
        def __call__(self, images: list[np.ndarray]) -> list[str]: ...
"""

from __future__ import annotations

import re
import unicodedata
from typing import Protocol, runtime_checkable

import numpy as np

from svgrl.errors import DataError

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]+")
_SPACE = re.compile(r"\s+")
MAX_CAPTION_CHARS = 1000


def short_text(text: str, max_words: int = 24) -> str:
    """Metadata text → one short line: NFKC, control characters and newlines removed,
    whitespace collapsed, repeated comma-separated terms dropped, at most `max_words` words
    (cut at a word boundary, trailing punctuation removed)."""
    text = unicodedata.normalize("NFKC", str(text)[:20_000])
    text = _SPACE.sub(" ", _CONTROL.sub(" ", text)).strip()
    # compose_caption writes "title; context; tag, tag, ..." and sources repeat terms.
    parts = []
    seen: set[str] = set()
    for part in text.split("; "):
        terms = []
        for term in part.split(", "):
            key = term.strip().lower()
            if key and key not in seen:
                seen.add(key)
                terms.append(term.strip())
        if terms:
            parts.append(", ".join(terms))
    words = "; ".join(parts).split(" ")
    out = " ".join(words[:max_words]) if max_words > 0 else " ".join(words)
    return out.rstrip(" ,;:/-")[:MAX_CAPTION_CHARS]


@runtime_checkable
class Captioner(Protocol):
    """Captions a batch of (H, W, 3) uint8 renders; returns one string per image."""

    def __call__(self, images: list[np.ndarray]) -> list[str]: ...


def captioner_name(captioner: Captioner | None) -> str:
    if captioner is None:
        return ""
    return str(getattr(captioner, "name", type(captioner).__qualname__))


def caption_records(records: list[dict], captioner: Captioner, layout,
                    batch_size: int = 16) -> None:
    """Set ``render_caption`` on each record from `captioner` over its render (in place)."""
    from svgrl.data.store import render_record

    size = int(getattr(captioner, "image_size", 224))
    for i in range(0, len(records), batch_size):
        batch = records[i:i + batch_size]
        texts = captioner([render_record(r, size, layout) for r in batch])
        if not isinstance(texts, list | tuple) or len(texts) != len(batch):
            raise DataError(f"captioner {captioner_name(captioner)!r} returned "
                            f"{type(texts).__name__} of length "
                            f"{len(texts) if hasattr(texts, '__len__') else '?'} for "
                            f"{len(batch)} images; it must return one string per image")
        for r, t in zip(batch, texts, strict=True):
            r["render_caption"] = short_text(t, 0) if isinstance(t, str) else ""
