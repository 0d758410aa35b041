"""`svgrl train grpo`: Magistral's GRPO loop (arXiv 2506.10910 §2–3), one function in stages.

    setup      run folder, policy, frozen start copy (KL-to-start / β), data, filter, resume
    per step   1. stage     l_max and prompts of the length curriculum
               2. rollout   generator role: prompts → G completions each   (svgrl.rl.rollout)
               3. verify    verifier role: rewards and their parts         (svgrl.rl.verify)
               4. update    trainer role: drop equal groups, advantages,
                            minibatch steps over greedy microbatches       (svgrl.rl.update)
               5. log       metrics.jsonl, TensorBoard, console
               6. save      atomic checkpoint, exact resume            (svgrl.model.checkpoint)
    end        held-out eval before/after, curves.png

The run folder is the one run format of `svgrl.model.checkpoint` (kind "grpo"), plus
``metrics.jsonl``, ``eval.json``, ``curves.png`` and, after a difficulty filter,
``train_rows.json``. The trained model is the latest checkpoint's ``model/`` folder:
``svgrl generate --run RUN`` and ``--init RUN`` read it.
"""


from __future__ import annotations

import copy
import dataclasses
import json
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from svgrl.atomic import write_bytes, write_text
from svgrl.config import to_dict
from svgrl.errors import ConfigError, ModelLoadError
from svgrl.model.checkpoint import (
    MODEL_DIR,
    START_DIR,
    RunDir,
    model_folder,
    read_metrics,
    rng_state,
    set_rng_state,
)
from svgrl.rl.config import GRPOConfig
from svgrl.rl.curriculum import run_filter
from svgrl.rl.plot import curves_png
from svgrl.rl.rollout import Batch, format_prompt, generate
from svgrl.rl.tasks import PromptSampler, load_task
from svgrl.rl.update import plan_update, update
from svgrl.rl.verify import close_reward, make_reward, part_means, verify

# Fields a resume may change: they extend the run or change how it runs, not what it learns.
RESUME_MAY_CHANGE = ("resume", "steps", "threads", "save_every", "eval_every", "out",
                     "reward_workers", "keep_last", "ray_address", "generators", "verifiers",
                     "queue_groups", "progress")

def load_policy(cfg: GRPOConfig, folder: str | None) -> tuple[Any, Any]:
    """(model, tokenizer) of a math/code policy: the model folder `folder` (``--init``) or a
    fresh ``--backbone``."""
    from svgrl.model.backbones import load_backbone

    if folder:
        return load_backbone(dataclasses.replace(cfg.model, backbone=folder))
    return load_backbone(cfg.model)


def rollout(model: Any, tokenizer: Any, cfg: GRPOConfig, rows: list[dict], svg: Any,
            **kwargs: Any) -> Batch:
    """`generate` for `rows`: chat-text prompts (math, code) or, for SVG tasks (`svg` an
    `svgrl.rl.svg.SvgSetup`), SFT-format prompt ids, images and the grammar."""
    common = dict(generation_batch=cfg.generation_batch, max_prompt_length=cfg.max_prompt_length,
                  sampler=cfg.sampler, **kwargs)
    if svg is not None:
        return generate(model, tokenizer, [r["prompt"] for r in rows], rows,
                        **common, **svg.generate_kwargs(rows))
    prompts = [format_prompt(tokenizer, r["prompt"], system=cfg.system_text(),
                             prefix=cfg.response_prefix, chat_template=cfg.chat_template)
               for r in rows]
    return generate(model, tokenizer, prompts, rows, response_prefix=cfg.response_prefix,
                    **common)


def batch_stats(batch: Batch) -> dict[str, float]:
    n = len(batch)
    lens = [len(c) for c in batch.completion_ids]
    out = {"reward": sum(batch.rewards) / n,
           "reward_std": float(torch.tensor(batch.rewards).std(correction=0)),
           "completion_len": sum(lens) / n, "completion_len_max": float(max(lens)),
           "truncated": sum(batch.truncated) / n}
    for k, v in part_means(batch).items():
        out[k] = v
    fmt = batch.parts.get("format", batch.parts.get("valid"))
    if fmt is not None:
        ok = [v is None for v in fmt] if "format" in batch.parts else [bool(v) for v in fmt]
        out["format_ok"] = sum(ok) / n
    return out


