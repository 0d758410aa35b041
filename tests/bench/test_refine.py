"""Refinement: the soft rasteriser matches a real renderer's pixels, optimisation moves a
disturbed drawing back towards its target, deterministically, within its token budget and
time bound; `svgrl refine` and `refine:SPEC` in the bench."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from helpers.icons import tabler_file

from svgrl.bench.reduce import reduce_to_budget
from svgrl.bench.refine import RefineConfig, _path_tensors, refine_drawing, without_arcs
from svgrl.bench.softras import PathIndex, rasterise
from svgrl.errors import ConfigError
from svgrl.svg.drawing import Path
from svgrl.svg.load import load_drawing
from svgrl.svg.metrics import ssim
from svgrl.svg.reference import reference_render
from svgrl.svg.render import render
from svgrl.svg.write import to_svg
from svgrl.tokens.codec import encode
from svgrl.tokens.layout import TokenLayout

L = TokenLayout()


def _soft(d, size):
    d = without_arcs(d)
    paths = []
    for p in d.paths:
        pts, lines, cubics, _ = _path_tensors(p)
        idx = PathIndex(torch.tensor(lines).reshape(-1, 2), torch.tensor(cubics).reshape(-1, 4),
                        p.fill_rule == "evenodd")
        paths.append((torch.tensor(pts, dtype=torch.float32), idx,
                      torch.tensor(p.fill, dtype=torch.float32) / 255))
    return rasterise(paths, size, float(d.width), softness=0.5)


def _jitter(d, r, seed=0):
    d = without_arcs(d)
    rng = np.random.default_rng(seed)
    paths = []
    for p in d.paths:
        cmds = [(c[0], *[min(199, max(0, v + float(rng.integers(-r, r + 1)))) for v in c[1:]])
                for c in p.commands]
        paths.append(Path(tuple(cmds), p.fill, p.fill_rule))
    return d.with_paths(tuple(paths))


@pytest.mark.parametrize("name,style", [("heart", "filled"), ("home", "outline")])
def test_soft_raster_matches_skia_pixels(name, style):
    d = load_drawing(tabler_file(name, style))
    soft = (_soft(d, 96).numpy() * 255).round().astype(np.uint8)
    hard = render(d, 96)
    # same ink where it matters; edges differ by the softness (thin strokes most)
    assert abs((soft < 128).mean() - (hard < 128).mean()) < 0.01
    diff = np.abs(soft.astype(int) - hard).mean()
    assert diff < 10.0 and ssim(soft, hard) > 0.85
    moved = \
        np.roll(hard, 4, axis=1)  # the same icon 4 px off is far further away
    assert np.abs(soft.astype(int) - moved).mean() > 1.5 * diff


def test_refine_moves_a_disturbed_drawing_back_deterministically():
    d = load_drawing(tabler_file("heart", "filled"))
    target = reference_render(to_svg(d), 200)
    bad = _jitter(d, 6)
    cfg = RefineConfig(steps=25, size=48)
    out, info = refine_drawing(bad, target, cfg, L)
    assert info["kept"] == "refined" and info["steps"] == 25
    assert info["ssim_refined"] > info["ssim_start"] + 0.02
    assert info["loss_last"] < info["loss_first"]
    assert len(encode(out, L)) <= len(encode(bad, L))
    again, _ = refine_drawing(bad, target, cfg, L)
    assert again == out


def test_budget_halves_tokens_and_time_bound_stops():
    d = load_drawing(tabler_file("home", "outline"))
    n = len(encode(d, L))
    half = reduce_to_budget(d, n // 2, L)
    assert len(encode(half, L)) <= n // 2 and half.paths
    target = reference_render(to_svg(d), 200)
    out, info = refine_drawing(d, target, RefineConfig(steps=1000, seconds=0.5, budget=0.5), L)
    assert info["timed_out"] and info["steps"] < 1000 and info["tokens"] <= n // 2
    with pytest.raises(ConfigError):
        RefineConfig(budget=1.5)


def test_refine_system_keeps_its_time_bound_for_the_whole_sample():
    from svgrl.bench.factory import make_system
    from svgrl.bench.systems import SystemInput, parse_spec

    d = load_drawing(tabler_file("home", "outline"))
    image = reference_render(to_svg(d), 200)
    system = make_system(parse_spec("refine,seconds=0.5,steps=100000,budget=0.5:vtracer"))
    t = time.perf_counter()
    system(SystemInput("home", "image", "", image, 0))
    spent = time.perf_counter() - t
    info = system.last_info
    assert info["timed_out"] and info["steps"] < 100000
    assert abs(info["seconds"] - spent) < 0.1  # counted from the start of the sample
    # unbounded, 100000 steps take over an hour; bounded, the sample ends soon after 0.5 s
    # (the last step, the snap and two resvg renders), with slack for a loaded machine
    assert spent < 3.0


def test_refine_cli(tmp_path):
    from svgrl.cli import main

    src = tabler_file("star", "filled")
    d = load_drawing(src)
    start = tmp_path / "start.svg"
    start.write_text(to_svg(_jitter(d, 5, seed=1)))
    out = tmp_path / "out.svg"
    assert main(["refine", str(start), "--target", str(src), "-o", str(out), "--steps", "20"]) == 0
    target = reference_render(src.read_bytes(), 200)
    assert ssim(reference_render(out.read_bytes(), 200), target) >= \
        ssim(reference_render(start.read_bytes(), 200), target)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    assert main(["refine", str(start), "--target", str(bad), "-o", str(out)]) == 2


@pytest.mark.slow  # three system workers, each importing torch
def test_refine_system_in_the_bench(icon_folder, tmp_path):
    from svgrl.bench.run import BenchConfig, run_bench

    res = run_bench(BenchConfig(data=str(icon_folder), out=str(tmp_path / "b"), limit=2,
                                systems=["vtracer", "refine,steps=15:vtracer",
                                         "refine,steps=15,budget=0.5:vtracer"],
                                progress=False))
    v, r, h = (res["systems"][k] for k in res["systems"])
    assert r["valid"] == h["valid"] == 1.0
    assert r["ssim"] >= v["ssim"] and r["tokens_mean"] <= v["tokens_mean"]
    assert h["tokens_mean"] <= 0.5 * v["tokens_mean"] + 1
    rec = res["samples"]["refine,steps=15:vtracer"][0]
    assert rec["info"]["steps"] == 15
    text = run_bench(BenchConfig(data=str(icon_folder), out=str(tmp_path / "t"), limit=1,
                                 task="text", systems=["refine:vtracer"], progress=False))
    assert "optimises against an image" in text["samples"]["refine:vtracer"][0]["error"]
