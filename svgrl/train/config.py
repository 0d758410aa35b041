"""`SFTConfig`: the options of ``svgrl train sft`` (`svgrl.train.sft` runs them). Kept free
of torch so the CLI builds its parser (and answers ``--help``) without loading torch."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from svgrl.errors import ConfigError

# Peak learning rates when --lr is not given. The tiny model learns from scratch: the demo and
# the README's recipe train it at 2e-3 (40 steps on 200 icons: validation loss 7.27 at 2e-3,
# 9.89 at 3e-4, unigram baseline 7.44); pretrained backbones are fine-tuned at 3e-4.
TINY_LR, PRETRAINED_LR = 2e-3, 3e-4


@dataclass
class SFTConfig:
    """Options of ``svgrl train sft`` (the backbone has its own `BackboneConfig`)."""

    data: str = field(default="", metadata={"help": "dataset folder from `svgrl data build`"})
    out: str = field(default="", metadata={"help": "run folder to create (or resume)"})
    resume: bool = field(default=False, metadata={
        "help": "continue the run in --out from its latest checkpoint; its settings are read "
                "from RUN/run.json (flags that would change them are refused; --max-steps "
                "extends a finished run)"})
    max_steps: int = field(default=1000, metadata={"help": "optimiser steps in total"})
    batch_size: int = field(default=8, metadata={"help": "sequences per micro-batch"})
    grad_accum: int = field(default=1, metadata={
        "help": "micro-batches per optimiser step (effective batch = batch_size × grad_accum)"})
    lr: float | None = field(default=None, metadata={
        "help": "peak learning rate (AdamW; default 2e-3 for the from-scratch tiny backbone, "
                "3e-4 for pretrained ones; stored in run.json as resolved)"})
    min_lr_ratio: float = field(default=0.1, metadata={
        "help": "cosine floor as a fraction of --lr (nanoGPT / Chinchilla: 0.1)"})
    # nanoGPT warms up for 2,000 of 600,000 steps; a fixed 100 would swallow a short run
    # whole, so the default scales with it and stops at 100.
    warmup_steps: int | None = field(default=None, metadata={
        "help": "linear warm-up steps (default: a tenth of --max-steps, at most 100; stored "
                "in run.json as resolved)"})
    weight_decay: float = field(default=0.1, metadata={
        "help": "AdamW weight decay on matrices (not on biases and norms; nanoGPT: 0.1)"})
    beta2: float = field(default=0.95, metadata={"help": "AdamW β2 (nanoGPT: 0.95)"})
    grad_clip: float = field(default=1.0, metadata={
        "help": "clip the global gradient norm to this, 0 = off"})
    text_weight: float = field(default=1.5, metadata={
        "help": "sampling weight of the text-to-SVG task (OmniSVG training mix: 1.5)"})
    image_weight: float = field(default=1.0, metadata={
        "help": "sampling weight of the image-to-SVG task (OmniSVG: 1.0); 0 = off"})
    reference_weight: float = field(default=1.0, metadata={
        "help": "sampling weight of the character-reference task (used where OpenMoji and "
                "Twemoji pairs exist); 0 = off"})
    max_tokens: int = field(default=1024, metadata={
        "help": "skip examples whose prompt + SVG exceed this many tokens"})
    image_size: int = field(default=64, metadata={
        "help": "image side (px): the vision prefix's input; for Qwen2.5-VL the render size "
                "its own processor then resizes (use ≥ 224 with a real checkpoint)"})
    patch_size: int = field(default=8, metadata={"help": "vision prefix: patch side (px)"})
    point_init: Literal["fourier", "default"] = field(default="fourier", metadata={
        "help": "init of the point-token embeddings (see svgrl.model.svglm)"})
    precision: Literal["auto", "fp32", "bf16"] = field(default="auto", metadata={
        "help": "auto: bf16 autocast on a GPU that supports it, else fp32 (always on CPU)"})
    eval_every: int = field(default=200, metadata={"help": "validate every N steps, 0 = end"})
    eval_examples: int = field(default=256, metadata={
        "help": "validation examples per task (the first N, fixed)"})
    save_every: int = field(default=200, metadata={"help": "checkpoint every N steps"})
    keep_last: int = field(default=2, metadata={"help": "checkpoints kept, 0 = all"})
    log_every: int = field(default=10, metadata={"help": "TensorBoard scalars every N steps"})
    threads: int = field(default=0, metadata={"help": "torch CPU threads, 0 = torch default"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})
    nproc: int = field(default=1, metadata={
        "help": "data-parallel processes on this machine: starts torchrun's elastic agent "
                "(as `torchrun --standalone --nproc-per-node N -m svgrl.cli train sft ...`; "
                "for several machines run torchrun yourself). --batch-size and --grad-accum "
                "are per process: the global batch is their product × N"})

    def __post_init__(self) -> None:
        if self.warmup_steps is None and isinstance(self.max_steps, int):
            self.warmup_steps = min(100, self.max_steps // 10)
        if not self.data:
            raise ConfigError("give the dataset with --data DIR (built by `svgrl data build`)")
        if not self.out:
            raise ConfigError("give the run folder with --out RUN")
        for name, lo in (("max_steps", 1), ("batch_size", 1), ("grad_accum", 1),
                         ("warmup_steps", 0), ("max_tokens", 16), ("eval_every", 0),
                         ("eval_examples", 1), ("save_every", 1), ("keep_last", 0),
                         ("log_every", 1), ("threads", 0), ("nproc", 1)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ConfigError(f"--{name.replace('_', '-')} {v!r}: use an integer ≥ {lo}")
        if not ((self.lr is None or self.lr > 0) and 0 <= self.min_lr_ratio <= 1
                and 0 <= self.beta2 < 1 and self.weight_decay >= 0 and self.grad_clip >= 0):
            raise ConfigError("need --lr > 0, 0 ≤ --min-lr-ratio ≤ 1, 0 ≤ --beta2 < 1, "
                              "--weight-decay ≥ 0 and --grad-clip ≥ 0")
        ws = (self.text_weight, self.image_weight, self.reference_weight)
        if min(ws) < 0 or max(ws) <= 0:
            raise ConfigError(f"task weights {ws} (text, image, reference): use values ≥ 0 "
                              "with at least one > 0")
        if self.image_size % self.patch_size:
            raise ConfigError(f"--patch-size {self.patch_size} must divide --image-size "
                              f"{self.image_size}")

    @property
    def weights(self) -> dict[str, float]:
        return {"text": self.text_weight, "image": self.image_weight,
                "reference": self.reference_weight}

    @property
    def uses_images(self) -> bool:
        return self.image_weight > 0 or self.reference_weight > 0


def with_default_lr(cfg: SFTConfig, backbone: str) -> SFTConfig:
    """`cfg` with ``lr`` resolved for the backbone named `backbone` when it was not given."""
    if cfg.lr is not None:
        return cfg
    return dataclasses.replace(cfg, lr=TINY_LR if backbone == "tiny" else PRETRAINED_LR)
