"""``svgrl train grpo``: `add_grpo_parser` is listed in ``TRAIN_COMMANDS`` of
svgrl/train/cli.py (the ``svgrl train`` group)."""

from __future__ import annotations

import argparse
import json

from svgrl.config import add_dataclass_args, dataclass_from_args
from svgrl.rl.config import GRPOConfig

EPILOG = """examples:
  svgrl train grpo --task math --backbone smollm2-135m --out runs/math --steps 20 \\
      --group-size 4 --prompts-per-step 4 --max-completion-length 24 --learning-rate 2e-5
  svgrl train grpo --task math --out runs/math --resume          # continue after a crash
  svgrl train sft ... --out runs/sft && svgrl train grpo --init runs/sft --out runs/rl
  svgrl train grpo --one-shot --entropy-coef 0.001 ...           # 1-shot RLVR
"""


def _run(args: argparse.Namespace) -> int:
    from svgrl.rl.trainer import train

    cfg = dataclass_from_args(GRPOConfig, args)
    res = train(cfg)
    summary = {k: res[k] for k in ("before", "after", "steps")}
    print(json.dumps(summary, sort_keys=True))
    return 0


def add_grpo_parser(sub: argparse._SubParsersAction, name: str = "grpo") -> argparse.ArgumentParser:
    p = sub.add_parser(name, help="Magistral GRPO on math, code or SVG tasks",
                       description=__doc__.splitlines()[0], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataclass_args(p, GRPOConfig)
    p.set_defaults(func=_run)
    return p
