"""`svgrl train grpo`: Magistral's GRPO loop (arXiv 2506.10910 §2–3), one function in stages.

    setup      run folder, policy, frozen start copy (KL-to-start / β), data, filter, resume
    per step   1. stage     l_max and prompts of the length curriculum
               2. rollout   generator role: prompts → G completions each   (svgrl.rl.rollout)
               3. verify    verifier role: rewards and their parts         (svgrl.rl.verify)
               4. update    trainer role: drop equal groups, advantages,
                            minibatch steps over greedy microbatches       (svgrl.rl.update)
               5. log       metrics.jsonl, TensorBoard, console
               6. save      atomic checkpoint, exact resume                (svgrl.rl.checkpoint)
    end        held-out eval before/after, final model folder, curves.png
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import torch

from svgrl.atomic import write_bytes, write_text
from svgrl.config import to_dict
from svgrl.errors import ConfigError, ModelLoadError
from svgrl.rl import checkpoint as ck
from svgrl.rl.config import GRPOConfig
from svgrl.rl.curriculum import run_filter
from svgrl.rl.plot import curves_png
from svgrl.rl.rollout import Batch, format_prompt, generate
from svgrl.rl.tasks import PromptSampler, load_task
from svgrl.rl.update import plan_update, update
from svgrl.rl.verify import close_reward, make_reward, part_means, verify


def init_folder(init: str) -> Path:
    """The model folder of ``--init RUN``: an `svgrl train sft` run (RUN/run.json → its
    latest checkpoint's ``model/``), a GRPO run (RUN/model), or a model folder itself."""
    run = Path(init)
    if (run / "run.json").is_file():
        from svgrl.train.checkpoint import MODEL_DIR, RunDir

        latest = RunDir(run).latest()
        if latest is None:
            raise ModelLoadError(f"--init {init!r}: the SFT run has no checkpoint yet")
        return latest[1] / MODEL_DIR
    folder = run / "model" if (run / "model" / "config.json").is_file() else run
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"--init {init!r}: no model folder (RUN/run.json of an SFT run, "
                             "RUN/model/config.json or RUN/config.json); give a finished "
                             "`svgrl train sft` or `svgrl train grpo` run")
    return folder


def load_policy(cfg: GRPOConfig) -> tuple[Any, Any]:
    """(model, tokenizer) from ``--init RUN`` or from ``--backbone``."""
    from svgrl.model.backbones import BackboneConfig, load_backbone

    if cfg.init:
        return load_backbone(BackboneConfig(backbone=str(init_folder(cfg.init))))
    return load_backbone(BackboneConfig(backbone=cfg.backbone, tiny_layers=cfg.tiny_layers,
                                        tiny_d_model=cfg.tiny_d_model,
                                        tiny_heads=max(1, cfg.tiny_d_model // 32),
                                        seed=cfg.seed))


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


def evaluate(model: Any, tokenizer: Any, cfg: GRPOConfig, rows: list[dict], reward: Any,
             l_max: int, svg: Any = None) -> dict[str, float]:
    """Mean reward (and each part: similarity, efficiency, ...) on held-out rows.

    ``cfg.eval_samples`` k ≥ 1: k completions per row sampled as in training (temperature,
    top-p, grammar), with a fixed seed so every evaluation of a run draws the same random
    stream — before/after differ only by the weights. k = 0: greedy decoding (one per row).
    ``reward_sem`` is the standard error of the mean over rows (of each row's k-mean), the
    scale against which a before/after difference should be read. The caller's RNG is kept.
    """
    k = cfg.eval_samples
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed * 1_000_003 + 7_919)
        if k:
            b = rollout(model, tokenizer, cfg, rows, svg, group_size=k, max_new_tokens=l_max,
                        temperature=cfg.temperature, top_p=cfg.top_p)
        else:
            b = rollout(model, tokenizer, cfg, rows, svg, group_size=1, max_new_tokens=l_max,
                        do_sample=False)
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


