"""Token statistics over SVG files: sequence lengths under our layout versus a BPE tokenizer
reading the same drawing as compact SVG text (OmniSVG's compactness argument, §3.2 / ablation
on parameterisation), plus per-file round-trip and grammar checks."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from svgrl.bounded import BoundedPool, ItemFailure, ItemLimits
from svgrl.errors import ConfigError, SvgError, TokenError

MAX_FILES = 1_000_000


@dataclass
class TokenizeConfig:
    """Options of ``svgrl tokenize``."""

    inputs: tuple[str, ...] = field(
        default=(), metadata={"help": "SVG files, folders (searched recursively for *.svg) "
                                      "or source names (pytablericons, openmoji, ...)"})
    grid: int = field(default=200, metadata={"help": "grid size G of the point tokens"})
    gradients: bool = field(default=False, metadata={
        "help": "keep gradients and use the token layout with gradient paint tokens"})
    flat_gradients: str = field(default="fit", metadata={"choices": ("fit", "mean"),
        "help": "without --gradients, a gradient's flat stand-in: fit (the colour closest to "
                "what it draws, svgrl.svg.flatten) or mean (its mean colour)"})
    effects: bool = field(default=True, metadata={
        "help": "with --gradients: keep blur and shadow filters as path effects"})
    limit: int = field(
        default=0, metadata={"help": "use N files spread evenly over the sorted list (0 = all)"})
    bpe: bool = field(
        default=True,
        metadata={"help": "count SmolLM2-135M BPE tokens of the compact SVG text (loads ~5 s)"})
    json: bool = field(default=False, metadata={"help": "print one JSON object"})

    def __post_init__(self) -> None:
        if not self.inputs:
            raise ConfigError("name at least one SVG file or folder, e.g. `svgrl tokenize icons/`")
        if not 2 <= self.grid <= 4096:
            raise ConfigError(f"--grid {self.grid}: use a grid size in [2, 4096] (OmniSVG: 200)")
        if self.limit < 0:
            raise ConfigError(f"--limit {self.limit}: use 0 (all files) or a positive count")


def collect_files(inputs: tuple[str, ...], limit: int = 0) -> list[Path]:
    """Files named in `inputs` (folders expanded to their *.svg, sorted), thinned to `limit`
    evenly spaced ones so a sample spans the whole set rather than its first letters."""
    files: list[Path] = []
    for s in inputs:
        p = Path(s)
        if p.is_dir():
            files.extend(sorted(q for q in p.rglob("*.svg") if q.is_file()))
        elif p.is_file():
            files.append(p)
        else:
            raise ConfigError(f"input {s!r} is neither a file nor a folder")
        if len(files) > MAX_FILES:
            raise ConfigError(f"more than {MAX_FILES:,} files under {s!r}: use --limit")
    return thin(files, limit)


def thin(items: list, limit: int) -> list:
    """`limit` evenly spaced items (all when `limit` is 0 or not smaller)."""
    if limit and len(items) > limit:
        idx = np.linspace(0, len(items) - 1, limit).round().astype(int)
        items = [items[i] for i in sorted(set(idx.tolist()))]
    return items


def tokenize_job(job: tuple[str | bytes, int, bool, bool, str]) -> tuple:
    """``("ok", drawing, ids)`` or ``("failed", reason, message)`` for one file path or SVG
    bytes (runs in a bounded worker: `svgrl.bounded`)."""
    from svgrl.svg.load import load_drawing
    from svgrl.svg.simplify import SimplifyOptions
    from svgrl.tokens.codec import encode
    from svgrl.tokens.layout import TokenLayout

    src, grid, gradients, effects, flat = job
    try:
        d = load_drawing(Path(src) if isinstance(src, str) else src, grid=grid,
                         options=SimplifyOptions(gradients=gradients, effects=effects,
                                                 flat_gradients=flat))
        return "ok", d, encode(d, TokenLayout(grid=grid, gradients=gradients))
    except (SvgError, TokenError) as e:
        return "failed", e.reason, str(e)
    except Exception as e:  # noqa: BLE001 - a batch tool counts a loader bug and carries on
        return "failed", f"internal:{type(e).__name__}", str(e)


def tokenize_stats(cfg: TokenizeConfig, limits: ItemLimits | None = None,
                   items: list[tuple[str, bytes | None, str | None]] | None = None) -> dict:
    """Load, encode, decode and check every file; return the summary `svgrl tokenize` prints.

    `items`: (id, SVG bytes or None, read error or None) from `svgrl.data.inputs.iter_inputs`
    (which also reads source names); without them `cfg.inputs` are files and folders."""
    from svgrl.svg.write import to_svg
    from svgrl.tokens.codec import decode
    from svgrl.tokens.grammar import grammar_for
    from svgrl.tokens.layout import TokenLayout

    if items is None:
        items = [(str(f), None, None) for f in collect_files(cfg.inputs)]
    items = thin(items, cfg.limit)
    files = [i for i, _, _ in items]
    bpe_tok = None
    if cfg.bpe:
        from svgrl.tokens.hf import load_smollm2_tokenizer

        bpe_tok = load_smollm2_tokenizer()
    layout = TokenLayout(grid=cfg.grid, gradients=cfg.gradients)
    grammar = grammar_for(layout)
    t0 = time.perf_counter()
    lengths, bpe_lengths = [], []
    failed: Counter[str] = Counter()
    examples: dict[str, str] = {}  # one file per failure kind, to reproduce it
    exact = accepted = 0
    with BoundedPool("svgrl.tokens.stats:tokenize_job", limits, 1) as pool:
        readable = [(i, data if data is not None else i) for i, data, err in items if not err]
        jobs = ((src, cfg.grid, cfg.gradients, cfg.effects, cfg.flat_gradients)
                for _, src in readable)
        done = dict(zip([i for i, _ in readable], pool.imap(jobs, window=256, chunk=16),
                        strict=True))
    results = [done[i] if not err else ("failed", "io", err) for i, _, err in items]
    for f, r in zip(files, results, strict=True):
        if isinstance(r, ItemFailure):
            r = ("failed", r.reason, r.message)
        if r[0] == "failed":
            failed[r[1]] += 1
            examples.setdefault(r[1], f"{f}: {r[2]}")
            continue
        _, d, ids = r
        lengths.append(len(ids))
        exact += decode(ids, layout) == d
        accepted += grammar.accepts(ids)
        if bpe_tok is not None:
            bpe_lengths.append(len(bpe_tok(to_svg(d), add_special_tokens=False)["input_ids"]))
    out: dict = {
        "files": len(files),
        "ok": len(lengths),
        "failed": dict(sorted(failed.items())),
        "failure_examples": examples,
        "grid": cfg.grid,
        "tokens_mean": float(np.mean(lengths)) if lengths else None,
        "tokens_p95": float(np.percentile(lengths, 95)) if lengths else None,
        "tokens_max": int(max(lengths)) if lengths else None,
        "round_trip_exact": exact,
        "grammar_accepted": accepted,
        "bpe_tokens_mean": float(np.mean(bpe_lengths)) if bpe_lengths else None,
        "ratio": None,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if out["bpe_tokens_mean"]:
        out["ratio"] = out["tokens_mean"] / out["bpe_tokens_mean"]
    return out
