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
    paints      linear, radial                         (only with ``gradients=True``)      2
    offsets     gradient stop offsets k / 100, k = 0..100  (only with ``gradients``)     101
    alphas      stop opacities k / 15, k = 0..14          (only with ``gradients``)      15
    effects     blur, shadow, inner                       (only with ``gradients``)       3
    sigmas      blur std. deviations 2^(k/4) / 4 grid units, k = 0..31  (``gradients``) 32
    shifts      effect offsets k / 4 grid units, k = −128..128          (``gradients``) 257

Sequence per drawing: ``BOS (PAINT [RULE] M p (L p | C p p p | A r θ fa fs p | Z | M p)*)+ EOS``
where PAINT is a FILL token, or — with ``gradients=True`` — a gradient:

    LINEAR p1 p2 (OFFSET COLOUR [ALPHA]){2..8}        p1 at offset 0, p2 at offset 1
    RADIAL c a b f (OFFSET COLOUR [ALPHA]){2..8}      centre, ends of two conjugate semi-axes
                                                      of the offset-1 ellipse, focal point

COLOUR is a 12-bit fill token, ALPHA the stop's opacity (written only below 1: opaque stops,
most of them, cost nothing), offsets are non-decreasing, spread is pad. The same layouts
give a path an optional filter effect (`svgrl.svg.drawing.Effect`) after its PAINT:

    PAINT [BLUR SIGMA | SHADOW SIGMA DX DY [ALPHA] | INNER SIGMA DX DY [ALPHA]] [RULE] M ...

BLUR is a layer blur; SHADOW a blur moved by (DX, DY) (a drop shadow), INNER an inner shadow;
ALPHA (absent: 1) scales either. The gradient and effect tokens come after the points, so a
layout without them is exactly OmniSVG's and its ids do not move.

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
from svgrl.svg.quantize import SHIFT_STEPS, SIGMA_LEVELS, shift_level, sigma_level

LAYOUT_FORMAT = "svgrl.token_layout"
LAYOUT_VERSION = 1

