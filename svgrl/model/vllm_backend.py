"""`VllmBackend`: the generator contract (`svgrl.model.backend`) on vLLM's offline engine
(``vllm.LLM``, V1 engine), for GPU machines — ``pip install 'svgrl[gpu]'``.

What it uses of vLLM, all documented API:

- generation over token ids: ``LLM.generate([{"prompt_token_ids": ids}, ...],
  [SamplingParams(...), ...])`` — one `SamplingParams` per request (n, max_tokens,
  temperature, top-p, top-k, seed), ``stop_token_ids`` = the layout's ``</svg>``,
  ``detokenize=False`` (SVG tokens are decoded by the token layout, not as text);
- the SVG grammar as a custom logits processor of the V1 engine
  (``LLM(logits_processors=["svgrl.model.vllm_grammar:SvgGrammarLogitsProcessor"])``, turned
  on per request by ``extra_args={"svgrl_grammar": True}``);
- per-token log-probs: ``SamplingParams(logprobs=0)`` returns the drawn token's log-prob at
  each step, and ``LLM(logprobs_mode="processed_logprobs")`` makes it the log-prob under
  the distribution actually sampled from (after the grammar mask and the temperature) — the
  behaviour log-prob of the importance ratio. vLLM's "processed" log-probs are taken after
  top-k / top-p as well, svgrl's `Decoder` before them: the two agree when top-p = 1 and
  top-k = 0 (GRPO's sampling);
- the weight update for RL (vLLM's RLHF examples, OpenRLHF, verl): a worker extension
  (``LLM(worker_extension_cls="svgrl.model.vllm_grammar.SvgrlWorkerExtension")``) whose
  method loads named tensors with the model's own ``load_weights``, called on every worker
  by ``LLM.collective_rpc``; then ``LLM.reset_prefix_cache()`` so no prompt KV computed by
  the old weights is reused. Tokens record the weights' version; with the offline engine
  new weights take effect between `generate` calls, not between decode steps (svgrl's own
  `Decoder` swaps them between steps). The tensors travel in the RPC itself: right for small
  models; for billions of parameters the trainer should broadcast them over NCCL into the
  workers instead (vLLM's RLHF example), which this adapter does not do.

vLLM is imported when a backend is built, never at import time; without it the error names
the extra to install. vLLM serves plain Hugging Face causal LMs: a model with svgrl's vision
prefix is refused (text prompts only; Qwen2.5-VL through vLLM's own multimodal inputs is not
wired here).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from svgrl.errors import ConfigError, ModelLoadError
from svgrl.model.backend import GenRequest
from svgrl.model.sampler import Finished

GRAMMAR_PROCESSOR = "svgrl.model.vllm_grammar:SvgGrammarLogitsProcessor"
WORKER_EXTENSION = "svgrl.model.vllm_grammar.SvgrlWorkerExtension"
GRAMMAR_ARG = "svgrl_grammar"  # the same key as svgrl.model.vllm_grammar.GRAMMAR_ARG


class VllmUnavailableError(ConfigError):
    """vLLM is not installed (or not importable) here."""


def import_vllm() -> Any:
    """The `vllm` module, or a `VllmUnavailableError` naming the extra to install."""
    try:
        import vllm
    except ImportError as e:
        raise VllmUnavailableError(
            f"the vLLM generator backend needs vLLM, which is not installed here ({e}); "
            "install the gpu extra on a CUDA machine: pip install 'svgrl[gpu]' (vLLM brings "
            "its own CUDA build of torch), or use svgrl's own decoder") from e
    return vllm


class VllmBackend:
    """`GenRequest`s → `Finished` completions on a ``vllm.LLM`` over an svgrl model folder.

    `llm`: an engine built elsewhere (it must have been given `GRAMMAR_PROCESSOR`,
    `WORKER_EXTENSION` and ``logprobs_mode="processed_logprobs"``); by default one is built
    from `folder` with `engine_args` passed on to ``vllm.LLM``."""

    def __init__(self, folder: str | os.PathLike, *, grammar: bool = True, version: int = 0,
                 llm: Any = None, **engine_args: Any):
        from svgrl.model.vision import VISION_CONFIG
        from svgrl.tokens.hf import LAYOUT_FILE
        from svgrl.tokens.layout import TokenLayout

        self.vllm = import_vllm()
        folder = Path(folder).expanduser()
        if not (folder / LAYOUT_FILE).is_file():
            raise ModelLoadError(f"{str(folder)!r} is not an svgrl model folder (no "
                                 f"{LAYOUT_FILE}); pass RUN/checkpoints/step-N/model")
        if (folder / VISION_CONFIG).exists():
            raise ConfigError(f"{str(folder)!r} has svgrl's vision prefix, which vLLM cannot "
                              "run; use svgrl's own decoder for image prompts")
        self.layout = TokenLayout.load(folder / LAYOUT_FILE)
        self.grammar, self.version = grammar, version
        if llm is None:
            llm = self.vllm.LLM(model=str(folder), tokenizer=str(folder),
                                logits_processors=[GRAMMAR_PROCESSOR],
                                worker_extension_cls=WORKER_EXTENSION,
                                logprobs_mode="processed_logprobs", **engine_args)
        self.llm = llm
        self._top_k_off = self.vllm.SamplingParams().top_k  # -1 or 0, by vLLM version

    def _params(self, r: GenRequest) -> Any:
        s = r.sampling
        return self.vllm.SamplingParams(
            n=r.n, max_tokens=r.max_new_tokens, temperature=s.temperature, top_p=s.top_p,
            top_k=s.top_k if s.top_k > 0 else self._top_k_off, seed=r.seed, logprobs=0,
            stop_token_ids=[self.layout.eos], detokenize=False,
            extra_args={GRAMMAR_ARG: self.grammar})

    def generate(self, requests: list[GenRequest]) -> list[list[Finished]]:
        """`n` completions per request, in request order; each token with its processed
        log-prob and the current weights version."""
        if not requests:
            return []
        prompts = [{"prompt_token_ids": list(r.prompt)} for r in requests]
        outs = self.llm.generate(prompts, [self._params(r) for r in requests], use_tqdm=False)
        if len(outs) != len(requests):
            raise ModelLoadError(f"vLLM answered {len(outs)} requests of {len(requests)}")
        result, k = [], 0
        for r, out in zip(requests, outs, strict=True):
            if list(out.prompt_token_ids) != list(r.prompt):
                raise ModelLoadError("vLLM returned completions out of request order")
            rows = []
            for c in sorted(out.outputs, key=lambda c: c.index):
                toks = [int(t) for t in c.token_ids]
                if c.logprobs is None or len(c.logprobs) != len(toks):
                    raise ModelLoadError("vLLM returned no per-token log-probs; the engine "
                                         "needs SamplingParams(logprobs=0)")
                lps = [float(step[t].logprob) for step, t in zip(c.logprobs, toks, strict=True)]
                reason = "eos" if toks and toks[-1] == self.layout.eos else "length"
                rows.append(Finished(k, toks, reason, lps, [self.version] * len(toks)))
                k += 1
            if len(rows) != r.n:
                raise ModelLoadError(f"vLLM returned {len(rows)} completions, asked {r.n}")
            result.append(rows)
        return result

    def update_weights(self, state_dict: dict[str, torch.Tensor], version: int) -> None:
        """Push new weights into every vLLM worker (HF parameter names), drop the prefix
        cache, and stamp later tokens with `version`."""
        weights = [(k, v.detach()) for k, v in state_dict.items()]
        loaded = self.llm.collective_rpc("svgrl_load_weights", args=(weights,))
        if not loaded or any(n != len(weights) for n in loaded):
            raise ModelLoadError(f"vLLM workers loaded {loaded} of {len(weights)} tensors")
        self.llm.reset_prefix_cache()
        self.version = version


__all__ = ["GRAMMAR_PROCESSOR", "WORKER_EXTENSION", "VllmBackend", "VllmUnavailableError",
           "import_vllm"]
