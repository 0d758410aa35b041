"""Trainer role of the asynchronous system: one update from a batch of verified groups.

The same objective and update as the synchronous trainer (`svgrl.rl.grpo`,
`svgrl.rl.update`); the difference is what π_old is. Each completion carries the
log-probs its tokens were sampled with and the weights version that sampled each of them
(`Batch.logprobs` / `Batch.versions`); the update takes those as π_old, so the importance
ratio corrects for generators running behind the trainer, and this role checks the
off-policy bound: no token in an update was sampled more than K versions ago.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from svgrl.errors import ConfigError
from svgrl.rl.rollout import Batch
from svgrl.rl.update import plan_update, update


def concat(batches: Sequence[Batch]) -> Batch:
    """One `Batch` of several (groups keep their own `group` ids)."""
    out = Batch([], [], [], [], [], [], [])
    for b in batches:
        out.prompts += b.prompts
        out.rows += b.rows
        out.prompt_ids += b.prompt_ids
        out.completion_ids += b.completion_ids
        out.completions += b.completions
        out.truncated += b.truncated
        out.group += b.group
        out.rewards += b.rewards
        out.images += b.images
        out.logprobs += b.logprobs
        out.versions += b.versions
        for k, v in b.parts.items():
            out.parts.setdefault(k, []).extend(v)
    return out


def staleness(batch: Batch, version: int) -> list[int]:
    """Per completion token: how many weight versions before `version` it was sampled."""
    return [version - v for vs in batch.versions for v in vs]


class Learner:
    """Holds the policy and optimiser; `step` applies one update and returns its metrics."""

    def __init__(self, model: Any, optimizer: Any, cfg: Any, *, pad_id: int,
                 ref_model: Any = None, grammar: Any = None, version: int = 0):
        self.model, self.optimizer, self.cfg = model, optimizer, cfg
        self.pad_id, self.ref_model, self.grammar = pad_id, ref_model, grammar
        self.version = version

    def step(self, batch: Batch, l_max: int) -> tuple[dict[str, float], Any]:
        """Update on `batch` (its tokens at most K versions old, else ConfigError); the
        version goes up by one. Returns (metrics, plan)."""
        cfg = self.cfg
        if len(batch.versions) != len(batch) or len(batch.logprobs) != len(batch):
            raise ConfigError("an asynchronous batch needs per-token versions and behaviour "
                              "log-probs for every completion")
        lag = staleness(batch, self.version)
        if lag and max(lag) > cfg.max_staleness:
            raise ConfigError(f"a token {max(lag)} versions old reached the update; the bound "
                              f"is --max-staleness {cfg.max_staleness}")
        plan = plan_update(batch, advantage=cfg.advantage,
                           keep_equal_groups=cfg.keep_equal_groups)
        upd = update(self.model, self.optimizer, plan, cfg, pad_id=self.pad_id, l_max=l_max,
                     step_seed=cfg.seed * 1_000_003 + self.version + 1,
                     ref_model=self.ref_model, grammar=self.grammar)
        upd.pop("_padding", None)
        self.version += 1
        upd.update(version=self.version, staleness_max=float(max(lag, default=0)),
                   staleness_mean=sum(lag) / max(len(lag), 1))
        return upd, plan

    @torch.no_grad()
    def weights(self) -> dict[str, torch.Tensor]:
        """A detached copy of the policy's weights to broadcast."""
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}
