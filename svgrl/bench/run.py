"""`run_bench`: every system on every target, scored alike, written to ``OUT/``.

    OUT/results.json          every number: per system and per sample, with the command,
                              config, versions and seed (`RESULTS_FORMAT`, version 1)
    OUT/report.html           tables, plots, worst-first grid (`svgrl.bench.report`)
    OUT/samples/SYSTEM/ID.svg each system's output as it wrote it
    OUT/samples/SYSTEM/ID.png the resvg render that was scored

Stages: load targets (resvg renders) → per system, a worker process answers one sample at a
time under a time limit (`svgrl.bench.worker`) → each answer is parsed, quantised, counted
and rendered (`svgrl.bench.metrics.to_scored`) and scored → learned metrics over all renders
(`svgrl.bench.learned`, when weights are given) → results.json and report.html.
"""

from __future__ import annotations

import json
import platform
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from svgrl.bench.metrics import is_blank, quality, summarise, to_scored
from svgrl.bench.systems import SamplingFlags, SystemInput, parse_spec, sample_seed
from svgrl.bench.targets import Target, is_built, load_targets
from svgrl.errors import ConfigError, SvgrlError
from svgrl.progress import bar as progress_bar

RESULTS_FORMAT = "svgrl.bench"
RESULTS_VERSION = 1
TASKS = ("image", "text", "reference")


@dataclass
class BenchConfig:
    data: str = field(default="", metadata={
        "help": "a `svgrl data build` folder, or SVG source: a .svg file, a folder of SVGs, "
                "a source name (pytablericons, fontawesomefree, openmoji, ...)"})
    split: str = field(default="test", metadata={"help": "split of a built dataset"})
    task: str = field(default="image", metadata={
        "help": "image: vectorise the target's render; text: draw from its caption; "
                "reference: redraw the same emoji from the other set's drawing",
        "choices": TASKS})
    systems: list[str] = field(default_factory=lambda: ["oracle", "vtracer"], metadata={
        "help": "systems to compare: oracle, vtracer, potrace, folder:DIR, run:PATH, "
                "refine:SPEC (options: refine,budget=0.5:vtracer)"})
    out: str = field(default="", metadata={"help": "output folder"})
    limit: int = field(default=0, metadata={
        "help": "score N targets spread evenly over the data (0 = all)"})
    seed: int = field(default=0, metadata={"help": "seed of sampling and refinement"})
    size: int = field(default=200, metadata={
        "help": "render size (px) of targets and outputs for scoring, on white, by resvg"})
    timeout: float = field(default=120.0, metadata={
        "help": "seconds one system may take on one sample before it counts as failed"})
    worker_start_s: float = field(default=120.0, metadata={
        "help": "seconds a system's process may take to start (imports, model load) before "
                "its row fails with the reason"})
    threads: int = field(default=1, metadata={"help": "torch threads per system process"})
    memory_mb: int = field(default=16384, metadata={
        "help": "address-space limit of a system's process, MB (torch alone maps ~4 GB)"})
    temperature: float | None = field(default=None, metadata={
        "help": "run: sampling temperature (default: the task's OmniSVG preset)"})
    top_p: float | None = field(default=None, metadata={"help": "run: top-p (default: preset)"})
    top_k: int | None = field(default=None, metadata={"help": "run: top-k (default: preset)"})
    max_new_tokens: int = field(default=1024, metadata={"help": "run: token budget per SVG"})
    dino: str | None = field(default=None, metadata={
        "help": "local DINOv2 folder (transformers) for DINO score and FD-DINOv2"})
    clip: str | None = field(default=None, metadata={
        "help": "local CLIP folder (transformers) for CLIP score and FID on CLIP features"})
    lpips: str | None = field(default=None, metadata={
        "help": "local LPIPS folder: backbone + linear-head weights (see svgrl.bench.learned)"})
    grid_rows: int = field(default=24, metadata={
        "help": "targets shown in the report's worst-first grid"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})
    cache: str | None = field(default=None, metadata={"help": "svgrl cache root (npm sets)"})

    def __post_init__(self) -> None:
        if not self.data or not self.out:
            raise ConfigError("give --data DATA and -o OUT")
        if self.task not in TASKS:
            raise ConfigError(f"--task {self.task!r}: choose from {', '.join(TASKS)}")
        if not self.systems:
            raise ConfigError("give at least one --system")
        if len(set(self.systems)) != len(self.systems):
            raise ConfigError(f"--system lists a system twice: {self.systems}")
        for s in self.systems:
            parse_spec(s)
        if not 16 <= self.size <= 2048:
            raise ConfigError(f"--size {self.size}: use 16..2048 px")
        if not 0 < self.worker_start_s <= 86400:
            raise ConfigError(f"--worker-start-s {self.worker_start_s}: use (0, 86400] s")
        if self.limit < 0 or not 0 < self.timeout <= 3600 or self.threads < 0 or \
                self.grid_rows < 0 or self.memory_mb < 256:
            raise ConfigError("--limit, --threads and --grid-rows must be ≥ 0, --timeout in "
                              "(0, 3600] s and --memory-mb ≥ 256")
        for flag in ("dino", "clip", "lpips"):
            path = getattr(self, flag)
            if path is not None and not Path(path).expanduser().is_dir():
                raise ConfigError(f"--{flag} {path!r} is not a folder; pass the local folder "
                                  "holding the weights (nothing is downloaded)")
        if not (Path(self.data).expanduser().exists() or "/" not in self.data):
            raise ConfigError(f"--data {self.data!r} does not exist")


