"""`svgrl demo` (``make demo``): the main job on the embedded icon sets, end to end.

    1 data      `svgrl data build` of the PyPI Tabler icons (train / validation / test)
    2 sft       `svgrl train sft` of the tiny model on image-to-SVG and text-to-SVG
    3 grpo      `svgrl train grpo` on image-to-SVG from the SFT run (held-out reward before →
                after on the validation split, paired standard error)
    4 bench     `svgrl bench` on the test split (held out from both): SFT vs GRPO vs vtracer
                vs refine:vtracer, and plain sampling vs best-of-N vs consensus at equal N
    5 analyze   `svgrl analyze` of the GRPO run (weight PCA, curves)
    6 report    RUN/index.html: the numbers first, then pictures, links to every stage

Every stage calls the library function behind its command, with the settings of one
`SCALES` entry (``--scale``; ``make demo SCALE=full`` is the README's recipe). Stages live in
``OUT/SCALE/``; a finished stage is reused on a rerun, an interrupted training resumes.
"""

from __future__ import annotations

import argparse
import html
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from svgrl.atomic import write_bytes, write_text
from svgrl.config import add_dataclass_args, dataclass_from_args
from svgrl.errors import ConfigError


@dataclass(frozen=True)
class Scale:
    """Sizes of every stage (one variable scales them all)."""

    icons: int              # Tabler icons read (0 = all); built with the token cap below
    max_tokens: int         # drop drawings longer than this many tokens
    grid: int               # point grid: G² point tokens, most of the tiny model's vocabulary
    test: float             # test-split fraction (bench targets come from it)
    layers: int             # tiny model
    d_model: int
    sft_steps: int
    sft_batch: int
    image_size: int
    text_weight: float
    grpo_steps: int
    prompts: int            # prompts per GRPO step
    group: int              # completions per prompt
    completion: int         # max completion tokens
    eval_size: int          # held-out validation icons for before/after
    eval_samples: int
    save_every: int
    bench: int              # test icons in the bench
    n: int                  # candidates for best-of-N / consensus-N
    refine_seconds: float   # time bound per refined sample
    refine_steps: int = 30  # optimisation steps per refined sample (~0.04 CPU s each)
    samples: int = 4        # held-out icons drawn for the report's pictures
    # text-bench runs (seeds 0, 1, ...): the consensus row averages each caption over them —
    # one sample from a caption varies more than one from an image, so a single run's
    # paired difference is noisy (standard error 0.014–0.016 on 48 captions)
    text_seeds: int = 1
    # expected seconds per stage on an idle 2-core machine (printed before each stage)
    expect: tuple[tuple[str, float], ...] = ()


SCALES = {
    # for tests of the demo itself (about a minute of CPU)
    "tiny": Scale(icons=100, max_tokens=128, grid=64, test=0.1, layers=1, d_model=32,
                  sft_steps=10, sft_batch=4, image_size=16, text_weight=1.0, grpo_steps=3,
                  prompts=2, group=4, completion=40, eval_size=2, eval_samples=1, save_every=1,
                  bench=2, n=2, refine_seconds=0.5, refine_steps=5, samples=2),
    # the default: 8 minutes wall on the shared 2-core machine (load ~3). Grid 64 (4,096
    # point tokens instead of 40,000 at grid 200) makes the vocabulary 5× smaller, and the
    # output layer over it is most of the tiny model's work in training and sampling.
    # 1,200 SFT steps, not 400: the text task needs them (validation loss 3.64 → 3.06, test
    # bench SSIM from the captions 0.54 → 0.63) before a caption's samples agree enough for
    # consensus-N to pick the better one (see `svgrl.model.select.consensus`); ~100 CPU s.
    "small": Scale(icons=1200, max_tokens=160, grid=64, test=0.06, layers=2, d_model=128,
                   sft_steps=1200, sft_batch=8, image_size=32, text_weight=1.0, grpo_steps=12,
                   prompts=8, group=8, completion=160, eval_size=32, eval_samples=2,
                   save_every=2, bench=48, n=8, refine_seconds=3.0, text_seeds=3,
                   # CPU seconds measured on a loaded machine (one thread: data 2 + its
                   # workers, sft 148, grpo 44, bench 107 + 67 (3 seeds), samples 3), with
                   # margin
                   expect=(("data", 30), ("sft", 200), ("grpo", 75), ("bench image", 150),
                           ("bench text", 90), ("analyze", 10), ("samples", 20))),
    # the README's recipe (hours on 2 cores), plus text-to-SVG in the SFT mix
    "full": Scale(icons=0, max_tokens=160, grid=200, test=0.02, layers=3, d_model=160,
                  sft_steps=1500, sft_batch=8, image_size=32, text_weight=1.0, grpo_steps=40,
                  prompts=8, group=8, completion=192, eval_size=98, eval_samples=4,
                  save_every=4, bench=64, n=8, refine_seconds=10.0, refine_steps=60),
}


