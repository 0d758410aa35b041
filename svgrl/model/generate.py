"""`svgrl generate`: grammar-constrained, KV-cached SVG generation (OmniSVG §4 inference, with
validity by construction instead of sampling extra outputs and discarding broken ones),
decoded and rendered. The decoding itself is the one sampler, `svgrl.model.sampler`: with the
grammar on, every output decodes strictly and each of its subpaths bears area (two lines, or
a curve or an arc), whatever the weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from svgrl.errors import ConfigError
from svgrl.model.prompts import Prompt
from svgrl.model.sampler import Decoder, Finished, run_rows
from svgrl.model.sampling import Sampling
from svgrl.svg.drawing import Drawing
from svgrl.tokens.grammar import grammar_for

BLANK_INK = 0.001  # an output whose render has under 0.1% non-white pixels is blank


@dataclass
class Sample:
    ids: list[int]  # generated ids (model layout), PAD removed
    drawing: Drawing
    complete: bool  # closed by </svg>
    blank: bool
    issues: list[str] = field(default_factory=list)
    # sum of the drawn tokens' log-probabilities under the grammar-masked distribution at the
    # sampling temperature (None unless asked for: ``generate(..., logprobs=True)``)
    logprob: float | None = None


def is_blank(rgb: np.ndarray, ink: float = BLANK_INK) -> bool:
    """True when fewer than `ink` of the pixels differ visibly from white."""
    return float((np.abs(rgb.astype(np.int16) - 255).max(axis=2) > 8).mean()) < ink


@torch.no_grad()
def generate_ids(lm: Any, prompt: Prompt | Any, n: int, sampling: Sampling, *,
                 max_new_tokens: int = 1024, grammar: bool = True, seed: int = 0,
                 batch_size: int = 16, backend: Any = None) -> list[list[int]]:
    """`n` completions (see `generate_rows`)."""
    return [f.tokens for f in generate_rows(
        lm, prompt, n, sampling, max_new_tokens=max_new_tokens, grammar=grammar, seed=seed,
        batch_size=batch_size, backend=backend)]


@torch.no_grad()
def generate_rows(lm: Any, prompt: Prompt | Any, n: int, sampling: Sampling, *,
                  max_new_tokens: int = 1024, grammar: bool = True, seed: int = 0,
                  batch_size: int = 16, backend: Any = None, logprobs: bool = False
                  ) -> list[Finished]:
    """`n` completions of `prompt` (ids up to and including </svg>, or the budget), decoded
    `batch_size` rows at a time. `prompt` is a `Prompt` for the text backbones or a
    `VLPrompt` for Qwen2.5-VL (`prompt_for` gives the right one). `backend`: another
    generator (`svgrl.model.backend`, e.g. `VllmBackend`, which holds its own grammar
    setting) for text prompts instead of svgrl's own decoder. ``logprobs``: each row also
    carries its tokens' log-probabilities (`svgrl.model.sampler.Finished`)."""
    from svgrl.model.qwen_vl import VLPrompt
    from svgrl.model.vision import image_tensor

    if not 1 <= n <= 100_000:
        raise ConfigError(f"-n {n}: ask for 1 to 100000 samples")
    limit = getattr(lm.model.config.get_text_config(), "max_position_embeddings", None)
    if limit and len(prompt.ids) + max_new_tokens > limit:
        raise ConfigError(f"prompt ({len(prompt.ids)} tokens) + --max-new-tokens "
                          f"{max_new_tokens} exceeds the model's {limit} positions; lower "
                          "--max-new-tokens")
    vl = isinstance(prompt, VLPrompt)
    if vl != (lm.image_processor is not None):
        raise ConfigError("a Qwen2.5-VL model takes a VLPrompt and other models a Prompt; "
                          "build it with svgrl.model.prompts.prompt_for")
    if backend is not None:
        return _on_backend(backend, prompt, n, sampling, max_new_tokens, seed, batch_size)
    img = image_tensor(prompt.image, lm.vision.cfg.image_size) if not vl and \
        prompt.image is not None and lm.vision is not None else None
    dec = Decoder(lm.model, sampling=sampling, eos={lm.layout.eos}, pad_id=lm.layout.pad,
                  grammar=grammar_for(lm.layout, lm.vocab_rows) if grammar else None,
                  generator=torch.Generator().manual_seed(seed), embed=lm.embed,
                  logprobs=logprobs)
    out: list[Finished] = []
    for start in range(0, n, batch_size):
        b = min(batch_size, n - start)
        if vl:
            ids = dec.add_vl(prompt, n=b, max_new_tokens=max_new_tokens)
        else:
            ids = dec.add([prompt.ids], n=b, max_new_tokens=max_new_tokens,
                          images=img[None] if img is not None else None)
        out += run_rows(dec, ids)
    return out


def _on_backend(backend: Any, prompt: Any, n: int, sampling: Sampling, max_new_tokens: int,
                seed: int, batch_size: int) -> list[Finished]:
    from svgrl.model.backend import GenRequest

    if getattr(prompt, "image", None) is not None or not isinstance(prompt, Prompt):
        raise ConfigError("this generator backend takes text prompts only; use svgrl's own "
                          "decoder for image and reference prompts")
    out: list[Finished] = []
    for k, start in enumerate(range(0, n, batch_size)):
        b = min(batch_size, n - start)
        req = GenRequest(list(prompt.ids), max_new_tokens, n=b, sampling=sampling,
                         seed=seed + k)
        out += backend.generate([req])[0]
    return out


def to_samples(lm: Any, rows: list[list[int]], size: int = 200,
               logprobs: list[list[float] | None] | None = None) -> list[Sample]:
    """Decode (leniently, reporting issues), render, and flag blank outputs; `logprobs`, one
    list per row, are summed into `Sample.logprob`."""
    from svgrl.svg.render import render
    from svgrl.tokens.codec import decode_report

    samples = []
    for k, ids in enumerate(rows):
        drawing, rep = decode_report(ids, lm.layout)
        lp = logprobs[k] if logprobs is not None else None
        samples.append(Sample(ids, drawing, rep.complete, is_blank(render(drawing, size)),
                              list(rep.issues), None if lp is None else float(sum(lp))))
    return samples


def generate(lm: Any, prompt: Prompt | Any, n: int, sampling: Sampling, **kwargs: Any
             ) -> list[Sample]:
    """`n` decoded samples of `prompt` (see `generate_rows` for the options)."""
    rows = generate_rows(lm, prompt, n, sampling, **kwargs)
    return to_samples(lm, [f.tokens for f in rows], logprobs=[f.logprobs for f in rows])
