"""`svgrl train ...` commands. `TRAIN_COMMANDS` is a plain list of ``add_*`` functions, one per
trainer; the GRPO trainer appends its own (``svgrl train grpo``)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from svgrl.config import add_dataclass_args, dataclass_from_args


def run_sft(args: argparse.Namespace) -> int:
    from svgrl.model.backbones import BackboneConfig
    from svgrl.train.config import with_default_lr
    from svgrl.train.memory import keep_freed_memory
    from svgrl.train.sft import SFTConfig, train_sft

    if getattr(args, "own_process", False):  # a step's big tensors reuse freed memory
        keep_freed_memory()

    if args.resume:  # the run's own settings; flags given now override (and are checked)
        from svgrl.model.checkpoint import stored_config

        stored = stored_config(args.out, "sft")
        cfg = dataclass_from_args(SFTConfig, args, base=stored.get("sft", {}))
        bcfg = dataclass_from_args(BackboneConfig, args, base=stored.get("backbone", {}))
    else:
        cfg = dataclass_from_args(SFTConfig, args)
        bcfg = dataclass_from_args(BackboneConfig, args)
    cfg = with_default_lr(cfg, bcfg.backbone)
    if cfg.warmup_steps >= cfg.max_steps and int(os.environ.get("RANK", "0")) == 0:
        peak = cfg.lr * cfg.max_steps / (cfg.warmup_steps + 1)  # the schedule at the last step
        print(f"warning: --warmup-steps {cfg.warmup_steps} ≥ --max-steps {cfg.max_steps}: the "
              f"whole run is warm-up and the learning rate peaks at {peak:.2g}, not --lr "
              f"{cfg.lr:g}; for a short run lower it, e.g. --warmup-steps "
              f"{max(1, cfg.max_steps // 10)}", file=sys.stderr)
    from svgrl.train.distributed import launch, under_torchrun

    if cfg.nproc > 1 and not under_torchrun():  # torchrun's agent starts N copies of this
        return launch(cfg.nproc, args.argv[1:])
    summary = train_sft(cfg, bcfg, log=lambda m: print(m, flush=True))
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(summary, default=float))
    return 0


def add_sft(sub: argparse._SubParsersAction) -> None:
    from svgrl.model.config import BackboneConfig
    from svgrl.train.config import SFTConfig

    p = sub.add_parser(
        "sft", help="supervised fine-tuning on a built dataset (text / image / reference)",
        description="Next-token SFT on SVG tokens (OmniSVG §4). Writes RUN/run.json, "
                    "RUN/checkpoints/step-N/model (a Hugging Face folder with the token "
                    "layout) and TensorBoard scalars in RUN/tb. `--resume --out RUN` continues "
                    "a run with its stored settings. Data-parallel: `--nproc N`, or "
                    "`torchrun --nproc-per-node N -m svgrl.cli train sft ...` (gloo on CPU, "
                    "NCCL on GPU; several machines: torchrun's --nnodes/--node-rank/"
                    "--master-addr).")
    add_dataclass_args(p, SFTConfig)
    add_dataclass_args(p, BackboneConfig)
    p.set_defaults(func=run_sft)


def add_grpo(sub: argparse._SubParsersAction) -> None:
    from svgrl.cli.rl import add_grpo_parser

    add_grpo_parser(sub, "grpo")


TRAIN_COMMANDS = [add_sft, add_grpo]


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train SVG-writing models (sft, ...)")
    sub = p.add_subparsers(dest="train_command", metavar="TRAINER", required=True)
    for add in TRAIN_COMMANDS:
        add(sub)
