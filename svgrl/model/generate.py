"""Grammar-constrained, KV-cached SVG generation (OmniSVG §4 inference, with validity by
construction instead of sampling extra outputs and discarding broken ones).

Per step: logits of the last position (B, V) → add the grammar's 0/−inf bias for each row's
state (`svgrl.tokens.grammar`: O(1) per row, a cached bias tensor per state) → temperature /
top-k / top-p (`sampling`) → advance each row's grammar state. The grammar's budget rule
narrows the mask near `max_new_tokens`, so every row closes its drawing in time: with the
grammar on, every output decodes strictly and draws at least one segment, whatever the
weights. Finished rows emit PAD until the batch ends.

`GrammarLogitsProcessor` is the same constraint as a transformers ``LogitsProcessor`` (for
``model.generate(logits_processor=[...])``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from svgrl.errors import ConfigError
from svgrl.model.prompts import Prompt
from svgrl.model.sampling import Sampling, sample
from svgrl.svg.drawing import Drawing
from svgrl.tokens.grammar import Grammar, GrammarState, grammar_for

BLANK_INK = 0.001  # an output whose render has under 0.1% non-white pixels is blank


class GrammarLogitsProcessor:
    """Masks logits to the tokens the SVG grammar allows next, row by row.

    Use it from our loop (`step` then `apply`) or as a transformers logits processor:
    ``__call__(input_ids, scores)`` reads the tokens added since the previous call from
    ``input_ids[:, prompt_len:]``.
    """

    def __init__(self, grammar: Grammar, batch: int, max_new_tokens: int, prompt_len: int = 0):
        self.grammar = grammar
        self.states: list[GrammarState] = [grammar.start(max_new_tokens) for _ in range(batch)]
        self.prompt_len = prompt_len
        self.seen = 0

    def step(self, tokens: list[int]) -> None:
        for st, t in zip(self.states, tokens, strict=True):
            if st.done:
                continue  # finished rows are padded by the caller; nothing to check
            st.advance(t)

    def apply(self, scores: torch.Tensor) -> torch.Tensor:
        return self.grammar.mask_logits_(scores, self.states)

    @property
    def done(self) -> list[bool]:
        return [st.done for st in self.states]

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        new = input_ids[:, self.prompt_len + self.seen:]
        for j in range(new.shape[1]):
            self.step(new[:, j].tolist())
        self.seen += new.shape[1]
        return self.apply(scores)


@dataclass
class Sample:
    ids: list[int]  # generated ids (model layout), PAD removed
    drawing: Drawing
    complete: bool  # closed by </svg>
    blank: bool
    issues: list[str] = field(default_factory=list)


def is_blank(rgb: np.ndarray, ink: float = BLANK_INK) -> bool:
    """True when fewer than `ink` of the pixels differ visibly from white."""
    return float((np.abs(rgb.astype(np.int16) - 255).max(axis=2) > 8).mean()) < ink


@torch.no_grad()
def generate_ids(lm: Any, prompt: Prompt | Any, n: int, sampling: Sampling, *,
                 max_new_tokens: int = 1024, grammar: bool = True, seed: int = 0,
                 batch_size: int = 16) -> list[list[int]]:
    """`n` completions of `prompt` (ids up to and including </svg>, or the budget). `prompt`
    is a `Prompt` for the text backbones or a `VLPrompt` for Qwen2.5-VL (`prompt_for` gives
    the right one)."""
    from svgrl.model.qwen_vl import VLPrompt, vl_prefill
    from svgrl.model.vision import image_tensor

    if not 1 <= n <= 100_000:
        raise ConfigError(f"-n {n}: ask for 1 to 100000 samples")
    limit = getattr(lm.model.config.get_text_config(), "max_position_embeddings", None)
    if limit and len(prompt.ids) + max_new_tokens > limit:
        raise ConfigError(f"prompt ({len(prompt.ids)} tokens) + --max-new-tokens "
                          f"{max_new_tokens} exceeds the model's {limit} positions; lower "
                          "--max-new-tokens")
    g = grammar_for(lm.layout, lm.vocab_rows) if grammar else None
    gen = torch.Generator().manual_seed(seed)
    device = lm.model.get_input_embeddings().weight.device
    vl = isinstance(prompt, VLPrompt)
    if vl != (lm.image_processor is not None):
        raise ConfigError("a Qwen2.5-VL model takes a VLPrompt and other models a Prompt; "
                          "build it with svgrl.model.prompts.prompt_for")
    img = image_tensor(prompt.image, lm.vision.cfg.image_size) if not vl and \
        prompt.image is not None and lm.vision is not None else None
    out: list[list[int]] = []
    for start in range(0, n, batch_size):
        b = min(batch_size, n - start)
        if vl:
            res = vl_prefill(lm, prompt, b)
        else:
            ids = torch.tensor(prompt.ids, device=device)[None].expand(b, -1)
            images = img[None].expand(b, -1, -1, -1).to(device) if img is not None else None
            res = lm.model(inputs_embeds=lm.embed(ids, images), use_cache=True,
                           logits_to_keep=1)
        out += decode_rows(lm, res, b, sampling, gen, g, max_new_tokens)
    return out


def decode_rows(lm: Any, prefill: Any, b: int, sampling: Sampling, gen: torch.Generator,
                grammar: Grammar | None, max_new_tokens: int) -> list[list[int]]:
    """The KV-cached sampling loop shared by every backbone: from the prefill's output (its
    cache and last logits), one token per row per step, grammar-masked when `grammar` is
    given; finished rows feed PAD until all are done or the budget is spent."""
    device = lm.model.get_input_embeddings().weight.device
    cache, logits = prefill.past_key_values, prefill.logits[:, -1]
    proc = GrammarLogitsProcessor(grammar, b, max_new_tokens) if grammar is not None else None
    rows: list[list[int]] = [[] for _ in range(b)]
    done = [False] * b
    for _ in range(max_new_tokens):
        logits = logits.float()
        if proc is not None:
            proc.apply(logits)
        nxt = sample(logits, sampling, gen).tolist()
        for i, t in enumerate(nxt):
            if done[i]:
                nxt[i] = lm.layout.pad
            else:
                rows[i].append(t)
                done[i] = t == lm.layout.eos
        if proc is not None:
            proc.step(nxt)
        if all(done):
            break
        res = lm.model(input_ids=torch.tensor(nxt, device=device)[:, None],
                       past_key_values=cache, use_cache=True)
        cache, logits = res.past_key_values, res.logits[:, -1]
    return rows


def to_samples(lm: Any, rows: list[list[int]], size: int = 200) -> list[Sample]:
    """Decode (leniently, reporting issues), render, and flag blank outputs."""
    from svgrl.svg.render import render
    from svgrl.tokens.codec import decode_report

    samples = []
    for ids in rows:
        drawing, rep = decode_report(ids, lm.layout)
        samples.append(Sample(ids, drawing, rep.complete, is_blank(render(drawing, size)),
                              list(rep.issues)))
    return samples


def generate(lm: Any, prompt: Prompt | Any, n: int, sampling: Sampling, **kwargs: Any
             ) -> list[Sample]:
    """`n` decoded samples of `prompt` (see `generate_ids` for the options)."""
    return to_samples(lm, generate_ids(lm, prompt, n, sampling, **kwargs))
