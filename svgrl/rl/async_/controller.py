"""`svgrl train grpo --async`: the controller of Magistral's asynchronous system (§3) on Ray.

    generators (Ray actors, `generator.Generator`)  ──groups──▶  bounded queue (ray Queue)
        ▲  work (prompts), versioned weights                          │
        │                                                             ▼
    controller (this process) ◀── rewards ── verifier pool (Ray actors, `verifier.Verifier`)
        └── trainer role (`trainer.Learner`): an update per full batch, then the new
            weights go to every generator (one `ray.put`, taken between decode steps)

Generators never wait for the trainer: they hold up to ``2 × prompts_per_step`` groups of
work and keep decoding while the trainer updates. The trainer updates as soon as it holds
``prompts_per_step`` verified groups whose tokens are at most ``--max-staleness`` versions
old (older ones are sampled again). Every group has a run-wide id: the controller records
which generator holds which ids; a generator actor that dies is replaced and its unfinished
ids are handed to the new one, and an id is consumed once (a group delivered twice is
dropped), so no completion is lost or counted twice.

The trainer role runs in this (the driver) process, as verl's single-controller does with
its workers; the run folder is the synchronous trainer's (`svgrl.model.checkpoint`, kind
"grpo"), so `svgrl generate --run`, `--init RUN` and `--resume` read it alike. A resumed run
samples the groups that were in flight at the checkpoint again, first.
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
from pathlib import Path
from typing import Any

import torch

from svgrl.atomic import write_bytes, write_text
from svgrl.cluster import start_ray, stop_ray
from svgrl.errors import ModelLoadError
from svgrl.model.checkpoint import (
    MODEL_DIR,
    read_metrics,
    rng_state,
    set_rng_state,
)
from svgrl.rl.async_.generator import Generator, Group, Work
from svgrl.rl.async_.trainer import Learner, concat
from svgrl.rl.async_.verifier import Verifier
from svgrl.rl.rollout import Batch, format_prompt


def build_policy(cfg: Any, init: str | None) -> tuple[Any, Any, Any, Any]:
    """(policy, tokenizer, svg setup or None, task data) as the synchronous trainer builds
    them — the trainer and every generator call this, so their weights line up."""
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
    """What Ray runs: a policy built like the trainer's, given the trainer's weights, and a
    `Generator` over it. Two threads: `run` decodes, the other takes calls."""

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


class _Pool:
    """The controller's ledger of generator actors and the work each holds."""

    def __init__(self, cfg: Any, init: str | None, queue: Any):
        import ray

        self.ray, self.cfg, self.init, self.queue = ray, cfg, init, queue
        self.cls = ray.remote(num_cpus=0, max_concurrency=2)(GeneratorActor)
        self.actors: dict[int, Any] = {}
        self.runs: dict[int, Any] = {}
        self.held: dict[int, dict[int, Work]] = {}  # generator → gid → work not yet received
        self.incarnations = 0
        self.restarts = 0

    def start(self, ident: int, weights: Any, version: int) -> None:
        self.incarnations += 1
        seed = self.cfg.seed * 7_919 + self.incarnations
        a = self.cls.remote(self.cfg, self.init, weights, version, ident, seed)
        self.actors[ident], self.runs[ident] = a, a.run.remote(self.queue)
        self.held.setdefault(ident, {})
        if self.held[ident]:
            a.add_work.remote(list(self.held[ident].values()))

    def dead(self) -> list[int]:
        ready, _ = self.ray.wait(list(self.runs.values()), num_returns=len(self.runs),
                                 timeout=0)
        return [i for i, r in self.runs.items() if r in ready]

    def assign(self, work: list[Work]) -> None:
        """Spread `work` over the generators holding the least."""
        by: dict[int, list[Work]] = {}
        for w in work:
            i = min(self.held, key=lambda j: len(self.held[j]))
            self.held[i][w.gid] = w
            by.setdefault(i, []).append(w)
        for i, ws in by.items():
            self.actors[i].add_work.remote(ws)

    def received(self, g: Group) -> Work | None:
        """The work of a delivered group, or None if it was delivered before."""
        for held in self.held.values():
            if g.gid in held:
                return held.pop(g.gid)
        return None

    def outstanding(self) -> int:
        return sum(len(h) for h in self.held.values())

    def stats(self) -> dict[int, dict]:
        out = {}
        for i, a in self.actors.items():
            # A dying actor has no stats; the restart in the main loop handles it.
            with contextlib.suppress(Exception):
                out[i] = self.ray.get(a.stats.remote(), timeout=30)
        return out

    def pids(self) -> dict[int, int]:
        return {i: int(s["pid"]) for i, s in self.stats().items()}

    def close(self) -> None:
        for a in self.actors.values():
            self.ray.kill(a)