def train(cfg: GRPOConfig, *, reward_fn: Any = None, stop_after: int | None = None) -> dict:
    """Run (or resume) GRPO; returns ``{"before": eval, "after": eval, "steps": n, "model"}``.

    `reward_fn`: a TRL-style reward callable replacing the task's own (custom tasks, tests).
    `stop_after` ends the loop after that many steps of this call.
    """
    # ---- setup ---------------------------------------------------------------------------
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run = Path(cfg.out)
    latest = ck.latest_checkpoint(run) if run.exists() else None
    if latest is not None and not cfg.resume:
        raise ConfigError(f"{str(run)!r} already holds a run; pass --resume to continue it "
                          "or choose another --out")
    if cfg.resume:
        saved = ck.read_config(run)
        mine = json.loads(json.dumps(to_dict(cfg)))  # tuples → lists, as saved
        diff = {k: (saved.get(k), v) for k, v in mine.items()
                if k not in ("resume", "steps", "threads", "keep_last") and saved.get(k) != v}
        if diff:
            raise ConfigError(f"--resume with a different config: {diff}; resume with the "
                              "run's own settings (see RUN/config.json)")
    run.mkdir(parents=True, exist_ok=True)
    ck.write_config(run, to_dict(cfg))
    torch.manual_seed(cfg.seed)
    data = load_task(cfg)
    svg = layout = None
    if cfg.task in ("svg-image", "svg-text"):
        from svgrl.rl.svg import SvgSetup, load_svg_policy, model_rows

        model, tokenizer = load_svg_policy(cfg, data.layout)
        svg = SvgSetup(model, cfg.task, data.layout, cfg.max_prompt_length)
        layout = svg.layout
        data = type(data)(model_rows(data.train, data.layout, layout),
                          model_rows(data.eval, data.layout, layout), data.task, data.layout)
    else:
        model, tokenizer = load_policy(cfg)
    start = None
    if cfg.beta > 0 or cfg.log_kl_to_start:
        start = copy.deepcopy(model).eval().requires_grad_(False)
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
                                         l_cache=cfg.l_cache, language_reward=cfg.language_reward,
                                         workers=cfg.reward_workers, layout=layout,
                                         svg_efficiency_reward=cfg.svg_efficiency_reward)
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
    if cfg.resume and latest is not None:
        state = ck.load_checkpoint(latest, model, optimizer)
        step, sampler_state, evals = state["step"], state["sampler"], state.get("evals", {})
        ck.truncate_metrics(run, step)
        print(f"resumed from {latest} at step {step}", flush=True)
    else:
        ck.truncate_metrics(run, 0)
    sampler = PromptSampler(train_rows, cfg.seed, **sampler_state)
    if "before" not in evals:
        evals["before"] = evaluate(model, tokenizer, cfg, data.eval, reward_for(l_last), l_last,
                                   svg)
        write_text(run / "eval.json", json.dumps(evals, indent=1))
        print(f"eval before: {_fmt(evals['before'])}", flush=True)

    from torch.utils.tensorboard import SummaryWriter

    tb = SummaryWriter(str(run / "tb"), purge_step=step + 1)
    done_here = 0
    try:
        while step < cfg.steps and (stop_after is None or done_here < stop_after):
            step += 1
            t0, started = time.perf_counter(), time.time()
            # ---- 1. stage: length curriculum -----------------------------------------
            l_max, n_prompts = cfg.stage_at(step - 1)
            # ---- 2. rollout (generator) -----------------------------------------------
            rows = sampler.take(n_prompts)
            batch = rollout(model, tokenizer, cfg, rows, svg, group_size=cfg.group_size,
                            max_new_tokens=l_max, temperature=cfg.temperature,
                            top_p=cfg.top_p)
            t1 = time.perf_counter()
            # ---- 3. verify (verifier) -------------------------------------------------
            batch = verify(batch, reward_for(l_max))
            t2 = time.perf_counter()
            # ---- 4. update (trainer): filter groups, advantages, minibatch steps ------
            plan = plan_update(batch, advantage=cfg.advantage,
                               keep_equal_groups=cfg.keep_equal_groups)
            upd = update(model, optimizer, plan, cfg, pad_id=tokenizer.pad_token_id,
                         l_max=l_max, step_seed=cfg.seed * 1_000_003 + step, ref_model=start,
                         grammar=svg.grammar if svg is not None and cfg.grammar_logprobs
                         else None)
            t3 = time.perf_counter()
            # ---- 5. log ---------------------------------------------------------------
            padding = upd.pop("_padding", None)
            rec = {"step": step, "l_max": l_max, **batch_stats(batch), **upd,
                   "groups_filtered": 1 - plan.groups_kept / plan.groups_total,
                   "t_generate": t1 - t0, "t_verify": t2 - t1, "t_update": t3 - t2,
                   "samples_per_s": len(batch) / (t3 - t0), "started": started}
            ck.append_metrics(run, rec)
            for k, v in rec.items():
                if k != "step" and isinstance(v, (int, float)):
                    tb.add_scalar(k, v, step)
            print(f"step {step}/{cfg.steps} {_fmt(rec)}", flush=True)
            if padding:
                print(f"  {padding}", flush=True)
            if cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.steps:
                e = evaluate(model, tokenizer, cfg, data.eval, reward_for(l_last), l_last, svg)
                evals[f"step_{step}"] = e
                for k, v in e.items():
                    if isinstance(v, (int, float)):
                        tb.add_scalar(f"eval/{k}", v, step)
                print(f"eval step {step}: {_fmt(e)}", flush=True)
            # ---- 6. save ----------------------------------------------------------------
            done_here += 1
            if (cfg.save_every and step % cfg.save_every == 0) or step == cfg.steps:
                ck.save_checkpoint(run, step, model, optimizer,
                                   {"sampler": sampler.state(), "evals": evals},
                                   keep_last=cfg.keep_last)
        # ---- end ---------------------------------------------------------------------------
        if step >= cfg.steps:
            evals["after"] = evaluate(model, tokenizer, cfg, data.eval, reward_for(l_last),
                                      l_last, svg)
            print(f"eval after: {_fmt(evals['after'])}", flush=True)
            if "row_rewards" in evals.get("before", {}):
                evals["change"] = paired_change(evals["before"], evals["after"])
                c = evals["change"]
                print(f"held-out change: {c['delta']:+.4f} ± {c['delta_sem']:.4f} (paired SE, "
                      f"z={c['z']:.2f}); {c['rows_better']} rows better, {c['rows_worse']} "
                      f"worse of {c['n']}", flush=True)
            ck.export_model(run, model, tokenizer)
        write_text(run / "eval.json", json.dumps(evals, indent=1))
        write_bytes(run / "curves.png", curves_png(ck.read_metrics(run)))
    finally:
        tb.close()
        for r in rewards.values():
            close_reward(r)
    return {"before": evals.get("before"), "after": evals.get("after"), "steps": step,
            "model": model}


def _fmt(d: dict) -> str:
    keys = ("reward", "reward_sem", "correct", "similarity", "efficiency", "format_ok",
            "groups_filtered", "completion_len", "entropy",
            "clip_frac", "kl_to_start", "loss", "samples_per_s")
    return " ".join(f"{k}={d[k]:.4g}" for k in keys if isinstance(d.get(k), (int, float)))
