"""Grade one task of the SVG reward: a target and the completions compared with it, or a
group of completions compared with each other (consensus). Pure functions of picklable
inputs, so the same code runs in-process or in the reward's worker processes.

A completion passes the format gate when it decodes to a drawing with at least one path that
has a segment and its render is not entirely white; otherwise its row carries the reason:

    missing      no ids and no text
    decode       the ids are not a sequence of ints (TokenError) or decoding failed
    no_svg       text without "<svg" (and no ids)
    parse        SVG text the SVG core rejects (SvgError: syntax, limits, unsafe, ...)
    incomplete   no </svg> token (`require_complete`) — generation hit its budget
    invalid      the grammar reports problems (`strict` only)
    empty        no path with an L/C/A segment: nothing to draw
    blank        the render is entirely white (e.g. white fills, zero-area paths)
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from svgrl.errors import SvgrlError, TokenError
from svgrl.rewards.svg_similarity import EdgeParams, TargetStats, as_rgba, score
from svgrl.svg.drawing import Drawing
from svgrl.svg.load import load_drawing
from svgrl.svg.normalise import quantize
from svgrl.svg.render import render_rgba
from svgrl.tokens.codec import decode_report, encode
from svgrl.tokens.layout import TokenLayout

_TARGET_CACHE: OrderedDict = OrderedDict()  # per process: key -> (TargetStats, tokens)
_TARGET_CACHE_SIZE = 8  # GRPO groups hit it back to back; a big one only costs fresh pages


@dataclass(frozen=True)
class GradeSpec:
    """What a grader needs from the reward config (kept small: it is pickled per task)."""

    layout: TokenLayout
    size: int = 200
    strict: bool = False
    require_complete: bool = True
    ssim: bool = True
    edge: bool = True
    edge_params: EdgeParams = EdgeParams()
    keep_images: bool = False  # return RGB renders (for learned similarities)


def completion_drawing(c: Any, spec: GradeSpec) -> tuple[Drawing | None, int | None, str | None]:
    """(drawing, token count, failure reason) of one completion: token ids or SVG text."""
    if c is None:
        return None, None, "missing"
    if isinstance(c, bytes):
        c = c.decode("utf-8", "replace")
    elif isinstance(c, list) and c and isinstance(c[0], dict):  # TRL conversational format
        c = "".join(str(m.get("content", "")) for m in c if isinstance(m, dict))
    if isinstance(c, str):
        if "<svg" not in c:
            return None, None, "no_svg"
        try:
            # bytes, never str: a str is also accepted as a *file path* by the SVG core.
            d = load_drawing(c.encode("utf-8", "replace"), grid=spec.layout.grid)
        except SvgrlError as e:
            return None, None, f"parse: {getattr(e, 'reason', type(e).__name__)}"
        try:
            n = len(encode(d, spec.layout))
        except TokenError:
            return None, None, "parse: tokens"
        return _gate_paths(d, n)
    if hasattr(c, "tolist"):
        c = c.tolist()
    if spec.require_complete and isinstance(c, list) and spec.layout.eos not in c:
        return None, len(c), "incomplete"  # no need to decode what fails the gate anyway
    try:
        d, rep = decode_report(c, spec.layout)
    except TokenError as e:
        return None, None, f"decode: {e.reason}"
    n = rep.n_tokens
    if spec.require_complete and not rep.complete:
        return None, n, "incomplete"
    if spec.strict and not rep.ok:
        return None, n, "invalid"
    return _gate_paths(d, n)


def _gate_paths(d: Drawing, n: int) -> tuple[Drawing | None, int, str | None]:
    for p in d.paths:
        if p.fill is not None and any(c[0] in "LCA" for c in p.commands):
            return d, n, None
    return None, n, "empty"


def target_stats(key: Any, payload: Any, spec: GradeSpec) -> tuple[TargetStats, int | None]:
    """Stats and token count of a target (token ids, SVG text/bytes, `Drawing`, or an
    (H, W, 3|4) uint8 image rendered at `spec.size`), cached per process by `key`."""
    if key is not None and key in _TARGET_CACHE:
        _TARGET_CACHE.move_to_end(key)
        return _TARGET_CACHE[key]
    tokens = None
    if isinstance(payload, np.ndarray) and payload.ndim == 3:
        img = as_rgba(payload)
        if img.shape[:2] != (spec.size, spec.size):
            raise SvgrlError(f"target image is {img.shape[:2]}, the reward renders at "
                             f"{spec.size}×{spec.size}")
    else:
        if isinstance(payload, Drawing):
            d = payload
            if d.width != spec.layout.grid - 1 or d.height != spec.layout.grid - 1:
                d = quantize(d, spec.layout.grid)
            tokens = len(encode(d, spec.layout))
        elif isinstance(payload, str | bytes):
            d = load_drawing(payload.encode() if isinstance(payload, str) else payload,
                             grid=spec.layout.grid, gradients=spec.layout.gradients)
            tokens = len(encode(d, spec.layout))
        else:
            d, rep = decode_report(payload, spec.layout)
            tokens = rep.n_tokens
        img = render_rgba(d, spec.size)
    out = (TargetStats(img, spec.edge_params), tokens)
    if key is not None:
        _TARGET_CACHE[key] = out
        if len(_TARGET_CACHE) > _TARGET_CACHE_SIZE:
            _TARGET_CACHE.popitem(last=False)
    return out


def _row(reason: str | None, tokens: int | None) -> dict:
    return {"reason": reason, "tokens": tokens, "pixel": None, "ssim": None, "edge": None,
            "image": None}


def _memo_key(c: Any) -> tuple | None:
    if not isinstance(c, list) or len(c) > 65536:
        return None
    key = tuple(c)
    try:
        hash(key)
    except TypeError:  # e.g. a conversational completion (list of dicts)
        return None
    return key


def grade_target(spec: GradeSpec, key: Any, payload: Any, completions: Sequence[Any]) -> dict:
    """Rows for completions compared with one target, plus the target's token count."""
    try:
        t, t_tokens = target_stats(key, payload, spec)
    except Exception as e:  # noqa: BLE001 — a bad target must not end the batch
        return {"target_error": f"{type(e).__name__}: {e}"[:300], "target_tokens": None,
                "rows": [_row("target", None) for _ in completions]}
    rows = []
    seen: dict[tuple, dict] = {}  # identical id sequences in a group (common once a policy
    for c in completions:         # sharpens) are graded once
        key = _memo_key(c)
        if key is not None and key in seen:
            rows.append(dict(seen[key]))
            continue
        d, n, reason = completion_drawing(c, spec)
        row = _row(reason, n)
        if key is not None:
            seen[key] = row
        if d is not None:
            img = render_rgba(d, spec.size)
            s = score(img, t, ssim=spec.ssim, edge=spec.edge)
            if s.blank:
                row["reason"] = "blank"
            else:
                row.update(pixel=s.pixel, ssim=s.ssim if spec.ssim else None,
                           edge=s.edge if spec.edge else None)
                if spec.keep_images:
                    row["image"] = img[..., :3].copy()
        rows.append(row)
    timg = None
    if spec.keep_images:
        timg = t.rgba[..., :3].copy()
    return {"target_error": None, "target_tokens": t_tokens, "rows": rows, "target_image": timg}


