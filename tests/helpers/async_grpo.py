"""The tiny asynchronous GRPO run the async tests share."""

from __future__ import annotations

from svgrl.model.backbones import BackboneConfig
from svgrl.rl.config import GRPOConfig


def async_cfg(data: str, out: str, **kw) -> GRPOConfig:
    base = dict(task="svg-image", data=data, out=out, image_size=16, patch_size=8, steps=2,
                prompts_per_step=2, group_size=4, max_completion_length=24, minibatches=1,
                learning_rate=1e-2, eval_size=2, eval_samples=1, log_kl_to_start=False,
                threads=1, save_every=0, asynchronous=True, max_staleness=1,
                model=BackboneConfig(backbone="tiny", tiny_layers=1, tiny_d_model=32,
                                     tiny_heads=1, seed=0))
    base.update(kw)
    return GRPOConfig(**base)


def consumed_exactly_once(ledger: dict, steps: int, per_step: int) -> None:
    """Each update took `per_step` groups and no group id was used twice."""
    gids = [g for s in ledger["steps"] for g in s]
    assert len(ledger["steps"]) == steps
    assert all(len(s) == per_step for s in ledger["steps"])
    assert len(gids) == len(set(gids)) == steps * per_step
