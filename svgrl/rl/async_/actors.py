"""What Ray runs for the asynchronous system: each role in its own process.

- `GeneratorActor`: a policy built like the trainer's and a `Generator` over it; two
  threads (one runs the decode loop, the other takes work, weights and stats calls).
- `TrainerActor`: the trainer role. It holds the policy, the frozen start copy and the
  optimiser, applies each update (`Learner`), puts every new weights version into the Ray
  object store *once* (the controller hands the reference on; each generator fetches the
  tensors from the store, never through the controller), and writes the run folder: the
  one run format's checkpoints, metrics.jsonl, TensorBoard, eval.json.

The controller (`svgrl.rl.async_.controller`) only orchestrates: prompts, the ledger of
group ids, the verifier pool, restarts.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import torch

from svgrl.atomic import write_bytes, write_text
from svgrl.errors import ModelLoadError
from svgrl.rl.async_.generator import Generator, Work
from svgrl.rl.async_.trainer import Learner, concat
from svgrl.rl.async_.verifier import Verifier
from svgrl.rl.rollout import Batch


def build_policy(cfg: Any, init: str | None) -> tuple[Any, Any, Any, Any]:
    """(policy, tokenizer, svg setup or None, task data) as the synchronous trainer builds
    them — the trainer, the controller and every generator call this, so their weights and
    prompts line up."""
    from svgrl.rl.tasks import load_task
    from svgrl.rl.trainer import load_policy

    data = load_task(cfg)
    if cfg.task in ("svg-image", "svg-text"):
        from svgrl.rl.svg import SvgSetup, load_svg_policy, model_rows

        model, tokenizer = load_svg_policy(cfg, data.layout, init)
        svg = SvgSetup(model, cfg.task, data.layout, cfg.max_prompt_length, cfg.image_size)
        data = type(data)(model_rows(data.train, data.layout, svg.layout),
                          model_rows(data.eval, data.layout, svg.layout), data.task, data.layout)
        return model, tokenizer, svg, data
    model, tokenizer = load_policy(cfg, init)
    return model, tokenizer, None, data


class GeneratorActor:
    """A `Generator` over a policy given the trainer's weights."""

    def __init__(self, cfg: Any, init: str | None, weights: dict, version: int, ident: int,
                 seed: int):
        from svgrl.rl.rollout import eos_ids

        torch.set_num_threads(max(1, cfg.threads or 1))
        model, tokenizer, svg, _ = build_policy(cfg, init)
        model.load_state_dict(weights)
        eos = {svg.layout.eos} if svg is not None else eos_ids(model, tokenizer)
        self.gen = Generator(
            model, group_size=cfg.group_size, temperature=cfg.temperature, top_p=cfg.top_p,
            eos=eos, pad_id=tokenizer.pad_token_id,
            grammar=svg.grammar if svg is not None else None,
            embed=model.embed if cfg.task == "svg-image" else None,
            max_rows=cfg.generation_batch, max_staleness=cfg.max_staleness, seed=seed,
            ident=ident, version=version)

    def run(self, queue: Any) -> None:
        self.gen.run(queue.put)

    def add_work(self, items: list[Work]) -> None:
        self.gen.add_work(items)

    def set_weights(self, weights: dict, version: int) -> None:
        self.gen.set_weights(weights, version)

    def stats(self) -> dict:
        return self.gen.stats()

    def stop(self) -> None:
        self.gen.stop()


