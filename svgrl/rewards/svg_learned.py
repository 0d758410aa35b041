"""Learned image similarity (LPIPS, DreamSim, CLIP, DINO) from weights on local disk.

svgrl downloads nothing and ships none of these networks. A user who has one provides it as a
local file, in one of two forms:

- a self-contained program: a ``torch.export`` archive (``torch.export.save(ep, "m.pt2")``,
  export with a dynamic batch dimension) or a **TorchScript** archive (``torch.jit.save``;
  deprecated by torch but still loaded) — architecture and weights in one file; the way to
  bring LPIPS/DreamSim/CLIP/DINO, whose reference architectures live in packages svgrl does
  not depend on (torchvision, open_clip);
- a **state dict** (``.pt``/``.pth``/``.bin`` via ``torch.save(model.state_dict())``, or
  ``.safetensors``) plus `factory`, a zero-argument callable that builds the matching module.
  Loaded with ``weights_only=True``: pickled whole modules are refused (unpickling runs code).

The module is one of two kinds (`kind`):

- ``"embedding"`` — ``f(images) → (B, D)``; similarity = cosine of the two embeddings
  (CLIP image tower, DINO). Target embeddings are cached per target.
- ``"distance"`` — ``f(a, b) → (B,)`` perceptual distances; similarity = 1 − d (LPIPS,
  DreamSim, as RLRF uses them, arXiv 2505.20793 §3.2).

Images enter as float (B, 3, S, S): RGB in [0, 1], resized bilinearly to `input_size`, then
``(x − mean) / std`` per channel (the presets below hold each family's usual values).
"""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from svgrl.errors import ConfigError, ModelLoadError

_IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
_CLIP = ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))
_HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))  # maps [0, 1] to [-1, 1] (LPIPS's input range)


@dataclass(frozen=True)
class LearnedPreset:
    kind: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


# name -> preprocessing of that family (the network itself comes from the user's file).
PRESETS: dict[str, LearnedPreset] = {
    "clip": LearnedPreset("embedding", 224, *_CLIP),
    "dino": LearnedPreset("embedding", 224, *_IMAGENET),
    "lpips": LearnedPreset("distance", 224, *_HALF),
    "dreamsim": LearnedPreset("distance", 224, *_IMAGENET),
}

_HOW = ("provide a torch.export archive (.pt2, torch.export.save) or a TorchScript file "
        "(torch.jit.save), or a state dict (.pt/.pth/.bin/.safetensors) together with a "
        "factory that builds the module")


