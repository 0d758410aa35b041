"""Generator role: prompts → G completions each, sampled by the current ("old") policy.

The default path is the one sampler, `svgrl.model.sampler.decode` (each prompt prefilled once
per group, finished rows dropped, grammar mask for SVG tasks); ``sampler="hf"`` uses Hugging
Face ``generate`` instead (the grammar as a ``LogitsProcessor``). Both take left-padded
prompts.

Everything the verifier and trainer need travels in one record, `Batch` (verl's habit of a
single typed batch between roles): the generator fills ids and texts, the verifier adds
rewards (`svgrl.rl.verify`), the trainer reads both.

SVG tasks pass prompt ids directly (the SFT format), one image per prompt for the vision
prefix (spliced at prefill by `svgrl.rl.svg.SvgPolicy.embed`) — or, for a Qwen2.5-VL policy,
one `svgrl.model.qwen_vl.VLPrompt` per prompt (pixel values, grid sizes) — and the grammar.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    # Per sequence: the image of an image prompt (vision prefix), or the `VLPrompt` of any
    # prompt of a Qwen2.5-VL policy.
    images: list[Any] = field(default_factory=list)
    # Asynchronous generation: per completion token, the behaviour log-prob the sampler drew
    # it with and the weights version that sampled it (empty: sampled by the current policy).
    logprobs: list[list[float]] = field(default_factory=list)
    versions: list[list[int]] = field(default_factory=list)

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
                     pick(self.images) if self.images else [],
                     pick(self.logprobs) if self.logprobs else [],
                     pick(self.versions) if self.versions else [])


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
                      position_ids=positions(attn[:, :-1]), use_cache=True).cache
        cache.batch_repeat_interleave(group_size)
        kwargs["cache"] = cache
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
    response_prefix: str = "",
    do_sample: bool = True,
    share_prefix: bool = True,
    sampler: str = "svgrl",
    prompt_ids: Sequence[list[int]] | None = None,
    images: Sequence[Any] | None = None,
    grammar: Any = None,
    eos: set[int] | None = None,
    logprobs: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Batch:
    """Sample `group_size` completions for each prompt (KV-cached): ``sampler="svgrl"`` is
    `svgrl.model.sampler.decode`, ``"hf"`` is HF ``generate``.

    Prompts are tokenized once and left-padded per generate call; each prompt is repeated G
    times in consecutive slots, and the G copies share one prefill of the prompt (``"hf"``:
    only with `share_prefix`). Sampling draws from torch's global RNG (HF has no generator
    argument), so callers that need reproducibility set or restore it; ``do_sample=False``
    decodes greedily (evaluation).

    SVG tasks: `prompt_ids` replaces tokenizing `prompts` (never cut: an over-long prompt is
    the caller's error), `images` gives each prompt's image (or None) for the vision prefix
    (``model.embed``) or, for a Qwen2.5-VL policy, each prompt's `VLPrompt` (every prompt
    has one; its ids are the prompt ids), `grammar` (a `svgrl.tokens.grammar.Grammar`) masks
    every step, and `eos` overrides the model's EOS ids. `logprobs`: record each token's
    behaviour log-prob and weights version (``Batch.logprobs`` / ``versions``; the update
    then takes them as π_old). `progress(budget, done)` between decode steps: how much more
    of the rollout's token budget (completions × `max_new_tokens`) is spent — tokens drawn,
    plus what a finished completion leaves unused — and how many more completions finished;
    the budgets reported add up to the whole when the rollout ends.
    """
    from svgrl.model.qwen_vl import VLPrompt
    from svgrl.model.sampler import GrammarLogitsProcessor, decode
    from svgrl.model.sampling import Sampling

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
    vl = has_img and isinstance(images[0], VLPrompt)
    if logprobs and sampler != "svgrl":
        raise ConfigError("behaviour log-probs are recorded by --sampler svgrl only")
    sampling = Sampling(temperature, top_p, 0) if do_sample else Sampling(0.0, 1.0, 0)
    flat = [(i, enc[i]) for i in range(len(prompts)) for _ in range(group_size)]
    completion_ids: list[list[int]] = []
    truncated: list[bool] = []
    lps: list[list[float]] = []
    versions: list[list[int]] = []
    per_call = max(1, generation_batch // group_size)  # prompts per generate call

    def spent(tokens: int, finished: list) -> None:
        progress(tokens + sum(max_new_tokens - len(f.tokens) for f in finished), len(finished))

    for s in range(0, len(enc), per_call):
        if sampler == "svgrl":
            done = decode(model, enc[s: s + per_call], n=group_size,
                          max_new_tokens=max_new_tokens, sampling=sampling, eos=eos,
                          pad_id=pad, grammar=grammar,
                          images=torch.stack(list(images[s: s + per_call]))
                          if has_img and not vl else None,
                          embed=model.embed if has_img and not vl else None,
                          vl=list(images[s: s + per_call]) if vl else None, logprobs=logprobs,
                          progress=spent if progress is not None else None)
            completion_ids += [f.tokens for f in done]
            truncated += [f.truncated for f in done]
            lps += [list(f.logprobs or []) for f in done]
            versions += [list(f.versions) for f in done]
            continue
        ids, attn = left_pad(enc[s: s + per_call], pad)
        procs = [] if grammar is None else [GrammarLogitsProcessor(
            grammar, ids.shape[0] * group_size, max_new_tokens, ids.shape[1])]
        new = _hf_generate(model, ids, attn, group_size=group_size,
                           max_new_tokens=max_new_tokens, eos=eos, pad_id=pad,
                           temperature=temperature, top_p=top_p, do_sample=do_sample,
                           logits_processors=procs, share_prefix=share_prefix)
        for row in new.tolist():
            ids_, cut = _trim(row, eos)
            completion_ids.append(ids_)
            truncated.append(cut)
        if progress is not None:
            progress(len(new) * max_new_tokens, len(new))
    if was_training:
        model.train()
    texts = tokenizer.batch_decode(completion_ids, skip_special_tokens=True)
    return Batch(
        prompts=[prompts[i] for i, _ in flat], rows=[rows[i] for i, _ in flat],
        prompt_ids=[ids for _, ids in flat], completion_ids=completion_ids,
        completions=[response_prefix + t for t in texts], truncated=truncated,
        group=[i for i, _ in flat],
        images=[images[i] for i, _ in flat] if has_img else [],
        logprobs=lps if logprobs else [], versions=versions if logprobs else [],
    )
