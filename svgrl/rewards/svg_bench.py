"""Throughput of the SVG reward on a fixed set: Tabler icons (installed with svgrl) as
targets, each with a GRPO-like group of 8 completions as token ids — the target itself,
jittered copies, a half drawing, a longer drawing, another icon, an unfinished sequence and
garbage. The renderer alone on the same drawings is timed in the same run, so the ratio
survives a busy machine."""

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
            tgt[:1] + body[: len(body) // 2] + tgt[-1:],
            tgt[:-1] + other[1:],
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
    try:
        reward(prompts[:32], [""] * 32, completion_ids=ids[:32], target=targets[:32])  # warm
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        out = reward(prompts, [""] * len(ids), completion_ids=ids, target=targets)
        dt = time.perf_counter() - t0
    finally:
        reward.close()
    drawings = [decode(i, layout) for i in ids]
    t1 = time.perf_counter()
    for d in drawings:
        render(d, 200)
    dt_render = time.perf_counter() - t1
    valid = [v for v in out.parts["valid"] if v is not None]
    return {
        "rewards_per_s": len(ids) / dt, "n": len(ids), "seconds": dt, "size": 200,
        "workers": workers, "group": GROUP,
        "render_only_per_s_1thread": len(ids) / dt_render,
        "ratio_to_render_only": (len(ids) / dt) / (len(ids) / dt_render),
        "mean_reward": float(np.mean(out)), "valid_fraction": sum(valid) / len(valid),
        "loadavg_1min": load0,
        "parts": "decode + render + pixel(z-L2) + SSIM + Sobel edges + efficiency",
    }