SPECIALS = ("pad", "bos", "eos", "task_text", "task_image", "task_reference")
COMMANDS = ("M", "L", "C", "A", "Z")
N_COLOURS = 4096  # 16 levels per channel: each channel a multiple of 17
RULES = ("nonzero", "evenodd")
PAINTS = ("linear", "radial")
N_OFFSETS = 101  # = svgrl.svg.quantize.OFFSET_LEVELS
N_ALPHAS = 15  # = svgrl.svg.quantize.ALPHA_LEVELS - 1 (the opaque level has no token)
MAX_STOPS = 8  # = svgrl.svg.drawing.MAX_STOPS
EFFECTS = ("blur", "shadow", "inner")  # shadow: a "blur" Effect with an offset or opacity

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
    gradients: bool = field(default=False, metadata={
        "help": "add linear/radial gradient paint tokens (off: OmniSVG's flat fills only)"})

    def __post_init__(self) -> None:
        for name, lo, hi in (("grid", 2, 4096), ("n_rotation", 1, 36000)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise ConfigError(f"TokenLayout.{name}={v!r}: use an integer in [{lo}, {hi}]")
        if not isinstance(self.gradients, bool):
            raise ConfigError(f"TokenLayout.gradients={self.gradients!r}: use True or False")
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
    def paint_start(self) -> int:
        """First gradient token (only meaningful with ``gradients``)."""
        return self.point_start + self.grid * self.grid

    @property
    def offset_start(self) -> int:
        return self.paint_start + len(PAINTS)

    @property
    def alpha_start(self) -> int:
        return self.offset_start + N_OFFSETS

    @property
    def effect_start(self) -> int:
        return self.alpha_start + N_ALPHAS

    @property
    def sigma_start(self) -> int:
        return self.effect_start + len(EFFECTS)

    @property
    def shift_start(self) -> int:
        return self.sigma_start + SIGMA_LEVELS

    @property
    def n_tokens(self) -> int:
        """Number of SVG tokens (excluding the base vocabulary)."""
        extra = (len(PAINTS) + N_OFFSETS + N_ALPHAS + len(EFFECTS) + SIGMA_LEVELS
                 + 2 * SHIFT_STEPS + 1) if self.gradients else 0
        return self.paint_start + extra - self.base_vocab_size

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
            "point": (self.point_start, self.paint_start),
            **({"paint": (self.paint_start, self.offset_start),
                "offset": (self.offset_start, self.alpha_start),
                "alpha": (self.alpha_start, self.effect_start),
                "effect": (self.effect_start, self.sigma_start),
                "sigma": (self.sigma_start, self.shift_start),
                "shift": (self.shift_start, self.vocab_size)} if self.gradients else {}),
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

    def paint(self, kind: str) -> int:
        """Id of a gradient kind token (``"linear"`` or ``"radial"``)."""
        if not self.gradients:
            raise ConfigError("this token layout has no gradient tokens (gradients=False)")
        return self.paint_start + PAINTS.index(kind)

    def offset(self, t: float) -> int:
        """Id of the stop offset nearest `t` in [0, 1]."""
        if not self.gradients:
            raise ConfigError("this token layout has no gradient tokens (gradients=False)")
        return self.offset_start + min(max(round(t * (N_OFFSETS - 1)), 0), N_OFFSETS - 1)

    def alpha(self, a: float) -> int:
        """Id of the stop opacity level nearest `a` in [0, 1) (opaque stops have none)."""
        if not self.gradients:
            raise ConfigError("this token layout has no gradient tokens (gradients=False)")
        return self.alpha_start + min(max(round(a * N_ALPHAS), 0), N_ALPHAS - 1)

    def effect(self, kind: str) -> int:
        """Id of an effect token (``"blur"``, ``"shadow"`` or ``"inner"``)."""
        if not self.gradients:
            raise ConfigError("this token layout has no effect tokens (gradients=False)")
        return self.effect_start + EFFECTS.index(kind)

    def sigma(self, sigma: float) -> int:
        """Id of the blur level nearest `sigma` (grid units; see `sigma_level`)."""
        if not self.gradients:
            raise ConfigError("this token layout has no effect tokens (gradients=False)")
        return self.sigma_start + sigma_level(sigma)

    def shift(self, d: float) -> int:
        """Id of the effect offset nearest `d` (grid units, clipped to ±SHIFT_STEPS / 4)."""
        if not self.gradients:
            raise ConfigError("this token layout has no effect tokens (gradients=False)")
        return self.shift_start + SHIFT_STEPS + shift_level(d)

    def point(self, x: float, y: float) -> int:
        """Id of grid point (x, y), rounded and clipped to [0, G-1]."""
        g1 = self.grid - 1
        return self.point_start + min(max(round(y), 0), g1) * self.grid + min(max(round(x), 0), g1)

    # --- names --------------------------------------------------------------------------
    def token_strings(self) -> list[str]:
        """Printable name of every SVG token, in id order (what `svgrl.tokens.hf` adds)."""
        g = self.grid
        return [*_names_before_points(self.n_rotation),
                *(f"<svg:p{i % g},{i // g}>" for i in range(g * g)), *self._gradient_names()]

    def _gradient_names(self) -> list[str]:
        if not self.gradients:
            return []
        return [*(f"<svg:{k}>" for k in PAINTS), *(f"<svg:o{k}>" for k in range(N_OFFSETS)),
                *(f"<svg:a{k}>" for k in range(N_ALPHAS)), *(f"<svg:{k}>" for k in EFFECTS),
                *(f"<svg:s{k}>" for k in range(SIGMA_LEVELS)),
                *(f"<svg:d{k}>" for k in range(-SHIFT_STEPS, SHIFT_STEPS + 1))]


    def describe(self, token_id: int) -> str:
        """Printable name of one id (SVG token name, or ``text:<id>`` for base ids)."""
        if 0 <= token_id < self.base_vocab_size:
            return f"text:{token_id}"
        if not self.base_vocab_size <= token_id < self.vocab_size:
            return f"out-of-range:{token_id}"
        if token_id < self.point_start:
            return _names_before_points(self.n_rotation)[token_id - self.base_vocab_size]
        if token_id >= self.paint_start:
            return self._gradient_names()[token_id - self.paint_start]
        i = token_id - self.point_start
        return f"<svg:p{i % self.grid},{i // self.grid}>"

    # --- persistence --------------------------------------------------------------------
    def to_json(self) -> dict:
        d = {"format": LAYOUT_FORMAT, "version": LAYOUT_VERSION, **asdict(self)}
        if not self.gradients:  # files of gradient-free layouts stay as they were
            del d["gradients"]
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
                         n_rotation=d["n_rotation"], gradients=d.get("gradients", False))
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
