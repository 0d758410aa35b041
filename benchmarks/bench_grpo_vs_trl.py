"""GRPO throughput: svgrl's trainer vs TRL's ``GRPOTrainer``, side by side in one run.

Both train the same tiny model (svgrl's `tiny` Llama + byte tokenizer, same seed) on the same
prompts (generated arithmetic word problems, chat-templated identically), with the same group
size, completion length, sampling settings, reward function, learning rate and objective
(β = 0, clip-higher 0.2/0.28, token-level normalisation = TRL ``loss_type="dapo"``), one
optimiser step per generation batch (no extra old-log-prob pass in either).

Measured: samples (completions) per second in steady state — wall time from the start of
step 2 to the start of the last step (all of generation, reward, update, logging), so model
construction and first-step warm-up are excluded for both.

TRL is needed only here: ``pip install trl torch==2.13.0`` (naming torch keeps the CPU build).

    python benchmarks/bench_grpo_vs_trl.py [--steps 6] [--group-size 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from svgrl.model.backbones import BackboneConfig, load_backbone
from svgrl.model.checkpoint import read_metrics
from svgrl.rl.config import GRPOConfig
from svgrl.rl.rollout import format_prompt
from svgrl.rl.tasks import math_task
from svgrl.rl.trainer import train

SYSTEM = "Solve the problem with one short equation, then give the result in \\boxed{}."


def digit_reward(prompts, completions, **kwargs):
    """Cheap and varied on a random model: the share of digits in the completion."""
    return [sum(ch.isdigit() for ch in c) / max(len(c), 1) for c in completions]


def run_svgrl(args, workdir: Path) -> float:
    tiny = BackboneConfig(backbone="tiny", tiny_layers=args.layers, tiny_d_model=args.d_model,
                          tiny_heads=max(1, args.d_model // 32), seed=args.seed)
    cfg = GRPOConfig(task="math", model=tiny, out=str(workdir / "svgrl"),
                     steps=args.steps, prompts_per_step=args.prompts, group_size=args.group_size,
                     max_completion_length=args.completion_length, train_size=64, eval_size=1,
                     system_prompt=SYSTEM, minibatches=1, learning_rate=args.lr,
                     generation_batch=args.prompts * args.group_size,
                     token_budget=args.token_budget, save_every=0, log_kl_to_start=False,
                     threads=args.threads)
    train(cfg, reward_fn=digit_reward)
    started = [r["started"] for r in read_metrics(Path(cfg.out))]
    return (args.steps - 2) * args.prompts * args.group_size / (started[-1] - started[1])


def run_trl(args, workdir: Path) -> float:
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig as TRLConfig
    from trl import GRPOTrainer

    torch.set_num_threads(args.threads)
    model, tok = load_backbone(BackboneConfig(backbone="tiny", tiny_layers=args.layers,
                                              tiny_d_model=args.d_model,
                                              tiny_heads=max(1, args.d_model // 32),
                                              seed=args.seed))
    rows = math_task(64, 1, seed=args.seed).train
    ds = Dataset.from_list([{"prompt": format_prompt(tok, r["prompt"], system=SYSTEM)}
                            for r in rows])
    n = args.prompts * args.group_size
    cfg = TRLConfig(
        output_dir=str(workdir / "trl"), per_device_train_batch_size=n,
        gradient_accumulation_steps=1, steps_per_generation=1, num_generations=args.group_size,
        max_completion_length=args.completion_length, temperature=1.0, top_p=1.0, top_k=0,
        learning_rate=args.lr, beta=0.0, loss_type="dapo", epsilon=0.2, epsilon_high=0.28,
        scale_rewards="none", max_steps=args.steps, save_strategy="no", report_to="none",
        logging_steps=1, use_cpu=True, bf16=False, seed=args.seed, lr_scheduler_type="constant",
        warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0, dataloader_num_workers=0,
        adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, disable_tqdm=True)
    starts: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, *a, **k):
            starts.append(time.time())

    trainer = GRPOTrainer(model=model, processing_class=tok, reward_funcs=digit_reward,
                          args=cfg, train_dataset=ds, callbacks=[Clock()])
    trainer.train()
    return (args.steps - 2) * n / (starts[-1] - starts[1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6, help="training steps per trainer (≥ 3)")
    ap.add_argument("--prompts", type=int, default=4, help="prompts per step")
    ap.add_argument("--group-size", type=int, default=8, help="completions per prompt G")
    ap.add_argument("--completion-length", type=int, default=32, help="max new tokens")
    ap.add_argument("--layers", type=int, default=2, help="tiny model layers")
    ap.add_argument("--d-model", type=int, default=128, help="tiny model width")
    ap.add_argument("--lr", type=float, default=1e-4, help="learning rate")
    ap.add_argument("--token-budget", type=int, default=8192, help="svgrl microbatch tokens")
    # 1 thread: on a shared, busy machine OpenMP threads oversubscribe the cores and both
    # trainers ran 5-7x slower with 2 threads than with 1 (measured on the 2-core CI box).
    ap.add_argument("--threads", type=int, default=1, help="torch threads (both trainers)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = ap.parse_args(argv)
    if args.steps < 3:
        ap.error("--steps must be ≥ 3 (step 1 is warm-up)")
    try:
        import trl
    except ImportError:
        print("TRL is not installed: pip install trl torch==2.13.0", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench_grpo_"))
    try:
        ours = run_svgrl(args, work)
        theirs = run_trl(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {"svgrl_samples_per_s": ours, "trl_samples_per_s": theirs,
              "ratio": ours / theirs, "trl_version": trl.__version__,
              "steps": args.steps, "prompts": args.prompts, "group_size": args.group_size,
              "completion_length": args.completion_length, "threads": args.threads}
    print(f"svgrl: {ours:8.2f} samples/s")
    print(f"TRL {trl.__version__}: {theirs:8.2f} samples/s")
    print(f"ratio svgrl / TRL: {ours / theirs:.2f}x")
    if args.json:
        print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