@dataclass(frozen=True)
class DemoConfig:
    out: str = field(default="runs/demo", metadata={"help": "demo folder (index.html here)"})
    scale: str = field(default="small", metadata={
        "help": "size of every stage: tiny (for tests), small (~8 min on 2 cores), full (the "
                "README's recipe)", "choices": tuple(SCALES)})
    threads: int = field(default=1, metadata={
        "help": "torch threads (1: the tiny model's matrices are too small to gain from a "
                "second thread; on a shared 2-core machine, SFT with 2 threads ran 5x slower)"})
    progress: bool = field(default=True, metadata={"help": "progress bars"})

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ConfigError(f"--scale {self.scale!r}: choose from {', '.join(SCALES)}")
        if self.threads < 1:
            raise ConfigError(f"--threads {self.threads}: use ≥ 1")


def _say(msg: str) -> None:
    print(msg, flush=True)


# ---- the stages -----------------------------------------------------------------------------


def stage_data(cfg: DemoConfig, s: Scale, root: Path) -> Path:
    from svgrl.data.build import BuildConfig, build

    out = root / "data"
    if (out / "manifest.json").is_file():
        return out
    build(BuildConfig(source=("pytablericons",), out=str(out), max_tokens=s.max_tokens,
                      grid=s.grid, limit=s.icons, val=max(0.05, s.test), test=s.test,
                      progress=cfg.progress),
          log=_say)
    return out