def slug(name: str) -> str:
    """A file-name-safe, readable form of a system name or target id."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", name.replace("/", "__")).strip("_")
    return s[:120] or "_"


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for dist in ("svgrl", "numpy", "resvg-py", "skia-python", "vtracer", "torch",
                 "transformers"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


def _layout(cfg: BenchConfig):
    from svgrl.tokens.layout import TokenLayout

    if is_built(cfg.data):
        from svgrl.data.store import read_manifest

        return TokenLayout.from_json(read_manifest(cfg.data)["layout"])
    return TokenLayout()


def _input(t: Target, cfg: BenchConfig) -> SystemInput:
    image = {"image": t.image, "reference": t.reference, "text": None}[cfg.task]
    return SystemInput(t.id, cfg.task, t.caption, image, sample_seed(cfg.seed, t.id), t.svg)


def _score_answer(ans: Any, target: Target, cfg: BenchConfig, layout, out_dir: Path
                  ) -> tuple[dict, np.ndarray]:
    from svgrl.atomic import write_bytes, write_text
    from svgrl.svg.image_io import encode_png

    rec: dict[str, Any] = {"id": target.id, "valid": False, "error": ans.error,
                           "seconds": ans.seconds, "tokens": None, "paths": None,
                           "blank": None, "svg": None, "png": None}
    if ans.info:
        rec["info"] = ans.info
    image = np.full_like(target.image, 255)
    name = slug(target.id)
    if ans.svg is not None:
        write_text(out_dir / f"{name}.svg", ans.svg)
        rec["svg"] = f"{out_dir.parent.name}/{out_dir.name}/{name}.svg"
        try:
            s = to_scored(ans.svg, cfg.size, layout)
            image = s.image
            rec.update(valid=True, tokens=s.tokens, paths=s.paths, blank=is_blank(image))
        except SvgrlError as e:
            rec["error"] = f"invalid output: {type(e).__name__}: {e}"[:500]
        except Exception as e:  # noqa: BLE001 — resvg and friends raise plain exceptions
            rec["error"] = f"invalid output: {type(e).__name__}: {e}"[:500]
    if rec["valid"]:
        write_bytes(out_dir / f"{name}.png", encode_png(image))
        rec["png"] = f"{out_dir.parent.name}/{out_dir.name}/{name}.png"
    rec.update(quality(image, target.image))
    return rec, image


def run_bench(cfg: BenchConfig, *, command: list[str] | None = None,
              factory: str | None = None) -> dict:
    """Run the bench of `cfg`; write OUT/results.json and OUT/report.html; return the
    results dict. `factory` (``"module:function"``, called as ``f(spec, flags, threads)``)
    replaces `svgrl.bench.factory.make_system` (tests inject failing systems this way)."""
    from svgrl.atomic import write_text
    from svgrl.bench.report import write_report
    from svgrl.bench.worker import SystemWorker

    specs = [parse_spec(s) for s in cfg.systems]
    out = Path(cfg.out).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"-o {str(out)!r} is a file; name a folder")
    layout = _layout(cfg)
    targets = load_targets(cfg.data, cfg.split, limit=cfg.limit, size=cfg.size, task=cfg.task,
                           cache=cfg.cache)
    scorable = [t for t in targets if t.error is None]
    flags = SamplingFlags(cfg.temperature, cfg.top_p, cfg.top_k, cfg.max_new_tokens)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    systems: dict[str, dict] = {}
    samples: dict[str, list[dict]] = {}
    renders: dict[str, list[np.ndarray]] = {}
    t_start = time.perf_counter()
    for spec in specs:
        out_dir = out / "samples" / slug(spec.text)
        out_dir.mkdir(parents=True, exist_ok=True)
        worker = SystemWorker(spec, flags, threads=cfg.threads, timeout=cfg.timeout,
                              memory_mb=cfg.memory_mb, factory=factory,
                              start_timeout=cfg.worker_start_s)
        recs, imgs = [], []
        try:
            bar = progress_bar(scorable, desc=spec.text[:40], unit="sample",
                               disable=not cfg.progress)
            for t in bar:
                rec, img = _score_answer(worker(_input(t, cfg)), t, cfg, layout, out_dir)
                recs.append(rec)
                imgs.append(img)
        finally:
            worker.close()
        summary = summarise(recs)
        summary.update(settings=worker.settings, setup_seconds=worker.setup_seconds,
                       setup_error=worker.setup_error, restarts=worker.restarts)
        systems[spec.text], samples[spec.text], renders[spec.text] = summary, recs, imgs
    from svgrl.bench.learned import learned_metrics

    learned_metrics(cfg, scorable, renders, systems, samples)
    results = {
        "format": RESULTS_FORMAT, "version": RESULTS_VERSION,
        "command": command if command is not None else sys.argv,
        "config": asdict(cfg), "versions": versions(), "seed": cfg.seed,
        "task": cfg.task, "data": cfg.data, "split": cfg.split if is_built(cfg.data) else None,
        "size": cfg.size, "grid": layout.grid, "renderer": "resvg",
        "targets": [{"id": t.id, "caption": t.caption, "error": t.error} for t in targets],
        "targets_failed": sum(t.error is not None for t in targets),
        "seconds": time.perf_counter() - t_start,
        "systems": systems, "samples": samples,
    }
    write_text(out / "results.json", json.dumps(results, indent=1, default=_json_default))
    write_report(out, results, scorable, renders, cfg.grid_rows)
    results["report"] = str(out / "report.html")
    return results


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON: {type(o).__name__}")


JSON_KEYS = ("n", "valid", "ssim", "mse", "psnr", "edge_f1", "blank", "tokens_mean",
             "tokens_p95", "seconds_per_sample", "dino", "clip", "lpips", "fid_clip",
             "fd_dino", "setup_error")


def json_line(results: dict) -> str:
    """The one-line summary `svgrl bench --json` prints last."""
    return json.dumps({"systems": {k: {m: v.get(m) for m in JSON_KEYS if m in v}
                                   for k, v in results["systems"].items()},
                       "targets_failed": results["targets_failed"],
                       "report": results["report"]}, default=_json_default)
