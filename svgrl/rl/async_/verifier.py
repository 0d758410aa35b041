"""Verifier role of the asynchronous system: rewards for one group at a time.

A plain class around `svgrl.rl.verify` (one reward per l_max, as the synchronous trainer);
the controller runs a pool of them as Ray actors.
"""

from __future__ import annotations

from typing import Any

from svgrl.rl.rollout import Batch
from svgrl.rl.verify import close_reward, make_reward, verify


class Verifier:
    def __init__(self, cfg: Any, layout: Any = None, reward_fn: Any = None):
        import torch

        torch.set_num_threads(max(1, cfg.threads or 1))
        self.cfg, self.layout, self.reward_fn = cfg, layout, reward_fn
        self.rewards: dict[int, Any] = {}

    def reward(self, l_max: int) -> Any:
        if self.reward_fn is not None:
            return self.reward_fn
        if l_max not in self.rewards:
            c = self.cfg
            self.rewards[l_max] = make_reward(c.task, thinking=c.thinking, l_max=l_max,
                                              l_cache=c.l_cache, magistral=c.reward,
                                              workers=c.reward_workers, layout=self.layout,
                                              svg_reward=c.svg_reward)
        return self.rewards[l_max]

    def score(self, batch: Batch, l_max: int) -> Batch:
        return verify(batch, self.reward(l_max))

    def close(self) -> None:
        for r in self.rewards.values():
            close_reward(r)
