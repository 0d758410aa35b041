"""The systems a bench compares, named by a SPEC string.

    oracle            the target itself through simplify + quantise + tokens (the ceiling of
                      the representation: what a perfect model could write)
    vtracer           vtracer (PyPI) tracing the input image       (see `svgrl.bench.baselines`)
    potrace           Debian's potrace binary tracing the input image (see `baselines`)
    folder:DIR        precomputed SVGs, DIR/<target id>.svg (also <id with / as __>.svg)
    run:PATH          a trained run (`svgrl train sft` / `grpo`; its latest checkpoint) or a
                      model folder, sampled with the bench's sampling flags
    refine:SPEC       another system's output refined against the input image with the soft
                      rasteriser (`svgrl.bench.refine`)

Options go between the kind and the colon, comma separated: ``refine,budget=0.5:vtracer``
(refine to half the tokens the inner system wrote), ``run,temperature=0:runs/sft``. A system
is a plain callable ``SystemInput -> SVG text``; whatever it returns is scored through the
same parse → quantise → tokens path (`svgrl.bench.score`), so every system is counted with
svgrl's tokenizer and rendered by resvg alike.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from svgrl.errors import ConfigError

KINDS = ("oracle", "vtracer", "potrace", "folder", "run", "refine")
_NEEDS_ARG = ("folder", "run", "refine")


@dataclass(frozen=True)
class Spec:
    text: str  # as written on the command line (the system's name in results)
    kind: str
    arg: str = ""
    options: tuple[tuple[str, str], ...] = ()
    inner: Spec | None = None

    def option(self, key: str, default: Any, cast: type = str) -> Any:
        for k, v in self.options:
            if k == key:
                try:
                    return cast(v)
                except ValueError:
                    raise ConfigError(f"system {self.text!r}: option {key}={v!r} is not a "
                                      f"{cast.__name__}") from None
        return default


_OPTIONS = {
    "oracle": (), "vtracer": ("preset",), "potrace": ("threshold", "turdsize", "alphamax"),
    "folder": (), "run": ("temperature", "top_p", "top_k", "max_new_tokens", "best_of",
                          "consensus", "redraws"),
    "refine": ("budget", "steps", "size", "lr", "seconds"),
}


def parse_spec(text: str) -> Spec:
    """``KIND[,key=value...][:ARG]`` → `Spec`; raises `ConfigError` naming what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"empty system spec {text!r}; use one of {', '.join(KINDS)}")
    head, sep, arg = text.partition(":")
    kind, *opts = head.split(",")
    if kind not in KINDS:
        raise ConfigError(f"unknown system {text!r}: the kinds are oracle, vtracer, potrace, "
                          "folder:DIR, run:PATH, refine:SPEC (options as refine,budget=0.5:SPEC)")
    if kind in _NEEDS_ARG and not arg:
        raise ConfigError(f"system {text!r} needs an argument: {kind}:"
                          f"{'SPEC' if kind == 'refine' else 'PATH'}")
    if kind not in _NEEDS_ARG and sep:
        raise ConfigError(f"system {text!r}: {kind} takes no ':' argument")
    options = []
    for o in opts:
        k, eq, v = o.partition("=")
        if not eq or k not in _OPTIONS[kind]:
            known = ", ".join(f"{name}=..." for name in _OPTIONS[kind])
            raise ConfigError(f"system {text!r}: " + (
                f"option {o!r} is not key=value" if not eq else f"unknown option {k!r}") + (
                f"; {kind} takes {known}" if known else f"; {kind} takes no options"))
        options.append((k, v))
    inner = parse_spec(arg) if kind == "refine" else None
    spec = Spec(text, kind, arg, tuple(options), inner)
    check_spec(spec)
    return spec


def check_spec(spec: Spec) -> None:
    """Cheap checks before any work: the folder exists, the run folder has a run file."""
    if spec.kind == "folder" and not Path(spec.arg).expanduser().is_dir():
        raise ConfigError(f"system {spec.text!r}: {spec.arg!r} is not a folder")
    if spec.kind == "run":
        from svgrl.model.checkpoint import RUN_FILE, read_run_meta

        path = Path(spec.arg).expanduser()
        if (path / RUN_FILE).is_file() or not (path / "config.json").is_file():
            read_run_meta(path)  # ModelLoadError: not a run (nor a model) folder, old format
    if spec.option("best_of", 0, int) and spec.option("consensus", 0, int):
        raise ConfigError(f"system {spec.text!r}: give one of best_of and consensus")
    for k, cast in (("budget", float), ("steps", int), ("size", int), ("lr", float),
                    ("seconds", float), ("temperature", float), ("top_p", float),
                    ("top_k", int), ("max_new_tokens", int), ("threshold", float),
                    ("turdsize", int), ("alphamax", float), ("best_of", int),
                    ("consensus", int), ("redraws", float)):
        spec.option(k, None, cast)
    if spec.inner is not None:
        check_spec(spec.inner)


