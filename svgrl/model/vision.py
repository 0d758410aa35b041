"""Image input for text-only backbones: a vision *prefix* of linearly projected patches.

Choice (documented because OmniSVG does it differently): OmniSVG (arXiv 2504.06263, §4)
feeds images through Qwen2.5-VL's own ViT. Text-only backbones (tiny, SmolLM2) have no vision
tower and none can be downloaded here, so svgrl uses the simplest image encoder that trains
jointly with the LM: cut the image into P×P patches, flatten each, project it linearly into
the embedding space and add a learned position embedding per patch — ViT's patch embedding
(Dosovitskiy et al., arXiv 2010.11929, eq. 1) without the ViT encoder, the way Fuyu-8B feeds
patches straight into a decoder-only transformer. The LM's own layers then attend over the
patch embeddings as over any other prefix. The renders are flat-colour icons on white, so a
low resolution (64 px, 8 px patches → 64 prefix tokens by default) keeps the prompt short on
CPU; a larger backbone can raise both.

The prefix sits at positions ``0 .. n_patches-1`` of the sequence (placeholder ids there are
ignored); it is saved beside the HF weights as ``vision_prefix.safetensors`` plus its config
in ``vision_prefix.json``.

Qwen2.5-VL folders keep their own vision tower: see `svgrl.model.qwen_vl`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from svgrl.atomic import write_bytes, write_text
from svgrl.errors import ConfigError, ModelLoadError
from svgrl.jsonfile import read_versioned

VISION_WEIGHTS = "vision_prefix.safetensors"
VISION_CONFIG = "vision_prefix.json"
VISION_FORMAT = "svgrl.vision_prefix"
VISION_VERSION = 1


@dataclass(frozen=True)
class VisionConfig:
    image_size: int = field(default=64, metadata={
        "help": "side in pixels the prompt image is rendered/resized to"})
    patch_size: int = field(default=8, metadata={"help": "side in pixels of one patch"})
    d_model: int = field(default=128, metadata={"help": "embedding size of the backbone"})

    def __post_init__(self) -> None:
        if not 8 <= self.image_size <= 1024 or not 1 <= self.patch_size <= self.image_size:
            raise ConfigError(f"vision image_size={self.image_size}, patch_size="
                              f"{self.patch_size}: use 8 ≤ image_size ≤ 1024 and a patch size "
                              "that divides it (e.g. 64 and 8)")
        if self.image_size % self.patch_size:
            raise ConfigError(f"vision patch_size {self.patch_size} does not divide image_size "
                              f"{self.image_size}; pick e.g. --image-size "
                              f"{self.patch_size * (self.image_size // self.patch_size)}")

    @property
    def n_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2


class VisionPrefix(nn.Module):
    """(B, 3, S, S) float images in [0, 1] → (B, N, D) prefix embeddings, N = (S/P)²."""

    def __init__(self, cfg: VisionConfig):
        super().__init__()
        self.cfg = cfg
        p = cfg.patch_size
        self.proj = nn.Linear(3 * p * p, cfg.d_model)
        self.pos = nn.Parameter(torch.zeros(cfg.n_patches, cfg.d_model))
        # The LMs' own embedding init (std 0.02): patch embeddings start at token scale.
        nn.init.normal_(self.proj.weight, std=0.02)
        nn.init.zeros_(self.proj.bias)
        nn.init.normal_(self.pos, std=0.02)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        b, c, s, _ = images.shape
        p = self.cfg.patch_size
        # (B, 3, S, S) → (B, S/P, S/P, 3·P·P) → (B, N, 3·P·P), raster order of patches.
        x = images.reshape(b, c, s // p, p, s // p, p).permute(0, 2, 4, 1, 3, 5)
        x = x.reshape(b, self.cfg.n_patches, c * p * p)
        # Centre pixels: white background (1.0) should map near zero.
        return self.proj(x - 0.5) + self.pos


def image_tensor(rgb: np.ndarray, size: int) -> torch.Tensor:
    """(H, W, 3) uint8 → (3, size, size) float32 in [0, 1] (area-averaged resize)."""
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or \
            rgb.dtype != np.uint8:
        raise ConfigError(f"image must be an (H, W, 3) uint8 array, got "
                          f"{getattr(rgb, 'shape', type(rgb).__name__)}")
    t = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255.0)
    if t.shape[1:] != (size, size):
        t = torch.nn.functional.interpolate(t[None], size=(size, size), mode="area")[0]
    return t


def save_vision(vision: VisionPrefix, folder: str | os.PathLike) -> None:
    from safetensors.torch import save

    folder = Path(folder)
    write_bytes(folder / VISION_WEIGHTS,
                save({k: v.detach().contiguous() for k, v in vision.state_dict().items()}))
    write_text(folder / VISION_CONFIG, json.dumps(
        {"format": VISION_FORMAT, "version": VISION_VERSION, **asdict(vision.cfg)}, indent=1))


def load_vision(folder: str | os.PathLike) -> VisionPrefix | None:
    """The prefix saved in `folder`, or None when the folder has none."""
    from safetensors.torch import load_file

    folder = Path(folder)
    if not (folder / VISION_CONFIG).is_file():
        return None
    try:
        d = read_versioned(folder / VISION_CONFIG, VISION_FORMAT, VISION_VERSION,
                           "vision prefix config", ModelLoadError, 1_000_000)
        vision = VisionPrefix(VisionConfig(d["image_size"], d["patch_size"], d["d_model"]))
        vision.load_state_dict(load_file(str(folder / VISION_WEIGHTS)), strict=True)
    except (OSError, ValueError, KeyError, RuntimeError, ConfigError) as e:
        raise ModelLoadError(f"cannot load the vision prefix in {folder}: "
                             f"{type(e).__name__}: {e}") from e
    return vision


# --- Qwen2.5-VL: the backbone's own vision tower ------------------------------------------

def is_qwen_vl(folder: str | os.PathLike) -> bool:
    """True when `folder` holds a Qwen2-VL / Qwen2.5-VL checkpoint (by its config.json)."""
    p = Path(folder) / "config.json"
    try:
        return json.loads(p.read_text(encoding="utf-8")).get("model_type") in (
            "qwen2_vl", "qwen2_5_vl")
    except (OSError, ValueError, AttributeError):
        return False


def images_to_batch(images: list[Any], size: int) -> torch.Tensor:
    """Stack (H, W, 3) uint8 arrays into (B, 3, size, size) floats."""
    return torch.stack([image_tensor(im, size) for im in images])