def stage_sft(cfg: DemoConfig, s: Scale, root: Path, data: Path) -> Path:
    from svgrl.model.backbones import BackboneConfig
    from svgrl.train.sft import SFTConfig, train_sft

    out = root / "sft"
    if _latest_step(out) >= s.sft_steps:
        return out
    train_sft(SFTConfig(data=str(data), out=str(out), resume=(out / "run.json").is_file(),
                        max_steps=s.sft_steps, batch_size=s.sft_batch, lr=2e-3,
                        warmup_steps=max(5, s.sft_steps // 20), text_weight=s.text_weight,
                        image_weight=1.0, reference_weight=0.0, max_tokens=s.max_tokens + 32,
                        image_size=s.image_size, patch_size=8,
                        eval_every=s.sft_steps, eval_examples=min(64, 4 * s.eval_size),
                        save_every=max(1, s.sft_steps // 4), threads=cfg.threads,
                        progress=cfg.progress),
              BackboneConfig(backbone="tiny", tiny_layers=s.layers, tiny_d_model=s.d_model,
                             tiny_heads=max(1, s.d_model // 32)),
              log=_say)
    return out


def stage_grpo(cfg: DemoConfig, s: Scale, root: Path, data: Path, sft: Path) -> Path:
    from svgrl.rl.config import GRPOConfig
    from svgrl.rl.trainer import train

    out = root / "grpo"
    if "after" in _read_json(out / "eval.json"):
        return out
    train(GRPOConfig(task="svg-image", init=str(sft), data=str(data), out=str(out),
                     resume=(out / "run.json").is_file(), steps=s.grpo_steps,
                     prompts_per_step=s.prompts, group_size=s.group,
                     max_completion_length=s.completion, eval_size=s.eval_size,
                     eval_samples=s.eval_samples, minibatches=1, token_budget=8192,
                     save_every=s.save_every, keep_last=0, threads=cfg.threads,
                     progress=cfg.progress))
    return out


def bench_systems(s: Scale, sft: Path, grpo: Path, task: str) -> list[str]:
    if task == "text":
        return [f"run:{sft}", f"run,consensus={s.n}:{sft}"]
    return ["vtracer", f"refine,steps={s.refine_steps},seconds={s.refine_seconds}:vtracer",
            f"run:{sft}",
            f"run:{grpo}", f"run,best_of={s.n}:{grpo}", f"run,consensus={s.n}:{grpo}"]


def stage_bench(cfg: DemoConfig, s: Scale, root: Path, data: Path, sft: Path, grpo: Path,
                task: str, seed: int = 0) -> Path:
    from svgrl.bench.run import BenchConfig, run_bench

    out = root / (f"bench-{task}" + (f"-seed{seed}" if seed else ""))
    systems = bench_systems(s, sft, grpo, task)
    done = _read_json(out / "results.json")
    if done.get("config", {}).get("systems") == systems:
        return out
    run_bench(BenchConfig(data=str(data), split="test", task=task, systems=systems,
                          out=str(out), limit=s.bench, threads=1, max_new_tokens=s.completion,
                          seed=seed, progress=cfg.progress),
              command=["svgrl", "bench", "--data", str(data), "--task", task, "--system",
                       *systems, "-o", str(out), "--limit", str(s.bench)]
              + (["--seed", str(seed)] if seed else []))
    return out


def stage_bench_text(cfg: DemoConfig, s: Scale, root: Path, data: Path, sft: Path,
                     grpo: Path) -> list[Path]:
    return [stage_bench(cfg, s, root, data, sft, grpo, "text", seed)
            for seed in range(max(1, s.text_seeds))]


def stage_analyze(root: Path, grpo: Path) -> Path:
    from svgrl.rl.analyze import analyze_run
    from svgrl.rl.analyze_report import write_report

    a = analyze_run(grpo)
    if a.note:
        _say(f"note: {a.note}")
    write_report(a, root / "analysis")
    return root / "analysis"


def stage_samples(cfg: DemoConfig, s: Scale, root: Path, data: Path, sft: Path, grpo: Path
                  ) -> list[dict]:
    """A few held-out test icons drawn by the SFT and the GRPO model (plain sampling and
    best-of-N), and captions drawn by the SFT model; PNGs under samples/."""
    from svgrl.bench.targets import load_targets
    from svgrl.model.checkpoint import load_run
    from svgrl.model.prompts import prompt_for
    from svgrl.model.sampling import PRESETS
    from svgrl.model.select import select
    from svgrl.svg.image_io import encode_png
    from svgrl.svg.render import render

    out = root / "samples"
    index = out / "samples.json"
    if index.is_file():
        return json.loads(index.read_text(encoding="utf-8"))
    targets = [t for t in load_targets(str(data), "test", limit=s.samples) if t.error is None]
    models = {"sft": load_run(sft)[0], "grpo": load_run(grpo)[0]}
    rows = []
    for k, t in enumerate(targets):
        row = {"id": t.id, "caption": t.caption, "cells": []}
        write_bytes(out / f"{k}-target.png", encode_png(t.image))
        row["cells"].append(("target", f"samples/{k}-target.png"))
        for name, lm, best in (("SFT", models["sft"], 0), ("GRPO", models["grpo"], 0),
                               (f"GRPO best-of-{s.n}", models["grpo"], s.n)):
            p = prompt_for(lm, "image", image=t.image)
            got = select(lm, p, 1, PRESETS["image"], best_of_n=best, target=t.image, seed=k,
                         max_new_tokens=s.completion, batch_size=max(1, best))
            f = f"samples/{k}-{name.split()[0].lower()}{'-best' if best else ''}.png"
            write_bytes(root / f, encode_png(render(got.samples[0].drawing, 200)))
            row["cells"].append((name, f))
        p = prompt_for(models["sft"], "text", text=t.caption)
        got = select(models["sft"], p, 1, PRESETS["text"], consensus_n=s.n, seed=k,
                     max_new_tokens=s.completion, batch_size=s.n)
        f = f"samples/{k}-text.png"
        write_bytes(root / f, encode_png(render(got.samples[0].drawing, 200)))
        row["cells"].append((f"SFT from the caption (consensus-{s.n})", f))
        rows.append(row)
    write_text(index, json.dumps(rows, indent=1))
    return rows


# ---- the driver -----------------------------------------------------------------------------


def run_demo(cfg: DemoConfig) -> Path:
    """Run (or finish) every stage and write ``OUT/index.html``."""
    import torch

    torch.set_num_threads(cfg.threads)
    s = SCALES[cfg.scale]
    out = Path(cfg.out)
    root = out / cfg.scale
    root.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = _read_json(root / "times.json")
    cpu: dict[str, float] = _read_json(root / "cpu.json")
    expect = dict(s.expect)
    t_all = time.perf_counter()
    if expect:
        left = sum(v for k, v in expect.items() if k not in times)
        _say(f"svgrl demo, scale {cfg.scale}: 7 stages, about {left / 60:.0f} min on an idle "
             f"2-core machine (finished stages in {root} are reused)")

    def stage(n: int, name: str, fn: Any, *args: Any) -> Any:
        est = f", about {_dur(expect[name])}" if name in expect and name not in times else ""
        _say(f"\n=== [{n}/7] {name} ({cfg.scale}{est}) ===")
        t0, c0 = time.perf_counter(), _cpu_seconds()
        res = fn(*args)
        dt, dc = time.perf_counter() - t0, _cpu_seconds() - c0
        if dt > 1.0 or name not in times:  # a reused stage keeps the time it took to build
            times[name], cpu[name] = dt, dc
            write_text(root / "times.json", json.dumps(times, indent=1))
            write_text(root / "cpu.json", json.dumps(cpu, indent=1))
        _say(f"--- {name}: {dt:.0f} s wall, {dc:.0f} CPU s "
             f"(total so far {_dur(time.perf_counter() - t_all)})")
        return res

    data = stage(1, "data", stage_data, cfg, s, root)
    sft = stage(2, "sft", stage_sft, cfg, s, root, data)
    grpo = stage(3, "grpo", stage_grpo, cfg, s, root, data, sft)
    bench_img = stage(4, "bench image", stage_bench, cfg, s, root, data, sft, grpo, "image")
    bench_txt = stage(5, "bench text", stage_bench_text, cfg, s, root, data, sft, grpo)
    for r in comparisons(_read_json(bench_img / "results.json"),
                         [_read_json(b / "results.json") for b in bench_txt]):
        runs = f", each the mean of {r['runs']} bench seeds" if r["runs"] > 1 else ""
        _say(f"paired {r['task']}: {_short(r['a'])} − {_short(r['b'])}: SSIM "
             f"{r['mean']:+.4f} ± {r['se']:.4f} on {r['n']} targets{runs} "
             f"({r['wins']} better, {r['losses']} worse)")
    analysis = stage(6, "analyze", stage_analyze, root, grpo)
    samples = stage(7, "samples", stage_samples, cfg, s, root, data, sft, grpo)
    page = write_index(out, cfg, s, root, times, cpu, data=data, sft=sft, grpo=grpo,
                       bench_img=bench_img, bench_txt=bench_txt, analysis=analysis,
                       samples=samples)
    _say(f"\ndemo ({cfg.scale}) done in {time.perf_counter() - t_all:.0f} s; report: {page}")
    return page


def _cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (bench workers, data build)."""
    import resource

    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def _dur(sec: float) -> str:
    return f"{sec:.0f} s" if sec < 90 else f"{sec / 60:.1f} min"


def _latest_step(run: Path) -> int:
    return int(_read_json(run / "latest.json").get("step", -1))


def _read_json(p: Path) -> dict:
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return d if isinstance(d, dict) else {}


# ---- the report -------------------------------------------------------------------------------


def _bench_table(results: dict, rel: str) -> str:
    e = html.escape
    rows = ["<table><tr><th>system</th><th>n</th><th>valid</th><th>SSIM ↑</th><th>MSE ↓</th>"
            "<th>PSNR ↑</th><th>tokens</th><th>s / sample</th></tr>"]
    for name, m in results.get("systems", {}).items():
        def f(k: str, spec: str, m: dict = m) -> str:
            v = m.get(k)
            return format(v, spec) if isinstance(v, int | float) else "–"
        label = name.replace(str(Path(rel).parent) + "/", "")
        rows.append(f"<tr><td>{e(label)}</td><td>{m.get('n', '–')}</td><td>{f('valid', '.0%')}"
                    f"</td><td>{f('ssim', '.4f')}</td><td>{f('mse', '.5f')}</td>"
                    f"<td>{f('psnr', '.2f')}</td><td>{f('tokens_mean', '.1f')}</td>"
                    f"<td>{f('seconds_per_sample', '.3f')}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def paired(results: dict | list[dict], a: str, b: str, metric: str = "ssim") -> dict | None:
    """Per-target difference of `metric` between systems `a` and `b` of one bench (same
    targets) — or of several runs of it (other seeds), each target's difference averaged over
    the runs: mean ± standard error over targets, and how many targets `a` wins / loses."""
    runs = results if isinstance(results, list) else [results]
    per: dict[str, list[float]] = {}
    for res in runs:
        sa, sb = res.get("samples", {}).get(a), res.get("samples", {}).get(b)
        if not sa or not sb:
            return None
        vb = {r["id"]: r.get(metric) for r in sb}
        for r in sa:
            if r.get(metric) is not None and vb.get(r["id"]) is not None:
                per.setdefault(r["id"], []).append(r[metric] - vb[r["id"]])
    if not per:
        return None
    import numpy as np

    x = np.asarray([np.mean(v) for v in per.values()], dtype=float)
    se = float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")
    return {"a": a, "b": b, "metric": metric, "n": len(x), "mean": float(x.mean()), "se": se,
            "wins": int((x > 0).sum()), "losses": int((x < 0).sum()), "runs": len(runs)}


def comparisons(img: dict, txt: dict | list[dict]) -> list[dict]:
    """The paired rows the report leads with: selection vs plain sampling at equal N (the
    same model), RL vs SFT, refine vs its start. `txt`: the text bench, or its runs with
    several seeds (the consensus row then averages each caption over them)."""
    txt_runs = txt if isinstance(txt, list) else [txt]
    txt = txt_runs[0] if txt_runs else {}
    def find(res: dict, *keys: str) -> str | None:
        for name in res.get("systems", {}):
            if all(k in name for k in keys) and (
                    "best_of" in keys or "best_of" not in name) and (
                    "consensus" in keys or "consensus" not in name):
                return name
        return None

    out = []
    grpo = [n for n in img.get("systems", {}) if n.startswith("run:") and "/grpo" in n]
    sft = [n for n in img.get("systems", {}) if n.startswith("run:") and "/sft" in n]
    pairs = [(img, find(img, "best_of"), grpo[0] if grpo else None),
             (img, find(img, "consensus"), grpo[0] if grpo else None),
             (img, grpo[0] if grpo else None, sft[0] if sft else None),
             (img, find(img, "refine"), "vtracer"),
             (txt_runs, find(txt, "consensus"), next((n for n in txt.get("systems", {})
                                                      if n.startswith("run:")), None))]
    for res, a, b in pairs:
        if a and b:
            row = paired(res, a, b)
            if row:
                row["task"] = (res[0] if isinstance(res, list) else res).get("task", "")
                out.append(row)
    return out


def _short(name: str) -> str:
    """'run,best_of=8:/x/small/grpo' → 'grpo best_of=8'."""
    if not name.startswith("run"):
        return name
    head, tail = name.split(":", 1)
    flags = head.split(",", 1)[1] if "," in head else ""
    return f"{Path(tail).name} {flags}".strip()


def _paired_table(rows: list[dict]) -> str:
    e = html.escape
    out = ["<table><tr><th>task</th><th>system − baseline</th><th>targets</th>"
           "<th>Δ SSIM (mean ± s.e.)</th><th>z</th><th>better / worse</th></tr>"]
    for r in rows:
        z = r["mean"] / r["se"] if r["se"] and r["se"] == r["se"] else float("nan")
        task = r["task"] + (f" ({r['runs']} seeds)" if r.get("runs", 1) > 1 else "")
        out.append(f"<tr><td>{e(task)}</td><td>{e(_short(r['a']))} − {e(_short(r['b']))}"
                   f"</td><td>{r['n']}</td><td>{r['mean']:+.4f} ± {r['se']:.4f}</td>"
                   f"<td>{z:+.1f}</td><td>{r['wins']} / {r['losses']}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def write_index(out: Path, cfg: DemoConfig, s: Scale, root: Path, times: dict, cpu: dict,
                **p: Any) -> Path:
    e = html.escape
    rel = cfg.scale  # stage folders relative to index.html
    ev = _read_json(p["grpo"] / "eval.json")
    before, after, change = ev.get("before", {}), ev.get("after", {}), ev.get("change", {})
    img = _read_json(p["bench_img"] / "results.json")
    txt_runs = [_read_json(b / "results.json") for b in p["bench_txt"]]
    txt = txt_runs[0]
    manifest = _read_json(p["data"] / "manifest.json")
    html_out = [
        "<!doctype html><meta charset=utf-8><title>svgrl demo</title>",
        "<style>body{font:15px system-ui;margin:2em auto;max-width:1100px;padding:0 1em}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:4px 8px;"
        "text-align:right}td:first-child,th:first-child{text-align:left}.big{font-size:1.4em}"
        ".cell{display:inline-block;vertical-align:top;text-align:center;margin:4px;font-size:12px;width:130px}"
        ".cell img{width:120px;height:120px;border:1px solid #ccc}img.wide{max-width:100%}"
        "</style>",
        "<h1>svgrl demo: data → SFT → GRPO → bench → analysis</h1>",
        "<p><b>tiny</b> is a smoke test of the pipeline (models trained for seconds: their "
        "numbers mean nothing); run <code>make demo</code> (scale small) for real ones.</p>"
        if cfg.scale == "tiny" else "",
        f"<p>Scale <b>{e(cfg.scale)}</b>; Tabler icons (PyPI <code>pytablericons</code>, MIT). "
        f"Stage times (wall / CPU): "
        f"{', '.join(f'{k} {v:.0f} / {cpu.get(k, 0):.0f} s' for k, v in times.items())} "
        f"(total {sum(times.values()) / 60:.1f} min wall, {sum(cpu.values()) / 60:.1f} CPU-min)."
        "</p>",
        "<h2>Held-out reward before → after GRPO</h2>",
    ]
    if before and after:
        html_out.append(
            f"<p class=big>{before.get('reward', 0):.3f} → {after.get('reward', 0):.3f} "
            f"(paired change {change.get('delta', 0):+.3f} ± {change.get('delta_sem', 0):.3f}, "
            f"z = {change.get('z', 0):.1f}; {change.get('rows_better', 0)} of "
            f"{change.get('n', 0)} icons better, {change.get('rows_worse', 0)} worse)</p>"
            f"<p>Image-to-SVG render reward on {change.get('n', 0)} validation icons × "
            f"{before.get('samples', 0)} samples each, same random stream before and after. "
            f"SSIM {before.get('ssim', float('nan')):.3f} → {after.get('ssim', float('nan')):.3f}"
            f"; drawing length {before.get('completion_len', 0):.0f} → "
            f"{after.get('completion_len', 0):.0f} tokens.</p>")
    rows = comparisons(img, txt_runs)
    if rows:
        html_out.append("<h2>Paired differences on the same held-out targets</h2>")
        html_out.append("<p>Per target, the system's SSIM minus the baseline's; selection "
                        f"rows compare choosing among {s.n} samples with drawing one sample "
                        "from the same model. A row over several seeds averages each target "
                        "over that many runs of the bench (other samples, same targets) "
                        "first.</p>")
        html_out.append(_paired_table(rows))
    n_img = img.get("systems", {}).get("vtracer", {}).get("n", s.bench)
    html_out.append(f"<h2>Bench: image-to-SVG on {n_img} held-out test icons</h2>")
    html_out.append("<p>Every output rendered by resvg at 200 px and scored against the "
                    f"target. <code>best_of={s.n}</code> keeps the best of {s.n} samples by "
                    f"render reward against the input image; <code>consensus={s.n}</code> the "
                    f"medoid of {s.n} by render SSIM (no target used). Plain <code>run:</code> "
                    "rows draw one sample.</p>")
    html_out.append(_bench_table(img, str(p["grpo"])))
    html_out.append(f"<p><a href='{rel}/bench-image/report.html'>full image bench report</a>"
                    "</p>")
    n_txt = next(iter(txt.get("systems", {}).values()), {}).get("n", s.bench)
    html_out.append(f"<h2>Bench: text-to-SVG (SFT model) on {n_txt} test captions</h2>")
    for res, path in zip(txt_runs, p["bench_txt"], strict=True):
        seed = res.get("seed", 0)
        if len(txt_runs) > 1:
            html_out.append(f"<p>seed {e(str(seed))}:</p>")
        html_out.append(_bench_table(res, str(p["sft"])))
        html_out.append(f"<p><a href='{rel}/{e(path.name)}/report.html'>full text bench report"
                        f"{f' (seed {seed})' if len(txt_runs) > 1 else ''}</a></p>")
    html_out.append("<h2>Samples on held-out icons</h2>")
    for row in p["samples"]:
        html_out.append(f"<p><b>{e(row['id'])}</b> — <i>{e(row['caption'][:120])}</i><br>")
        for label, f in row["cells"]:
            html_out.append(f"<span class=cell><img src='{rel}/{e(f)}' alt='{e(label)}'><br>"
                            f"{e(label)}</span>")
        html_out.append("</p>")
    html_out.append("<h2>GRPO run: curves and weight-space trajectory</h2>")
    if (p["analysis"] / "trajectory.png").is_file():
        html_out.append(f"<p><img class=wide src='{rel}/analysis/trajectory.png' "
                        "alt='PCA trajectory'></p>")
    html_out.append(f"<p><img class=wide src='{rel}/analysis/curves.png' alt='curves'></p>")
    html_out.append(f"<p><a href='{rel}/analysis/index.html'>run analysis</a></p>")
    html_out.append("<h2>Stages</h2><ul>")
    html_out.append(f"<li>data: {manifest.get('counts', {}).get('kept', '')} "
                    f"<code>{e(str(p['data']))}</code> "
                    f"(<a href='{rel}/data/manifest.json'>manifest</a>)</li>")
    html_out.append(f"<li>SFT run <code>{e(str(p['sft']))}</code> (tiny model, {s.layers} "
                    f"layers × {s.d_model}, {s.sft_steps} steps, image + text tasks)</li>")
    html_out.append(f"<li>GRPO run <code>{e(str(p['grpo']))}</code> ({s.grpo_steps} steps × "
                    f"{s.prompts * s.group} samples; <a href='{rel}/grpo/eval.json'>eval.json"
                    "</a>)</li>")
    html_out.append("</ul><p>Commands behind each stage: <code>svgrl data build</code>, "
                    "<code>svgrl train sft</code>, <code>svgrl train grpo</code>, <code>svgrl "
                    "bench</code>, <code>svgrl analyze</code>, <code>svgrl generate</code>; "
                    "settings in <code>svgrl/demo.py</code> (<code>SCALES</code>).</p>")
    write_text(out / "index.html", "\n".join(html_out))
    write_text(root / "demo.json", json.dumps({"config": asdict(cfg), "scale": asdict(s),
                                               "times": times, "cpu": cpu}, indent=1))
    return out / "index.html"


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the main job end to end on the embedded icon sets",
                       description=__doc__.splitlines()[0] + " Stages: data build → SFT → GRPO "
                       "→ bench → analyze → OUT/index.html; a rerun reuses finished stages.")
    add_dataclass_args(p, DemoConfig)
    p.set_defaults(func=lambda a: run_demo(dataclass_from_args(DemoConfig, a)) and 0)