def train_async(cfg: Any, *, reward_fn: Any = None, stop_after: int | None = None,
                on_step: Any = None) -> dict:
    """Run (or resume) asynchronous GRPO; returns what `svgrl.rl.trainer.train` returns plus
    ``"ledger"`` (the group ids each step consumed, restarts, regenerated groups).
    `on_step(step, pool)` is called after each update (tests: kill a generator)."""
    import ray
    from ray.util.queue import Empty, Queue

    from svgrl.rl.tasks import PromptSampler
    from svgrl.rl.trainer import (
        _fmt,
        batch_stats,
        evaluate,
        load_weights,
        open_grpo_run,
        paired_change,
    )

    run, rd, init, latest = open_grpo_run(cfg)
    model, tokenizer, svg, data = build_policy(cfg, init)
    start = (copy.deepcopy(model).eval().requires_grad_(False)
             if cfg.beta > 0 or cfg.log_kl_to_start else None)
    if latest is not None:
        load_weights(model, latest[1] / MODEL_DIR, svg is not None)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate,
                                  weight_decay=cfg.weight_decay)
    step, sampler_state, evals, pending, next_gid = 0, {"epoch": 0, "position": 0}, {}, [], 0
    if latest is not None:
        state = rd.load_state(latest[1])
        try:
            optimizer.load_state_dict(state["optimizer"])
            step, sampler_state = int(state["step"]), dict(state["sampler"])
            pending, next_gid = list(state.get("pending", [])), int(state.get("next_gid", 0))
        except (KeyError, TypeError, ValueError) as e:
            raise ModelLoadError(f"{latest[1]}: trainer state is not a GRPO state: {e}") from e
        evals = state.get("evals", {})
        set_rng_state(state["rng"])
        print(f"resumed from {latest[1]} at step {step}", flush=True)
    rd.truncate_metrics(step)
    sampler = PromptSampler(data.train, cfg.seed, **sampler_state)
    layout = svg.layout if svg is not None else None
    local_verifier = Verifier(cfg, layout, reward_fn)
    l_last, _ = cfg.stage_at(cfg.steps - 1)
    if "before" not in evals:
        evals["before"] = evaluate(model, tokenizer, cfg, data.eval,
                                   local_verifier.reward(l_last), l_last, svg)
        write_text(run / "eval.json", json.dumps(evals, indent=1))
        print(f"eval before: {_fmt(evals['before'])}", flush=True)

    def work_of(gid: int, row: dict, l_max: int) -> Work:
        if svg is not None:
            ids, img = svg.prompter(row)
            return Work(gid, row, row["prompt"], list(ids), img, l_max)
        text = format_prompt(tokenizer, row["prompt"], system=cfg.system_text(),
                             prefix=cfg.response_prefix, chat_template=cfg.chat_template)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"][-cfg.max_prompt_length:]
        return Work(gid, row, text, ids, None, l_max)

    def batch_of(w: Work, g: Group) -> Batch:
        n = len(g.completion_ids)
        texts = tokenizer.batch_decode(g.completion_ids, skip_special_tokens=True)
        return Batch([w.prompt] * n, [w.row] * n, [w.prompt_ids] * n, g.completion_ids,
                     [cfg.response_prefix + t for t in texts], g.truncated, [w.gid] * n,
                     images=[w.image] * n if w.image is not None else [],
                     logprobs=g.logprobs, versions=g.versions)

    learner = Learner(model, optimizer, cfg, pad_id=tokenizer.pad_token_id, ref_model=start,
                      grammar=svg.grammar if svg is not None and cfg.grammar_logprobs
                      else None, version=step)
    started_ray = start_ray(cfg.ray_address, run)
    per_step = cfg.stage_at(step)[1]
    queue = Queue(maxsize=cfg.queue_groups or 2 * per_step, actor_options={"num_cpus": 0})
    pool = _Pool(cfg, init, queue)
    vcls = ray.remote(num_cpus=0)(Verifier)
    verifiers = [vcls.remote(cfg, layout, reward_fn) for _ in range(cfg.verifiers)]
    weights = ray.put(learner.weights())
    for i in range(cfg.generators):
        pool.start(i, weights, learner.version)
    works = {w["gid"]: work_of(w["gid"], w["row"], w["l_max"]) for w in pending}
    if works:
        pool.assign(list(works.values()))
    scoring: dict[Any, tuple[Work, int]] = {}  # verifier future → (work, delivering gen)
    ready: list[tuple[Work, Batch]] = []
    consumed: set[int] = set()
    ledger: dict[str, Any] = {"steps": [], "restarts": 0, "regenerated": 0, "duplicates": 0}
    from torch.utils.tensorboard import SummaryWriter

    tb = SummaryWriter(str(run / "tb"), purge_step=step + 1)
    done_here, rr = 0, 0
    t_last = time.perf_counter()
    last_stats = pool.stats()
    try:
        while step < cfg.steps and (stop_after is None or done_here < stop_after):
            l_max, per_step = cfg.stage_at(step)
            # -- restart dead generators; their unfinished work goes to the new actor
            for i in pool.dead():
                try:
                    ray.get(pool.runs[i])
                except Exception as e:  # noqa: BLE001 — the actor died (or its loop raised)
                    print(f"generator {i} died ({type(e).__name__}); restarting it", flush=True)
                pool.restarts += 1
                ledger["restarts"] += 1
                pool.start(i, weights, learner.version)
            # -- keep every generator busy: 2 × prompts per step in flight
            want = 2 * per_step - pool.outstanding() - len(ready) - len(scoring)
            if want > 0:
                new = []
                for row in sampler.take(want):
                    new.append(work_of(next_gid, row, l_max))
                    works[next_gid] = new[-1]
                    next_gid += 1
                pool.assign(new)
            # -- groups from the queue → the verifier pool
            try:
                got = queue.get_nowait_batch(queue.qsize()) if queue.qsize() else []
            except Empty:
                got = []
            for g in got:
                w = pool.received(g)
                if w is None or g.gid in consumed:
                    ledger["duplicates"] += 1
                    continue
                v = verifiers[rr % len(verifiers)]
                rr += 1
                scoring[v.score.remote(batch_of(w, g), w.l_max)] = (w, g.generator)
            if scoring:
                done, _ = ray.wait(list(scoring), num_returns=len(scoring), timeout=0)
                for f in done:
                    w, _ = scoring.pop(f)
                    ready.append((w, ray.get(f)))
            # -- off-policy bound: groups already too old are sampled again
            fresh = []
            for w, b in ready:
                if learner.version - min(v for vs in b.versions for v in vs[:1]) \
                        > cfg.max_staleness:
                    ledger["regenerated"] += 1
                    pool.assign([w])
                else:
                    fresh.append((w, b))
            ready = fresh
            if len(ready) < per_step:
                if not got:  # poll gently: the driver shares the cores with the generators
                    time.sleep(0.02)
                continue
            # -- trainer role: one update on a full batch, then broadcast the weights
            take, ready = ready[:per_step], ready[per_step:]
            batch = concat([b for _, b in take])
            t0 = time.perf_counter()
            upd, plan = learner.step(batch, max(w.l_max for w, _ in take))
            t1 = time.perf_counter()
            weights = ray.put(learner.weights())
            for a in pool.actors.values():
                a.set_weights.remote(weights, learner.version)
            step += 1
            done_here += 1
            gids = [w.gid for w, _ in take]
            consumed.update(gids)
            for g in gids:
                works.pop(g, None)
            ledger["steps"].append(gids)
            stats = pool.stats()
            busy = sum(s["busy_s"] - last_stats.get(i, {}).get("busy_s", 0.0)
                       for i, s in stats.items())
            idle = sum(s["idle_s"] - last_stats.get(i, {}).get("idle_s", 0.0)
                       for i, s in stats.items())
            last_stats = stats
            rec = {"step": step, "l_max": l_max, **batch_stats(batch), **upd,
                   "groups_filtered": 1 - plan.groups_kept / plan.groups_total,
                   "t_update": t1 - t0, "samples_per_s": len(batch) / (t1 - t_last),
                   "generator_idle": idle / max(busy + idle, 1e-9),
                   "restarts": ledger["restarts"], "regenerated": ledger["regenerated"],
                   "groups_consumed": len(consumed), "started": time.time()}
            t_last = t1
            rd.append_metrics(rec)
            for k, v in rec.items():
                if k != "step" and isinstance(v, (int, float)):
                    tb.add_scalar(k, v, step)
            print(f"step {step}/{cfg.steps} {_fmt(rec)} staleness_max="
                  f"{rec['staleness_max']:.0f}", flush=True)
            if on_step is not None:
                on_step(step, pool)
            if (cfg.save_every and step % cfg.save_every == 0) or step == cfg.steps:
                in_flight = [w for w in works.values() if w.gid not in consumed]
                rd.save_checkpoint(
                    step, model.lm if svg is not None else model,
                    {"step": step, "sampler": sampler.state(), "evals": evals,
                     "optimizer": optimizer.state_dict(), "rng": rng_state(),
                     "next_gid": next_gid,
                     "pending": [{"gid": w.gid, "row": w.row, "l_max": w.l_max}
                                 for w in sorted(in_flight, key=lambda w: w.gid)]},
                    tokenizer=tokenizer, keep_last=cfg.keep_last)
        final = pool.stats()
        ledger["generator_idle"] = (
            sum(s["idle_s"] for s in final.values())
            / max(sum(s["idle_s"] + s["busy_s"] for s in final.values()), 1e-9))
    finally:
        pool.close()
        for v in verifiers:
            ray.kill(v)
        queue.shutdown()
        tb.close()
        stop_ray(started_ray)
    if step >= cfg.steps:
        evals["after"] = evaluate(model, tokenizer, cfg, data.eval,
                                  local_verifier.reward(l_last), l_last, svg)
        print(f"eval after: {_fmt(evals['after'])}", flush=True)
        if "row_rewards" in evals.get("before", {}):
            evals["change"] = paired_change(evals["before"], evals["after"])
    local_verifier.close()
    write_text(run / "eval.json", json.dumps(evals, indent=1))
    write_bytes(run / "curves.png", curves_png_of(run))
    return {"before": evals.get("before"), "after": evals.get("after"), "steps": step,
            "model": model, "ledger": ledger}


def curves_png_of(run: Path) -> bytes:
    from svgrl.rl.plot import curves_png

    return curves_png(read_metrics(run))


__all__ = ["GeneratorActor", "build_policy", "start_ray", "train_async"]
