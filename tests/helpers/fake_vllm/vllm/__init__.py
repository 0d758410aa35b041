"""Fake `vllm` (see ../README.md): `LLM` and `SamplingParams`, the surface svgrl's vLLM
backend uses, on a Hugging Face model on CPU."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import torch

from vllm.v1.sample.logits_processor import BatchUpdate, MoveDirectionality


@dataclass
class SamplingParams:
    n: int = 1
    max_tokens: int | None = 16
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1
    seed: int | None = None
    logprobs: int | None = None
    stop_token_ids: list[int] = field(default_factory=list)
    detokenize: bool = True
    extra_args: dict | None = None


@dataclass
class Logprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass
class CompletionOutput:
    index: int
    token_ids: list[int]
    logprobs: list[dict[int, Logprob]] | None
    finish_reason: str


@dataclass
class RequestOutput:
    request_id: str
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput]


def _load(fqcn: str, sep: str) -> Any:
    module, _, name = fqcn.rpartition(sep)
    return getattr(importlib.import_module(module), name)


class _ModelRunnerModel:
    """What a worker's ``model_runner.model`` offers the extension: ``load_weights``."""

    def __init__(self, hf: Any):
        self.hf = hf

    def parameters(self):
        return self.hf.parameters()

    @torch.no_grad()
    def load_weights(self, weights):
        params = dict(self.hf.named_parameters(remove_duplicate=False))
        for name, t in weights:
            if name not in params:
                raise KeyError(f"no parameter {name!r} in the model")
            params[name].copy_(t)


@dataclass
class _Seq:
    req: int
    index: int
    prompt: list[int]
    params: SamplingParams
    generator: torch.Generator
    out: list[int] = field(default_factory=list)
    logprobs: list[dict[int, Logprob]] = field(default_factory=list)
    finish: str = ""


class LLM:
    """Offline engine: a persistent batch of at most `max_num_seqs` rows; each step the
    finished rows leave, the last rows move into the holes (one-way moves), waiting
    sequences join, the logits processors see the `BatchUpdate`, then sample."""

    def __init__(self, model: str, tokenizer: str | None = None, *,
                 logits_processors: list | None = None, worker_extension_cls: str = "",
                 logprobs_mode: str = "raw_logprobs", max_num_seqs: int = 256, **_: Any):
        from transformers import AutoModelForCausalLM

        self.hf = AutoModelForCausalLM.from_pretrained(model).eval()
        vocab = self.hf.get_input_embeddings().weight.shape[0]
        config = SimpleNamespace(model_config=SimpleNamespace(
            model=model, get_vocab_size=lambda: vocab))
        classes = [_load(p, ":") if isinstance(p, str) else p for p in logits_processors or []]
        self.procs = [c(config, torch.device("cpu"), False) for c in classes]
        self.logprobs_mode, self.max_num_seqs = logprobs_mode, max_num_seqs
        ext = _load(worker_extension_cls, ".") if worker_extension_cls else object
        self.worker = type("Worker", (ext,), {})()
        self.worker.model_runner = SimpleNamespace(model=_ModelRunnerModel(self.hf))
        self.prefix_cache_resets = 0
        self.seen_params: list[SamplingParams] = []
        self.moves = 0  # row moves the batch made (the test checks some happened)

    def collective_rpc(self, method: str, args: tuple = (), kwargs: dict | None = None):
        return [getattr(self.worker, method)(*args, **(kwargs or {}))]

    def reset_prefix_cache(self) -> bool:
        self.prefix_cache_resets += 1
        return True

    @torch.no_grad()
    def generate(self, prompts: list[dict], sampling_params: list[SamplingParams],
                 use_tqdm: bool = True) -> list[RequestOutput]:
        waiting: list[_Seq] = []
        for r, (p, sp) in enumerate(zip(prompts, sampling_params, strict=True)):
            for c in self.procs:
                type(c).validate_params(sp)
            self.seen_params.append(sp)
            for i in range(sp.n):
                g = torch.Generator().manual_seed((sp.seed or 0) * 1000 + i)
                waiting.append(_Seq(r, i, list(p["prompt_token_ids"]), sp, g))
        seqs = list(waiting)
        rows: list[_Seq] = []
        while waiting or rows:
            # as vLLM's persistent batch: finished rows leave, new requests take the free
            # rows (lowest first) or join at the end, then the batch is condensed by moving
            # its last rows into the holes — reported in the order removed, added, moved
            removed = [i for i, s in enumerate(rows) if s.finish]
            slots: list[_Seq | None] = [None if s.finish else s for s in rows]
            free = list(removed)
            added = []
            while waiting and (free or len(slots) < self.max_num_seqs):
                s = waiting.pop(0)
                if free:
                    i = free.pop(0)
                    slots[i] = s
                else:
                    slots.append(s)
                    i = len(slots) - 1
                added.append((i, s.params, s.prompt, s.out))
            moved = []
            while True:
                while slots and slots[-1] is None:
                    slots.pop()
                if None not in slots:
                    break
                h, t = slots.index(None), len(slots) - 1
                slots[h] = slots.pop()
                moved.append((t, h, MoveDirectionality.UNIDIRECTIONAL))
            rows = slots  # type: ignore[assignment]
            self.moves += len(moved)
            update = BatchUpdate(len(rows), removed, added, moved) \
                if removed or added or moved else None
            for c in self.procs:
                c.update_state(update)
            if not rows:
                continue
            logits = torch.stack([self.hf(input_ids=torch.tensor([s.prompt + s.out]),
                                          logits_to_keep=1).logits[0, -1].float()
                                  for s in rows])
            raw = torch.log_softmax(logits, -1)
            for c in self.procs:
                logits = c.apply(logits)
            for i, s in enumerate(rows):
                tok, lp = self._sample(logits[i], s, raw[i])
                s.out.append(tok)
                s.logprobs.append({tok: Logprob(lp)})
                if tok in s.params.stop_token_ids:
                    s.finish = "stop"
                elif len(s.out) >= s.params.max_tokens:
                    s.finish = "length"
        outs = []
        for r, p in enumerate(prompts):
            mine = [s for s in seqs if s.req == r]
            outs.append(RequestOutput(str(r), list(p["prompt_token_ids"]), [
                CompletionOutput(s.index, s.out, s.logprobs if s.params.logprobs is not None
                                 else None, s.finish) for s in mine]))
        return outs

    def _sample(self, row: torch.Tensor, s: _Seq, raw: torch.Tensor) -> tuple[int, float]:
        sp = s.params
        t = sp.temperature if sp.temperature > 0 else 1.0
        row = row / t
        if sp.top_k and sp.top_k > 0:
            kth = torch.topk(row, sp.top_k).values[-1]
            row = row.masked_fill(row < kth, float("-inf"))
        if sp.top_p < 1:
            probs, idx = torch.sort(torch.softmax(row, -1), descending=True)
            drop = (torch.cumsum(probs, -1) - probs) >= sp.top_p
            row = row.clone()
            row[idx[drop]] = float("-inf")
        logp = torch.log_softmax(row, -1)
        if sp.temperature == 0:
            tok = int(row.argmax())
        else:
            tok = int(torch.multinomial(logp.exp(), 1, generator=s.generator))
        lp = logp[tok] if self.logprobs_mode == "processed_logprobs" else raw[tok]
        return tok, float(lp)
