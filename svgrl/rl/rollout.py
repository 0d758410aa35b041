"""Generator role: prompts → G completions each, sampled by the current ("old") policy.

The default path is `sample_loop`, a lean KV-cached sampler (prompt prefilled once per
group, finished rows dropped); ``sampler="hf"`` uses Hugging Face ``generate`` instead.
Both take HF logits processors (e.g. the SVG grammar mask) and left-padded prompts.

Everything the verifier and trainer need travels in one record, `Batch` (verl's habit of a
single typed batch between roles): the generator fills ids and texts, the verifier adds
rewards (`svgrl.rl.verify`), the trainer reads both.

SVG tasks pass prompt ids directly (the SFT format), one image per prompt for the vision
prefix (the model's ``forward(images=...)``, see `svgrl.rl.svg.SvgPolicy`; it runs in the
prompt prefill), and a grammar processor per generate call (`processor_factory`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from svgrl.errors import ConfigError
from svgrl.rl.policy import left_pad, positions


@dataclass
class Batch:
    """One rollout batch of N = prompts × G sequences.

    prompt_ids[i] / completion_ids[i]: token ids (completion ends with EOS unless
    ``truncated[i]``); group[i]: index of i's prompt within the step; rows[i]: that prompt's
    dataset row (reward columns). Verifier fields are empty until `verify` fills them.
    """

    prompts: list[str]
    rows: list[dict]
    prompt_ids: list[list[int]]
    completion_ids: list[list[int]]
    completions: list[str]
    truncated: list[bool]
    group: list[int]
    rewards: list[float] = field(default_factory=list)
    parts: dict[str, list] = field(default_factory=dict)
    images: list[Tensor | None] = field(default_factory=list)  # per sequence, image prompts

    def __len__(self) -> int:
        return len(self.completion_ids)

    @property
    def lengths(self) -> list[int]:
        """Total tokens (prompt + completion) per sequence — what padding costs."""
        return [len(p) + len(c) for p, c in zip(self.prompt_ids, self.completion_ids,
                                                strict=True)]

    def select(self, keep: Sequence[int]) -> Batch:
        """The sub-batch of indices `keep` (order kept)."""
        def pick(x: list) -> list:
            return [x[i] for i in keep]

        return Batch(pick(self.prompts), pick(self.rows), pick(self.prompt_ids),
                     pick(self.completion_ids), pick(self.completions), pick(self.truncated),
                     pick(self.group), pick(self.rewards) if self.rewards else [],
                     {k: pick(v) for k, v in self.parts.items()},
                     pick(self.images) if self.images else [])


def format_prompt(tokenizer: Any, user: str, *, system: str = "", prefix: str = "",
                  chat_template: bool = True) -> str:
    """The prompt text the model continues: chat template when the tokenizer has one (the
    think/no-think switch lives in the system prompt and `prefix`), else plain lines."""
    if chat_template and getattr(tokenizer, "chat_template", None):
        msgs = ([{"role": "system", "content": system}] if system else [])
        msgs.append({"role": "user", "content": user})
        text = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    else:
        text = (system + "\n\n" if system else "") + user + "\n"
    return text + prefix


def _trim(ids: list[int], eos: set[int]) -> tuple[list[int], bool]:
    """Cut after the first EOS; (ids, truncated)."""
    for k, t in enumerate(ids):
        if t in eos:
            return ids[: k + 1], False
    return ids, True


def eos_ids(model: Any, tokenizer: Any) -> set[int]:
    eos = model.generation_config.eos_token_id
    eos = set(eos if isinstance(eos, list) else [eos]) if eos is not None else set()
    if tokenizer.eos_token_id is not None:
        eos.add(tokenizer.eos_token_id)
    return eos


def _top_p(logits: Tensor, top_p: float) -> Tensor:
    """Mask tokens outside the smallest set whose probability reaches `top_p` (B, V)."""
    sorted_logits, order = torch.sort(logits, descending=True)
    cum = torch.softmax(sorted_logits, -1).cumsum(-1)
    drop = cum - torch.softmax(sorted_logits, -1) >= top_p  # keep the token that crosses
    sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
    return torch.full_like(logits, float("-inf")).scatter(1, order, sorted_logits)


@torch.no_grad()
def sample_loop(model: Any, ids: Tensor, attn: Tensor, *, group_size: int, max_new_tokens: int,
                eos: set[int], pad_id: int, temperature: float = 1.0, top_p: float = 1.0,
                do_sample: bool = True, logits_processors: Sequence[Any] = (),
                compact_below: float = 0.5, images: Tensor | None = None) -> Tensor:
    """KV-cached sampling of G continuations of each left-padded prompt (U, Lp) → (U·G, n)
    new tokens (pad after EOS).

    Leaner than HF ``generate`` for RL rollouts: the prompt is prefilled once per group and
    its cache repeated G times; each step is one forward of the live rows; rows that have
    ended are dropped from the batch and the cache once fewer than `compact_below` of the
    rows are still running, so the long tail does not pay for finished sequences. Logits
    processors (HF interface ``proc(input_ids, scores)``, e.g. the SVG grammar) see each
    live row's full ids; a processor with a ``select(keep)`` method is told which rows
    compaction keeps. `images` (U, 3, S, S): one per prompt, for the vision prefix (prefill).
    """
    B = ids.shape[0] * group_size
    full = ids.repeat_interleave(group_size, 0)
    mask = attn.repeat_interleave(group_size, 0)
    cache = None
    extra = {"images": images} if images is not None else {}
    if ids.shape[1] >= 2:
        cache = model(input_ids=ids[:, :-1], attention_mask=attn[:, :-1],
                      position_ids=positions(attn[:, :-1]), use_cache=True,
                      **extra).past_key_values
        cache.batch_repeat_interleave(group_size)
        cur = full[:, -1:]
    else:
        if images is not None:
            raise ConfigError("image prompts need at least the image placeholders and one "
                              "more token")
        cur = full
    pos = mask.sum(1, keepdim=True) - 1
    out = torch.full((B, max_new_tokens), pad_id, dtype=torch.long)
    alive = torch.arange(B)                         # output row of each batch row
    finished = torch.zeros(B, dtype=torch.bool)     # ended rows still in the batch
    eos_t = torch.tensor(sorted(eos), dtype=torch.long)
    n = 0
    for t in range(max_new_tokens):
        res = model(input_ids=cur, attention_mask=mask, position_ids=pos, past_key_values=cache,
                    use_cache=True)
        cache = res.past_key_values
        logits = res.logits[:, -1].float()
        for proc in logits_processors:
            logits = proc(full, logits)
        if do_sample:
            logits = logits / temperature
            if top_p < 1.0:
                logits = _top_p(logits, top_p)
            nxt = torch.multinomial(torch.softmax(logits, -1), 1).squeeze(1)
        else:
            nxt = logits.argmax(-1)
        out[alive[~finished], t] = nxt[~finished]
        n = t + 1
        finished = finished | torch.isin(nxt, eos_t)
        if bool(finished.all()):
            break
        if float(finished.float().mean()) > 1.0 - compact_below:
            keep = (~finished).nonzero().squeeze(1)
            cache.batch_select_indices(keep)
            alive, nxt, mask, pos, full = alive[keep], nxt[keep], mask[keep], pos[keep], full[keep]
            finished = finished[keep]
            for proc in logits_processors:
                if hasattr(proc, "select"):
                    proc.select(keep.tolist())
        cur = nxt.unsqueeze(1)
        mask = torch.cat([mask, torch.ones_like(cur)], 1)
        pos = pos + 1
        if logits_processors:
            full = torch.cat([full, cur], 1)
    return out[:, :n]


def _hf_generate(model: Any, ids: Tensor, attn: Tensor, *, group_size: int,
                 max_new_tokens: int, eos: set[int], pad_id: int, temperature: float,
                 top_p: float, do_sample: bool, logits_processors: Sequence[Any],
                 share_prefix: bool) -> Tensor:
    """The same through HF ``generate`` → (U·G, n) new tokens."""
    from transformers import LogitsProcessorList

    kwargs: dict[str, Any] = {}
    if share_prefix and ids.shape[1] >= 2:
        # Prefill each distinct prompt once (all but its last token), then repeat the cache
        # G times; generate() runs only the uncached last token and onwards.
        cache = model(input_ids=ids[:, :-1], attention_mask=attn[:, :-1],
                      position_ids=positions(attn[:, :-1]), use_cache=True).past_key_values
        cache.batch_repeat_interleave(group_size)
        kwargs["past_key_values"] = cache
    out = model.generate(
        input_ids=ids.repeat_interleave(group_size, 0),
        attention_mask=attn.repeat_interleave(group_size, 0), do_sample=do_sample,
        **({"temperature": temperature, "top_p": top_p, "top_k": 0} if do_sample else
           {"temperature": None, "top_p": None, "top_k": None}),
        max_new_tokens=max_new_tokens, pad_token_id=pad_id, eos_token_id=sorted(eos),
        logits_processor=LogitsProcessorList(list(logits_processors)), **kwargs,
    )
    return out[:, ids.shape[1]:]


@torch.no_grad()
def generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    rows: Sequence[dict],
    *,
    group_size: int,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    generation_batch: int = 64,
    max_prompt_length: int = 512,
    logits_processors: Sequence[Any] = (),
    response_prefix: str = "",
    do_sample: bool = True,
    share_prefix: bool = True,
    sampler: str = "svgrl",
    prompt_ids: Sequence[list[int]] | None = None,
    images: Sequence[Tensor | None] | None = None,
    processor_factory: Any = None,
    eos: set[int] | None = None,
) -> Batch:
    """Sample `group_size` completions for each prompt (KV-cached): ``sampler="svgrl"`` is
    `sample_loop`, ``"hf"`` is HF ``generate``; both take HF logits processors.

    Prompts are tokenized once and left-padded per generate call; each prompt is repeated G
    times in consecutive slots. With `share_prefix` the G copies share one prefilled KV
    cache of the prompt (computed once, repeated), instead of G identical prefills.
    Sampling draws from torch's global RNG (HF has no generator
    argument), so callers that need reproducibility set or restore it; ``do_sample=False``
    decodes greedily (evaluation).

    SVG tasks: `prompt_ids` replaces tokenizing `prompts` (never cut: an over-long prompt is
    the caller's error), `images` gives each prompt's image (or None), and
    ``processor_factory(rows, prompt_len, max_new_tokens)`` builds fresh logits processors
    for each generate call (per-row grammar state); `eos` overrides the model's EOS ids.
    """

    if group_size < 1 or max_new_tokens < 1:
        raise ConfigError(f"group_size={group_size}, max_new_tokens={max_new_tokens}: use ≥ 1")
    was_training = model.training
    model.eval()
    eos = set(eos) if eos else eos_ids(model, tokenizer)
    pad = tokenizer.pad_token_id
    if prompt_ids is not None:
        enc = [list(p) for p in prompt_ids]
    else:
        enc = [tokenizer(p, add_special_tokens=False)["input_ids"][-max_prompt_length:]
               for p in prompts]
    has_img = images is not None and any(im is not None for im in images)
    if has_img and (sampler != "svgrl" or any(im is None for im in images)):
        raise ConfigError("image prompts need --sampler svgrl and an image for every prompt")
    flat = [(i, enc[i]) for i in range(len(prompts)) for _ in range(group_size)]
    completion_ids: list[list[int]] = []
    truncated: list[bool] = []
    per_call = max(1, generation_batch // group_size)  # prompts per generate call
    for s in range(0, len(enc), per_call):
        ids, attn = left_pad(enc[s: s + per_call], pad)
        procs = list(logits_processors)
        if processor_factory is not None:
            procs += processor_factory(ids.shape[0] * group_size, ids.shape[1], max_new_tokens)
        if sampler == "svgrl":
            new = sample_loop(model, ids, attn, group_size=group_size,
                              max_new_tokens=max_new_tokens, eos=eos, pad_id=pad,
                              temperature=temperature, top_p=top_p, do_sample=do_sample,
                              logits_processors=procs,
                              images=torch.stack(list(images[s: s + per_call]))
                              if has_img else None)
        else:
            new = _hf_generate(model, ids, attn, group_size=group_size,
                               max_new_tokens=max_new_tokens, eos=eos, pad_id=pad,
                               temperature=temperature, top_p=top_p, do_sample=do_sample,
                               logits_processors=procs, share_prefix=share_prefix)
        for row in new.tolist():
            ids_, cut = _trim(row, eos)
            completion_ids.append(ids_)
            truncated.append(cut)
    if was_training:
        model.train()
    texts = tokenizer.batch_decode(completion_ids, skip_special_tokens=True)
    return Batch(
        prompts=[prompts[i] for i, _ in flat], rows=[rows[i] for i, _ in flat],
        prompt_ids=[ids for _, ids in flat], completion_ids=completion_ids,
        completions=[response_prefix + t for t in texts], truncated=truncated,
        group=[i for i, _ in flat],
        images=[images[i] for i, _ in flat] if has_img else [],
    )
