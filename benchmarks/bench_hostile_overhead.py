"""What the hostile-input defences cost honest input, measured side by side in one run:

* simplify + quantise with the work budgets (`svgrl.svg.budget`) on vs replaced by no-ops
  (skia's path ops called directly), alternating over the same Tabler / Font Awesome files
  (CPU time of this process);
* the SVG reward graded in bounded workers (`svgrl.bounded`, the default) vs a plain
  `ProcessPoolExecutor` running the same tasks, alternating (wall clock, 2 workers).

    python benchmarks/bench_hostile_overhead.py [--files 300] [--rewards 2048] [--rounds 3]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import glob
import json
import multiprocessing as mp
import os
import time
from pathlib import Path


def bench_budgets(n_files: int, rounds: int) -> dict:
    import fontawesomefree
    import pytablericons
    import skia

    from svgrl.svg import budget
    from svgrl.svg.load import load_drawing

    sets = {
        "tabler": glob.glob(os.path.join(os.path.dirname(pytablericons.__file__),
                                         "icons/*/*.svg")),
        "fontawesome": glob.glob(os.path.join(os.path.dirname(fontawesomefree.__file__),
                                              "static/fontawesomefree/svgs/*/*.svg")),
    }
    real = (budget.WorkBudget.op, budget.WorkBudget.dash, budget.WorkBudget.css_matches)

    def switch(on: bool) -> None:
        if on:
            budget.WorkBudget.op, budget.WorkBudget.dash, budget.WorkBudget.css_matches = real
        else:
            budget.WorkBudget.op = lambda self, a, b, op, where: skia.Op(a, b, op)
            budget.WorkBudget.dash = lambda self, *a: None
            budget.WorkBudget.css_matches = lambda self, *a: None

    out = {}
    for name, files in sets.items():
        files = sorted(files)[:: max(1, len(files) // n_files)][:n_files]
        datas = [Path(f).read_bytes() for f in files]
        for d in datas:  # warm imports and caches
            load_drawing(d)
        t = {True: 0.0, False: 0.0}
        for _ in range(rounds):
            for on in (True, False):
                switch(on)
                t0 = time.process_time()
                for d in datas:
                    load_drawing(d)
                t[on] += time.process_time() - t0
        switch(True)
        out[name] = {"files": len(datas),
                     "files_per_s_budgets_on": round(rounds * len(datas) / t[True], 1),
                     "files_per_s_budgets_off": round(rounds * len(datas) / t[False], 1),
                     "time_ratio_on_off": round(t[True] / t[False], 3)}
    return out


def bench_reward_pool(n: int, rounds: int) -> dict:
    from svgrl.rewards.svg import _WORKER_ENV, SvgReward, SvgRewardConfig, _warm
    from svgrl.rewards.svg_bench import svg_bench_set
    from svgrl.rewards.svg_grade import run_task
    from svgrl.tokens.layout import TokenLayout

    class ExecutorReward(SvgReward):
        def _get_pool(self):
            if self._pool is None:
                os.environ.update(_WORKER_ENV)
                self._pool = cf.ProcessPoolExecutor(self.config.workers,
                                                    mp_context=mp.get_context("spawn"))
                list(self._pool.map(_warm, range(self.config.workers)))
            return self._pool

        def _run(self, tasks):
            with self._lock:
                pool = self._get_pool()
                return [f.result() for f in [pool.submit(run_task, t) for t in tasks]]

    layout = TokenLayout()
    prompts, ids, targets = svg_bench_set(n, layout)
    rewards = {"bounded": SvgReward(SvgRewardConfig(workers=2), layout=layout),
               "executor": ExecutorReward(SvgRewardConfig(workers=2), layout=layout)}
    total = dict.fromkeys(rewards, 0.0)
    same = True
    try:
        for r in rewards.values():  # start the workers outside the timing
            r(prompts[:32], [""] * 32, completion_ids=ids[:32], target=targets[:32])
        for _ in range(rounds):
            values = {}
            for name, r in rewards.items():
                t0 = time.perf_counter()
                values[name] = list(r(prompts, [""] * len(ids), completion_ids=ids,
                                      target=targets))
                total[name] += time.perf_counter() - t0
            same &= values["bounded"] == values["executor"]
    finally:
        for r in rewards.values():
            r.close()
    per_s = {k: round(rounds * len(ids) / v, 1) for k, v in total.items()}
    return {"n": len(ids), "rewards_per_s": per_s, "identical_rewards": same,
            "ratio_bounded_to_executor": round(total["executor"] / total["bounded"], 3),
            "loadavg_1min": round(os.getloadavg()[0], 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=300, help="files per icon set")
    ap.add_argument("--rewards", type=int, default=2048, help="SVG completions per round")
    ap.add_argument("--rounds", type=int, default=3, help="alternations of A and B")
    args = ap.parse_args()
    out = {"budgets": bench_budgets(args.files, args.rounds),
           "svg_reward_pool": bench_reward_pool(args.rewards, args.rounds)}
    for name, r in out["budgets"].items():
        print(f"simplify {name:12s} budgets on {r['files_per_s_budgets_on']:8.1f} files/s   "
              f"off {r['files_per_s_budgets_off']:8.1f}   time on/off {r['time_ratio_on_off']}")
    p = out["svg_reward_pool"]
    print(f"svg reward   bounded {p['rewards_per_s']['bounded']:8.1f}/s   executor "
          f"{p['rewards_per_s']['executor']:8.1f}/s   bounded/executor "
          f"{p['ratio_bounded_to_executor']}   identical rewards: {p['identical_rewards']}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
