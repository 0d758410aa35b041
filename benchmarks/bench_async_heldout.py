"""Does asynchronous GRPO learn? `svgrl train grpo --async` on image-to-SVG from an SFT
model, held-out reward before → after (paired over the same held-out icons, as the
synchronous demo reports it), with the off-policy bound read back from every update.

The SFT model and data are the demo's at its ``small`` scale (`svgrl demo`: 1,200 Tabler
icons ≤ 160 tokens, tiny model 2 × 128, 400 SFT steps, 32 × 32 images); pass ``--init`` /
``--data`` to reuse ones already built (e.g. ``runs/demo/small/{sft,data}``), else they are
built under ``--out`` (about an hour of CPU). The GRPO settings are the demo's synchronous
GRPO stage (12 steps × 8 prompts × 8 completions, 160 tokens, 32 held-out icons × 2
samples), so the two are comparable.

    python benchmarks/bench_async_heldout.py --out runs/async-heldout \\
        [--init runs/demo/small/sft --data runs/demo/small/data] [--max-staleness 2] [--json]

The last line: ``{"before", "after", "delta", "delta_sem", "z", "rows_better", "rows_worse",
"n", "steps", "max_staleness", "staleness_max", "stale_updates"}`` — ``staleness_max`` is the
oldest token of any update, in versions behind the trainer (the bound: ≤ max_staleness);
``stale_updates`` counts the updates that did use tokens of older weights.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs/async-heldout")
    p.add_argument("--init", default="", help="SFT run (default: build the demo's)")
    p.add_argument("--data", default="", help="its data folder (default: build the demo's)")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--max-staleness", type=int, default=2)
    p.add_argument("--generators", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    from svgrl.demo import SCALES, DemoConfig, stage_data, stage_sft
    from svgrl.model.checkpoint import read_metrics
    from svgrl.rl.async_.controller import train_async
    from svgrl.rl.config import GRPOConfig

    out, s = Path(a.out), SCALES["small"]
    if not (a.init and a.data):
        demo = DemoConfig(out=str(out), scale="small", threads=a.threads, progress=False)
        a.data = a.data or str(stage_data(demo, s, out))
        a.init = a.init or str(stage_sft(demo, s, out, Path(a.data)))
    run = out / "grpo-async"
    res = train_async(GRPOConfig(
        task="svg-image", init=a.init, data=a.data, out=str(run),
        resume=(run / "run.json").is_file(), steps=a.steps, prompts_per_step=s.prompts,
        group_size=s.group, max_completion_length=s.completion, eval_size=s.eval_size,
        eval_samples=s.eval_samples, minibatches=1, token_budget=8192, save_every=s.save_every,
        keep_last=2, threads=a.threads, asynchronous=True, max_staleness=a.max_staleness,
        generators=a.generators))
    evals = json.loads((run / "eval.json").read_text())
    c = evals["change"]
    metrics = read_metrics(run)
    stale = [m["staleness_max"] for m in metrics]
    assert all(m["version"] == m["step"] for m in metrics)
    if not a.json:
        print(f"held-out reward {evals['before']['reward']:.4f} → {evals['after']['reward']:.4f}"
              f": paired {c['delta']:+.4f} ± {c['delta_sem']:.4f} (z = {c['z']:.2f}), "
              f"{c['rows_better']} of {c['n']} icons better; oldest token of any update "
              f"{max(stale):.0f} versions behind (bound {a.max_staleness})")
    print(json.dumps({"before": round(evals["before"]["reward"], 4),
                      "after": round(evals["after"]["reward"], 4),
                      "delta": round(c["delta"], 4), "delta_sem": round(c["delta_sem"], 4),
                      "z": round(c["z"], 2), "rows_better": c["rows_better"],
                      "rows_worse": c["rows_worse"], "n": c["n"], "steps": res["steps"],
                      "max_staleness": a.max_staleness, "staleness_max": max(stale),
                      "stale_updates": sum(x > 0 for x in stale)}))
    return 0 if max(stale) <= a.max_staleness else 1


if __name__ == "__main__":
    sys.exit(main())
