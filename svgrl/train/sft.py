"""Supervised fine-tuning of SVG-writing models (OmniSVG, arXiv 2504.06263, §4: next-token
prediction on text-to-SVG, image-to-SVG and character-reference prompts, loss on SVG tokens).

`train_sft` is the whole loop, top to bottom in stages (nanoGPT's train.py habit):
run folder → data → model → optimiser → resume → loop (batch, forward/backward, step, log,
evaluate, checkpoint) → final checkpoint. A resumed run restores weights, optimiser state,
RNG states and the data cursor (the epoch order is a pure function of seed and epoch), so it
ends with the same weights as an uninterrupted run on the same machine.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
import torch.nn.functional as F

from svgrl.config import to_dict
from svgrl.errors import ConfigError, ModelLoadError
from svgrl.model.config import BackboneConfig
from svgrl.train.batching import IGNORE, VLBatch, bucketed_batches
from svgrl.train.config import SFTConfig, with_default_lr

# Fields a resume may change: they extend the run (``--max-steps``: the cosine schedule is
# stretched to the new end) or change how it runs, not what it has learnt so far.
RESUME_MAY_CHANGE = ("resume", "progress", "threads", "out", "max_steps", "save_every",
                     "keep_last", "log_every", "eval_every", "nproc")


def lr_at(cfg: SFTConfig, step: int) -> float:
    """Linear warm-up to `lr`, cosine decay to `lr·min_lr_ratio` at `max_steps` (nanoGPT)."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / (cfg.warmup_steps + 1)
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + 0.5 * (1 + math.cos(math.pi * progress)) * (cfg.lr - floor)


def batch_loss(lm: Any, batch: Any, device: torch.device, autocast: Any) -> torch.Tensor:
    """Summed next-token cross-entropy over the SVG target tokens of `batch` (the LM head is
    applied only at those positions)."""
    if isinstance(batch, VLBatch):
        from svgrl.model.qwen_vl import vl_loss

        with autocast():
            return vl_loss(lm, batch.prompts, batch.targets)[0]
    ids = batch.input_ids.to(device)
    images = batch.images.to(device) if batch.images is not None else None
    with autocast():
        h = lm.hidden(ids, batch.attention_mask.to(device), images, batch.has_image.to(device))
    y = batch.labels[:, 1:].to(device)
    sel = y != IGNORE
    with autocast():
        logits = lm.head(h[:, :-1][sel])  # (n_targets, V)
    return F.cross_entropy(logits.float(), y[sel], reduction="sum")


@torch.no_grad()
def evaluate(lm: Any, examples: Any, items: list, batch_size: int, device: torch.device,
             autocast: Any) -> tuple[float, int]:
    """(mean loss per target token, tokens) over `items`, in fixed order."""
    lm.train(False)
    total, n = 0.0, 0
    for s in range(0, len(items), batch_size):
        b = examples.batch(items[s:s + batch_size])
        total += float(batch_loss(lm, b, device, autocast))
        n += b.n_targets
    lm.train(True)
    return total / max(n, 1), n


def _losses(by_task: dict[str, float]) -> str:
    """``image 10.395, text 10.389``: the per-task validation losses of a log line."""
    return ", ".join(f"{task} {loss:.3f}" for task, loss in by_task.items()) or "-"


def train_sft(cfg: SFTConfig, bcfg: BackboneConfig, log: Any = print) -> dict:
    """Run (or resume) SFT; returns a summary with the final losses and the baseline.

    Under torchrun each process is one rank of a data-parallel job
    (`svgrl.train.distributed`): every rank reads the same global batch order and takes its
    slice of each step, DDP averages the gradients, and only rank 0 writes the run folder."""
    from svgrl.train.distributed import Dist, under_torchrun

    cfg = with_default_lr(cfg, bcfg.backbone)
    if cfg.nproc > 1 and not under_torchrun():
        raise ConfigError(f"--nproc {cfg.nproc} starts torchrun from the command line "
                          "(`svgrl train sft --nproc N`); from Python, run this under "
                          "torchrun instead")
    dist = Dist.from_env()
    try:
        return _train(cfg, bcfg, log if dist.main else (lambda m: None), dist)
    finally:
        dist.close()


class _NoWriter:
    """TensorBoard writer of the ranks that write nothing."""

    def add_scalar(self, *a: Any, **k: Any) -> None:
        pass

    def close(self) -> None:
        pass


