"""Magistral §3's asynchronous system on Ray: generators never wait, the trainer consumes
finished groups from a bounded queue, new weights are pushed to generators mid-flight.

**Optional and not exercised here**: this machine has no GPUs and Ray is not a dependency
(``pip install "ray[default]"``). Importing this module is safe; building the system
without Ray raises `ConfigError`. The roles are the same functions the synchronous loop
(`svgrl.rl.trainer`) calls — Ray wraps them, it does not shape them (STYLE.md habit 9):

    Generator actor   rollout.generate(prompts → Batch of G per prompt) with its own copy
                      of the weights; `set_weights` swaps them between two calls (vLLM can
                      swap them between decoding steps — Magistral continues in-flight
                      sequences with the new weights; the HF path here swaps per call).
    Verifier          verify.verify(Batch) inside the generator actor, right after
                      generation (cheap next to generation; rewards use their own pools).
    Trainer actor     update.plan_update + update.update on batches taken from the queue;
                      after each optimiser round it broadcasts weights through the object
                      store (``ray.put`` once, every generator fetches the same ref).
    Queue             ray.util.queue.Queue(maxsize=n_async); Magistral bounds
                      off-policyness with n_async ≤ 2·n_batch: a generator blocks on put()
                      once the trainer is that far behind.

Sketch of the driver (what `run_async` does):

    trainer = Trainer.remote(cfg)
    gens = [Generator.remote(cfg, i) for i in range(n_generators)]
    for g in gens: g.loop.remote(queue)               # runs until cfg.steps are consumed
    trainer.loop.remote(queue, gens)                  # take → update → push weights
"""

from __future__ import annotations

from typing import Any

from svgrl.errors import ConfigError
from svgrl.rl.config import GRPOConfig


def _ray() -> Any:
    try:
        import ray
    except ImportError as e:
        raise ConfigError('the async GRPO system needs Ray: pip install "ray[default]" '
                          "(or use the synchronous `svgrl train grpo`)") from e
    return ray


def build_actors(cfg: GRPOConfig, n_generators: int = 2, n_async: int | None = None
                 ) -> tuple[Any, list[Any], Any]:  # pragma: no cover - needs ray
    """(trainer, generators, queue) as Ray actors; nothing starts until `run_async`."""
    ray = _ray()
    from ray.util.queue import Queue

    n_batch = cfg.prompts_per_step
    n_async = n_async or 2 * n_batch
    if n_async > 2 * n_batch:
        raise ConfigError(f"n_async={n_async} > 2·n_batch={2 * n_batch}: Magistral §3 bounds "
                          "off-policyness this way; lower n_async")

    @ray.remote
    class Generator:
        def __init__(self, cfg: GRPOConfig, rank: int):
            import torch

            from svgrl.rl.tasks import PromptSampler, load_task
            from svgrl.rl.trainer import load_policy
            from svgrl.rl.verify import make_reward

            torch.manual_seed(cfg.seed + 1000 * rank)
            self.cfg = cfg
            self.model, self.tok = load_policy(cfg)
            self.sampler = PromptSampler(load_task(cfg).train, cfg.seed + rank)
            self.reward = make_reward(cfg.task, thinking=cfg.thinking,
                                      l_max=cfg.max_completion_length, l_cache=cfg.l_cache,
                                      language_reward=cfg.language_reward)
            self.version = 0

        def set_weights(self, state: dict, version: int) -> None:
            self.model.load_state_dict(state)
            self.version = version

        def loop(self, queue: Any) -> None:
            from svgrl.rl.rollout import format_prompt, generate
            from svgrl.rl.verify import verify

            c = self.cfg
            while True:
                row = self.sampler.take(1)
                p = format_prompt(self.tok, row[0]["prompt"], system=c.system_text(),
                                  prefix=c.response_prefix)
                b = generate(self.model, self.tok, [p], row, group_size=c.group_size,
                             max_new_tokens=c.max_completion_length,
                             temperature=c.temperature, top_p=c.top_p)
                queue.put((self.version, verify(b, self.reward)))  # blocks when full

    @ray.remote
    class Trainer:
        def __init__(self, cfg: GRPOConfig):
            import torch

            from svgrl.rl.trainer import load_policy

            self.cfg = cfg
            self.model, self.tok = load_policy(cfg)
            self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.learning_rate)

        def loop(self, queue: Any, generators: list) -> int:
            from svgrl.rl.rollout import Batch
            from svgrl.rl.update import plan_update, update

            c = self.cfg
            for step in range(1, c.steps + 1):
                parts = [queue.get()[1] for _ in range(c.prompts_per_step)]
                merged = Batch([], [], [], [], [], [], [], [], {})
                for g, b in enumerate(parts):
                    for f in ("prompts", "rows", "prompt_ids", "completion_ids",
                              "completions", "truncated", "rewards"):
                        getattr(merged, f).extend(getattr(b, f))
                    merged.group.extend([g] * len(b))
                update(self.model, self.opt, plan_update(merged), c,
                       pad_id=self.tok.pad_token_id, l_max=c.max_completion_length,
                       step_seed=step)
                ref = ray.put({k: v.detach() for k, v in self.model.state_dict().items()})
                for gen in generators:
                    gen.set_weights.remote(ref, step)
            return c.steps

    queue = Queue(maxsize=n_async)
    gens = [Generator.remote(cfg, i) for i in range(n_generators)]
    return Trainer.remote(cfg), gens, queue


def run_async(cfg: GRPOConfig, n_generators: int = 2) -> int:  # pragma: no cover - needs ray
    """Start the actors and block until the trainer has done `cfg.steps` updates."""
    ray = _ray()
    trainer, gens, queue = build_actors(cfg, n_generators)
    for g in gens:
        g.loop.remote(queue)
    return ray.get(trainer.loop.remote(queue, gens))