def grade_format(spec: GradeSpec, completions: Sequence[Any]) -> dict:
    """Rows for completions with nothing to compare with: the format gate only."""
    rows = []
    for c in completions:
        d, n, reason = completion_drawing(c, spec)
        row = _row(reason, n)
        if d is not None and not (render_rgba(d, spec.size)[..., :3] != 255).any():
            row["reason"] = "blank"
        rows.append(row)
    return {"target_error": None, "target_tokens": None, "rows": rows}


def grade_consensus(spec: GradeSpec, completions: Sequence[Any]) -> dict:
    """Rows for a group without a target: each valid completion's parts are its mean
    similarity to the *other* valid completions of the group (symmetric metrics, so each pair
    is scored once). A lone valid completion has no consensus (parts stay None)."""
    rows, stats, images = [], [], []
    for c in completions:
        d, n, reason = completion_drawing(c, spec)
        row = _row(reason, n)
        if d is not None:
            img = render_rgba(d, spec.size)
            if (img[..., :3] != 255).any():
                stats.append((len(rows), TargetStats(img, spec.edge_params)))
                images.append(img.copy())
            else:
                row["reason"] = "blank"
        rows.append(row)
    m = len(stats)
    if m >= 2:
        sums = np.zeros((m, 3))
        for a in range(m):
            for b in range(a + 1, m):
                s = score(images[a], stats[b][1], ssim=spec.ssim, edge=spec.edge)
                sums[a] += (s.pixel, s.ssim, s.edge)
                sums[b] += (s.pixel, s.ssim, s.edge)
        means = sums / (m - 1)
        for a, (i, _) in enumerate(stats):
            rows[i].update(pixel=float(means[a, 0]), ssim=float(means[a, 1]) if spec.ssim
                           else None, edge=float(means[a, 2]) if spec.edge else None)
            if spec.keep_images:
                rows[i]["image"] = images[a][..., :3].copy()
    return {"target_error": None, "target_tokens": None, "rows": rows}


_KINDS = {"target": grade_target, "consensus": grade_consensus, "format": grade_format}


def run_task(task: tuple) -> dict:
    """Worker entry point: ``("target", spec, key, payload, completions)``,
    ``("consensus", spec, completions)`` or ``("format", spec, completions)``. The result
    carries ``cpu_s``, the CPU time the task took in its process (for benchmarks)."""
    t0 = time.process_time()
    out = _KINDS[task[0]](*task[1:])
    out["cpu_s"] = time.process_time() - t0
    return out
