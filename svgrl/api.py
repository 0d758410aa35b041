"""The Python API: the main tasks in one call each, exported at the top level (`svgrl.*`).

    load_drawing   SVG file / text / bytes → `Drawing` (simplified, normalised, on the grid)
    tokenize       `Drawing` → token ids;  detokenize: ids → `Drawing`
    render         `Drawing` → (H, W, 3) uint8 pixels;  to_svg: `Drawing` → SVG text
    load_run       a run folder (SFT or GRPO, latest checkpoint) or model folder → model
    generate       model + text / image prompt → decoded samples
    score          a drawing against a target: the SVG reward GRPO trains on, in [0, 1]

Each wraps the library function named in its docstring; those take more options.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from svgrl.errors import ConfigError
from svgrl.svg.drawing import Drawing
from svgrl.tokens.layout import TokenLayout


def load_drawing(source: str | bytes | os.PathLike, *, grid: int = 200) -> Drawing:
    """An SVG file path, SVG text or bytes → `Drawing` in the 200×200 canvas, quantised onto
    a `grid` × `grid` point grid (0 keeps float coordinates). `svgrl.svg.load.load_drawing`."""
    from svgrl.svg.load import load_drawing as _load

    return _load(source, grid=grid or None)


def tokenize(drawing: Drawing, layout: TokenLayout | Any = None) -> list[int]:
    """Token ids of `drawing` in `layout` — a `TokenLayout`, or a model from `load_run`
    (its own layout: ids it can read). Default: the dataset layout (200 grid, no text
    vocabulary below the SVG ids). `svgrl.tokens.codec.encode`."""
    from svgrl.tokens.codec import encode

    return encode(drawing, _layout(layout))


def detokenize(ids: list[int], layout: TokenLayout | Any = None) -> Drawing:
    """The `Drawing` spelled by `ids` in `layout` (as `tokenize`). `svgrl.tokens.codec.decode`."""
    from svgrl.tokens.codec import decode

    return decode(ids, _layout(layout))


def render(drawing: Drawing, size: int = 200) -> np.ndarray:
    """(size, size, 3) uint8 RGB on white. `svgrl.svg.render.render`."""
    from svgrl.svg.render import render as _render

    return _render(drawing, size)


def to_svg(drawing: Drawing) -> str:
    """SVG text of `drawing`. `svgrl.svg.write.to_svg`."""
    from svgrl.svg.write import to_svg as _to_svg

    return _to_svg(drawing)


def load_run(path: str | os.PathLike) -> Any:
    """The model (`svgrl.model.svglm.SvgLM`) of a run's latest checkpoint — an `svgrl train
    sft` run, an SVG `svgrl train grpo` run — or of a model folder, in eval mode. The run's
    metadata is on ``model.run``. `svgrl.model.checkpoint.load_run`."""
    from svgrl.model.checkpoint import load_run as _load_run

    lm, meta = _load_run(path)
    lm.run = meta
    return lm


def generate(model: Any, *, text: str | None = None,
             image: np.ndarray | Drawing | str | os.PathLike | None = None,
             reference: np.ndarray | Drawing | str | os.PathLike | None = None, n: int = 4,
             temperature: float | None = None, top_p: float | None = None,
             top_k: int | None = None, max_new_tokens: int = 1024, grammar: bool = True,
             seed: int = 0) -> list[Any]:
    """`n` samples (`svgrl.model.generate.Sample`: ``.drawing``, ``.ids``, ``.complete``)
    for one prompt: a `text` description, an `image` to vectorise or a `reference` character
    to redraw (pixels, a `Drawing`, or an SVG / PNG path). Sampling defaults to the task's
    preset (text T 0.5 / top-p 0.88, image 0.3 / 0.9). `svgrl.model.generate.generate`."""
    from svgrl.model.generate import generate as _generate
    from svgrl.model.prompts import prompt_for
    from svgrl.model.sampling import PRESETS, Sampling

    given = {k: v for k, v in (("text", text), ("image", image), ("reference", reference))
             if v is not None}
    if len(given) != 1:
        raise ConfigError("give exactly one of text=, image=, reference=")
    task, value = next(iter(given.items()))
    pixels = None if task == "text" else _pixels(value)
    prompt = prompt_for(model, task, text=text or "", image=pixels)
    p = PRESETS[task]
    sampling = Sampling(p.temperature if temperature is None else temperature,
                        p.top_p if top_p is None else top_p, p.top_k if top_k is None else top_k)
    return _generate(model, prompt, n, sampling, max_new_tokens=max_new_tokens,
                     grammar=grammar, seed=seed, batch_size=min(n, 16))


def score(drawing: Drawing | str, target: Drawing | str | np.ndarray, *,
          size: int = 128) -> float:
    """The SVG reward of `drawing` (a `Drawing` or SVG text) against `target` (a `Drawing`,
    SVG text or (H, W, 3) pixels at `size`): 0.1 for a valid drawing + 0.9 × render
    similarity (pixel, SSIM, edges) mapped to [0, 1]; 0 when nothing drawable.
    `svgrl.rewards.svg.SvgReward` (batched, with workers and more parts)."""
    from svgrl.rewards.svg import SvgReward, SvgRewardConfig

    if isinstance(drawing, Drawing):
        drawing = to_svg(drawing)
    # No efficiency term: it needs token counts of both sides, which a bare drawing lacks.
    reward = SvgReward(SvgRewardConfig(size=size, workers=0, efficiency_reward=0.0))
    try:
        out = reward([""], [drawing], target=[target])
    finally:
        reward.close()
    err = (out.parts.get("error") or [None])[0]
    if err and out[0] is None:
        raise ConfigError(f"cannot score: {err}")
    return float(out[0] if out[0] is not None else 0.0)


def _layout(layout: Any) -> TokenLayout:
    if layout is None:
        return TokenLayout()
    if isinstance(layout, TokenLayout):
        return layout
    if isinstance(getattr(layout, "layout", None), TokenLayout):
        return layout.layout
    raise ConfigError(f"layout must be a TokenLayout or a model from svgrl.load_run, not "
                      f"{type(layout).__name__}")


def _pixels(value: Any) -> np.ndarray:
    if isinstance(value, Drawing):
        return render(value, 200)
    if isinstance(value, np.ndarray):
        return value
    from pathlib import Path

    from svgrl.svg.image_io import MAX_IMAGE_BYTES, load_image

    path = Path(value)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_IMAGE_BYTES + 1)
    except OSError as e:
        raise ConfigError(f"cannot read image {str(path)!r}: {e.strerror}") from e
    if len(data) > MAX_IMAGE_BYTES:
        raise ConfigError(f"image {str(path)!r} is over {MAX_IMAGE_BYTES} bytes")
    return load_image(data)  # PNG / JPEG, or an SVG rendered at 200 px