def _train(cfg: SFTConfig, bcfg: BackboneConfig, log: Any, dist: Any) -> dict:
    import contextlib
    import random

    import numpy as np

    from svgrl.model.backbones import prepare_backbone
    from svgrl.model.checkpoint import MODEL_DIR, RunDir, rng_state, set_rng_state
    from svgrl.model.folder import load_model_folder
    from svgrl.train.distributed import accumulate, shard, wrap
    from svgrl.train.sft_data import Examples, SftData, unigram_baseline

    # --- stage 1: run folder and resolved config ----------------------------------------
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    data = SftData.load(cfg.data)
    config = {"sft": to_dict(cfg), "backbone": to_dict(bcfg), "data_hash": data.content_hash}
    if dist.world > 1:  # the global batch depends on it: a resume must use the same
        config["dist"] = {"world_size": dist.world}
    run = RunDir(cfg.out)

    def open_run() -> None:
        if cfg.resume and (run.root / "run.json").is_file():
            from svgrl.model.checkpoint import read_run_meta

            stored = (read_run_meta(cfg.out).get("config") or {}).get("dist", {})
            was = stored.get("world_size", 1) if isinstance(stored, dict) else 1
            if was != dist.world:
                raise ConfigError(
                    f"--resume: {cfg.out} was trained on {was} process(es) and this job has "
                    f"{dist.world}; the global batch (--batch-size × --grad-accum × "
                    f"processes) would change: resume with {was} process(es)")
        run.open(kind="sft", config=config, resume=cfg.resume, ignore=RESUME_MAY_CHANGE)

    dist.on_main(open_run)
    device = dist.device
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and device.type == "cuda"
                                       and torch.cuda.is_bf16_supported())
    if bf16 and device.type == "cpu" and cfg.precision == "bf16":
        log("note: bf16 autocast on CPU is slow; --precision fp32 is the CPU default")

    def autocast() -> Any:
        return (torch.autocast(device.type, dtype=torch.bfloat16) if bf16
                else contextlib.nullcontext())

    # --- stage 2: model (fresh, or the latest checkpoint) and optimiser -----------------
    latest = run.latest() if cfg.resume else None
    torch.manual_seed(bcfg.seed)
    if latest is None:
        lm = prepare_backbone(bcfg, vision=(cfg.image_size, cfg.patch_size)
                              if cfg.uses_images else None, point_init=cfg.point_init,
                              grid=data.data_layout.grid,
                              n_rotation=data.data_layout.n_rotation,
                              gradients=data.data_layout.gradients)
    else:
        lm = load_model_folder(latest[1] / MODEL_DIR)
    for m in lm.modules():
        m.to(device)
    lm.train(True)
    if dist.world > 1:  # same initial weights everywhere (above); own random streams from here
        rank_seed = dist.seed(bcfg.seed)
        torch.manual_seed(rank_seed)
        np.random.seed(rank_seed)
        random.seed(rank_seed)
    net = wrap(lm, lambda m, b: batch_loss(m, b, device, autocast), dist)
    decay = [p for p in lm.parameters() if p.dim() >= 2]
    no_decay = [p for p in lm.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=cfg.lr, betas=(0.9, cfg.beta2))

    # --- stage 3: data order, validation set, baseline ---------------------------------
    ex = Examples(data, lm, cfg.image_size)
    seed = bcfg.seed

    def epoch_batches(epoch: int) -> list:
        items = [it for it in data.items("train", cfg.weights, seed, epoch)
                 if ex.length(it) <= cfg.max_tokens]
        if not items:
            raise ConfigError(f"no training example fits --max-tokens {cfg.max_tokens}; "
                              "raise it")
        return bucketed_batches(items, [ex.length(it) for it in items], cfg.batch_size,
                                seed, epoch)

    # Every enabled task on the same validation records (the first N that fit).
    val_items: dict[str, list] = {}
    for task, w in cfg.weights.items():
        items = [it for it in data.items("validation", {task: 1.0}, seed, 0)
                 if ex.length(it) <= cfg.max_tokens] if w > 0 else []
        if items:
            val_items[task] = items[:cfg.eval_examples]
    baseline = unigram_baseline(data, data.indices("train"),
                                [it.index for v in val_items.values() for it in v])

    # --- stage 4: resume state ---------------------------------------------------------
    step, epoch, cursor, tokens_seen = 0, 0, 0, 0
    if latest is not None:
        state = run.load_state(latest[1])
        try:
            opt.load_state_dict(state["optimizer"])
            step, epoch, cursor = state["step"], state["epoch"], state["cursor"]
            tokens_seen = state["tokens_seen"]
        except (KeyError, TypeError, ValueError) as e:
            raise ModelLoadError(f"{latest[1]}: trainer state is not an SFT state: {e}") from e
        set_rng_state(state["rng_ranks"][dist.rank] if dist.world > 1 else state["rng"])
        if step >= cfg.max_steps:
            log(f"{cfg.out} is already at step {step} of --max-steps {cfg.max_steps}; pass "
                f"--max-steps N with N > {step} to continue it")
        else:
            log(f"resuming {cfg.out} at step {step} (epoch {epoch}, batch {cursor})")
    batches = epoch_batches(epoch)

    from torch.utils.tensorboard import SummaryWriter

    from svgrl.progress import bar as progress_bar

    tb: Any = _NoWriter()
    if dist.main:
        tb = SummaryWriter(str(run.tb), purge_step=step or None)
        run.truncate_metrics(step)  # a resumed run logs the later steps again
    bar = progress_bar(total=cfg.max_steps, initial=step, desc="sft", unit="step",
               disable=not cfg.progress or not dist.main, dynamic_ncols=True)
    summary: dict = {"unigram_baseline": baseline}

    def validate() -> dict:
        if not dist.main:  # rank 0 evaluates; the others go on to the next step's all-reduce
            return {}
        out = {}
        for task, items in sorted(val_items.items()):
            loss, n = evaluate(lm, ex, items, cfg.batch_size, device, autocast)
            out[task] = loss
            tb.add_scalar(f"val/loss_{task}", loss, step)
        tb.add_scalar("val/unigram_baseline", baseline, step)
        return out

    if step == 0 and cfg.eval_every:
        summary["val_start"] = validate()
        log(f"step 0: val loss {_losses(summary['val_start'])} (unigram baseline "
            f"{baseline:.3f})")

    # --- stage 5: the loop -------------------------------------------------------------
    t0, tok0 = time.perf_counter(), tokens_seen
    while step < cfg.max_steps:
        # A step is the next grad_accum × world batches of the global order; this rank takes
        # positions j ≡ rank (mod world) (`distributed.shard`).
        step_batches = []
        for _ in range(cfg.grad_accum * dist.world):
            if cursor >= len(batches):
                epoch, cursor = epoch + 1, 0
                batches = epoch_batches(epoch)
            step_batches.append(batches[cursor])
            cursor += 1
        micro = [ex.batch(b) for b in shard(step_batches, dist.rank, dist.world)]
        # token-level mean over the whole global step: Σ losses / Σ target tokens
        n_targets = int(dist.sum([sum(b.n_targets for b in micro)])[0])
        lr = lr_at(cfg, step)
        for g in opt.param_groups:
            g["lr"] = lr
        loss_sum = 0.0
        for b, sync in zip(micro, accumulate(net, len(micro)), strict=True):
            with sync:
                loss = net(b)
                # × world: DDP averages the ranks' gradients, the loss wants their sum
                (loss / n_targets * dist.world).backward()
            loss_sum += float(loss.detach())
        loss_sum = dist.sum([loss_sum])[0]
        params = lm.parameters()
        gnorm = float(torch.nn.utils.clip_grad_norm_(
            params, cfg.grad_clip if cfg.grad_clip > 0 else float("inf")))
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        tokens_seen += n_targets
        train_loss = loss_sum / n_targets
        bar.update(1)
        bar.set_postfix(loss=f"{train_loss:.3f}", lr=f"{lr:.2e}", refresh=False)
        if step % cfg.log_every == 0 or step == cfg.max_steps:
            dt = time.perf_counter() - t0
            tb.add_scalar("train/loss", train_loss, step)
            tb.add_scalar("train/lr", lr, step)
            tb.add_scalar("train/grad_norm", gnorm, step)
            tb.add_scalar("train/tokens_per_s", (tokens_seen - tok0) / max(dt, 1e-9), step)
            if dist.main:
                run.append_metrics({"step": step, "loss": train_loss, "lr": lr,
                                    "grad_norm": gnorm, "tokens": n_targets,
                                    "tokens_seen": tokens_seen})
        if cfg.eval_every and step % cfg.eval_every == 0 and step != cfg.max_steps:
            v = validate()
            bar.write(f"step {step}: val loss {_losses(v)} (unigram baseline {baseline:.3f})")
        if step % cfg.save_every == 0 or step == cfg.max_steps:
            rngs = dist.gather(rng_state())  # every rank's RNG; rank 0 writes them all
            if dist.main:
                state = {"step": step, "epoch": epoch, "cursor": cursor,
                         "tokens_seen": tokens_seen, "optimizer": opt.state_dict(),
                         "rng": rngs[0], **({"rng_ranks": rngs} if dist.world > 1 else {})}
                run.save_checkpoint(step, lm, state, keep_last=cfg.keep_last)
        summary["train_loss"] = train_loss
    bar.close()

    # --- stage 6: final evaluation -----------------------------------------------------
    summary["val_end"] = validate()
    summary["step"] = step
    summary["world_size"] = dist.world
    summary["seconds"] = time.perf_counter() - t0
    tb.close()
    log(f"done: step {step}, val loss {_losses(summary['val_end'])} vs unigram baseline "
        f"{baseline:.3f}; run in {cfg.out}")
    return summary
