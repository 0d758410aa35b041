"""`svgrl train grpo --async`: the controller of Magistral's asynchronous system (§3) on Ray.

    generators (Ray actors, `GeneratorActor`)  ──groups──▶  bounded queue (ray Queue)
        ▲  work (prompts), weights refs                            │
        │                                                          ▼
    controller (this process) ──groups──▶ verifier pool (Ray actors, `Verifier`)
        │   ▲ new weights ref, metrics          │ rewards
        ▼   │                                   ▼
    trainer (Ray actor, `TrainerActor`) ◀── full batch ── controller
        └─ an update per full batch; the new weights go into the object store once and
           every generator takes them between decode steps; checkpoints, metrics, eval

Each role is its own process, as verl and OpenRLHF separate theirs; the controller only
orchestrates (verl's single controller): it hands out prompts, keeps the ledger of group ids,
routes groups to verifiers and batches to the trainer, and restarts what died. It never
holds the weights: the trainer puts each version into the object store and the controller
passes the reference on.

Generators never wait for the trainer: they hold up to ``2 × prompts_per_step`` groups of
work and keep decoding while the trainer updates (the controller keeps draining the queue
and verifying meanwhile). The trainer gets a batch as soon as ``prompts_per_step``
verified groups are ready whose tokens are at most ``--max-staleness`` versions old (older
ones are sampled again). Every group has a run-wide id: the controller records which
generator holds which ids; a generator actor that dies is replaced and its unfinished ids
are handed to the new one, and an id is consumed once (a group delivered twice is dropped),
so no completion is lost or counted twice. Every wait on an actor has a timeout, so a dead
or stuck actor ends the run with an error instead of hanging it.

The run folder is the synchronous trainer's (`svgrl.model.checkpoint`, kind "grpo"),
written by the trainer actor, so `svgrl generate --run`, `--init RUN` and `--resume` read
it alike. The trainer is placed on the controller's node (its run folder is a local path).
A resumed run samples the groups that were in flight at the checkpoint again, first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path
from typing import Any

from svgrl.cluster import start_ray, stop_ray
from svgrl.errors import RoleDiedError
from svgrl.rl.async_.actors import GeneratorActor, TrainerActor, build_policy
from svgrl.rl.async_.generator import Group, Work
from svgrl.rl.async_.verifier import Verifier
from svgrl.rl.rollout import Batch, format_prompt

# Seconds an actor may take to answer a call that should be quick (stats, the queue), and
# to build a policy and evaluate (the trainer's start and its held-out evaluations).
CALL_TIMEOUT = 60.0
LONG_TIMEOUT = 3600.0


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
        calls = {i: a.stats.remote() for i, a in self.actors.items()}
        out = {}
        for i, f in calls.items():
            # A dying actor has no stats; the restart in the main loop handles it.
            with contextlib.suppress(Exception):
                out[i] = self.ray.get(f, timeout=CALL_TIMEOUT)
        return out

    def pids(self) -> dict[int, int]:
        return {i: int(s["pid"]) for i, s in self.stats().items()}

    def close(self) -> None:
        for a in self.actors.values():
            self.ray.kill(a)


def _absolute(cfg: Any) -> Any:
    """`cfg` with its data / init paths absolute: actors may run in another directory."""
    ch = {}
    for k in ("data", "init"):
        v = getattr(cfg, k, "")
        if v and Path(v).exists():
            ch[k] = str(Path(v).resolve())
    return dataclasses.replace(cfg, **ch) if ch else cfg


def _drain(ray: Any, queue: Any) -> list[Group]:
    """Every group waiting in the completion queue, without blocking past CALL_TIMEOUT."""
    from ray.util.queue import Empty

    try:
        n = ray.get(queue.actor.qsize.remote(), timeout=CALL_TIMEOUT)
        return ray.get(queue.actor.get_nowait_batch.remote(n), timeout=CALL_TIMEOUT) if n \
            else []
    except Empty:
        return []
    except ray.exceptions.GetTimeoutError as e:
        raise RoleDiedError(f"the completion queue did not answer in {CALL_TIMEOUT:.0f} s") \
            from e


def _check(ray: Any, fut: Any) -> bool:
    """True when the call `fut` has finished (raising its error if it failed)."""
    if ray.wait([fut], timeout=0)[0]:
        ray.get(fut, timeout=CALL_TIMEOUT)
        return True
    return False


def train_async(cfg: Any, *, reward_fn: Any = None, stop_after: int | None = None,
                on_step: Any = None) -> dict:
    """Run (or resume) asynchronous GRPO; returns what `svgrl.rl.trainer.train` returns
    (``"model"``: the trained policy rebuilt in this process) plus ``"ledger"`` (the group
    ids each step consumed, restarts, regenerated groups, the trainer's pid).
    `on_step(step, pool, ledger)` is called after each update (tests: kill a generator, or
    the trainer: `RoleDiedError`, the run folder keeps its last checkpoint for --resume)."""
    import ray
    from ray.util.queue import Queue
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from svgrl.rl.tasks import PromptSampler
    from svgrl.rl.trainer import _fmt, open_grpo_run

    cfg = _absolute(cfg)
    run, _, init, latest = open_grpo_run(cfg)
    run = run.resolve()
    # Ray first: a local Ray also points torch's caches into the run folder.
    started_ray = start_ray(cfg.ray_address, run)
    trainer = queue = pool = None
    verifiers: list[Any] = []
    ledger: dict[str, Any] = {"steps": [], "restarts": 0, "regenerated": 0, "duplicates": 0,
                              "verifier_restarts": 0}
    try:
        # The controller's own copy of the policy serves the prompt format (tokenizer, SVG
        # prompter) and, at the end, the returned model; it is never trained here.
        model, tokenizer, svg, data = build_policy(cfg, init)
        layout = svg.layout if svg is not None else None

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

        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        trainer = ray.remote(num_cpus=0, max_restarts=0)(TrainerActor).options(
            scheduling_strategy=here).remote(cfg, init, str(run),
                                             str(latest[1]) if latest else None, reward_fn)
        state = ray.get(trainer.resumed.remote(), timeout=LONG_TIMEOUT)
        ledger["trainer_pid"] = state.pop("pid")
        step = int(state.get("step", 0))
        if latest is not None:
            print(f"resumed from {latest[1]} at step {step}", flush=True)
        evals = ray.get(trainer.evaluate.remote("before"), timeout=LONG_TIMEOUT)
        if latest is None:
            print(f"eval before: {_fmt(evals['before'])}", flush=True)
        sampler = PromptSampler(data.train, cfg.seed,
                                **state.get("sampler", {"epoch": 0, "position": 0}))
        next_gid = int(state.get("next_gid", 0))
        per_step = cfg.stage_at(step)[1]
        queue = Queue(maxsize=cfg.queue_groups or 2 * per_step, actor_options={"num_cpus": 0})
        pool = _Pool(cfg, init, queue)
        vcls = ray.remote(num_cpus=0)(Verifier)
        verifiers = [vcls.remote(cfg, layout, reward_fn) for _ in range(cfg.verifiers)]
        pub = ray.get(trainer.publish.remote(), timeout=LONG_TIMEOUT)
        weights, version = pub["weights"][0], pub["version"]
        for i in range(cfg.generators):
            pool.start(i, weights, version)
        works = {w["gid"]: work_of(w["gid"], w["row"], w["l_max"])
                 for w in state.get("pending", [])}
        if works:
            pool.assign(list(works.values()))
        scoring: dict[Any, tuple[Work, Group, int]] = {}  # future → (work, group, verifier)
        ready: list[tuple[Work, Batch]] = []
        consumed: set[int] = set()
        updating: tuple[Any, list[tuple[Work, Batch]]] | None = None
        writes: list[Any] = []  # the trainer's log / save calls: their errors end the run
        done_here, rr = 0, 0
        t_last = time.perf_counter()
        last_stats = pool.stats()
        while step < cfg.steps and (stop_after is None or done_here < stop_after):
            l_max, per_step = cfg.stage_at(step)
            # -- restart dead generators; their unfinished work goes to the new actor
            for i in pool.dead():
                try:
                    ray.get(pool.runs[i], timeout=CALL_TIMEOUT)
                except Exception as e:  # noqa: BLE001 — the actor died (or its loop raised)
                    print(f"generator {i} died ({type(e).__name__}); restarting it", flush=True)
                pool.restarts += 1
                ledger["restarts"] += 1
                pool.start(i, weights, version)
            # -- keep every generator busy: 2 × prompts per step in flight
            in_update = len(updating[1]) if updating else 0
            want = 2 * per_step - pool.outstanding() - len(ready) - len(scoring) - in_update
            if want > 0:
                new = []
                for row in sampler.take(want):
                    new.append(work_of(next_gid, row, l_max))
                    works[next_gid] = new[-1]
                    next_gid += 1
                pool.assign(new)
            # -- groups from the queue → the verifier pool
            got = _drain(ray, queue)
            for g in got:
                w = pool.received(g)
                if w is None or g.gid in consumed:
                    ledger["duplicates"] += 1
                    continue
                scoring[verifiers[rr % len(verifiers)].score.remote(batch_of(w, g), w.l_max)] \
                    = (w, g, rr % len(verifiers))
                rr += 1
            if scoring:
                done, _ = ray.wait(list(scoring), num_returns=len(scoring), timeout=0)
                for f in done:
                    w, g, vi = scoring.pop(f)
                    try:
                        ready.append((w, ray.get(f, timeout=CALL_TIMEOUT)))
                    except ray.exceptions.RayActorError:  # the verifier died: a new one
                        ledger["verifier_restarts"] += 1
                        verifiers[vi] = vcls.remote(cfg, layout, reward_fn)
                        scoring[verifiers[vi].score.remote(batch_of(w, g), w.l_max)] = (w, g, vi)
            # -- an update finished: hand its weights on, log, checkpoint
            if updating is not None:
                fut, take = updating
                if ray.wait([fut], timeout=0)[0]:
                    res = ray.get(fut, timeout=CALL_TIMEOUT)
                    updating = None
                    weights, version = res["weights"][0], res["version"]
                    for a in pool.actors.values():
                        a.set_weights.remote(weights, version)
                    t1 = time.perf_counter()
                    step += 1
                    done_here += 1
                    gids = [w.gid for w, _ in take]
                    consumed.update(gids)
                    for gid in gids:
                        works.pop(gid, None)
                    ledger["steps"].append(gids)
                    stats = pool.stats()
                    busy = sum(s["busy_s"] - last_stats.get(i, {}).get("busy_s", 0.0)
                               for i, s in stats.items())
                    idle = sum(s["idle_s"] - last_stats.get(i, {}).get("idle_s", 0.0)
                               for i, s in stats.items())
                    last_stats = stats
                    rec = {"step": step, "l_max": l_max, **res["metrics"],
                           "samples_per_s": sum(len(b) for _, b in take) / (t1 - t_last),
                           "generator_idle": idle / max(busy + idle, 1e-9),
                           "restarts": ledger["restarts"],
                           "regenerated": ledger["regenerated"],
                           "groups_consumed": len(consumed), "started": time.time()}
                    t_last = t1
                    writes = [f for f in writes if not _check(ray, f)]
                    writes.append(trainer.log.remote(rec))
                    print(f"step {step}/{cfg.steps} {_fmt(rec)} staleness_max="
                          f"{rec['staleness_max']:.0f}", flush=True)
                    if on_step is not None:
                        on_step(step, pool, ledger)
                    if (cfg.save_every and step % cfg.save_every == 0) or step == cfg.steps:
                        in_flight = sorted((w for w in works.values() if w.gid not in consumed),
                                           key=lambda w: w.gid)
                        writes.append(trainer.save.remote(step, {
                            "sampler": sampler.state(), "next_gid": next_gid,
                            "pending": [{"gid": w.gid, "row": w.row, "l_max": w.l_max}
                                        for w in in_flight]}))
                    continue
            # -- off-policy bound: groups already too old are sampled again
            fresh = []
            for w, b in ready:
                if version - min(v for vs in b.versions for v in vs[:1]) > cfg.max_staleness:
                    ledger["regenerated"] += 1
                    pool.assign([w])
                else:
                    fresh.append((w, b))
            ready = fresh
            if updating is not None or len(ready) < per_step:
                if not got:  # poll gently: the controller shares the cores with the roles
                    time.sleep(0.02)
                continue
            # -- a full batch → the trainer (one update in flight at a time)
            take, ready = ready[:per_step], ready[per_step:]
            updating = (trainer.step.remote([b for _, b in take], max(w.l_max for w, _ in take)),
                        take)
        ray.get(writes, timeout=LONG_TIMEOUT)
        final = pool.stats()
        ledger["generator_idle"] = (
            sum(s["idle_s"] for s in final.values())
            / max(sum(s["idle_s"] + s["busy_s"] for s in final.values()), 1e-9))
        ledger["generator_pids"] = {i: int(s["pid"]) for i, s in final.items()}
        if pool is not None:  # generators stop before the evaluation takes the cores
            pool.close()
            pool = None
        if step >= cfg.steps:
            evals = ray.get(trainer.evaluate.remote("after"), timeout=LONG_TIMEOUT)
            print(f"eval after: {_fmt(evals['after'])}", flush=True)
            if "change" in evals:
                c = evals["change"]
                print(f"held-out change: {c['delta']:+.4f} ± {c['delta_sem']:.4f} (paired "
                      f"SE, z={c['z']:.2f}); {c['rows_better']} rows better, "
                      f"{c['rows_worse']} worse of {c['n']}", flush=True)
        model.load_state_dict(ray.get(trainer.weights.remote(), timeout=LONG_TIMEOUT))
        ray.get(trainer.close.remote(), timeout=LONG_TIMEOUT)
    except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError) as e:
        raise RoleDiedError(
            f"the asynchronous run lost an actor it cannot replace in flight (the trainer or "
            f"the completion queue): {type(e).__name__}: {str(e).splitlines()[0][:300]}; "
            f"`svgrl train grpo --resume --out {run}` continues from the last checkpoint"
        ) from e
    finally:
        if pool is not None:
            pool.close()
        for v in verifiers:
            ray.kill(v)
        if trainer is not None:
            ray.kill(trainer)
        if queue is not None:
            queue.shutdown()
        stop_ray(started_ray)
    return {"before": evals.get("before"), "after": evals.get("after"), "steps": step,
            "model": model, "ledger": ledger}


__all__ = ["GeneratorActor", "TrainerActor", "build_policy", "train_async"]
