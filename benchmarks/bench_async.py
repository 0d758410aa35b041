"""Synchronous vs asynchronous GRPO (`svgrl train grpo` vs `--async` on a local Ray), the
same tiny svg-image task side by side in one run, and a scale simulator checked against
real runs at more than one number of generators.

Measured: samples/s over the steady steps (the first step, which pays model building and
Ray start-up, is left out) and generator idle time — synchronous: the share of a step the
generator waits for verification and the update; asynchronous: the generator actors' own
idle clocks (no work, or blocked on the full queue), summed over the generators.

Simulator (`svgrl.rl.async_.simulate`): calibrated on the synchronous run alone (its
measured per-token generation cost, per-sample verification cost and per-step update cost),
it predicts samples/s and generator idle for the synchronous trainer and for the
asynchronous system at N generators / M trainers. How fast a process runs when k of the
job's processes are busy at once is measured right before each run
(`svgrl.rl.async_.speed.measure_speed`: k probe processes side by side; it takes in the
machine's other jobs at that moment and what two busy processes cost each other on shared
caches, which processor sharing alone leaves out — ``--probe 0`` falls back to processor
sharing with the load average as background). The asynchronous predictions are out of
sample: each is checked against a real `--async` run with that many generators
(``--generators 1 2``). ``simulator_error`` is the largest relative error of a predicted
samples/s over every measured run; idle shares are compared in percentage points
(``simulator_idle_error``), since a relative error of a share near 0 means little.

The task: 40 Tabler icons on the demo's 64-point grid (``--grid``). On the 200 grid the
tiny model's output layer (40k point tokens) makes an update ~2× a step's generation, so
overlapping the two can save at most a third of a step; on the 64 grid they cost about the
same, as generation and training do in real RL runs that use both sides of the machine.
The machine may be shared: read the absolute rates with that in mind.

    python benchmarks/bench_async.py [--steps 6] [--generators 1 2] [--grid 64] [--probe 1] [--json]

The last line is ``{"sync_samples_per_s", "async_samples_per_s", "ratio",
"sync_generator_idle", "async_generator_idle", "simulator_error", ...}`` (async: the run with
the first ``--generators`` value; per-N figures follow under ``"runs"``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
from pathlib import Path


class LoadMeter:
    """The machine's 1-minute load average, sampled every 2 s while a run is going."""

    def __enter__(self) -> LoadMeter:
        self.samples, self._stop = [os.getloadavg()[0]], threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(2.0):
            self.samples.append(os.getloadavg()[0])

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.samples.append(os.getloadavg()[0])

    def background(self, own: int) -> float:
        """Mean load minus the run's own `own` busy processes."""
        return max(0.0, sum(self.samples) / len(self.samples) - own)


def run(args: argparse.Namespace, asynchronous: bool, out: Path, generators: int = 1
        ) -> list[dict]:
    from svgrl.model.backbones import BackboneConfig
    from svgrl.model.checkpoint import read_metrics
    from svgrl.rl.config import GRPOConfig

    cfg = GRPOConfig(task="svg-image", data=args.data, out=str(out), image_size=16,
                     patch_size=8, steps=args.steps, prompts_per_step=args.prompts,
                     group_size=args.group, max_completion_length=args.length, minibatches=1,
                     learning_rate=1e-3, eval_size=1, eval_samples=1, log_kl_to_start=False,
                     threads=1, save_every=0, asynchronous=asynchronous,
                     max_staleness=args.k, generation_batch=64, generators=generators,
                     model=BackboneConfig(backbone="tiny", tiny_layers=2, tiny_d_model=64,
                                          tiny_heads=2, seed=0))
    if asynchronous:
        from svgrl.rl.async_.controller import train_async

        train_async(cfg)
    else:
        from svgrl.rl.trainer import train

        train(cfg)
    return read_metrics(out)


