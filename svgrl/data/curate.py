"""Per-item curation: SVG → quantised `Drawing` → tokens, plus the signatures the build's
dedup and subset steps need. Runs inside build workers, so everything here is a plain
function of an `SvgItem` and picklable options.

A curated record is a plain dict (JSON-ready) so shards can be written as JSON and read
back without pickle:

    id source license name caption tags        from the item (caption shortened)
    tokens n_tokens svg subset content          the drawing (content = sha256 of the tokens)
    dhash thumb palette dropped                 near-dup signature, content drop reasons
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np

from svgrl.data.captions import short_text
from svgrl.data.item import SvgItem
from svgrl.errors import DataError, SvgError, TokenError

# Near-duplicate signature (documented in `svgrl.data.dedup`): a 32 px render, reduced to
# 16×16 grey block means → 16×15 horizontal-gradient bits (a 240-bit dHash), and an 8×8 RGB
# thumbnail of 4×4 block means.
SIG_RENDER = 32
DHASH_GRID = 16
THUMB_GRID = 8
_GREY = np.array([0.299, 0.587, 0.114], np.float32)
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class CurateOptions:
    """What `curate_item` needs; part of the resume fingerprint."""

    grid: int = 200
    max_tokens: int = 30_000  # 0 = no limit
    partial: bool = True  # keep drawings that lost undrawable content
    caption_words: int = 24
    gradients: bool = False  # keep gradient paint (a token layout with gradient tokens)


def content_hash(tokens: list[int]) -> str:
    """sha256 of the token ids as little-endian int32: the identity of a drawing."""
    return hashlib.sha256(np.asarray(tokens, "<i4").tobytes()).hexdigest()


def signature(rgb: np.ndarray) -> tuple[str, str]:
    """(dHash hex, thumbnail hex) of a (32, 32, 3) render."""
    s = SIG_RENDER
    g = rgb.astype(np.float32) @ _GREY
    k = s // DHASH_GRID
    blocks = g.reshape(DHASH_GRID, k, DHASH_GRID, k).mean((1, 3))
    # Strictly brighter by more than float noise, so flat regions give 0 bits on any machine.
    bits = (blocks[:, 1:] > blocks[:, :-1] + 1e-3).ravel()
    dhash = np.packbits(bits).tobytes().hex()
    t = s // THUMB_GRID
    thumb = rgb.astype(np.float32).reshape(THUMB_GRID, t, THUMB_GRID, t, 3).mean((1, 3))
    return dhash, np.round(thumb).astype(np.uint8).tobytes().hex()


def palette_of(fills) -> str:
    """Short digest of the set of fill colours: near duplicates must share it, so recoloured
    variants (emoji skin tones, a red copy of a black icon) stay distinct."""
    colours = sorted({tuple(f) for f in fills if f is not None})
    return hashlib.sha256(repr(colours).encode()).hexdigest()[:12]


def subset_of(fills) -> str:
    """MMSVG's split by style: *icon* when the drawing uses at most one colour besides white
    (white on a white page only knocks out shapes), else *illustration*."""
    colours = {f for f in fills if f is not None and tuple(f) != WHITE}
    return "icon" if len(colours) <= 1 else "illustration"


def _failure(item: SvgItem, reason: str, message: str) -> dict:
    return {"id": item.id, "source": item.source, "reason": reason, "message": message[:300]}


def curate_item(item: SvgItem, opt: CurateOptions, layout) -> dict:
    """``{"record": {...}}`` or ``{"failure": {...}}`` for one item; never raises for bad
    input (a loader bug is counted as ``internal:<Type>``)."""
    from svgrl.svg.load import simplify_svg
    from svgrl.svg.normalise import quantize
    from svgrl.svg.render import render
    from svgrl.svg.simplify import SimplifyOptions
    from svgrl.svg.write import to_svg
    from svgrl.tokens.codec import encode

    try:
        result = simplify_svg(item.read(), SimplifyOptions(gradients=opt.gradients))
        dropped = sorted({d.reason for d in result.dropped})
        if dropped and not opt.partial:
            return {"failure": _failure(item, "partial", "lost " + ", ".join(dropped))}
        d = quantize(result.drawing, opt.grid)
        tokens = encode(d, layout)
    except SvgError as e:
        return {"failure": _failure(item, e.reason, str(e))}
    except TokenError as e:
        return {"failure": _failure(item, f"token-{e.reason}", str(e))}
    except DataError as e:
        return {"failure": _failure(item, "read", str(e))}
    except Exception as e:  # noqa: BLE001 - a batch tool counts a loader bug and carries on
        return {"failure": _failure(item, f"internal:{type(e).__name__}", str(e))}
    if not d.paths:
        return {"failure": _failure(item, "empty", "no visible path after quantisation")}
    if opt.max_tokens and len(tokens) > opt.max_tokens:
        return {"failure": _failure(item, "too-long",
                                    f"{len(tokens)} tokens > --max-tokens {opt.max_tokens}")}
    dhash, thumb = signature(render(d, SIG_RENDER))
    return {"record": {
        "id": item.id, "source": item.source, "license": item.license,
        "name": short_text(item.name, opt.caption_words) or item.id,
        "caption": short_text(item.caption, opt.caption_words) or item.name,
        "tags": list(item.tags),
        "tokens": tokens, "n_tokens": len(tokens), "svg": to_svg(d),
        "subset": subset_of(p.fill for p in d.paths),
        "content": content_hash(tokens), "dhash": dhash, "thumb": thumb,
        "palette": palette_of(p.fill for p in d.paths),
        "dropped": dropped,
    }}


@functools.cache
def _layout(grid: int, gradients: bool = False):
    from svgrl.tokens.layout import TokenLayout

    return TokenLayout(grid=grid, gradients=gradients)


def curate_job(job: tuple[SvgItem, CurateOptions]) -> dict:
    """`curate_item` for a bounded worker (`svgrl.bounded`)."""
    item, opt = job
    return curate_item(item, opt, _layout(opt.grid, opt.gradients))


def curate_shard(items: list[SvgItem], opt: CurateOptions, pool=None) -> list[dict]:
    """`curate_item` over a shard's items, in order, each in a worker of `pool` (a
    `svgrl.bounded.BoundedPool` of `curate_job`): an item over its CPU, memory or wall
    bound fails with that reason and the shard goes on. Without a pool: in this process."""
    from svgrl.bounded import ItemFailure

    if pool is None:
        return [curate_job((it, opt)) for it in items]
    return [{"failure": _failure(it, r.reason, r.message)} if isinstance(r, ItemFailure) else r
            for it, r in zip(items, pool.map([(it, opt) for it in items], chunk=8), strict=True)]
