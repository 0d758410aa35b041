"""Deduplication and the train / validation / test split.

- **Exact duplicates**: same normalised token sequence (same ``content`` hash). The first
  record in build order (sources in the order given, each in its own fixed order) is kept.
- **Near duplicates**: drawings that look the same at thumbnail size. The signature is a
  240-bit dHash of a 32 px render (16×16 grey block means, one bit per horizontal step
  brighter than its left neighbour), an 8×8 RGB thumbnail, and the set of fill colours.
  Two drawings are near duplicates when they use the same fill colours, their dHashes
  differ in at most `max_bits` bits, *and* no thumbnail channel differs by more than
  `max_colour` levels. The colour checks keep recoloured variants (e.g. emoji skin tones),
  which a grey hash alone merges; on Tabler + Font Awesome + OpenMoji + Twemoji the grey
  hash alone also merges e.g. ``clock-hour-2`` / ``clock-hour-3`` at 64 bits, hence 240
  bits and the thumbnail. Candidates are found by
  multi-index hashing: with `max_bits` = b the hash is cut into b+1 chunks and two hashes
  within b bits agree exactly on at least one chunk (pigeonhole), so the search is a few
  dictionary probes per record, not a pass over all pairs. Greedy in build order: a record
  is dropped when it is near an already kept one.
- **Confirmation**: thumbnail-size signatures cannot see a small detail that makes two icons
  different — Tabler's filled ``layout-sidebar-right-expand`` and ``…-collapse`` differ only
  in the direction of a chevron and pass both checks. So a candidate pair is confirmed on
  `CONFIRM_SIZE` px renders of the records' SVGs: it is a duplicate only if no 2×2 block of
  pixels differs by more than `CONFIRM_LEVELS` grey levels. Sub-pixel shifts and stroke
  rounding leave differences one pixel wide along edges; a moved, added or missing stroke
  leaves a solid patch. (Tabler's aliases — ``zoom`` / ``search``, ``contrast`` /
  ``brightness`` — render identically and are still merged.)
- **Split**: from the content hash alone (its first 64 bits as a number in [0, 1)), so a
  drawing's split never changes when sources grow or are reordered, and duplicates that
  were dropped cannot leak across splits.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

SPLITS = ("train", "validation", "test")
CONFIRM_SIZE = 64
CONFIRM_LEVELS = 96
_GREY = np.array([0.299, 0.587, 0.114], np.float32)


def _position(content: str) -> float:
    """Where a drawing's content hash puts it in [0, 1): the order splits are cut from."""
    return int(content[:16], 16) / 2.0**64


def split_of(content: str, val: float, test: float) -> str:
    u = _position(content)
    if u < test:
        return "test"
    if u < test + val:
        return "validation"
    return "train"