class LearnedSimilarity:
    """``sim(images, targets) -> (B,) float`` for (B, H, W, 3) uint8 renders and targets."""

    def __init__(self, path: str | Path, preset: str | LearnedPreset = "dino", *,
                 factory: Callable[[], Any] | None = None, threads: int = 0):
        import torch  # optional dependency: only this hook needs it

        if isinstance(preset, str):
            if preset not in PRESETS:
                raise ConfigError(f"learned preset {preset!r}: choose from {sorted(PRESETS)}")
            preset = PRESETS[preset]
        if preset.kind not in ("embedding", "distance"):
            raise ConfigError(f"learned kind {preset.kind!r}: use 'embedding' or 'distance'")
        self.preset = preset
        self.path = Path(path).expanduser()
        self._torch = torch
        self._threads = threads
        self.module = _load_module(self.path, factory)
        # exported programs are already in inference form and may refuse .eval()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            self.module.eval()
        self._mean = torch.tensor(preset.mean, dtype=torch.float32).view(1, 3, 1, 1)
        self._std = torch.tensor(preset.std, dtype=torch.float32).view(1, 3, 1, 1)
        self._cache: dict[Any, Any] = {}

    def _tensor(self, images: Sequence[np.ndarray]):
        torch = self._torch
        x = torch.from_numpy(np.stack([np.asarray(im)[..., :3] for im in images]))
        x = x.permute(0, 3, 1, 2).float().div_(255.0)
        s = self.preset.input_size
        if x.shape[-2:] != (s, s):
            x = torch.nn.functional.interpolate(x, size=(s, s), mode="bilinear",
                                                align_corners=False, antialias=True)
        return (x - self._mean) / self._std

    def _embed(self, images: Sequence[np.ndarray]):
        out = self.module(self._tensor(images))
        if not hasattr(out, "ndim") or out.ndim != 2 or out.shape[0] != len(images):
            raise ModelLoadError(f"{self.path}: an 'embedding' module must return (B, D), got "
                                 f"{getattr(out, 'shape', type(out).__name__)}")
        return self._torch.nn.functional.normalize(out.float(), dim=1)

    def __call__(self, images: Sequence[np.ndarray], targets: Sequence[np.ndarray],
                 target_keys: Sequence[Any] | None = None) -> np.ndarray:
        """Similarity of each image to its target; `target_keys` (hashable, one per target)
        lets embedding targets be computed once and cached."""
        if len(images) != len(targets):
            raise ConfigError(f"{len(images)} images for {len(targets)} targets")
        if not images:
            return np.zeros(0)
        torch = self._torch
        old = torch.get_num_threads()
        if self._threads:
            torch.set_num_threads(self._threads)
        try:
            with torch.inference_mode():
                if self.preset.kind == "distance":
                    d = self.module(self._tensor(images), self._tensor(targets))
                    d = d.reshape(-1).float()
                    if d.shape[0] != len(images):
                        raise ModelLoadError(f"{self.path}: a 'distance' module must return "
                                             f"(B,) distances, got {tuple(d.shape)}")
                    return (1.0 - d).numpy().astype(np.float64)
                e = self._embed(images)
                t = self._target_embeddings(targets, target_keys)
                return (e * t).sum(dim=1).numpy().astype(np.float64)
        finally:
            torch.set_num_threads(old)

    def _target_embeddings(self, targets, keys):
        torch = self._torch
        if keys is None:
            return self._embed(targets)
        missing = [i for i, k in enumerate(keys) if k not in self._cache]
        if missing:
            uniq = {keys[i]: i for i in missing}
            emb = self._embed([targets[i] for i in uniq.values()])
            if len(self._cache) > 4096:
                self._cache.clear()
            for k, row in zip(uniq, emb, strict=True):
                self._cache[k] = row
        return torch.stack([self._cache[k] for k in keys])


def _load_module(path: Path, factory: Callable[[], Any] | None):
    import torch

    if not path.is_file():
        raise ModelLoadError(f"learned similarity weights not found at {str(path)!r}: {_HOW}")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
        if any(n.endswith("/archive_format") for n in names):
            try:
                return torch.export.load(str(path)).module()
            except Exception as e:  # noqa: BLE001
                raise ModelLoadError(f"{path}: not a loadable torch.export archive "
                                     f"({type(e).__name__}: {e})") from None
        if any(n.endswith("/constants.pkl") or n.split("/")[-2:-1] == ["code"]
               for n in names):
            try:
                return torch.jit.load(str(path), map_location="cpu")
            except Exception as e:  # noqa: BLE001
                raise ModelLoadError(f"{path}: not a loadable TorchScript archive ({e})") from None
    if factory is None:
        raise ModelLoadError(f"{path} is not a TorchScript archive, so it must be a state dict "
                             f"and needs a factory building its module: {_HOW}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise ModelLoadError(f"{path}: cannot read a state dict ({type(e).__name__}: {e}); "
                             f"{_HOW}") from None
    if not isinstance(state, dict):
        raise ModelLoadError(f"{path}: expected a state dict, found {type(state).__name__}; "
                             f"{_HOW}")
    module = factory()
    try:
        module.load_state_dict(state, strict=True)
    except Exception as e:  # noqa: BLE001
        raise ModelLoadError(f"{path}: state dict does not match the factory's module: "
                             f"{e}") from None
    return module
