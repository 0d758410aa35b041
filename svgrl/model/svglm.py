"""`SvgLM`: a causal LM whose vocabulary holds the SVG tokens, its tokenizer and layout, and
(for text-only backbones) the vision prefix — the one object SFT, GRPO and generation share.

`svgrl.model.backbones.prepare_backbone` turns any backbone into one: extend the
tokenizer (`svgrl.tokens.hf`), resize the embeddings, initialise the point-token rows, attach
a vision prefix. `SvgLM.embed` builds input embeddings with the prefix spliced in at the
image positions; training and decoding both go through it.

Point-token initialisation (svgrl's choice, not OmniSVG's): OmniSVG gives each of the 40,000
grid points its own token, so a model must learn from data that (57, 80) is next to (58, 80);
with tied embeddings that is slow on a small CPU budget. ``point_init="fourier"`` sets the
point rows to 2-D Fourier features of (x, y) (as in NeRF's positional encoding,
arXiv 2003.08934 §5.1), scaled to the existing rows' standard deviation, so nearby points
start with similar embeddings and output logits. ``"default"`` keeps transformers' init.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from svgrl.errors import ConfigError
from svgrl.model.vision import VisionPrefix
from svgrl.tokens.layout import TokenLayout

POINT_INITS = ("fourier", "default")


@dataclass
class SvgLM:
    model: Any
    tokenizer: Any
    layout: TokenLayout
    vision: VisionPrefix | None = None
    # Qwen2.5-VL backbones read images with their own tower (svgrl.model.qwen_vl); the
    # folder's image processor lives here and `vision` stays None.
    image_processor: Any = None

    @property
    def d_model(self) -> int:
        return int(self.model.get_input_embeddings().weight.shape[1])

    @property
    def vocab_rows(self) -> int:
        return int(self.model.get_input_embeddings().weight.shape[0])

    @property
    def n_image_tokens(self) -> int:
        return self.vision.cfg.n_patches if self.vision is not None else 0

    def modules(self) -> list[torch.nn.Module]:
        return [self.model] + ([self.vision] if self.vision is not None else [])

    def parameters(self) -> list[torch.nn.Parameter]:
        return [p for m in self.modules() for p in m.parameters()]

    def train(self, mode: bool = True) -> SvgLM:
        for m in self.modules():
            m.train(mode)
        return self

    def embed(self, input_ids: torch.Tensor, images: torch.Tensor | None = None,
              has_image: torch.Tensor | None = None, offsets: torch.Tensor | None = None
              ) -> torch.Tensor:
        """(B, T) ids → (B, T, D) embeddings; rows with ``has_image`` (default: all) get the
        vision prefix of their image over their placeholders, positions ``offsets[r] ..
        offsets[r] + n_image_tokens - 1`` (`offsets`: each row's left padding; default 0).
        The one splice of the prefix: SFT, the GRPO policy and the sampler all use it."""
        emb = self.model.get_input_embeddings()(input_ids)
        if images is None:
            return emb
        if self.vision is None:
            raise ConfigError("this model has no vision prefix: train it with an image or "
                              "reference task (--task-weights) to give it image input")
        rows = has_image if has_image is not None else torch.ones(
            len(input_ids), dtype=torch.bool)
        if rows.any():
            n = self.n_image_tokens
            prefix = self.vision(images[rows]).to(emb.dtype)  # (B_img, N, D)
            emb = emb.clone()
            if offsets is None:
                emb[rows, :n] = prefix
            else:
                which = rows.nonzero().squeeze(1).to(emb.device)
                cols = offsets.to(emb.device)[which][:, None] + torch.arange(n, device=emb.device)
                emb[which[:, None], cols] = prefix
        return emb

    def hidden(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
               images: torch.Tensor | None = None,
               has_image: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, D) last hidden states (no LM head: callers project only the positions they
        score, which on CPU saves most of the cost of a 44k-token head)."""
        emb = self.embed(input_ids, images, has_image)
        out = self.model.get_decoder()(inputs_embeds=emb, attention_mask=attention_mask,
                                       use_cache=False)
        return out.last_hidden_state

    def head(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.model.get_output_embeddings()(hidden)


def fourier_point_rows(layout: TokenLayout, d_model: int, std: float) -> torch.Tensor:
    """(G², D) point-token embeddings: sin/cos of x and y at D/4 geometric frequencies
    (periods from 2 grid cells to 4·G), scaled so each entry has standard deviation `std`."""
    g = layout.grid
    k = max(1, d_model // 4)
    periods = 2.0 * (2.0 * g) ** (torch.arange(k, dtype=torch.float64) / max(1, k - 1))
    omega = 2 * math.pi / periods  # (K,)
    idx = torch.arange(g * g, dtype=torch.float64)
    x, y = idx % g, idx // g
    feats = torch.cat([torch.sin(x[:, None] * omega), torch.cos(x[:, None] * omega),
                       torch.sin(y[:, None] * omega), torch.cos(y[:, None] * omega)], dim=1)
    out = torch.zeros(g * g, d_model, dtype=torch.float64)
    out[:, :feats.shape[1]] = feats[:, :d_model]
    return (out * (std * math.sqrt(2.0))).float()  # sin/cos have variance 1/2


def init_point_embeddings(model: Any, layout: TokenLayout) -> None:
    """Overwrite the point rows of the input (and, if untied, output) embeddings."""
    with torch.no_grad():
        targets = [model.get_input_embeddings().weight]
        out = model.get_output_embeddings()
        if out is not None and out.weight.data_ptr() != targets[0].data_ptr():
            targets.append(out.weight)
        for w in targets:
            old = w[:layout.point_start]
            std = float(old.float().std()) if len(old) > 1 else 0.02
            rows = fourier_point_rows(layout, w.shape[1], std).to(w.dtype)
            w[layout.point_start:layout.paint_start] = rows  # gradient tokens keep theirs