class RolloutBar:
    """A progress bar over a rollout's token budget (completions × l_max): most completions
    of a small model run to the length cap, so a count of finished completions would sit at
    0 until the end of the step; the budget moves with every decode step and gives an ETA.
    The finished completions are its postfix. Cleared on close, so the console keeps one
    line per step. `show`: ``--progress``."""

    def __init__(self, show: bool, completions: int, l_max: int, desc: str):
        from svgrl.progress import bar

        self.n, self.done = completions, 0
        self.bar = bar(total=completions * l_max, desc=desc, unit="tok", disable=not show,
                       leave=False, dynamic_ncols=True, unit_scale=True)

    def __enter__(self) -> RolloutBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.close()

    def update(self, budget: int, done: int) -> None:
        """`svgrl.rl.rollout.generate`'s progress callback."""
        self.done += done
        self.bar.set_postfix_str(f"{self.done}/{self.n} completions", refresh=False)
        self.bar.update(budget)

    def phase(self, name: str) -> None:
        self.bar.set_postfix_str(f"{self.done}/{self.n} completions, {name}")


def evaluate(model: Any, tokenizer: Any, cfg: GRPOConfig, rows: list[dict], reward: Any,
             l_max: int, svg: Any = None, desc: str = "") -> dict[str, float]:
    """Mean reward (and each part: similarity, efficiency, ...) on held-out rows.

    ``cfg.eval_samples`` k ≥ 1: k completions per row sampled as in training (temperature,
    top-p, grammar), with a fixed seed so every evaluation of a run draws the same random
    stream — before/after differ only by the weights. k = 0: greedy decoding (one per row).
    ``reward_sem`` is the standard error of the mean over rows (of each row's k-mean), the
    scale against which a before/after difference should be read. The caller's RNG is kept.
    `desc` names the progress bar (none without it).
    """
    k = cfg.eval_samples
    with torch.random.fork_rng(devices=[]), \
            RolloutBar(cfg.progress and bool(desc), len(rows) * max(1, k), l_max, desc) as bar:
        torch.manual_seed(cfg.seed * 1_000_003 + 7_919)
        if k:
            b = rollout(model, tokenizer, cfg, rows, svg, group_size=k, max_new_tokens=l_max,
                        temperature=cfg.temperature, top_p=cfg.top_p, progress=bar.update)
        else:
            b = rollout(model, tokenizer, cfg, rows, svg, group_size=1, max_new_tokens=l_max,
                        do_sample=False, progress=bar.update)
        bar.phase("verifying")
        b = verify(b, reward)
    stats = batch_stats(b)
    per_row: dict[int, list[float]] = {}
    for g, r in zip(b.group, b.rewards, strict=True):
        per_row.setdefault(g, []).append(r)
    means = torch.tensor([sum(per_row[g]) / len(per_row[g]) for g in sorted(per_row)],
                         dtype=torch.float64)
    stats["reward_sem"] = (float(means.std() / len(means) ** 0.5) if len(means) > 1
                           else 0.0)
    stats["n"] = len(rows)
    stats["samples"] = k
    stats["row_rewards"] = [round(float(m), 6) for m in means]  # for paired comparisons
    return stats


def paired_change(before: dict, after: dict) -> dict[str, float]:
    """After − before on the same held-out rows: mean difference, its standard error over
    rows (paired, so the rows' own difficulty cancels), and rows that got better / worse."""
    a = torch.tensor(before["row_rewards"], dtype=torch.float64)
    b = torch.tensor(after["row_rewards"], dtype=torch.float64)
    if a.shape != b.shape or not len(a):
        raise ConfigError("before/after evaluations cover different rows")
    d = b - a
    sem = float(d.std() / len(d) ** 0.5) if len(d) > 1 else 0.0
    return {"delta": float(d.mean()), "delta_sem": sem,
            "z": float(d.mean()) / sem if sem > 0 else 0.0,
            "rows_better": int((d > 0).sum()), "rows_worse": int((d < 0).sum()),
            "n": len(d)}



