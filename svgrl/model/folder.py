"""Model folders: a Hugging Face folder (config.json, model.safetensors, tokenizer files) that
``AutoModelForCausalLM.from_pretrained`` loads, plus svgrl's own pieces beside the weights —
``svg_token_layout.json`` and, for text-only backbones with image input, the vision prefix
(``vision_prefix.safetensors`` + ``vision_prefix.json``; Qwen2.5-VL keeps its
``preprocessor_config.json`` instead). Math/code GRPO policies are plain HF folders.

Weights load from safetensors only: a folder that holds nothing but a pickled
``pytorch_model.bin`` is refused, so loading a folder never runs code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from svgrl.atomic import respect_umask
from svgrl.errors import ModelLoadError
from svgrl.model.quiet import quiet_transformers
from svgrl.model.svglm import SvgLM


def save_model_folder(lm: SvgLM | Any, folder: str | os.PathLike, tokenizer: Any = None
                      ) -> None:
    """Write `lm` into `folder`: an `SvgLM` (weights + config, tokenizer + layout, vision
    prefix), or a plain HF model with its `tokenizer` (math/code policies)."""
    from svgrl.model.vision import save_vision
    from svgrl.tokens.hf import save_tokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not isinstance(lm, SvgLM):
        with quiet_transformers():
            lm.save_pretrained(str(folder), safe_serialization=True)
        if tokenizer is not None:
            tokenizer.save_pretrained(str(folder))
        respect_umask(folder)  # safetensors writes 0600
        return
    with quiet_transformers():
        lm.model.save_pretrained(str(folder), safe_serialization=True)
    if lm.vision is not None:
        save_vision(lm.vision, folder)
    if lm.image_processor is not None:  # Qwen2.5-VL: its preprocessor_config.json
        lm.image_processor.save_pretrained(str(folder))
    save_tokenizer(lm.tokenizer, lm.layout, folder)  # writes the layout last
    respect_umask(folder)  # safetensors writes 0600


def check_weights(folder: Path) -> None:
    """Refuse a folder whose weights are not safetensors (a pickle would run code)."""
    if not any(folder.glob("model*.safetensors")):
        pickled = sorted(p.name for p in folder.glob("*.bin")) + \
            sorted(p.name for p in folder.glob("*.pt"))
        raise ModelLoadError(
            f"model folder {str(folder)!r} has no .safetensors weights"
            + (f" ({', '.join(pickled)} are pickles, which svgrl does not load)" if pickled
               else "") + "; save it with save_pretrained(safe_serialization=True)")


def load_model_folder(folder: str | os.PathLike, *, dtype: torch.dtype = torch.float32
                      ) -> SvgLM:
    """The `SvgLM` saved by `save_model_folder` (offline), in eval mode. A Qwen2-VL /
    Qwen2.5-VL folder comes back with its own vision tower and image processor."""
    from transformers import AutoModelForCausalLM

    from svgrl.errors import TokenError
    from svgrl.model.vision import is_qwen_vl, load_vision
    from svgrl.tokens.hf import load_tokenizer

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"{str(folder)!r} is not a saved svgrl model folder "
                             "(no config.json)")
    check_weights(folder)
    try:
        tokenizer, layout = load_tokenizer(folder)
    except TokenError as e:
        raise ModelLoadError(f"model folder {str(folder)!r}: {e}") from e
    if is_qwen_vl(folder):
        from svgrl.model.qwen_vl import check_vl_tokenizer, load_vl_model

        check_vl_tokenizer(tokenizer, folder)
        with quiet_transformers():
            model, image_processor = load_vl_model(folder, dtype=dtype)
        lm = SvgLM(model, tokenizer, layout, None, image_processor=image_processor)
    else:
        try:
            with quiet_transformers():
                model = AutoModelForCausalLM.from_pretrained(
                    str(folder), local_files_only=True, dtype=dtype, use_safetensors=True)
        except Exception as e:  # corrupt weights surface as safetensors/json/torch errors
            raise ModelLoadError(f"could not load model folder {str(folder)!r}: "
                                 f"{type(e).__name__}: {e}") from e
        vision = load_vision(folder)
        if vision is not None:
            vision.to(dtype)
        lm = SvgLM(model, tokenizer, layout, vision)
    if lm.vocab_rows < layout.vocab_size:
        raise ModelLoadError(f"{folder}: the model has {lm.vocab_rows} embedding rows, the "
                             f"token layout needs {layout.vocab_size}")
    return lm.train(False)
