"""``svgrl train grpo``: Magistral GRPO on math, code or SVG tasks (listed in
``TRAIN_COMMANDS`` of svgrl/cli/train.py, the ``svgrl train`` group)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from svgrl.config import add_dataclass_args, dataclass_from_args
from svgrl.rl.config import GRPOConfig

EPILOG = """examples:
  svgrl train grpo --task math --backbone smollm2-135m --out runs/math --steps 20 \\
      --group-size 4 --prompts-per-step 4 --max-completion-length 24 --learning-rate 2e-5
  svgrl train grpo --resume --out runs/math                      # continue after a crash
  svgrl train grpo --resume --out runs/math --steps 40           # extend a finished run
  svgrl train sft ... --out runs/sft && svgrl train grpo --init runs/sft --out runs/rl
  svgrl train grpo --task svg-image --init runs/sft --data data/tabler --out runs/img-grpo \
      --steps 20 --prompts-per-step 4 --group-size 4 --save-every 5 --keep-last 0 --threads 1
  svgrl train grpo --one-shot --entropy-coef 0.001 ...           # 1-shot RLVR
"""


def _run(args: argparse.Namespace) -> int:
    from svgrl.rl.trainer import train
    from svgrl.train.memory import keep_freed_memory

    if getattr(args, "own_process", False):  # a step's big tensors reuse freed memory
        keep_freed_memory()

    if args.resume:  # the run's own settings; flags given now override (and are checked)
        from svgrl.model.checkpoint import stored_config

        cfg = dataclass_from_args(GRPOConfig, args, base=stored_config(args.out, "grpo"))
    else:
        cfg = dataclass_from_args(GRPOConfig, args)
        if cfg.task.startswith("svg-") and not cfg.init:
            print(f"warning: --task {cfg.task} without --init starts from the backbone "
                  f"{cfg.model.backbone!r}, which has never drawn SVG tokens; rewards stay "
                  "near the floor. Usually: `svgrl train sft ... --out runs/sft`, then "
                  "--init runs/sft", file=sys.stderr)
    if cfg.asynchronous:  # Magistral's asynchronous system on Ray: same objective and run
        from svgrl.rl.async_.controller import train_async

        res = train_async(cfg)
    else:
        res = train(cfg)
    # per-row rewards stay in RUN/eval.json, so the summary line stays readable
    summary = {k: {m: v for m, v in res[k].items() if m != "row_rewards"}
               if isinstance(res[k], dict) else res[k] for k in ("before", "after", "steps")}
    print(json.dumps(summary, sort_keys=True))
    n = res["steps"]
    print(f"done: {n} step{'s' * (n != 1)}; run in {cfg.out} (metrics.jsonl, eval.json, "
          f"checkpoints/; curves: `svgrl analyze {cfg.out}`)", file=sys.stderr)
    return 0


def add_grpo_parser(sub: argparse._SubParsersAction, name: str = "grpo") -> argparse.ArgumentParser:
    p = sub.add_parser(name, help="Magistral GRPO on math, code or SVG tasks",
                       description="Magistral GRPO (arXiv 2506.10910) on math, code or SVG "
                                   "tasks. Writes a run folder in the one svgrl run format "
                                   "(RUN/run.json, RUN/checkpoints/step-N/model, metrics.jsonl, "
                                   "eval.json, TensorBoard in RUN/tb); `--resume --out RUN` "
                                   "continues it with its stored settings.", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataclass_args(p, GRPOConfig)
    p.set_defaults(func=_run)
    return p


@dataclass
class AnalyzeConfig:
    run: str = field(default="", metadata={"help": "run folder (`svgrl train sft` or `grpo`)"})
    out: str = field(default="", metadata={"help": "report folder (default: RUN/analysis)"})
    json: bool = field(default=False, metadata={"help": "print the analysis as JSON"})


def _analyze(args: argparse.Namespace) -> int:
    from svgrl.rl.analyze import analyze_run
    from svgrl.rl.analyze_report import write_report

    cfg = dataclass_from_args(AnalyzeConfig, args)
    a = analyze_run(cfg.run)
    page = write_report(a, cfg.out or str(Path(cfg.run) / "analysis"))
    if a.note:
        print(f"note: {a.note}", file=sys.stderr)
    for k, f in a.fits.items():
        # a plane through n ≤ 3 points fits exactly: its R² of 1 says nothing
        exact = " (exact by construction: 3 parameters, ≤ 3 points)" if f["n"] <= 3 else ""
        print(f"{k}: R² {f['r2']:.3f} on (pc1, pc2) over {f['n']} checkpoints{exact}")
    print(json.dumps(a.to_json()) if cfg.json else f"report: {page}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze", help="a run's weight-space trajectory (PCA) and training curves",
        description="Magistral §6: PCA of RUN's checkpoint weights in 2-D, reward and output "
                    "length regressed on the trajectory, and the reward / length / entropy / "
                    "clip-fraction / KL curves; writes PNGs and index.html.")
    p.add_argument("run", help="run folder")
    add_dataclass_args(p, AnalyzeConfig, skip=("run",))
    p.set_defaults(func=_analyze)