def open_grpo_run(cfg: GRPOConfig) -> tuple[Path, RunDir, str | None, Any]:
    """Open (or reopen, with `--resume`) the run folder of a GRPO run, synchronous or not:
    (run path, RunDir, the model folder it starts from — ``RUN/start``, the `--init` model
    kept in the run — or None for a fresh ``--backbone``, the latest checkpoint or None).
    Sets the thread count and the seed."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run = Path(cfg.out)
    rd = RunDir(run)
    src = model_folder(cfg.init) if cfg.init and not cfg.resume else None
    init = str(src[0].resolve()) if src else None
    meta = rd.open(kind="grpo", config=to_dict(cfg), resume=cfg.resume,
                   ignore=RESUME_MAY_CHANGE, extra={"init_model": init})
    if src:  # the frozen start copy and the policy's shape come from here on resume too
        rd.keep_start(init, link=src[1] is not None)
        _check_image_size(cfg, src[0], src[1])
    init = meta.get("init_model")
    if init and (run / START_DIR).is_dir():
        init = str(run / START_DIR)
    elif init and not Path(init).is_dir():  # runs that predate RUN/start
        raise ModelLoadError(f"{run}: the run started from the model folder {init!r}, which is "
                             "gone; restore it (the frozen start copy is rebuilt from it)")
    latest = rd.latest() if cfg.resume else None
    torch.manual_seed(cfg.seed)
    return run, rd, init, latest

def _check_image_size(cfg: GRPOConfig, folder: Path, run_meta: dict | None) -> None:
    """Warn when a Qwen2.5-VL policy from an SFT run would see images at another size than
    it was trained on (its prompts' image tokens depend on the render size)."""
    from svgrl.model.vision import is_qwen_vl

    stored = (run_meta or {}).get("config") or {}
    sft_size = (stored.get("sft") or stored).get("image_size")  # an SFT or a GRPO run
    if cfg.task == "svg-image" and sft_size and sft_size != cfg.image_size and \
            is_qwen_vl(folder):
        warnings.warn(f"--init {cfg.init!r} was trained on {sft_size} px images, GRPO renders "
                      f"them at --image-size {cfg.image_size}; pass --image-size {sft_size} "
                      "to keep its prompts", stacklevel=2)


def train(cfg: GRPOConfig, *, reward_fn: Any = None, stop_after: int | None = None) -> dict:
    """Run (or resume) GRPO; returns ``{"before": eval, "after": eval, "steps": n, "model"}``.

    `reward_fn`: a TRL-style reward callable replacing the task's own (custom tasks, tests).
    `stop_after` ends the loop after that many steps of this call.
    """
    if cfg.asynchronous:  # the asynchronous system is built on this module, not inside it
        raise ConfigError("--async runs svgrl.rl.async_.controller.train_async (what `svgrl "
                          "train grpo --async` calls), not the synchronous train()")
    # ---- setup ---------------------------------------------------------------------------
    run, rd, init, latest = open_grpo_run(cfg)
    data = load_task(cfg)
    svg = layout = None
    if cfg.task in ("svg-image", "svg-text"):
        from svgrl.rl.svg import SvgSetup, load_svg_policy, model_rows

        model, tokenizer = load_svg_policy(cfg, data.layout, init)
        svg = SvgSetup(model, cfg.task, data.layout, cfg.max_prompt_length, cfg.image_size)
        layout = svg.layout
        data = type(data)(model_rows(data.train, data.layout, layout),
                          model_rows(data.eval, data.layout, layout), data.task, data.layout)
    else:
        model, tokenizer = load_policy(cfg, init)
    start = None
    if cfg.beta > 0 or cfg.log_kl_to_start:
        start = copy.deepcopy(model).eval().requires_grad_(False)
    if latest is not None:  # the policy's weights from the checkpoint, the start copy kept
        load_weights(model, latest[1] / MODEL_DIR, svg is not None)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate,
                                  weight_decay=cfg.weight_decay)

    def prompt_of(row: dict) -> str:
        return format_prompt(tokenizer, row["prompt"], system=cfg.system_text(),
                             prefix=cfg.response_prefix, chat_template=cfg.chat_template)

    rewards: dict[int, Any] = {}  # one reward per l_max (the length penalty depends on it)

    def reward_for(l_max: int) -> Any:
        if reward_fn is not None:
            return reward_fn
        if l_max not in rewards:
            rewards[l_max] = make_reward(cfg.task, thinking=cfg.thinking, l_max=l_max,
                                         l_cache=cfg.l_cache, magistral=cfg.reward,
                                         workers=cfg.reward_workers, layout=layout,
                                         svg_reward=cfg.svg_reward)
        return rewards[l_max]

    l_first, _ = cfg.stage_at(0)
    l_last, _ = cfg.stage_at(cfg.steps - 1)
    train_rows = data.train
    filtered = run / "train_rows.json"
    if cfg.resume and filtered.is_file():
        train_rows = json.loads(filtered.read_text(encoding="utf-8"))
    elif cfg.difficulty_filter:
        pool = train_rows[: cfg.filter_pool] if cfg.filter_pool else train_rows
        train_rows, rep = run_filter(
            model, tokenizer, pool, [prompt_of(r) for r in pool], reward_for(l_first),
            k=cfg.filter_k, max_new_tokens=l_first, temperature=cfg.temperature,
            generation_batch=cfg.generation_batch, max_prompt_length=cfg.max_prompt_length,
            response_prefix=cfg.response_prefix)
        print(rep, flush=True)
        write_text(filtered, json.dumps(train_rows))
    step, sampler_state, evals = 0, {"epoch": 0, "position": 0}, {}
    if latest is not None:
        state = rd.load_state(latest[1])
        try:
            optimizer.load_state_dict(state["optimizer"])
            step, sampler_state = int(state["step"]), dict(state["sampler"])
        except (KeyError, TypeError, ValueError) as e:
            raise ModelLoadError(f"{latest[1]}: trainer state is not a GRPO state: {e}") from e
        evals = state.get("evals", {})
        set_rng_state(state["rng"])
        rd.truncate_metrics(step)
        if step >= cfg.steps:
            print(f"{run} is already at step {step} of --steps {cfg.steps}; pass --steps N "
                  f"with N > {step} to continue it", flush=True)
        else:
            print(f"resumed from {latest[1]} at step {step}", flush=True)
    else:
        rd.truncate_metrics(0)
    sampler = PromptSampler(train_rows, cfg.seed, **sampler_state)
    if "before" not in evals:
        evals["before"] = evaluate(model, tokenizer, cfg, data.eval, reward_for(l_last), l_last,
                                   svg, desc="eval before")
        write_text(run / "eval.json", json.dumps(evals, indent=1))
        print(f"eval before: {_fmt(evals['before'])}", flush=True)

    from torch.utils.tensorboard import SummaryWriter

    tb = SummaryWriter(str(run / "tb"), purge_step=step + 1)
    if step == 0:
        _tb_eval(tb, evals["before"], 0)
    done_here = 0
    try:
        while step < cfg.steps and (stop_after is None or done_here < stop_after):
            step += 1
            t0, started = time.perf_counter(), time.time()
            # ---- 1. stage: length curriculum -----------------------------------------
            l_max, n_prompts = cfg.stage_at(step - 1)
            # ---- 2. rollout (generator) -----------------------------------------------
            rows = sampler.take(n_prompts)
            with RolloutBar(cfg.progress, n_prompts * cfg.group_size, l_max,
                            f"step {step}/{cfg.steps}") as bar:
                batch = rollout(model, tokenizer, cfg, rows, svg, group_size=cfg.group_size,
                                max_new_tokens=l_max, temperature=cfg.temperature,
                                top_p=cfg.top_p, progress=bar.update)
                t1 = time.perf_counter()
                # ---- 3. verify (verifier) ---------------------------------------------
                bar.phase("verifying")
                batch = verify(batch, reward_for(l_max))
                t2 = time.perf_counter()
                # ---- 4. update (trainer): filter groups, advantages, minibatch steps --
                bar.phase("updating")
                plan = plan_update(batch, advantage=cfg.advantage,
                                   keep_equal_groups=cfg.keep_equal_groups)
                upd = update(model, optimizer, plan, cfg, pad_id=tokenizer.pad_token_id,
                             l_max=l_max, step_seed=cfg.seed * 1_000_003 + step,
                             ref_model=start, grammar=svg.grammar
                             if svg is not None and cfg.grammar_logprobs else None)
                t3 = time.perf_counter()
            # ---- 5. log ---------------------------------------------------------------
            upd.pop("_padding", None)  # the collation report; its counts are in `upd`
            rec = {"step": step, "l_max": l_max, **batch_stats(batch), **upd,
                   "groups_filtered": 1 - plan.groups_kept / plan.groups_total,
                   "t_generate": t1 - t0, "t_verify": t2 - t1, "t_update": t3 - t2,
                   "samples_per_s": len(batch) / (t3 - t0), "started": started}
            rd.append_metrics(rec)
            for k, v in rec.items():
                if k != "step" and isinstance(v, (int, float)):
                    tb.add_scalar(k, v, step)
            print(f"step {step}/{cfg.steps} {_fmt(rec)}", flush=True)
            if plan.groups_kept == 0:
                print(f"warning: step {step} made no update — every group's completions got "
                      "equal rewards (all zero usually means no completion passed the format "
                      "check: look at format_ok; all equal and high, the task is too easy). "
                      "Raise --group-size or --temperature, or check the reward", flush=True)
            if cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.steps:
                e = evaluate(model, tokenizer, cfg, data.eval, reward_for(l_last), l_last, svg,
                             desc=f"eval step {step}")
                evals[f"step_{step}"] = e
                _tb_eval(tb, e, step)
                print(f"eval step {step}: {_fmt(e)}", flush=True)
            # ---- 6. save ----------------------------------------------------------------
            done_here += 1
            if (cfg.save_every and step % cfg.save_every == 0) or step == cfg.steps:
                rd.save_checkpoint(step, model.lm if svg is not None else model,
                                   {"step": step, "sampler": sampler.state(), "evals": evals,
                                    "optimizer": optimizer.state_dict(), "rng": rng_state()},
                                   tokenizer=tokenizer, keep_last=cfg.keep_last)
        # ---- end ---------------------------------------------------------------------------
        if step >= cfg.steps:
            evals["after"] = evaluate(model, tokenizer, cfg, data.eval, reward_for(l_last),
                                      l_last, svg, desc="eval after")
            print(f"eval after: {_fmt(evals['after'])}", flush=True)
            _tb_eval(tb, evals["after"], step)
            if "row_rewards" in evals.get("before", {}):
                evals["change"] = paired_change(evals["before"], evals["after"])
                c = evals["change"]
                print(f"held-out change: {c['delta']:+.4f} ± {c['delta_sem']:.4f} (paired SE, "
                      f"z={c['z']:.2f}); {c['rows_better']} rows better, {c['rows_worse']} "
                      f"worse of {c['n']}", flush=True)
        write_text(run / "eval.json", json.dumps(evals, indent=1))
        write_bytes(run / "curves.png", curves_png(read_metrics(run)))
    finally:
        tb.close()
        for r in rewards.values():
            close_reward(r)
    return {"before": evals.get("before"), "after": evals.get("after"), "steps": step,
            "model": model}


