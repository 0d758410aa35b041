"""`ServeConfig`: what `svgrl serve` binds to and the limits every request is held to."""

from __future__ import annotations

from dataclasses import dataclass, field

from svgrl.errors import ConfigError
from svgrl.svg.image_io import MAX_PIXELS

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass
class ServeConfig:
    run: str = field(default="", metadata={"help": "run folder to serve (any svgrl run)"})
    host: str = field(default="127.0.0.1", metadata={
        "help": "address to bind; loopback by default — pass 0.0.0.0 only on a trusted network"})
    port: int = field(default=8000, metadata={"help": "TCP port (0: any free port)"})
    max_batch_rows: int = field(default=32, metadata={
        "help": "rows (samples) decoded together; requests from different clients share them"})
    max_queue: int = field(default=64, metadata={
        "help": "requests waiting for rows; beyond it new requests get 429"})
    max_n: int = field(default=16, metadata={"help": "most samples one request may ask for"})
    max_candidates: int = field(default=8, metadata={
        "help": "most best-of / consensus candidates per sample"})
    max_new_tokens: int = field(default=1024, metadata={
        "help": "largest token budget one request may ask for"})
    default_new_tokens: int = field(default=256, metadata={
        "help": "token budget of a request that names none"})
    max_body_bytes: int = field(default=12 << 20, metadata={
        "help": "largest request body; larger bodies get 413 before they are read whole"})
    max_image_bytes: int = field(default=8 << 20, metadata={
        "help": "largest uploaded image (decoded bytes)"})
    max_image_pixels: int = field(default=MAX_PIXELS, metadata={
        "help": "largest uploaded image in pixels, checked from its header before decoding"})
    preview_size: int = field(default=200, metadata={"help": "PNG preview side, pixels"})
    grammar: bool = field(default=True, metadata={
        "help": "constrain decoding with the SVG grammar (--no-grammar: free sampling)"})
    threads: int = field(default=1, metadata={
        "help": "torch threads for the model (1 suits small models on a CPU)"})

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port {self.port}: use 0..65535")
        if not 1 <= self.max_n <= self.max_batch_rows:
            raise ConfigError(f"--max-n {self.max_n} must be 1..--max-batch-rows "
                              f"({self.max_batch_rows}): a request's rows decode together")
        if self.max_candidates < 1:
            raise ConfigError(f"--max-candidates {self.max_candidates}: use 1 or more (a "
                              "request's n × candidates must also fit --max-batch-rows)")
        if not 1 <= self.max_queue <= 100_000:
            raise ConfigError(f"--max-queue {self.max_queue}: use 1..100000")
        if not 8 <= self.default_new_tokens <= self.max_new_tokens:
            raise ConfigError(f"--default-new-tokens {self.default_new_tokens} must be 8.."
                              f"--max-new-tokens ({self.max_new_tokens})")
        if self.max_body_bytes < 1024 or self.max_image_bytes < 1:
            raise ConfigError("--max-body-bytes must be at least 1024 and --max-image-bytes "
                              "positive")
        if not 16 <= self.preview_size <= 1024:
            raise ConfigError(f"--preview-size {self.preview_size}: use 16..1024")
        if self.threads < 1:
            raise ConfigError(f"--threads {self.threads}: use 1 or more")

    @property
    def loopback(self) -> bool:
        return self.host in LOOPBACK or self.host.startswith("127.")