class TrainerActor:
    """The trainer role in its own process, owning the run folder's writes.

    `latest`: the checkpoint folder to resume from (weights, optimiser, RNG; `resumed()`
    gives the controller its part of that state), or None."""

    def __init__(self, cfg: Any, init: str | None, run: str, latest: str | None,
                 reward_fn: Any = None):
        from torch.utils.tensorboard import SummaryWriter

        from svgrl.model.checkpoint import MODEL_DIR, RunDir, load_state, set_rng_state
        from svgrl.rl.trainer import load_weights

        torch.set_num_threads(max(1, cfg.threads or 1))
        torch.manual_seed(cfg.seed)
        self.cfg, self.run, self.rd = cfg, Path(run), RunDir(run)
        model, self.tokenizer, self.svg, self.data = build_policy(cfg, init)
        start = (copy.deepcopy(model).eval().requires_grad_(False)
                 if cfg.beta > 0 or cfg.log_kl_to_start else None)
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate,
                                           weight_decay=cfg.weight_decay)
        step, self.state = 0, {}
        if latest is not None:
            load_weights(model, Path(latest) / MODEL_DIR, self.svg is not None)
            state = load_state(latest)
            try:
                self.optimizer.load_state_dict(state["optimizer"])
                step = int(state["step"])
                self.state = {"step": step, "sampler": dict(state["sampler"]),
                              "pending": list(state.get("pending", [])),
                              "next_gid": int(state.get("next_gid", 0))}
            except (KeyError, TypeError, ValueError) as e:
                raise ModelLoadError(f"{latest}: trainer state is not a GRPO state: {e}") from e
            self.evals = dict(state.get("evals", {}))
            set_rng_state(state["rng"])
        else:
            self.evals = {}
        self.model = model
        self.learner = Learner(model, self.optimizer, cfg, pad_id=self.tokenizer.pad_token_id,
                               ref_model=start, grammar=self.svg.grammar
                               if self.svg is not None and cfg.grammar_logprobs else None,
                               version=step)
        self.rd.truncate_metrics(step)
        self.tb = SummaryWriter(str(self.run / "tb"), purge_step=step + 1)
        self.verifier = Verifier(cfg, self.svg.layout if self.svg is not None else None,
                                 reward_fn)

    def resumed(self) -> dict:
        """The controller's part of the resumed state ({} for a new run): step, prompt
        sampler position, groups in flight at the checkpoint, next group id."""
        return dict(self.state, pid=os.getpid())

    def evaluate(self, which: str) -> dict:
        """Held-out evaluation ``before`` (skipped when the run already has it) or
        ``after`` (then the paired change); written to eval.json."""
        from svgrl.rl.trainer import evaluate, paired_change

        if which not in self.evals:
            l_last, _ = self.cfg.stage_at(self.cfg.steps - 1)
            self.evals[which] = evaluate(self.model, self.tokenizer, self.cfg, self.data.eval,
                                         self.verifier.reward(l_last), l_last, self.svg)
            if which == "after" and "row_rewards" in self.evals.get("before", {}):
                self.evals["change"] = paired_change(self.evals["before"], self.evals["after"])
            write_text(self.run / "eval.json", json.dumps(self.evals, indent=1))
        return self.evals

    def publish(self) -> dict:
        """The current weights, put into the object store once: ``{"weights": [ref],
        "version": v}`` (the reference sits in a list so Ray hands it on unresolved)."""
        import ray

        return {"weights": [ray.put(self.learner.weights())], "version": self.learner.version}

    def step(self, batches: list[Batch], l_max: int) -> dict:
        """One update on the verified groups `batches` (the bound is checked by `Learner`);
        returns its metrics and the new weights (`publish`)."""
        import time

        from svgrl.rl.trainer import batch_stats

        batch = concat(batches)
        t0 = time.perf_counter()
        upd, plan = self.learner.step(batch, l_max)
        rec = {**batch_stats(batch), **upd, "t_update": time.perf_counter() - t0,
               "groups_filtered": 1 - plan.groups_kept / plan.groups_total}
        return {"metrics": rec, **self.publish()}

    def log(self, rec: dict) -> None:
        self.rd.append_metrics(rec)
        for k, v in rec.items():
            if k != "step" and isinstance(v, (int, float)):
                self.tb.add_scalar(k, v, rec["step"])

    def save(self, step: int, controller_state: dict) -> None:
        """Checkpoint `step` in the run format: the policy, the optimiser, this process's
        RNG, evaluations so far, and the controller's state (sampler, groups in flight)."""
        from svgrl.model.checkpoint import rng_state

        self.rd.save_checkpoint(
            step, self.model.lm if self.svg is not None else self.model,
            {"step": step, "evals": self.evals, "optimizer": self.optimizer.state_dict(),
             "rng": rng_state(), **controller_state},
            tokenizer=self.tokenizer, keep_last=self.cfg.keep_last)

    def weights(self) -> dict[str, torch.Tensor]:
        return self.learner.weights()

    def close(self) -> None:
        from svgrl.model.checkpoint import read_metrics
        from svgrl.rl.plot import curves_png

        self.tb.close()
        self.verifier.close()
        write_bytes(self.run / "curves.png", curves_png(read_metrics(self.run)))


__all__ = ["GeneratorActor", "TrainerActor", "build_policy"]