def load_weights(model: Any, folder: Path, svg: bool) -> None:
    """Copy the weights of the model folder `folder` (a checkpoint) into `model`."""
    if svg:
        from svgrl.model.folder import load_model_folder
        from svgrl.rl.svg import SvgPolicy

        saved = SvgPolicy(load_model_folder(folder)).state_dict()
    else:
        from svgrl.model.backbones import BackboneConfig, load_backbone

        saved = load_backbone(BackboneConfig(backbone=str(folder)))[0].state_dict()
    try:
        model.load_state_dict(saved)
    except RuntimeError as e:
        raise ModelLoadError(f"checkpoint model {str(folder)!r} does not fit this run's "
                             f"policy: {e}") from e


def _tb_eval(tb: Any, e: dict, step: int) -> None:
    for k, v in e.items():
        if isinstance(v, (int, float)):
            tb.add_scalar(f"eval/{k}", v, step)


def _fmt(d: dict) -> str:
    keys = ("reward", "reward_sem", "correct", "similarity", "efficiency", "format_ok",
            "groups_filtered", "completion_len", "entropy",
            "clip_frac", "kl_to_start", "loss", "pad_tokens_greedy", "samples_per_s")
    return " ".join(f"{k}={d[k]:.4g}" for k in keys if isinstance(d.get(k), (int, float)))