def assign_splits(contents: list[str], val: float, test: float, min_size: int) -> list[str]:
    """The split of each drawing: `split_of`, except that a small build's test and
    validation splits (those with a fraction > 0) hold at least ``min(min_size, n // 20)``
    drawings each — the next ones in content-hash order, as if their fraction were just large
    enough. A split at or above that size is cut exactly as `split_of` cuts it, so large
    builds do not change; ``min_size`` 0 is `split_of` alone."""
    n = len(contents)
    plain = [split_of(c, val, test) for c in contents]
    want = min(min_size, n // 20)
    n_test, n_val = plain.count("test"), plain.count("validation")
    if want <= 0 or ((n_test >= want or test == 0) and (n_val >= want or val == 0)):
        return plain
    n_test = max(n_test, want) if test > 0 else 0
    n_val = max(n_val, want) if val > 0 else 0
    order = sorted(range(n), key=lambda i: (_position(contents[i]), contents[i]))
    out = ["train"] * n
    for rank, i in enumerate(order):
        out[i] = "test" if rank < n_test else "validation" if rank < n_test + n_val else \
            "train"
    return out


class NearIndex:
    """Kept signatures, searchable for near duplicates."""

    def __init__(self, max_bits: int, max_colour: int):
        self.max_bits, self.max_colour = max_bits, max_colour
        self.tables: list[dict[tuple[str, bytes], list[int]]] = [{} for _ in range(max_bits + 1)]
        self.hashes: list[int] = []
        self.thumbs: list[np.ndarray] = []
        self._cuts: list[tuple[int, int]] | None = None

    def _chunks(self, h: bytes) -> list[bytes]:
        if self._cuts is None:
            edges = np.linspace(0, len(h), len(self.tables) + 1).round().astype(int)
            self._cuts = list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))
        return [h[a:b] for a, b in self._cuts]

    def find(self, dhash: str, thumb: str, palette: str) -> int | None:
        """Index of the first kept candidate near duplicate, or None."""
        return next(self.candidates(dhash, thumb, palette), None)

    def candidates(self, dhash: str, thumb: str, palette: str):
        """Indices of kept records within `max_bits` and `max_colour`, in index order of
        discovery."""
        h = bytes.fromhex(dhash)
        hv = int.from_bytes(h, "big")
        t = np.frombuffer(bytes.fromhex(thumb), np.uint8).astype(np.int16)
        seen: set[int] = set()
        for table, chunk in zip(self.tables, self._chunks(h), strict=True):
            for j in table.get((palette, chunk), ()):
                if j in seen:
                    continue
                seen.add(j)
                if ((hv ^ self.hashes[j]).bit_count() <= self.max_bits
                        and int(np.abs(self.thumbs[j] - t).max()) <= self.max_colour):
                    yield j

    def add(self, dhash: str, thumb: str, palette: str) -> None:
        h = bytes.fromhex(dhash)
        j = len(self.hashes)
        self.hashes.append(int.from_bytes(h, "big"))
        self.thumbs.append(np.frombuffer(bytes.fromhex(thumb), np.uint8).astype(np.int16))
        for table, chunk in zip(self.tables, self._chunks(h), strict=True):
            table.setdefault((palette, chunk), []).append(j)


def fine_render(svg: str) -> np.ndarray:
    """(CONFIRM_SIZE, CONFIRM_SIZE) grey render of a record's SVG text."""
    from svgrl.svg.load import simplify_svg
    from svgrl.svg.render import render

    return render(simplify_svg(svg).drawing, CONFIRM_SIZE).astype(np.float32) @ _GREY


def same_drawing(a: np.ndarray, b: np.ndarray) -> bool:
    """No 2×2 block of `fine_render`s differing by more than `CONFIRM_LEVELS` everywhere."""
    s = np.abs(a - b) > CONFIRM_LEVELS
    return not (s[:-1, :-1] & s[1:, :-1] & s[:-1, 1:] & s[1:, 1:]).any()


def deduplicate(records: list[dict], max_bits: int = 2, max_colour: int = 24,
                confirm: bool = True) -> tuple[list[dict], Counter, Counter, list[dict]]:
    """(kept, exact duplicates per source, near duplicates per source, examples).

    `max_bits` < 0 turns near-duplicate removal off; `confirm` checks each candidate pair on
    fine renders of the records' ``svg`` (see the module docstring). Examples name the kept
    record each dropped one matched (the first 20 of each kind)."""
    kept: list[dict] = []
    by_content: dict[str, str] = {}
    exact: Counter = Counter()
    near: Counter = Counter()
    examples: list[dict] = []
    index = NearIndex(max_bits, max_colour) if max_bits >= 0 else None
    fine: dict[int, np.ndarray] = {}  # renders of kept records met as candidates

    def render_of(j: int) -> np.ndarray:
        if j not in fine:
            fine[j] = fine_render(kept[j]["svg"])
        return fine[j]

    for r in records:
        first = by_content.get(r["content"])
        if first is not None:
            exact[r["source"]] += 1
            if sum(exact.values()) <= 20:
                examples.append({"kind": "exact", "id": r["id"], "kept": first})
            continue
        if index is not None:
            j = None
            mine = None
            for cand in index.candidates(r["dhash"], r["thumb"], r["palette"]):
                if not confirm:
                    j = cand
                    break
                mine = fine_render(r["svg"]) if mine is None else mine
                if same_drawing(mine, render_of(cand)):
                    j = cand
                    break
            if j is not None:
                near[r["source"]] += 1
                if sum(near.values()) <= 20:
                    examples.append({"kind": "near", "id": r["id"], "kept": kept[j]["id"]})
                continue
            index.add(r["dhash"], r["thumb"], r["palette"])
        by_content[r["content"]] = r["id"]
        kept.append(r)
    return kept, exact, near, examples
