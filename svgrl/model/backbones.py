"""One way to get ``(model, tokenizer)``: the `tiny` from-scratch model, SmolLM2-135M-Instruct
from its installed GGUF, a GGUF file, or any local Hugging Face model folder.

Nothing here downloads: names map to code in `BACKBONES` (a plain dict), anything else must be
a path on disk. Every failure is a `ModelLoadError` or `ConfigError` saying what to provide.
`prepare_backbone` turns the loaded backbone into an `SvgLM` (SVG vocabulary, point rows,
vision prefix).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from svgrl.errors import ConfigError, ModelLoadError
from svgrl.model.config import DTYPE_NAMES, BackboneConfig
from svgrl.model.gguf_loader import find_smollm2_gguf, load_gguf
from svgrl.model.quiet import quiet_transformers
from svgrl.model.svglm import POINT_INITS, SvgLM, init_point_embeddings
from svgrl.model.tiny import BYTE_VOCAB_SIZE, build_tiny

DTYPES = {name: getattr(torch, name) for name in DTYPE_NAMES}


def _tiny(cfg: BackboneConfig) -> tuple[Any, Any]:
    return build_tiny(
        arch=cfg.tiny_arch, n_layers=cfg.tiny_layers, d_model=cfg.tiny_d_model,
        n_heads=cfg.tiny_heads, n_kv_heads=cfg.tiny_kv_heads or None,
        vocab_size=cfg.tiny_vocab or BYTE_VOCAB_SIZE, max_positions=cfg.tiny_max_positions,
        seed=cfg.seed, dtype=DTYPES[cfg.dtype],
    )


def _smollm2(cfg: BackboneConfig) -> tuple[Any, Any]:
    return load_gguf(find_smollm2_gguf(), dtype=DTYPES[cfg.dtype])


BACKBONES: dict[str, Callable[[BackboneConfig], tuple[Any, Any]]] = {
    "tiny": _tiny,
    "smollm2-135m": _smollm2,
}


def load_local(path: str | Path, *, dtype: torch.dtype = torch.float32) -> tuple[Any, Any]:
    """(model, tokenizer) from a Hugging Face model folder (``save_pretrained`` output)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(path)
    if not (folder / "config.json").is_file():
        raise ModelLoadError(
            f"{str(folder)!r} is not a Hugging Face model folder (no config.json); give a "
            "folder written by save_pretrained, a .gguf file, or one of " + ", ".join(BACKBONES))
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=dtype)
    except Exception as e:  # corrupt weights surface as safetensors/json/torch errors
        raise ModelLoadError(
            f"could not load model folder {str(folder)!r}: {type(e).__name__}: {e}") from e
    return model, tokenizer


def load_backbone(cfg: BackboneConfig) -> tuple[Any, Any]:
    """(model, tokenizer) for `cfg.backbone`; the model is in train mode on CPU."""
    with quiet_transformers():  # no "Loading weights" bar of transformers' own
        return _load_backbone(cfg)


def _load_backbone(cfg: BackboneConfig) -> tuple[Any, Any]:
    if cfg.backbone in BACKBONES:
        model, tokenizer = BACKBONES[cfg.backbone](cfg)
    else:
        path = Path(cfg.backbone).expanduser()
        if not path.exists():
            raise ModelLoadError(
                f"backbone {cfg.backbone!r} is neither a known name ({', '.join(BACKBONES)}) "
                "nor an existing path; give a local Hugging Face model folder or a .gguf file")
        if path.is_file() and path.suffix == ".gguf":
            model, tokenizer = load_gguf(path, dtype=DTYPES[cfg.dtype])
        elif path.is_dir():
            model, tokenizer = load_local(path, dtype=DTYPES[cfg.dtype])
        else:
            raise ModelLoadError(f"{str(path)!r} is a file but not a .gguf; give a model folder")
    if tokenizer.pad_token_id is None:
        raise ModelLoadError(f"tokenizer of {cfg.backbone!r} has no pad token; set one and save")
    return model.train(), tokenizer


def prepare_backbone(backbone_cfg: Any, *, vision: tuple[int, int] | None = (64, 8),
                     point_init: str = "fourier", grid: int = 200,
                     n_rotation: int = 100, gradients: bool = False) -> SvgLM:
    """Load `backbone_cfg` (a `BackboneConfig`), add the SVG vocabulary, init points, and
    attach a vision prefix of (image_size, patch_size) unless `vision` is None. A Qwen2-VL /
    Qwen2.5-VL folder keeps its own vision tower (`svgrl.model.qwen_vl`) instead."""
    from svgrl.model.vision import VisionConfig, VisionPrefix, is_qwen_vl
    from svgrl.tokens.hf import extend_tokenizer, resize_model_embeddings

    if point_init not in POINT_INITS:
        raise ConfigError(f"point_init {point_init!r} is not one of {POINT_INITS}")
    if backbone_cfg.backbone not in BACKBONES and is_qwen_vl(backbone_cfg.backbone):
        from svgrl.model.qwen_vl import prepare_qwen_vl

        # Its own vision tower reads images: no vision prefix, whatever `vision` says.
        return prepare_qwen_vl(backbone_cfg.backbone, grid=grid, n_rotation=n_rotation,
                               gradients=gradients, point_init=point_init, seed=backbone_cfg.seed,
                               dtype=DTYPES[backbone_cfg.dtype])
    model, tokenizer = load_backbone(backbone_cfg)
    layout = extend_tokenizer(tokenizer, grid=grid, n_rotation=n_rotation, gradients=gradients)
    # A private RNG stream: resizing draws new rows; the caller's seed must not shift.
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the mean-resizing notice, once per run
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(backbone_cfg.seed)
        resize_model_embeddings(model, layout)
        hf_logging.set_verbosity(verbosity)
        if point_init == "fourier":
            init_point_embeddings(model, layout)
        v = None
        if vision is not None:
            d = int(model.get_input_embeddings().weight.shape[1])
            v = VisionPrefix(VisionConfig(image_size=vision[0], patch_size=vision[1],
                                          d_model=d))
            v.to(model.get_input_embeddings().weight.dtype)
    return SvgLM(model, tokenizer, layout, v)
