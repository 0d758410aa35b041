"""`svgrl generate`: sample SVGs from a trained run (text, image or reference prompt), write
SVG + PNG per sample and a ``samples.json`` summary."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from svgrl.config import add_dataclass_args, dataclass_from_args
from svgrl.errors import ConfigError

MAX_IMAGE_BYTES = 32 * 1024 * 1024
MAX_IMAGE_SIDE = 4096


@dataclass
class GenerateConfig:
    run: str = field(default="", metadata={
        "help": "a run folder (`svgrl train sft` or `svgrl train grpo` on an SVG task: its "
                "latest checkpoint) or a model folder"})
    text: str | None = field(default=None, metadata={"help": "text-to-SVG: the description"})
    image: str | None = field(default=None, metadata={
        "help": "image-to-SVG: a PNG (or SVG) to vectorise"})
    reference: str | None = field(default=None, metadata={
        "help": "character reference: a PNG (or SVG) of the character to redraw"})
    n: int = field(default=4, metadata={"help": "number of samples"})
    out: str = field(default="", metadata={"help": "output folder"})
    max_new_tokens: int = field(default=1024, metadata={
        "help": "token budget per SVG (the grammar closes the drawing within it)"})
    temperature: float | None = field(default=None, metadata={
        "help": "sampling temperature (default: the task preset; text 0.5, image 0.3)"})
    top_p: float | None = field(default=None, metadata={"help": "top-p (preset: 0.88 / 0.90)"})
    top_k: int | None = field(default=None, metadata={"help": "top-k (preset: 50)"})
    grammar: bool = field(default=True, metadata={
        "help": "constrain decoding with the SVG grammar (--no-grammar: free sampling)"})
    seed: int = field(default=0, metadata={"help": "sampling seed"})
    batch_size: int = field(default=16, metadata={"help": "samples decoded together"})
    threads: int = field(default=0, metadata={
        "help": "torch CPU threads (0 = torch default; 1 is fastest for small models on a "
                "shared CPU)"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})
    redraws: float = field(default=4.0, metadata={
        "help": "blank or unrenderable samples are redrawn, up to this many × -n extra "
                "samples (0: keep them as drawn)"})
    best_of: int = field(default=0, metadata={
        "help": "image prompts: each sample is the best of N candidates by render reward "
                "against the prompt image"})
    backend: Literal["svgrl", "vllm"] = field(default="svgrl", metadata={
        "help": "svgrl: svgrl's own KV-cached decoder; vllm: vLLM's engine (text prompts, "
                "CUDA, the gpu extra: pip install 'svgrl[gpu]')"})
    consensus: int = field(default=0, metadata={
        "help": "text prompts: each sample is the medoid of N candidates by render "
                "similarity (outliers dropped, token edit distance breaks ties)"})

    def __post_init__(self) -> None:
        given = [k for k in ("text", "image", "reference") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ConfigError("give exactly one of --text, --image, --reference")
        missing = [f for f, v in (("--run RUN", self.run), ("-o OUTDIR", self.out)) if not v]
        if missing:
            raise ConfigError(f"missing {' and '.join(missing)} (RUN: a folder written by "
                              "`svgrl train sft` or `svgrl train grpo`; OUTDIR: where the "
                              "samples go)")
        if not 1 <= self.n <= 100_000 or not 1 <= self.batch_size <= 4096:
            raise ConfigError(f"-n {self.n} / --batch-size {self.batch_size}: use 1..100000 "
                              "samples and a batch of 1..4096")
        if self.threads < 0:
            raise ConfigError(f"--threads {self.threads}: use 0 (torch default) or more")
        if self.best_of and self.consensus:
            raise ConfigError("give one of --best-of (image prompts) and --consensus (text)")
        if self.best_of and self.text is not None:
            raise ConfigError("--best-of scores against the prompt image; for --text prompts "
                              "use --consensus N")
        if not (0 <= self.best_of <= 1024 and 0 <= self.consensus <= 1024
                and 0 <= self.redraws <= 100):
            raise ConfigError(f"--best-of {self.best_of} / --consensus {self.consensus} / "
                              f"--redraws {self.redraws}: use 0..1024 candidates and 0..100")
        if not 8 <= self.max_new_tokens <= 1_000_000:
            raise ConfigError(f"--max-new-tokens {self.max_new_tokens}: use 8..1000000")

    @property
    def task(self) -> str:
        return "text" if self.text is not None else "image" if self.image is not None \
            else "reference"


def read_image(path: str):
    """(H, W, 3) uint8 from a PNG/JPEG (via skia) or an SVG (rendered at 200 px)."""
    from svgrl.svg.image_io import load_image

    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise ConfigError(f"image {path!r} is {size} bytes (limit {MAX_IMAGE_BYTES})")
        data = p.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read image {path!r}: {e.strerror}") from e
    rgb = load_image(data)
    if max(rgb.shape[:2]) > MAX_IMAGE_SIDE:
        raise ConfigError(f"image {path!r} is {rgb.shape[1]}×{rgb.shape[0]} px; the limit "
                          f"is {MAX_IMAGE_SIDE} px a side")
    return rgb


def run_generate(args: argparse.Namespace) -> int:
    import torch

    from svgrl.atomic import write_bytes, write_text
    from svgrl.model.checkpoint import load_run
    from svgrl.model.prompts import prompt_for
    from svgrl.model.sampling import PRESETS, Sampling
    from svgrl.model.select import select
    from svgrl.progress import bar as progress_bar
    from svgrl.svg.image_io import encode_png
    from svgrl.svg.render import render
    from svgrl.svg.write import to_svg

    cfg = dataclass_from_args(GenerateConfig, args)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.progress:  # loading torch, transformers and the weights takes seconds
        print(f"loading {cfg.run} ...", file=sys.stderr, flush=True)
    lm, meta = load_run(cfg.run)
    image = None if cfg.task == "text" else read_image(cfg.image or cfg.reference)
    prompt = prompt_for(lm, cfg.task, text=cfg.text or "", image=image)
    p = PRESETS[cfg.task]
    sampling = Sampling(p.temperature if cfg.temperature is None else cfg.temperature,
                        p.top_p if cfg.top_p is None else cfg.top_p,
                        p.top_k if cfg.top_k is None else cfg.top_k)
    backend = None
    if cfg.backend == "vllm":
        from svgrl.model.checkpoint import model_folder
        from svgrl.model.vllm_backend import VllmBackend

        backend = VllmBackend(model_folder(cfg.run)[0], grammar=cfg.grammar)
    per = cfg.best_of or cfg.consensus or 1
    with progress_bar(total=cfg.n * per, desc="generate", unit="svg", disable=not cfg.progress,
              dynamic_ncols=True) as bar:

        def drew(k: int) -> None:  # redraws extend the bar
            bar.total = max(bar.total, bar.n + k)
            bar.update(k)

        sel = select(lm, prompt, cfg.n, sampling, best_of_n=cfg.best_of,
                     consensus_n=cfg.consensus, target=image, seed=cfg.seed,
                     redraws=cfg.redraws, max_new_tokens=cfg.max_new_tokens,
                     grammar=cfg.grammar, batch_size=cfg.batch_size, progress=drew,
                     backend=backend)
    samples = sel.samples
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, s in enumerate(samples):
        write_text(out / f"{i:04d}.svg", to_svg(s.drawing))
        write_bytes(out / f"{i:04d}.png", encode_png(render(s.drawing, 200)))
        rows.append({"file": f"{i:04d}.svg", "tokens": len(s.ids), "paths": len(s.drawing.paths),
                     "complete": s.complete, "blank": s.blank, "issues": s.issues[:4]})
    summary = {"run": cfg.run, "step": meta.get("step"), "task": cfg.task,
               "text": cfg.text, "sampling": vars(sampling) if hasattr(sampling, "__dict__")
               else str(sampling), "grammar": cfg.grammar,
               "backend": cfg.backend,
               "selection": ("best-of" if cfg.best_of else "consensus" if cfg.consensus
                             else None), "candidates": cfg.best_of or cfg.consensus or 1,
               "drawn": sel.drawn.drawn, "redrawn": sel.drawn.redrawn,
               "rejected": dict(sel.drawn.reasons), "seconds": round(sel.seconds, 3),
               "samples": rows}
    write_text(out / "samples.json", json.dumps(summary, indent=1, default=str))
    blank = sum(r["blank"] for r in rows)
    broken = sum(not r["complete"] for r in rows)
    why = ", ".join(f"{v} {k}" for k, v in sel.drawn.reasons.items())
    print(f"wrote {len(rows)} samples to {out} ({blank} blank, {broken} unfinished; "
          f"{sel.drawn.redrawn} redrawn{': ' + why if why else ''}; {sel.drawn.drawn} drawn "
          f"in {sel.seconds:.1f} s)")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="sample SVGs from a trained run",
                       description="Grammar-constrained, KV-cached sampling from the latest "
                                   "checkpoint of RUN (an SFT or SVG GRPO run) or a model "
                                   "folder; writes NNNN.svg, NNNN.png and samples.json.")
    add_dataclass_args(p, GenerateConfig, skip=("n", "out"))
    p.add_argument("-n", dest="n", type=int, default=4, help="number of samples (default: 4)")
    p.add_argument("-o", "--out", dest="out", default="", help="output folder")
    p.set_defaults(func=run_generate)
