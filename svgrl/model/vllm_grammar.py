"""The SVG grammar and the weight update as vLLM plug-ins. vLLM imports this module in its
engine (and worker) processes by name: `svgrl.model.vllm_backend` passes
``"svgrl.model.vllm_grammar:SvgGrammarLogitsProcessor"`` as a custom logits processor and
``"svgrl.model.vllm_grammar.SvgrlWorkerExtension"`` as the worker extension. It imports vLLM
at the top, so it is only imported where vLLM is installed.

`SvgGrammarLogitsProcessor` implements the V1 engine's batch-level interface
(`vllm.v1.sample.logits_processor.LogitsProcessor`): vLLM keeps a persistent batch and tells
the processor, before each step, which requests were removed, added (with a live reference
to their output-token list) and moved between batch rows (in that order); the processor
keeps one `GrammarState` per row that asked for the grammar (``SamplingParams.extra_args =
{"svgrl_grammar": True}``), advances it over the tokens appended since the last step, and
in `apply` adds the grammar's 0 / −inf mask to those rows. The budget rule of the grammar
uses the request's ``max_tokens``, so every drawing closes in time, as in svgrl's `Decoder`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor, MoveDirectionality

from svgrl.tokens.grammar import GrammarState, grammar_for
from svgrl.tokens.hf import LAYOUT_FILE
from svgrl.tokens.layout import TokenLayout

GRAMMAR_ARG = "svgrl_grammar"  # key in SamplingParams.extra_args that turns the mask on


@dataclass
class _Row:
    state: GrammarState
    output: list[int]  # vLLM's running output-token list of the request (a live reference)
    seen: int = 0  # tokens of `output` already fed to `state`

    def catch_up(self) -> None:
        out = self.output
        while self.seen < len(out):
            if not self.state.done:
                self.state.advance(int(out[self.seen]))
            self.seen += 1


class SvgGrammarLogitsProcessor(LogitsProcessor):
    """Masks the rows of requests with ``extra_args["svgrl_grammar"]`` to the SVG grammar."""

    def __init__(self, vllm_config: Any, device: torch.device, is_pin_memory: bool):
        folder = Path(vllm_config.model_config.model)
        layout = TokenLayout.load(folder / LAYOUT_FILE)
        # the logits vLLM hands over are as wide as the model's vocabulary (embedding rows)
        self.grammar = grammar_for(layout, vllm_config.model_config.get_vocab_size())
        self.rows: dict[int, _Row] = {}  # persistent-batch row → grammar state

    @classmethod
    def validate_params(cls, sampling_params: Any) -> None:
        v = (sampling_params.extra_args or {}).get(GRAMMAR_ARG, False)
        if not isinstance(v, bool):
            raise ValueError(f"extra_args[{GRAMMAR_ARG!r}] must be true or false, not {v!r}")
        if v and not sampling_params.max_tokens:
            raise ValueError("the SVG grammar needs max_tokens (its budget closes the drawing)")

    def is_argmax_invariant(self) -> bool:
        return False  # it forbids tokens, so it changes greedy picks too

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        if batch_update is not None:
            for i in batch_update.removed:
                self.rows.pop(i, None)
            for added in batch_update.added:
                # (row, params, prompt ids, output ids); vLLM 0.10 had no prompt ids
                i, params, out = added[0], added[1], added[-1]
                on = params is not None and (params.extra_args or {}).get(GRAMMAR_ARG, False)
                if on:
                    self.rows[i] = _Row(self.grammar.start(int(params.max_tokens)), out)
                else:
                    self.rows.pop(i, None)
            for a, b, how in batch_update.moved:
                ra, rb = self.rows.pop(a, None), self.rows.pop(b, None)
                if ra is not None:
                    self.rows[b] = ra
                if how == MoveDirectionality.SWAP and rb is not None:
                    self.rows[a] = rb
        for r in self.rows.values():
            r.catch_up()

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        idx = sorted(i for i, r in self.rows.items() if i < len(logits) and not r.state.done)
        if not idx:
            return logits
        states = [self.rows[i].state for i in idx]
        bias = self.grammar.batch_bias(states, logits.dtype).to(logits.device)
        rows = torch.tensor(idx, device=logits.device)
        logits[rows] = logits[rows] + bias
        return logits


class SvgrlWorkerExtension:
    """Methods vLLM adds to each of its workers (``worker_extension_cls``), called through
    ``LLM.collective_rpc`` — the weight-update path of vLLM's RLHF examples, OpenRLHF and
    verl: the worker loads named tensors into its model with the model's own
    ``load_weights`` (which maps Hugging Face names onto vLLM's fused layers)."""

    model_runner: Any  # set by vLLM on the worker

    def svgrl_load_weights(self, weights: list[tuple[str, torch.Tensor]]) -> int:
        device = next(self.model_runner.model.parameters()).device
        self.model_runner.model.load_weights(weights=[(k, v.to(device)) for k, v in weights])
        return len(weights)


__all__ = ["GRAMMAR_ARG", "SvgGrammarLogitsProcessor", "SvgrlWorkerExtension"]
