"""`SvgRewardConfig`: the weights and gates of `svgrl.rewards.svg.SvgReward`. Kept free of
numpy, numba and the renderers so the CLI builds its parser (and answers ``--help``) without
loading them."""

from __future__ import annotations

from dataclasses import dataclass, field

from svgrl.bounded import ItemLimits
from svgrl.errors import ConfigError


@dataclass
class SvgRewardConfig:
    """Weights and gates of the SVG reward. Parts and length term: RLRF (arXiv 2505.20793,
    §3.2); the 0.1 / 0.9 format/correctness split mirrors Magistral §2.2; part weights are
    equal by default (our choice — RLRF tunes them per task)."""

    size: int = field(default=200, metadata={"help": "render size in pixels (both images)"})
    grid: int = field(default=200, metadata={"help": "token layout grid G"})
    gradients: bool = field(default=False, metadata={
        "help": "the token layout has gradient paint tokens (svgrl.tokens.layout)"})
    base_vocab_size: int = field(default=0, metadata={
        "help": "ids below this are text tokens (SVG ids follow; see svgrl.tokens.layout)"})
    floor: float = field(default=0.0, metadata={"help": "reward of a completion that fails "
                                                         "the format gate"})
    format_reward: float = field(default=0.1, metadata={"help": "reward for a valid drawing"})
    similarity_reward: float = field(default=0.9, metadata={
        "help": "scale of the render similarity, mapped from [-1, 1] to [0, 1]"})
    efficiency_reward: float = field(default=0.1, metadata={
        "help": "scale of the length term r_len in [-1, 1] (0 disables)"})
    efficiency_fraction: float = field(default=0.5, metadata={
        "help": "f: no length penalty up to f × the target's token count (RLRF: 0.5)"})
    pixel_weight: float = field(default=1.0, metadata={"help": "weight of z-normalised L2"})
    ssim_weight: float = field(default=1.0, metadata={"help": "weight of SSIM (0 skips it)"})
    edge_weight: float = field(default=1.0, metadata={"help": "weight of edge similarity "
                                                               "(0 skips it)"})
    learned_weight: float = field(default=1.0, metadata={
        "help": "weight of the learned similarity (used only with --learned-path)"})
    learned_path: str = field(default="", metadata={
        "help": "local TorchScript file of an LPIPS/DreamSim/CLIP/DINO module ('' = none)"})
    learned_preset: str = field(default="dino", metadata={
        "help": "preprocessing and kind of the learned module",
        "choices": ("clip", "dino", "lpips", "dreamsim")})
    edge_threshold: float = field(default=32.0, metadata={
        "help": "grey-level |dx|+|dy| above which a pixel is an edge (a full step gives 255)"})
    edge_cell: int = field(default=4, metadata={"help": "edge pixels are counted in cells of "
                                                         "this many pixels (shift tolerance)"})
    strict: bool = field(default=False, metadata={
        "help": "fail the gate on any grammar problem, not only on nothing drawable"})
    require_complete: bool = field(default=True, metadata={
        "help": "fail the gate when the ids have no </svg> (budget exhausted)"})
    consensus: bool = field(default=False, metadata={
        "help": "rows without a target score their mean similarity to the rest of their group"})
    workers: int = field(default=2, metadata={"help": "grading processes (0 = in-process)"})
    chunk: int = field(default=16, metadata={"help": "completions per worker task"})
    timeout_s: float = field(default=60.0, metadata={
        "help": "CPU seconds one grading task (a target and up to `chunk` completions) may "
                "use; a task over it, over its memory or crashing its worker scores the floor "
                "with that reason, the rest of the batch is graded"})
    memory_mb: int = field(default=3072, metadata={
        "help": "address space of a grading worker, MB"})

    def __post_init__(self) -> None:
        if not 7 + 2 <= self.size <= 2048:
            raise ConfigError(f"size={self.size}: use 9..2048 pixels")
        for name in ("format_reward", "similarity_reward", "efficiency_reward", "pixel_weight",
                     "ssim_weight", "edge_weight", "learned_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)}: use a value ≥ 0")
        if self.pixel_weight + self.ssim_weight + self.edge_weight == 0 and not self.learned_path:
            raise ConfigError("pixel, ssim and edge weights are all 0 and no --learned-path: "
                              "give at least one similarity a positive weight")
        if self.floor > self.format_reward - self.efficiency_reward:
            raise ConfigError(
                f"floor={self.floor} > format_reward − efficiency_reward = "
                f"{self.format_reward - self.efficiency_reward}: a valid drawing could score "
                "below a broken one; lower --floor or raise --format-reward")
        if not 0 < self.efficiency_fraction <= 4:
            raise ConfigError(f"efficiency_fraction={self.efficiency_fraction}: use (0, 4]")
        if self.edge_cell < 1 or self.edge_cell > self.size // 4:
            raise ConfigError(f"edge_cell={self.edge_cell}: use 1..size/4")
        if self.workers < 0 or self.chunk < 1 or self.timeout_s <= 0:
            raise ConfigError("workers ≥ 0, chunk ≥ 1 and timeout_s > 0 are required")
        ItemLimits(item_cpu_s=self.timeout_s, item_memory_mb=self.memory_mb)  # checks both
