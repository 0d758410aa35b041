"""Bench targets: the SVGs a bench scores against, from a built dataset or any SVG source.

A target carries what every system may see (its id, caption and input image) plus the
target SVG itself, which only the ``oracle`` system reads. Images are resvg renders of the
target in svgrl's normalised frame (`svgrl.svg.reference.reference_render`), on white, at
the bench size — the same pixels the outputs are scored against.

`--limit N` keeps N targets spread evenly over the whole list (every k-th), not the first
N: a source lists its files by folder (Font Awesome: brands, then regular, then solid), and
the first N would all come from one style.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from svgrl.errors import ConfigError, DataError, SvgrlError


@dataclass
class Target:
    id: str
    caption: str
    svg: bytes | None  # the target SVG; None when it could not be read
    image: np.ndarray | None = field(default=None, repr=False)  # (S, S, 3) uint8 resvg render
    error: str | None = None  # why this target cannot be scored (unreadable / unparsable)
    reference: np.ndarray | None = field(default=None, repr=False)  # reference-task input


def _spread(n_total: int, limit: int) -> list[int]:
    if not limit or limit >= n_total:
        return list(range(n_total))
    step = n_total / limit
    return [int(i * step) for i in range(limit)]


def is_built(data: str | Path) -> bool:
    return (Path(data) / "manifest.json").is_file()


def _built_rows(data: str, split: str) -> list[tuple[str, str, bytes | None, str | None]]:
    from svgrl.data.store import load_built

    dd, _, _ = load_built(data)
    if split not in dd:
        raise ConfigError(f"--split {split!r}: {data!r} has splits {', '.join(dd)}")
    ds = dd[split].select_columns(["id", "caption", "svg"])
    return [(r["id"], r["caption"], r["svg"].encode(), None) for r in ds]


def _source_rows(data: str, cache: str | None) -> list[tuple[str, str, bytes | None, str | None]]:
    from svgrl.data.sources import iter_source

    path = Path(data).expanduser()
    if path.is_file():
        try:
            return [(path.stem, path.stem.replace("-", " "), path.read_bytes(), None)]
        except OSError as e:
            raise DataError(f"cannot read {data!r}: {e.strerror}") from e
    rows = []
    for item in iter_source(data, cache):
        rows.append((item.id, item.caption, item, None))
    return rows


def load_targets(data: str, split: str = "test", *, limit: int = 0, size: int = 200,
                 task: str = "image", cache: str | None = None) -> list[Target]:
    """Targets of `data` (a `svgrl data build` folder, or an SVG file / folder / source
    name), `limit` of them spread evenly, each rendered with resvg at `size` px.

    A target that cannot be read or rendered is kept with its `error` set: the bench lists
    it as failed rather than dropping it."""
    from svgrl.svg.reference import reference_render

    rows = _built_rows(data, split) if is_built(data) else _source_rows(data, cache)
    if not rows:
        raise ConfigError(f"{data!r} ({split if is_built(data) else 'source'}) holds no SVGs")
    keep = [rows[i] for i in _spread(len(rows), limit)]
    out = []
    for id_, caption, svg, _ in keep:
        t = Target(id_, caption, None)
        try:
            t.svg = svg.read() if hasattr(svg, "read") else svg
            t.image = reference_render(t.svg, size)
        except SvgrlError as e:
            t.error = f"target does not render: {type(e).__name__}: {e}"
        except Exception as e:  # noqa: BLE001 — resvg raises plain exceptions on bad input
            t.error = f"target does not render: {type(e).__name__}: {e}"
        out.append(t)
    if task == "reference":
        _pair_references(out)
    return out


def _pair_references(targets: Sequence[Target]) -> None:
    """The reference task redraws an emoji drawn by the other emoji set: each target's input
    is the render of its partner (OpenMoji ↔ Twemoji). Targets without a partner fail."""
    from svgrl.model.prompts import reference_pairs

    partner = {b: a for a, b in reference_pairs([t.id for t in targets])}
    for i, t in enumerate(targets):
        j = partner.get(i)
        if t.error is None and (j is None or targets[j].image is None):
            t.error = "no reference: the reference task needs the same emoji from the " \
                      "other set (OpenMoji and Twemoji) among the targets"
        elif j is not None:
            t.reference = targets[j].image
