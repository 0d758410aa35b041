"""Synchronous vs asynchronous GRPO (`svgrl train grpo` vs `--async` on a local Ray), the
same tiny svg-image task side by side in one run, and a scale simulator checked against
both.

Measured: samples/s over the steady steps (the first step, which pays model building and
Ray start-up, is left out) and generator idle time — synchronous: the share of a step the
generator waits for verification and the update; asynchronous: the generator actors' own
idle clocks (no work, or blocked on the full queue).

Simulator (`simulate`): from the synchronous run's measured per-token generation cost,
per-sample verification cost and per-step update cost it predicts, for N generators and
C cores, a step's time — synchronous: generate + verify + update in turn; asynchronous: the
slowest stage, or the total work over the cores when the roles outnumber them — and the
generator's idle share. ``simulator_error`` is the larger relative error of the two
predicted samples/s. The machine is shared (2 cores, other jobs running), so measured
ratios are noisy: read them with that in mind.

    python benchmarks/bench_async.py [--steps 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path


def simulate(per_token: float, per_sample: float, per_update: float, *, samples: int,
             tokens: float, generators: int = 1, cores: float = 2.0) -> dict[str, float]:
    """Predicted samples/s and generator idle share, sync and async, for one step of
    `samples` completions of `tokens` tokens each."""
    gen = per_token * samples * tokens
    ver = per_sample * samples
    upd = per_update
    sync_t = gen + ver + upd
    stages = [gen / generators, ver, upd]
    # Each role is its own process; with more busy roles than cores they share them.
    async_t = max(max(stages), (gen + ver + upd) / cores)
    return {"sync_samples_per_s": samples / sync_t, "sync_generator_idle": (ver + upd) / sync_t,
            "async_samples_per_s": samples / async_t,
            "async_generator_idle": max(0.0, 1 - (gen / generators) / async_t)}


def run(args: argparse.Namespace, asynchronous: bool, out: Path) -> list[dict]:
    from svgrl.model.backbones import BackboneConfig
    from svgrl.model.checkpoint import read_metrics
    from svgrl.rl.config import GRPOConfig

    cfg = GRPOConfig(task="svg-image", data=args.data, out=str(out), image_size=16,
                     patch_size=8, steps=args.steps, prompts_per_step=args.prompts,
                     group_size=args.group, max_completion_length=args.length, minibatches=1,
                     learning_rate=1e-3, eval_size=1, eval_samples=1, log_kl_to_start=False,
                     threads=1, save_every=0, asynchronous=asynchronous,
                     max_staleness=args.k, generation_batch=64,
                     model=BackboneConfig(backbone="tiny", tiny_layers=2, tiny_d_model=64,
                                          tiny_heads=2, seed=0))
    if asynchronous:
        from svgrl.rl.async_.controller import train_async

        res = train_async(cfg)
        return read_metrics(out) + [{"ledger_idle": res["ledger"]["generator_idle"]}]
    from svgrl.rl.trainer import train

    train(cfg)
    return read_metrics(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="", help="a `svgrl data build` folder (default: build "
                                                "40 Tabler icons into a temp folder)")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--prompts", type=int, default=4)
    p.add_argument("--group", type=int, default=4)
    p.add_argument("--length", type=int, default=48)
    p.add_argument("--k", type=int, default=2, help="--max-staleness of the async run")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ba-"))
    if not a.data:
        from svgrl.data.build import BuildConfig, build

        a.data = str(tmp / "data")
        build(BuildConfig(source=("pytablericons",), out=a.data, limit=40, val=0.2,
                          progress=False), log=lambda m: None)
    sync = run(a, False, tmp / "s")
    asy = run(a, True, tmp / "a")
    ledger_idle = asy.pop()["ledger_idle"]
    steady = sync[1:]
    samples = a.prompts * a.group
    t_gen = sum(m["t_generate"] for m in steady)
    t_ver = sum(m["t_verify"] for m in steady)
    t_upd = sum(m["t_update"] for m in steady)
    tokens = sum(m["completion_len"] for m in steady) / len(steady)
    sync_sps = samples * len(steady) / (t_gen + t_ver + t_upd)
    sync_idle = (t_ver + t_upd) / (t_gen + t_ver + t_upd)
    # Async: the wall time from the end of step 1 to the end of the last step.
    async_sps = samples * (len(asy) - 1) / (asy[-1]["started"] - asy[0]["started"])
    async_idle = sum(m["generator_idle"] for m in asy[1:]) / (len(asy) - 1)
    n = len(steady)
    sim = simulate(t_gen / (n * samples * tokens), t_ver / (n * samples), t_upd / n,
                   samples=samples, tokens=tokens)
    err = max(abs(sim["sync_samples_per_s"] - sync_sps) / sync_sps,
              abs(sim["async_samples_per_s"] - async_sps) / async_sps)
    if not a.json:
        print(f"sync  {sync_sps:.2f} samples/s, generator idle {sync_idle:.0%}")
        print(f"async {async_sps:.2f} samples/s, generator idle {async_idle:.0%} "
              f"(whole run {ledger_idle:.0%})")
        print(f"simulator: {sim}")
    print(json.dumps({"sync_samples_per_s": round(sync_sps, 3),
                      "async_samples_per_s": round(async_sps, 3),
                      "ratio": round(async_sps / sync_sps, 3),
                      "sync_generator_idle": round(sync_idle, 3),
                      "async_generator_idle": round(async_idle, 3),
                      "simulator_error": round(err, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
