"""`TokenLayout`: the one place where SVG token ids are defined.

OmniSVG (arXiv 2504.06263, §3.2) turns each path command into a token and each coordinate
*point* into a single token. Its public code types the offsets into the base vocabulary by hand
and its training encoder writes ids one lower than its decoder reads. Here every id is computed
from this object, relative to `base_vocab_size`, so the same layout serves a bare SVG model
(`base_vocab_size=0`) and any text LM extended with SVG tokens (`svgrl.tokens.hf`).

Ranges, in id order (each offset by `base_vocab_size`):

    specials    PAD, BOS "<svg>", EOS "</svg>", task markers text / image / reference   6
    commands    M L C A Z                                                                5
    fills       4096 12-bit colours (index r4·256 + g4·16 + b4), none, currentColor  4098
    rules       nonzero, evenodd                                                         2
    rotations   arc x-axis rotation, `n_rotation` bins of 180/n_rotation degrees        100
    flags       large-arc 0/1, sweep 0/1                                                  4
    points      G×G grid points, index y·G + x                                        40000

Sequence per drawing: ``BOS (FILL [RULE] M p (L p | C p p p | A r θ fa fs p | Z | M p)*)+ EOS``.

Decisions (documented here because every stage depends on them):

- RULE is written only for ``evenodd``; ``nonzero`` (the SVG default, ~all icon paths) is
  implied, which saves one token per path. The decoder still reads an explicit nonzero token.
- Arc rotation: an ellipse rotated by 180° is the same ellipse, so rotation is taken modulo
  180 and binned to the nearest multiple of 180/n_rotation (1.8° for OmniSVG's 100 values).
  Bin k decodes to ``k * 180 / n_rotation``; `snap_rotation` gives that value for any angle.
- Arc radii (rx, ry) are one point token, clipped to [0, G-1] like coordinates.
- ``currentColor`` decodes to black (the SVG default colour); the encoder never writes it.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from svgrl.errors import ConfigError, TokenError

LAYOUT_FORMAT = "svgrl.token_layout"
LAYOUT_VERSION = 1

SPECIALS = ("pad", "bos", "eos", "task_text", "task_image", "task_reference")
COMMANDS = ("M", "L", "C", "A", "Z")
N_COLOURS = 4096  # 16 levels per channel: each channel a multiple of 17
RULES = ("nonzero", "evenodd")

# Printable names of the specials (what an extended HF tokenizer shows).
_SPECIAL_NAMES = {
    "pad": "<svg:pad>",
    "bos": "<svg>",
    "eos": "</svg>",
    "task_text": "<svg:task_text>",
    "task_image": "<svg:task_image>",
    "task_reference": "<svg:task_reference>",
}


@dataclass(frozen=True)
class TokenLayout:
    """Id ranges of the SVG vocabulary; see the module docstring for the order and rules."""

    grid: int = field(default=200, metadata={"help": "G: points live on a G×G grid (OmniSVG: 200)"})
    base_vocab_size: int = field(
        default=0, metadata={"help": "ids below this belong to the text tokenizer; SVG ids follow"}
    )
    n_rotation: int = field(
        default=100, metadata={"help": "arc rotation bins over [0, 180) degrees (OmniSVG: 100)"}
    )

    def __post_init__(self) -> None:
        for name, lo, hi in (("grid", 2, 4096), ("n_rotation", 1, 36000)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise ConfigError(f"TokenLayout.{name}={v!r}: use an integer in [{lo}, {hi}]")
        b = self.base_vocab_size
        if not isinstance(b, int) or isinstance(b, bool) or not 0 <= b <= 10_000_000:
            raise ConfigError(
                f"TokenLayout.base_vocab_size={b!r}: use len(tokenizer) before adding SVG tokens "
                "(a non-negative integer), or 0 for an SVG-only model"
            )

    # --- range starts (absolute ids) -----------------------------------------------------
    @property
    def special_start(self) -> int:
        return self.base_vocab_size

    @property
    def command_start(self) -> int:
        return self.special_start + len(SPECIALS)

    @property
    def fill_start(self) -> int:
        return self.command_start + len(COMMANDS)

    @property
    def rule_start(self) -> int:
        return self.fill_start + N_COLOURS + 2

    @property
    def rotation_start(self) -> int:
        return self.rule_start + len(RULES)

    @property
    def flag_start(self) -> int:
        return self.rotation_start + self.n_rotation

    @property
    def point_start(self) -> int:
        return self.flag_start + 4

    @property
    def n_tokens(self) -> int:
        """Number of SVG tokens (excluding the base vocabulary)."""
        return self.point_start + self.grid * self.grid - self.base_vocab_size

    @property
    def vocab_size(self) -> int:
        """Size of the whole vocabulary: base + SVG tokens."""
        return self.base_vocab_size + self.n_tokens

    def ranges(self) -> dict[str, tuple[int, int]]:
        """Half-open absolute id range of each token kind."""
        return {
            "special": (self.special_start, self.command_start),
            "command": (self.command_start, self.fill_start),
            "fill": (self.fill_start, self.rule_start),
            "rule": (self.rule_start, self.rotation_start),
            "rotation": (self.rotation_start, self.flag_start),
            "flag": (self.flag_start, self.point_start),
            "point": (self.point_start, self.vocab_size),
        }

    # --- single ids ---------------------------------------------------------------------
    @property
    def pad(self) -> int:
        return self.special_start

    @property
    def bos(self) -> int:
        return self.special_start + 1

    @property
    def eos(self) -> int:
        return self.special_start + 2

    def task(self, kind: str) -> int:
        """Id of the task marker ``"text"``, ``"image"`` or ``"reference"``."""
        name = f"task_{kind}"
        if name not in SPECIALS:
            raise ConfigError(f"task marker {kind!r} is not one of text, image, reference")
        return self.special_start + SPECIALS.index(name)

    def command(self, op: str) -> int:
        return self.command_start + COMMANDS.index(op)

    @property
    def fill_none(self) -> int:
        return self.fill_start + N_COLOURS

    @property
    def fill_current(self) -> int:
        return self.fill_start + N_COLOURS + 1

    def fill(self, rgb: tuple[int, int, int] | None) -> int:
        """Id of a fill colour, rounded to 12 bits (4 per channel); None → ``none``."""
        if rgb is None:
            return self.fill_none
        r, g, b = (min(15, max(0, round(c / 17))) for c in rgb)
        return self.fill_start + (r << 8 | g << 4 | b)

    def rule(self, fill_rule: str) -> int:
        return self.rule_start + RULES.index(fill_rule)

    def rotation_bin(self, degrees: float) -> int:
        """Bin index of an arc rotation (modulo 180°, nearest bin)."""
        return round((degrees % 180.0) * self.n_rotation / 180.0) % self.n_rotation

    def rotation(self, degrees: float) -> int:
        return self.rotation_start + self.rotation_bin(degrees)

    def rotation_value(self, k: int) -> float:
        """The angle in degrees that rotation bin `k` decodes to."""
        return k * 180.0 / self.n_rotation

    def snap_rotation(self, degrees: float) -> float:
        """The angle an arc rotation becomes after encode + decode (for quantisers)."""
        return self.rotation_value(self.rotation_bin(degrees))

    def large_flag(self, flag: int) -> int:
        return self.flag_start + (1 if flag else 0)

    def sweep_flag(self, flag: int) -> int:
        return self.flag_start + 2 + (1 if flag else 0)

    def point(self, x: float, y: float) -> int:
        """Id of grid point (x, y), rounded and clipped to [0, G-1]."""
        g1 = self.grid - 1
        return self.point_start + min(max(round(y), 0), g1) * self.grid + min(max(round(x), 0), g1)

    # --- names --------------------------------------------------------------------------
    def token_strings(self) -> list[str]:
        """Printable name of every SVG token, in id order (what `svgrl.tokens.hf` adds)."""
        g = self.grid
        return [*_names_before_points(self.n_rotation),
                *(f"<svg:p{i % g},{i // g}>" for i in range(g * g))]


    def describe(self, token_id: int) -> str:
        """Printable name of one id (SVG token name, or ``text:<id>`` for base ids)."""
        if 0 <= token_id < self.base_vocab_size:
            return f"text:{token_id}"
        if not self.base_vocab_size <= token_id < self.vocab_size:
            return f"out-of-range:{token_id}"
        if token_id < self.point_start:
            return _names_before_points(self.n_rotation)[token_id - self.base_vocab_size]
        i = token_id - self.point_start
        return f"<svg:p{i % self.grid},{i // self.grid}>"

    # --- persistence --------------------------------------------------------------------
    def to_json(self) -> dict:
        d = {"format": LAYOUT_FORMAT, "version": LAYOUT_VERSION, **asdict(self)}
        # Stored so a file from a different layout version cannot be read with shifted ids.
        d["ranges"] = {k: list(v) for k, v in self.ranges().items()}
        return d

    @classmethod
    def from_json(cls, d: object) -> TokenLayout:
        if not isinstance(d, dict) or d.get("format") != LAYOUT_FORMAT:
            raise TokenError(f"not a token layout (expected format {LAYOUT_FORMAT!r})",
                             reason="layout")
        if d.get("version") != LAYOUT_VERSION:
            raise TokenError(
                f"token layout version {d.get('version')!r} is not supported "
                f"(this svgrl reads version {LAYOUT_VERSION})", reason="layout")
        try:
            layout = cls(grid=d["grid"], base_vocab_size=d["base_vocab_size"],
                         n_rotation=d["n_rotation"])
        except KeyError as e:
            raise TokenError(f"token layout is missing field {e}", reason="layout") from None
        except ConfigError as e:
            raise TokenError(f"token layout has a bad value: {e}", reason="layout") from None
        stored = d.get("ranges")
        expected = {k: list(v) for k, v in layout.ranges().items()}
        if stored != expected:
            raise TokenError(f"token layout ranges {stored!r} do not match the ranges this "
                             f"version computes {expected!r}", reason="layout")
        return layout

    def save(self, path: str | os.PathLike) -> None:
        """Write the layout as JSON atomically (temp file + os.replace)."""
        from svgrl.atomic import write_text

        write_text(path, json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: str | os.PathLike) -> TokenLayout:
        path = Path(path)
        try:
            if path.stat().st_size > 1_000_000:
                raise TokenError(f"{path}: too large for a token layout file", reason="layout")
            d = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise TokenError(f"cannot read token layout {path}: {e}", reason="layout") from None
        return cls.from_json(d)


@functools.lru_cache(maxsize=16)
def _names_before_points(n_rotation: int) -> tuple[str, ...]:
    """Names of every non-point token; cached because decode reports call `describe` per
    problem token and rebuilding ~4,200 names each time cost ~0.4 ms per call."""
    names = [_SPECIAL_NAMES[s] for s in SPECIALS]
    names += [f"<svg:{op}>" for op in COMMANDS]
    names += [f"<svg:fill#{i:03x}>" for i in range(N_COLOURS)]
    names += ["<svg:fill_none>", "<svg:fill_current>"]
    names += [f"<svg:{r}>" for r in RULES]
    names += [f"<svg:rot{k}>" for k in range(n_rotation)]
    names += ["<svg:large0>", "<svg:large1>", "<svg:sweep0>", "<svg:sweep1>"]
    return tuple(names)