@dataclass
class SystemInput:
    """What a system sees for one target. `target_svg` is for the oracle only."""

    id: str
    task: str  # image, text or reference
    text: str
    image: np.ndarray | None  # (S, S, 3) uint8: the image to vectorise (None for text)
    seed: int
    target_svg: bytes | None = field(default=None, repr=False)


def sample_seed(seed: int, target_id: str) -> int:
    """A per-target seed that does not depend on which other targets are in the bench."""
    return (seed * 1_000_003 + zlib.crc32(target_id.encode())) % (1 << 31)


@dataclass
class SamplingFlags:
    """Sampling settings of `run:` systems (None = the task's OmniSVG preset)."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_new_tokens: int = 1024


class Oracle:
    settings: dict = {"what": "target through svgrl simplify + quantise + tokens"}

    def __call__(self, inp: SystemInput) -> str:
        if inp.target_svg is None:
            raise ConfigError("oracle needs the target SVG")
        return inp.target_svg.decode("utf-8", "replace")


class Folder:
    def __init__(self, root: str):
        self.root = Path(root).expanduser()
        self.settings = {"folder": str(self.root)}

    def __call__(self, inp: SystemInput) -> str:
        for name in (inp.id, inp.id.replace("/", "__"), inp.id.rsplit("/", 1)[-1]):
            p = self.root / f"{name}.svg"
            if p.is_file():
                return p.read_bytes().decode("utf-8", "replace")
        raise FileNotFoundError(f"no {inp.id}.svg in {self.root}")


class Run:
    """Samples one SVG per target from a trained run (the latest checkpoint)."""

    def __init__(self, path: str, spec: Spec, flags: SamplingFlags, threads: int = 1):
        import torch

        from svgrl.model.checkpoint import load_run

        if threads:
            torch.set_num_threads(threads)
        self.lm, meta = load_run(path)
        self.flags = SamplingFlags(spec.option("temperature", flags.temperature, float),
                                   spec.option("top_p", flags.top_p, float),
                                   spec.option("top_k", flags.top_k, int),
                                   spec.option("max_new_tokens", flags.max_new_tokens, int))
        # Test-time selection (`svgrl.model.select`): each answer is chosen among N valid
        # candidates — best render reward against the input image, or the consensus medoid.
        self.best_of = spec.option("best_of", 0, int)
        self.consensus = spec.option("consensus", 0, int)
        self.redraws = spec.option("redraws", 4.0, float)
        self.settings = {"run": path, "step": meta.get("step"), **vars(self.flags),
                         "best_of": self.best_of, "consensus": self.consensus,
                         "redraws": self.redraws}

    def __call__(self, inp: SystemInput) -> str:
        from svgrl.model.prompts import prompt_for
        from svgrl.model.sampling import PRESETS, Sampling
        from svgrl.model.select import select
        from svgrl.svg.write import to_svg

        p, f = PRESETS[inp.task], self.flags
        sampling = Sampling(p.temperature if f.temperature is None else f.temperature,
                            p.top_p if f.top_p is None else f.top_p,
                            p.top_k if f.top_k is None else f.top_k)
        prompt = prompt_for(self.lm, inp.task, text=inp.text if inp.task == "text" else "",
                            image=inp.image)
        if self.best_of and inp.image is None:
            raise ConfigError("best_of scores candidates against the input image; the text "
                              "task has none (use consensus=N)")
        per = self.best_of or self.consensus or 1
        sel = select(self.lm, prompt, 1, sampling, best_of_n=self.best_of,
                     consensus_n=self.consensus, target=inp.image, seed=inp.seed,
                     redraws=self.redraws, max_new_tokens=f.max_new_tokens, batch_size=per)
        self.last_info = {"drawn": sel.drawn.drawn, "redrawn": sel.drawn.redrawn}
        return to_svg(sel.samples[0].drawing)

