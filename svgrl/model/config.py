"""`BackboneConfig`: which model `svgrl.model.backbones` loads. Kept free of torch so the
CLI builds its parser (and answers ``--help``) without loading torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from svgrl.errors import ConfigError
from svgrl.model.tiny import BYTE_VOCAB_SIZE

DTYPE_NAMES = ("float32", "bfloat16", "float16")


@dataclass
class BackboneConfig:
    backbone: str = field(default="tiny", metadata={
        "help": "'tiny', 'smollm2-135m', a .gguf file, or a local Hugging Face model folder"})
    tiny_arch: Literal["llama", "qwen2"] = field(default="llama", metadata={
        "help": "architecture of the tiny model"})
    tiny_layers: int = field(default=2, metadata={"help": "tiny: transformer layers"})
    tiny_d_model: int = field(default=128, metadata={"help": "tiny: hidden size"})
    tiny_heads: int = field(default=4, metadata={"help": "tiny: attention heads"})
    tiny_kv_heads: int = field(default=0, metadata={
        "help": "tiny: key/value heads for grouped-query attention (0 = tiny_heads)"})
    tiny_vocab: int = field(default=0, metadata={
        "help": f"tiny: vocabulary size before SVG tokens (0 = the byte tokenizer's "
                f"{BYTE_VOCAB_SIZE}; larger leaves unused rows)"})
    tiny_max_positions: int = field(default=2048, metadata={"help": "tiny: max sequence length"})
    seed: int = field(default=0, metadata={
        "help": "seed of the run: random initialisation (tiny), data order, sampling"})
    dtype: Literal["float32", "bfloat16", "float16"] = field(default="float32", metadata={
        "help": "parameter dtype (float32 on CPU)"})

    def __post_init__(self) -> None:
        if self.dtype not in DTYPE_NAMES:
            raise ConfigError(f"dtype {self.dtype!r} is not one of {list(DTYPE_NAMES)}")
        if self.backbone != "tiny":
            return
        if self.tiny_arch not in ("llama", "qwen2"):
            raise ConfigError(f"tiny_arch must be 'llama' or 'qwen2', got {self.tiny_arch!r}")
        for name in ("tiny_layers", "tiny_d_model", "tiny_heads", "tiny_max_positions"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if self.tiny_d_model % self.tiny_heads or (self.tiny_d_model // self.tiny_heads) % 2:
            raise ConfigError(
                f"tiny_d_model {self.tiny_d_model} must be divisible by tiny_heads "
                f"{self.tiny_heads} into an even head size (rotary embeddings); e.g. "
                f"--tiny-d-model {self.tiny_heads * 32}")
        kv = self.tiny_kv_heads or self.tiny_heads
        if kv < 0 or self.tiny_heads % kv:
            raise ConfigError(f"tiny_heads {self.tiny_heads} must be a multiple of tiny_kv_heads "
                              f"{self.tiny_kv_heads}")
        if self.tiny_vocab and self.tiny_vocab < BYTE_VOCAB_SIZE:
            raise ConfigError(f"tiny_vocab {self.tiny_vocab} is below the byte tokenizer's "
                              f"{BYTE_VOCAB_SIZE} tokens; use 0 or ≥ {BYTE_VOCAB_SIZE}")
