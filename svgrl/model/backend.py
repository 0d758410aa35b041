"""Generator backends: one small contract for "sample completions of token prompts, with
per-token behaviour log-probs and weight versions, and take new weights" — what an RL
generator needs from an inference engine.

    backend.generate([GenRequest(prompt_ids, n=4, max_new_tokens=256, seed=1), ...])
        -> one list of n `Finished` per request, in request order
    backend.update_weights(state_dict, version=3)   # later tokens record version 3

`LocalBackend` runs svgrl's own `Decoder` (KV-cached, grammar-masked, CPU or GPU);
`svgrl.model.vllm_backend.VllmBackend` runs vLLM's engine (the ``gpu`` extra). Both mask
with the SVG grammar, and both report, per token, the log-probability of the drawn token
under the masked distribution at the sampling temperature — the behaviour log-prob
``log π_old`` of the GRPO importance ratio (`svgrl.rl.policy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from svgrl.errors import ConfigError
from svgrl.model.sampler import Decoder, Finished, run_rows
from svgrl.model.sampling import Sampling


@dataclass(frozen=True)
class GenRequest:
    """`n` completions of one tokenised prompt."""

    prompt: list[int]
    max_new_tokens: int
    n: int = 1
    sampling: Sampling = field(default_factory=lambda: Sampling(1.0, 1.0, 0))
    seed: int | None = None

    def __post_init__(self) -> None:
        if not self.prompt or self.n < 1 or self.max_new_tokens < 1:
            raise ConfigError(f"a generation request needs a non-empty prompt, n ≥ 1 and "
                              f"max_new_tokens ≥ 1 (got {len(self.prompt)} prompt tokens, "
                              f"n={self.n}, max_new_tokens={self.max_new_tokens})")


class LocalBackend:
    """The contract on svgrl's `Decoder` over an `SvgLM` (text prompts)."""

    def __init__(self, lm, *, grammar: bool = True, version: int = 0):
        from svgrl.tokens.grammar import grammar_for

        self.lm = lm
        self.dec = Decoder(lm.model, sampling=Sampling(1.0, 1.0, 0), eos={lm.layout.eos},
                           pad_id=lm.layout.pad, logprobs=True, version=version,
                           grammar=grammar_for(lm.layout, lm.vocab_rows) if grammar else None)

    @property
    def version(self) -> int:
        return self.dec.version

    def generate(self, requests: list[GenRequest]) -> list[list[Finished]]:
        ids: list[list[int]] = []
        for r in requests:
            gen = torch.Generator().manual_seed(r.seed) if r.seed is not None else None
            ids.append(self.dec.add([r.prompt], n=r.n, max_new_tokens=r.max_new_tokens,
                                    sampling=r.sampling, generator=gen))
        done = run_rows(self.dec, [i for row in ids for i in row])
        out, k = [], 0
        for row in ids:
            out.append(done[k:k + len(row)])
            k += len(row)
        return out

    def update_weights(self, state_dict: dict[str, torch.Tensor], version: int) -> None:
        self.dec.load_weights(state_dict, version)


__all__ = ["GenRequest", "LocalBackend"]