def main() -> int:
    from svgrl.rl.async_.simulate import Costs, simulate

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="", help="a `svgrl data build` folder (default: build "
                                                "40 Tabler icons into a temp folder)")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--group", type=int, default=8)
    p.add_argument("--length", type=int, default=48)
    p.add_argument("--k", type=int, default=2, help="--max-staleness of the async runs")
    p.add_argument("--generators", type=int, nargs="+", default=[1, 2],
                   help="generator actors of each async run")
    p.add_argument("--grid", type=int, default=64, help="point grid of the default data")
    p.add_argument("--probe", type=float, default=1.0,
                   help="seconds per speed-probe round before each run (0: processor "
                        "sharing with the load average as background instead)")
    p.add_argument("--cores", type=float, default=2.0, help="cores the simulator assumes")
    p.add_argument("--background", type=float, default=-1.0,
                   help="other runnable processes on the machine the simulator assumes; "
                        "-1 = the load average during each run, minus the run's own")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ba-"))
    if not a.data:
        from svgrl.data.build import BuildConfig, build

        a.data = str(tmp / "data")
        build(BuildConfig(source=("pytablericons",), out=a.data, limit=40, val=0.2,
                          grid=a.grid, progress=False), log=lambda m: None)
    # Other runnable processes during each run (the load average minus the run's own busy
    # processes): the shared machine's background, which the simulator's processor
    # sharing counts — it moves between runs, so each run gets its own.
    from svgrl.rl.async_.speed import measure_speed

    backgrounds: dict[str, float] = {}
    speeds: dict[str, list[float]] = {}

    def probe(name: str, k: int) -> None:
        if a.probe > 0:
            speeds[name] = measure_speed(k, a.probe, repeats=2)

    probe("sync", 2)
    with LoadMeter() as load:
        sync = run(a, False, tmp / "s")[1:]
    backgrounds["sync"] = load.background(1) if a.background < 0 else a.background
    samples = a.prompts * a.group
    n = len(sync)
    t_gen, t_ver, t_upd = (sum(m[k] for m in sync) for k in ("t_generate", "t_verify",
                                                              "t_update"))
    tokens = sum(m["completion_len"] for m in sync) / n
    costs = Costs(per_token=t_gen / (n * samples * tokens), per_sample=t_ver / (n * samples),
                  per_update=t_upd / n)
    measured = {"sync": (samples * n / (t_gen + t_ver + t_upd), (t_ver + t_upd)
                         / (t_gen + t_ver + t_upd))}
    for g in a.generators:
        probe(f"async_{g}", g + 1)
        with LoadMeter() as load:
            asy = run(a, True, tmp / f"a{g}", generators=g)
        backgrounds[f"async_{g}"] = load.background(g + 1) if a.background < 0 \
            else a.background
        # the wall time from the end of step 1 to the end of the last step
        sps = samples * (len(asy) - 1) / (asy[-1]["started"] - asy[0]["started"])
        measured[f"async_{g}"] = (sps, sum(m["generator_idle"] for m in asy[1:])
                                  / (len(asy) - 1))
    runs, err, idle_err = {}, 0.0, 0.0
    for name, (sps, idle) in measured.items():
        g = int(name.split("_")[1]) if name != "sync" else 1
        sim = simulate(costs, samples=samples, tokens=tokens, generators=g, cores=a.cores,
                       background=backgrounds[name],
                       calibration_background=backgrounds["sync"],
                       speed=speeds.get(name),
                       calibration_speed=speeds["sync"][0] if speeds else None)
        mode = "sync" if name == "sync" else "async"
        p_sps, p_idle = sim[f"{mode}_samples_per_s"], sim[f"{mode}_generator_idle"]
        runs[name] = {"samples_per_s": round(sps, 3), "generator_idle": round(idle, 3),
                      "predicted_samples_per_s": round(p_sps, 3),
                      "predicted_generator_idle": round(p_idle, 3),
                      "error": round(abs(p_sps - sps) / sps, 3)}
        err = max(err, abs(p_sps - sps) / sps)
        idle_err = max(idle_err, abs(p_idle - idle))
        if not a.json:
            print(f"{name:8s} {sps:6.2f} samples/s (predicted {p_sps:6.2f}), generator idle "
                  f"{idle:4.0%} (predicted {p_idle:4.0%})")
    first = measured[f"async_{a.generators[0]}"]
    print(json.dumps({"sync_samples_per_s": runs["sync"]["samples_per_s"],
                      "async_samples_per_s": round(first[0], 3),
                      "ratio": round(first[0] / measured["sync"][0], 3),
                      "sync_generator_idle": runs["sync"]["generator_idle"],
                      "async_generator_idle": round(first[1], 3),
                      "simulator_error": round(err, 3),
                      "simulator_idle_error": round(idle_err, 3),
                      "background_load": {k: round(v, 2) for k, v in backgrounds.items()},
                      "probe_speed": {k: [round(x, 1) for x in v] for k, v in speeds.items()},
                      "runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
