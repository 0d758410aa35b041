"""Learned bench metrics, from weights on local disk only (nothing is downloaded):

- **DINO score** (StarVector's DinoScore): cosine similarity of DINOv2 image embeddings of
  output and target, mean over samples. ``--dino DIR`` is a transformers DINOv2 folder
  (``Dinov2Model.save_pretrained``, e.g. facebook/dinov2-base). Embedding: ``pooler_output``
  (the final-layernormed CLS token). Preprocessing as DINOv2's published processor
  (BitImageProcessor): resize the short side to 256/224 of the crop (bicubic, antialiased),
  centre-crop to the model's ``image_size`` (224), ImageNet mean/std.
- **FD-DINOv2** (Stein et al., NeurIPS 2023, arXiv 2306.04675): Fréchet distance between the
  DINOv2 embeddings of a system's outputs and of the targets.
- **CLIP score**: ``--clip DIR`` a transformers CLIP folder (``CLIPModel`` + its tokenizer).
  Text task: CLIPScore (Hessel et al., 2021, arXiv 2104.08718, the torchmetrics form)
  ``100 · max(cos(image, caption), 0)``; image and reference tasks: cosine of the output's
  and the target's image embeddings. Preprocessing as CLIP's processor: resize the short side
  to ``image_size`` (bicubic), centre crop, CLIP mean/std. **FID-CLIP**: Fréchet distance on
  CLIP image embeddings (Kynkäänniemi et al., ICLR 2023, arXiv 2203.06026, on why CLIP
  features beat Inception's).
- **LPIPS** (Zhang et al., CVPR 2018, arXiv 1801.03924), the published v0.1 linear heads on
  AlexNet or VGG16 features defined here in plain torch (no torchvision); layer names match
  torchvision's so its state dicts load. ``--lpips DIR`` holds ``alex.pth`` (the LPIPS heads,
  as in the ``lpips`` package's ``weights/v0.1/``) and ``alexnet.pth`` (torchvision AlexNet
  state dict), or ``vgg.pth`` and ``vgg16.pth``. Inputs: the renders as they are, mapped to
  [−1, 1], then LPIPS's scaling layer, as the reference code does.

A failed sample enters with the blank canvas it is scored as (`svgrl.bench.metrics`). FD
needs at least two samples per side; a system with fewer gets ``None``. Without a flag the
metric's value is the text ``unavailable: pass --dino PATH`` (or the like), never a number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from svgrl.errors import ModelLoadError

UNAVAILABLE = {
    "dino": "unavailable: pass --dino PATH", "fd_dino": "unavailable: pass --dino PATH",
    "clip": "unavailable: pass --clip PATH", "fid_clip": "unavailable: pass --clip PATH",
    "lpips": "unavailable: pass --lpips PATH",
}
_IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
_CLIP = ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))
BATCH = 16


def _tensor(images: list[np.ndarray]):
    import torch

    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div_(255.0)
    return x


def _resize_crop(x, short: int, crop: int, mean, std):
    """(B, 3, H, W) in [0, 1] → resized (bicubic, antialiased) so the short side is
    `short`, centre-cropped to `crop`, normalised."""
    import torch
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    s = short / min(h, w)
    x = F.interpolate(x, size=(round(h * s), round(w * s)), mode="bicubic",
                      align_corners=False, antialias=True).clamp_(0, 1)
    h, w = x.shape[-2:]
    top, left = (h - crop) // 2, (w - crop) // 2
    x = x[..., top:top + crop, left:left + crop]
    m = torch.tensor(mean).view(1, 3, 1, 1)
    sd = torch.tensor(std).view(1, 3, 1, 1)
    return (x - m) / sd


def _load_hf(cls_name: str, path: str, what: str):
    import transformers

    p = Path(path).expanduser()
    if not (p / "config.json").is_file():
        raise ModelLoadError(f"--{what} {path!r} is not a transformers model folder (no "
                             "config.json); save one with save_pretrained and pass its folder")
    try:
        return getattr(transformers, cls_name).from_pretrained(str(p), local_files_only=True
                                                               ).eval()
    except Exception as e:  # noqa: BLE001
        raise ModelLoadError(f"--{what} {path!r}: cannot load a {cls_name} "
                             f"({type(e).__name__}: {e})") from None


class Dino:
    def __init__(self, path: str):
        self.model = _load_hf("Dinov2Model", path, "dino")
        self.crop = int(self.model.config.image_size)

    def embed(self, images: list[np.ndarray]):
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(images), BATCH):
                x = _resize_crop(_tensor(images[i:i + BATCH]), round(self.crop * 256 / 224),
                                 self.crop, *_IMAGENET)
                out.append(self.model(pixel_values=x).pooler_output.float())
        return torch.cat(out)


class Clip:
    def __init__(self, path: str):
        from transformers import AutoTokenizer

        self.model = _load_hf("CLIPModel", path, "clip")
        self.crop = int(self.model.config.vision_config.image_size)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(Path(path).expanduser()),
                                                           local_files_only=True)
        except Exception:  # noqa: BLE001 — image-only use works without a tokenizer
            self.tokenizer = None

    @staticmethod
    def _features(out):
        return out if hasattr(out, "shape") else out.pooler_output

    def embed(self, images: list[np.ndarray]):
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(images), BATCH):
                x = _resize_crop(_tensor(images[i:i + BATCH]), self.crop, self.crop, *_CLIP)
                out.append(self._features(self.model.get_image_features(pixel_values=x)).float())
        return torch.cat(out)

    def embed_text(self, texts: list[str]):
        import torch

        if self.tokenizer is None:
            raise ModelLoadError("--clip folder has no tokenizer: the text task's CLIP score "
                                 "needs one")
        n = getattr(self.model.config.text_config, "max_position_embeddings", 77)
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), BATCH):
                t = self.tokenizer(texts[i:i + BATCH], padding=True, truncation=True,
                                   max_length=n, return_tensors="pt")
                out.append(self._features(self.model.get_text_features(
                    input_ids=t["input_ids"], attention_mask=t["attention_mask"])).float())
        return torch.cat(out)


# --- LPIPS in plain torch ---------------------------------------------------------------------

# torchvision layer layouts (so their state dicts load) and LPIPS's slice ends (after ReLUs).
_ALEX = [("C", 3, 64, 11, 4, 2), ("R",), ("P",), ("C", 64, 192, 5, 1, 2), ("R",), ("P",),
         ("C", 192, 384, 3, 1, 1), ("R",), ("C", 384, 256, 3, 1, 1), ("R",),
         ("C", 256, 256, 3, 1, 1), ("R",)]
_ALEX_CUTS, _ALEX_CH = (2, 5, 8, 10, 12), (64, 192, 384, 256, 256)
_VGG_CFG = (64, 64, "P", 128, 128, "P", 256, 256, 256, "P", 512, 512, 512, "P", 512, 512, 512)
_VGG_CUTS, _VGG_CH = (4, 9, 16, 23, 30), (64, 128, 256, 512, 512)


def _vgg_layers() -> list[tuple]:
    out, c = [], 3
    for v in _VGG_CFG:
        if v == "P":
            out.append(("P2",))
        else:
            out += [("C", c, v, 3, 1, 1), ("R",)]
            c = v
    return out


def lpips_net(net: str):
    """An LPIPS module (``forward(a, b) -> (B,)`` for inputs in [−1, 1]) with the layer names
    of torchvision's backbone (``features.N``) and of the lpips package's heads
    (``linK.model.1``); weights are random until loaded."""
    import torch
    from torch import nn

    layers, cuts, chans = ((_ALEX, _ALEX_CUTS, _ALEX_CH) if net == "alex"
                           else (_vgg_layers(), _VGG_CUTS, _VGG_CH))

    def make(spec):
        if spec[0] == "C":
            return nn.Conv2d(spec[1], spec[2], spec[3], spec[4], spec[5])
        if spec[0] == "R":
            return nn.ReLU(inplace=False)
        return nn.MaxPool2d(2, 2) if spec[0] == "P2" else nn.MaxPool2d(3, 2)

    class Lin(nn.Module):
        def __init__(self, c: int):
            super().__init__()
            self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(c, 1, 1, bias=False))

    class LPIPS(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*[make(s) for s in layers])
            for k, c in enumerate(chans):
                setattr(self, f"lin{k}", Lin(c))
            self.register_buffer("shift", torch.tensor([-.030, -.088, -.188]).view(1, 3, 1, 1))
            self.register_buffer("scale", torch.tensor([.458, .448, .450]).view(1, 3, 1, 1))

        def _feats(self, x):
            x = (x - self.shift) / self.scale
            out, start = [], 0
            for end in cuts:
                for layer in self.features[start:end]:
                    x = layer(x)
                out.append(x)
                start = end
            return out

        def forward(self, a, b):
            total = 0
            for k, (fa, fb) in enumerate(zip(self._feats(a), self._feats(b), strict=True)):
                fa = fa / (fa.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
                fb = fb / (fb.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
                d = getattr(self, f"lin{k}").model((fa - fb) ** 2)
                total = total + d.mean(dim=(2, 3))
            return total.reshape(-1)

    return LPIPS()


class Lpips:
    def __init__(self, path: str):
        import torch

        p = Path(path).expanduser()
        net = next((n for n, files in (("alex", ("alex.pth", "alexnet.pth")),
                                       ("vgg", ("vgg.pth", "vgg16.pth")))
                    if all((p / f).is_file() for f in files)), None)
        if net is None:
            raise ModelLoadError(f"--lpips {path!r} must hold alex.pth + alexnet.pth (LPIPS "
                                 "v0.1 heads + torchvision AlexNet state dict) or vgg.pth + "
                                 "vgg16.pth")
        heads, backbone = (("alex.pth", "alexnet.pth") if net == "alex"
                           else ("vgg.pth", "vgg16.pth"))
        self.model = lpips_net(net)
        try:
            b = torch.load(p / backbone, map_location="cpu", weights_only=True)
            h = torch.load(p / heads, map_location="cpu", weights_only=True)
            state = {k: v for k, v in b.items() if k.startswith("features.")}
            state.update({k: v for k, v in h.items() if k.startswith("lin")})
            state["shift"], state["scale"] = self.model.shift, self.model.scale
            self.model.load_state_dict(state, strict=True)
        except Exception as e:  # noqa: BLE001
            raise ModelLoadError(f"--lpips {path!r}: weights do not fit LPIPS-{net} "
                                 f"({type(e).__name__}: {e})") from None
        self.model.eval()
        self.net = net

    def distance(self, a: list[np.ndarray], b: list[np.ndarray]) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(a), BATCH):
                x = _tensor(a[i:i + BATCH]) * 2 - 1
                y = _tensor(b[i:i + BATCH]) * 2 - 1
                out.append(self.model(x, y).float())
        return torch.cat(out).numpy().astype(np.float64)


# --- Fréchet distance and the bench hook ------------------------------------------------------

def frechet_distance(a: np.ndarray, b: np.ndarray) -> float | None:
    """‖μa − μb‖² + Tr(Σa + Σb − 2(ΣaΣb)^½) of two (N, D) feature sets (FID's formula);
    None with fewer than two rows on a side."""
    from scipy import linalg

    if len(a) < 2 or len(b) < 2:
        return None
    a, b = a.astype(np.float64), b.astype(np.float64)
    mu = a.mean(0) - b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(sa @ sb)
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(max(0.0, mu @ mu + np.trace(sa) + np.trace(sb) - 2 * np.trace(covmean)))


def _cos(a, b) -> np.ndarray:
    import torch

    return torch.nn.functional.cosine_similarity(a, b, dim=1).numpy().astype(np.float64)


def learned_metrics(cfg: Any, targets: list, renders: dict, systems: dict,
                    samples: dict) -> None:
    """Add dino / fd_dino / clip / fid_clip / lpips to each system's summary and samples."""
    for s in systems.values():
        s.update(UNAVAILABLE)
    if not (cfg.dino or cfg.clip or cfg.lpips) or not targets:
        return
    import torch

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    tgt = [t.image for t in targets]
    if cfg.dino:
        dino = Dino(cfg.dino)
        te = dino.embed(tgt)
        for name, imgs in renders.items():
            e = dino.embed(imgs)
            per = _cos(e, te)
            _put(samples[name], "dino", per)
            systems[name]["dino"] = float(per.mean())
            systems[name]["fd_dino"] = frechet_distance(e.numpy(), te.numpy())
    if cfg.clip:
        clip = Clip(cfg.clip)
        te = clip.embed(tgt)
        text = clip.embed_text([t.caption for t in targets]) if cfg.task == "text" else None
        for name, imgs in renders.items():
            e = clip.embed(imgs)
            per = 100 * np.maximum(_cos(e, text), 0) if text is not None else _cos(e, te)
            _put(samples[name], "clip", per)
            systems[name]["clip"] = float(per.mean())
            systems[name]["fid_clip"] = frechet_distance(e.numpy(), te.numpy())
    if cfg.lpips:
        lp = Lpips(cfg.lpips)
        for name, imgs in renders.items():
            per = lp.distance(imgs, tgt)
            _put(samples[name], "lpips", per)
            systems[name]["lpips"] = float(per.mean())


def _put(records: list[dict], key: str, values: np.ndarray) -> None:
    for r, v in zip(records, values, strict=True):
        r[key] = float(v)
