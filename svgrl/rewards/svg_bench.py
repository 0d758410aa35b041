"""Throughput of the SVG reward on a fixed set: Tabler icons (installed with svgrl) as
targets, each with a GRPO-like group of 8 completions as token ids — the target itself,
jittered copies, a half drawing, a longer drawing, another icon, an unfinished sequence and
garbage.

Reported side by side from one run, because the absolute numbers depend on how busy the
machine is:
- ``rewards_per_s``: wall clock through the public callable with its worker pool;
- ``cpu_us_per_reward``: grading CPU time per reward summed over the workers, and
  ``projected_rewards_per_s`` = cores / that (what the pool reaches on that many free cores);
- ``render_only_*``: `svgrl.svg.render.render` alone on the same drawings, one thread, and
  the ratios of the reward to it.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

import numpy as np

from svgrl.rewards.svg import SvgReward, SvgRewardConfig
from svgrl.svg.load import load_drawing
from svgrl.svg.render import render
from svgrl.tokens.codec import decode, encode
from svgrl.tokens.layout import TokenLayout

GROUP = 8


def _icons(k: int) -> list:
    spec = importlib.util.find_spec("pytablericons")
    root = Path(next(iter(spec.submodule_search_locations))) / "icons"
    files = sorted(root.rglob("*.svg"))
    step = max(1, len(files) // k)
    return [load_drawing(f) for f in files[::step][:k]]


def _jitter(ids: list[int], layout: TokenLayout, rng: np.random.Generator, r: int) -> list[int]:
    g, p0 = layout.grid, layout.point_start
    out = []
    for t in ids:
        if p0 <= t < p0 + g * g:
            x, y = (t - p0) % g, (t - p0) // g
            x = int(np.clip(x + rng.integers(-r, r + 1), 0, g - 1))
            y = int(np.clip(y + rng.integers(-r, r + 1), 0, g - 1))
            t = p0 + y * g + x
        out.append(t)
    return out


def svg_bench_set(n: int, layout: TokenLayout | None = None, seed: int = 0):
    """(prompts, completion_ids, targets): `n` completions in groups of 8 per target."""
    layout = layout or TokenLayout()
    rng = np.random.default_rng(seed)
    k = max(2, -(-n // GROUP))
    icons = [encode(d, layout) for d in _icons(k)]
    prompts, comps, targets = [], [], []
    for j, tgt in enumerate(icons):
        other = icons[(j + 1) % len(icons)]
        body = tgt[1:-1]
        group = [
            tgt,
            _jitter(tgt, layout, rng, 1),
            _jitter(tgt, layout, rng, 3),
            _jitter(tgt, layout, rng, 8),
            tgt[:1] + body[: len(body) // 2] + tgt[-1:],  # cut mid-command: decode drops a bit
            tgt[:-1] + other[1:],  # two icons drawn over each other, twice the tokens
            tgt[:-1],  # no </svg>: fails the gate
            rng.integers(0, layout.vocab_size, len(tgt)).tolist(),  # garbage
        ]
        for c in group:
            prompts.append(f"Draw icon {j}.")
            comps.append(c)
            targets.append(tgt)
    return prompts[:n], comps[:n], targets[:n]


def bench_svg(n: int = 1024, workers: int = 2) -> dict:
    layout = TokenLayout()
    prompts, ids, targets = svg_bench_set(n, layout)
    reward = SvgReward(SvgRewardConfig(workers=workers), layout=layout)
    blanks = [""] * len(ids)
    try:
        reward(prompts[:32], blanks[:32], completion_ids=ids[:32], target=targets[:32])  # warm
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        out = reward(prompts, blanks, completion_ids=ids, target=targets)
        dt = time.perf_counter() - t0
        cpu = reward.last_stats["cpu_s"]
    finally:
        reward.close()
    drawings = [decode(i, layout) for i in ids]
    render(drawings[0])
    t1, c1 = time.perf_counter(), time.process_time()
    for d in drawings:
        render(d, 200)
    dt_render, cpu_render = time.perf_counter() - t1, time.process_time() - c1
    m = len(ids)
    cores = max(1, workers)
    valid = [v for v in out.parts["valid"] if v is not None]
    return {
        "rewards_per_s": m / dt, "n": m, "seconds": dt, "size": 200, "workers": workers,
        "group": GROUP, "loadavg_1min": load,
        "cpu_us_per_reward": 1e6 * cpu / m,
        "projected_rewards_per_s": cores * m / cpu if cpu else None,
        "render_only_per_s": m / dt_render,
        "render_only_cpu_us": 1e6 * cpu_render / m,
        "ratio_to_render_only": (m / dt) / (m / dt_render),
        "projected_ratio_to_render_only": (cores * cpu_render / cpu) if cpu else None,
        "mean_reward": float(np.mean(out)), "valid_fraction": sum(valid) / len(valid),
        "parts": "decode + render + pixel(z-L2, RGB) + SSIM + gradient edges + efficiency",
    }
