"""Qwen2.5-VL as an SVG backbone: its own vision tower reads the image (OmniSVG §4, arXiv
2504.06263), the SVG tokens are appended to its vocabulary (`svgrl.tokens.hf`), and SFT loss
and grammar-constrained decoding run on the full `Qwen2_5_VLForConditionalGeneration`.

Prompt building is what ``Qwen2_5_VLProcessor.__call__`` does, done here from the folder's
own tokenizer (chat template) and image processor: transformers' processor class cannot be
instantiated without torchvision (its video processor), which svgrl may not depend on.
transformers then falls back to ``Qwen2VLImageProcessorPil`` for images. The processor's rule
is: render the chat template (one ``<|image_pad|>`` per image), then repeat each
``<|image_pad|>`` ``prod(image_grid_thw) / merge_size²`` times, and mark those positions in
``mm_token_type_ids`` (1 = image), which the model needs for its 3-D (M-RoPE) positions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from svgrl.errors import ConfigError, ModelLoadError
from svgrl.model.vision import is_qwen_vl

IMAGE_PAD = "<|image_pad|>"


@dataclass
class VLPrompt:
    """One prompt: ids with the image pads expanded, plus the vision inputs (None for a
    text prompt)."""

    ids: list[int]
    pixel_values: torch.Tensor | None  # (n_patches, C·T·P·P)
    image_grid_thw: torch.Tensor | None  # (1, 3)
    image_token_id: int

    def mm_types(self) -> list[int]:
        return [int(t == self.image_token_id) for t in self.ids]


def load_vl_model(folder: str | os.PathLike, *, dtype: torch.dtype = torch.float32
                  ) -> tuple[Any, Any]:
    """(model, image_processor) of a local Qwen2-VL / Qwen2.5-VL folder."""
    from transformers import AutoImageProcessor, AutoModelForImageTextToText

    folder = Path(folder)
    if not is_qwen_vl(folder):
        raise ModelLoadError(f"{str(folder)!r} is not a Qwen2-VL / Qwen2.5-VL model folder "
                             "(config.json model_type)")
    try:
        image_processor = AutoImageProcessor.from_pretrained(folder, local_files_only=True)
        model = AutoModelForImageTextToText.from_pretrained(folder, local_files_only=True,
                                                            dtype=dtype)
    except Exception as e:  # corrupt files surface as json/safetensors/torch errors
        raise ModelLoadError(f"could not load Qwen2.5-VL folder {str(folder)!r} (needs "
                             "config.json, weights, tokenizer and preprocessor_config.json): "
                             f"{type(e).__name__}: {e}") from e
    return model, image_processor


def load_qwen_vl(folder: str | os.PathLike, *, dtype: torch.dtype = torch.float32) -> tuple[
        Any, Any, Any]:
    """(model, tokenizer, image_processor) of a local Qwen2-VL / Qwen2.5-VL folder."""
    from transformers import AutoTokenizer

    model, image_processor = load_vl_model(folder, dtype=dtype)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except Exception as e:
        raise ModelLoadError(f"could not load the tokenizer of {str(folder)!r}: "
                             f"{type(e).__name__}: {e}") from e
    check_vl_tokenizer(tokenizer, folder)
    return model.train(), tokenizer, image_processor


def check_vl_tokenizer(tokenizer: Any, folder: str | os.PathLike) -> None:
    if IMAGE_PAD not in tokenizer.get_vocab():
        raise ModelLoadError(f"tokenizer of {folder} has no {IMAGE_PAD} token")
    if tokenizer.pad_token_id is None:
        raise ModelLoadError(f"tokenizer of {folder} has no pad token; set one and save")


def prepare_qwen_vl(folder: str | os.PathLike, *, grid: int = 200, n_rotation: int = 100,
                    gradients: bool = False, point_init: str = "fourier", seed: int = 0,
                    dtype: torch.dtype = torch.float32) -> Any:
    """An `SvgLM` on a Qwen2.5-VL folder: SVG tokens appended, embeddings resized, point rows
    initialised; ``lm.image_processor`` set and ``lm.vision`` None (the model's own tower)."""
    from transformers.utils import logging as hf_logging

    from svgrl.model.svglm import POINT_INITS, SvgLM, init_point_embeddings
    from svgrl.tokens.hf import extend_tokenizer, resize_model_embeddings

    if point_init not in POINT_INITS:
        raise ConfigError(f"point_init {point_init!r} is not one of {POINT_INITS}")
    model, tokenizer, image_processor = load_qwen_vl(folder, dtype=dtype)
    layout = extend_tokenizer(tokenizer, grid=grid, n_rotation=n_rotation, gradients=gradients)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            resize_model_embeddings(model, layout)
            if point_init == "fourier":
                init_point_embeddings(model, layout)
    finally:
        hf_logging.set_verbosity(verbosity)
    return SvgLM(model, tokenizer, layout, None, image_processor=image_processor)


def vl_batch(prompts: list[VLPrompt], targets: list[list[int]], pad: int) -> dict:
    seqs = [p.ids + t for p, t in zip(prompts, targets, strict=True)]
    width = max(map(len, seqs))
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    types = torch.zeros_like(ids, dtype=torch.int)
    for i, (p, s) in enumerate(zip(prompts, seqs, strict=True)):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
        types[i, :len(p.ids)] = torch.tensor(p.mm_types(), dtype=torch.int)
    out = {"input_ids": ids, "attention_mask": mask}
    with_image = [p for p in prompts if p.pixel_values is not None]
    if with_image:  # images in row order, as the model's placeholder scatter expects
        out |= {"mm_token_type_ids": types,
                "pixel_values": torch.cat([p.pixel_values for p in with_image]),
                "image_grid_thw": torch.cat([p.image_grid_thw for p in with_image])}
    return out


def vl_loss(lm: Any, prompts: list[VLPrompt], targets: list[list[int]]) -> tuple[
        torch.Tensor, int]:
    """(summed cross-entropy, n) over the SVG target tokens only: prompt positions (text and
    image) are never scored; the LM head runs only where a target token is predicted."""
    if not prompts or len(prompts) != len(targets) or any(not t for t in targets):
        raise ConfigError("vl_loss needs one non-empty target per prompt")
    dev = lm.model.get_input_embeddings().weight.device
    b = {k: v.to(dev) for k, v in vl_batch(prompts, targets, lm.layout.pad).items()}
    h = lm.model.model(**b, use_cache=False).last_hidden_state  # (B, T, D)
    sel = torch.zeros_like(b["input_ids"], dtype=torch.bool)
    for i, (p, t) in enumerate(zip(prompts, targets, strict=True)):
        sel[i, len(p.ids):len(p.ids) + len(t)] = True
    y = b["input_ids"][:, 1:][sel[:, 1:]]
    logits = lm.head(h[:, :-1][sel[:, 1:]])  # position j predicts token j+1
    return F.cross_entropy(logits.float(), y, reduction="sum"), int(y.numel())


def qwen_core(model: Any) -> Any:
    """The ``Qwen2_5_VLModel`` (vision tower + decoder, no LM head) inside `model`: an HF
    Qwen2-VL / Qwen2.5-VL model, or an `svgrl.rl.svg.SvgPolicy` over one; None otherwise."""
    core = getattr(getattr(model, "lm_model", model), "model", None)
    return core if hasattr(core, "get_rope_index") else None


def vl_vision(prompts: list[VLPrompt]) -> dict[str, torch.Tensor]:
    """``pixel_values`` / ``image_grid_thw`` of the prompts that have an image, in row order
    (the model scatters image features over the pads in that order); {} if none has one."""
    with_image = [p for p in prompts if p.pixel_values is not None]
    if not with_image:
        return {}
    return {"pixel_values": torch.cat([p.pixel_values for p in with_image]),
            "image_grid_thw": torch.cat([p.image_grid_thw for p in with_image])}


def vl_inputs(model: Any, ids: torch.Tensor, mask: torch.Tensor, prompts: list[VLPrompt]
              ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The prefill inputs of left-padded prompt rows `ids` / `mask` (B, L) whose vision inputs
    are those of `prompts` (one per row), and each row's M-RoPE offset (B,).

    Positions are Qwen2.5-VL's own 3-D ones (``get_rope_index``: an image's tokens take
    (t, h, w) grid positions, text after it continues from the image's largest position + 1),
    computed here once and passed explicitly — never left to the model's cached
    ``rope_deltas``, which hold one batch's offsets and go stale as rows join and leave.
    Left padding is hidden by the mask (pads get position 0). A text token at index k among a
    row's real tokens has position k + offset in all three axes, so a row's next position
    after n real tokens is n + offset: what the sampler feeds while decoding and the update
    gives the completion tokens (as verl extends a VL prompt's positions over its response)."""
    vis = vl_vision(prompts)
    core = qwen_core(model)
    if core is None:
        raise ConfigError("Qwen2.5-VL prompts need a Qwen2-VL / Qwen2.5-VL model")
    types = ((ids == prompts[0].image_token_id) & mask.bool()).to(torch.int)
    pos, delta = core.get_rope_index(ids, mm_token_type_ids=types, attention_mask=mask,
                                     image_grid_thw=vis.get("image_grid_thw"))
    return ({"input_ids": ids, "attention_mask": mask, "position_ids": pos, **vis},
            delta.reshape(-1))
