"""Next-token sampling: temperature, top-k, top-p (nucleus), in that order (as transformers'
`generate` applies its warpers), and OmniSVG's per-task presets."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from svgrl.errors import ConfigError


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.5
    top_p: float = 0.88
    top_k: int = 50

    def __post_init__(self) -> None:
        if not (self.temperature >= 0 and 0 < self.top_p <= 1 and self.top_k >= 0):
            raise ConfigError(f"sampling {self}: need temperature ≥ 0 (0 = greedy), "
                              "0 < top_p ≤ 1, top_k ≥ 0 (0 = off)")


# OmniSVG's public inference settings: icons (text-to-SVG) T 0.5 / top-p 0.88 / top-k 50;
# image-to-SVG T 0.3 / 0.90 / 50. The reference task conditions on an image too, so it
# shares the image preset.
PRESETS = {
    "text": Sampling(0.5, 0.88, 50),
    "image": Sampling(0.3, 0.90, 50),
    "reference": Sampling(0.3, 0.90, 50),
}


def sample(logits: torch.Tensor, s: Sampling, generator: torch.Generator | None = None
           ) -> torch.Tensor:
    """(B, V) logits (−inf where forbidden) → (B,) sampled ids."""
    if s.temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits / s.temperature
    if s.top_p >= 1 and not (s.top_k and s.top_k < logits.shape[-1]):
        # Plain sampling: no sort over the vocabulary (44k ids with the SVG tokens).
        probs = torch.softmax(logits, dim=-1)
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
    if s.top_k and s.top_k < logits.shape[-1]:
        vals, idx = torch.topk(logits, s.top_k, dim=-1)  # sorted descending
    else:
        vals, idx = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(vals, dim=-1)
    if s.top_p < 1:
        # Keep the smallest prefix whose mass reaches top_p (always the first token).
        before = torch.cumsum(probs, dim=-1) - probs
        probs = probs.masked_fill(before >= s.top_p, 0.0)
    # Forbidden ids have probability 0 after softmax; if the top-k set reached into them they
    # stay at 0, and the grammar always leaves at least one allowed id.
    choice = torch.multinomial(probs, 1, generator=generator)  # (B, 1)
    return idx.gather(-1, choice).squeeze(-1)
