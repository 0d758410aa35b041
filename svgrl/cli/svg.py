"""`svgrl simplify`, `svgrl render`, `svgrl fidelity`."""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

from svgrl.atomic import write_bytes, write_text
from svgrl.bounded import BoundedPool, ItemFailure, ItemLimits
from svgrl.config import add_dataclass_args, dataclass_from_args
from svgrl.data.inputs import iter_inputs
from svgrl.errors import ConfigError, SvgrlError
from svgrl.svg.image_io import encode_png
from svgrl.svg.load import load_drawing, simplify_svg
from svgrl.svg.normalise import quantize
from svgrl.svg.render import render
from svgrl.svg.write import to_svg
from svgrl.tokens.fidelity import FidelityConfig, fidelity


@dataclass(frozen=True)
class SimplifyConfig:
    grid: int = field(default=200, metadata={
        "help": "quantisation grid G (0 = keep floats, curves in the forms resvg draws)"})
    limit: int = field(default=0, metadata={"help": "stop after this many files (0 = all)"})
    workers: int = field(default=1, metadata={
        "help": "worker processes (each file runs in one, under the per-item limits)"})
    progress: bool = field(default=True, metadata={
        "help": "progress bar on stderr (shown only when stderr is a terminal)"})

    def __post_init__(self):
        if self.grid < 0 or self.grid == 1 or self.grid > 4096:
            raise ConfigError(f"--grid {self.grid} must be 0 (no quantisation) or 2..4096")


def simplify_job(job: tuple[bytes | None, str | None, int]) -> tuple[str, str | tuple]:
    """``("ok", (svg, drop reasons))`` or ``(reason, message)`` for one file (runs in a
    bounded worker)."""
    data, err, grid = job
    if data is None:
        return "io", (err or "unreadable").removeprefix("io: ")
    try:
        res = simplify_svg(data, for_grid=grid > 0)
        drawing = quantize(res.drawing, grid) if grid else res.drawing
        return "ok", (to_svg(drawing), tuple(sorted({d.reason for d in res.dropped})))
    except SvgrlError as e:
        return getattr(e, "reason", "error"), str(e)
    except Exception as e:  # noqa: BLE001 — a loader bug fails its file, typed by name
        return f"internal-{type(e).__name__}", str(e)[:300]


def output_name(id_: str, taken: set[str]) -> str:
    """File name for `id_` in a flat output folder: ``a/b.svg`` → ``a__b.svg``; when that
    name is taken (by ``a__b.svg`` itself, say) a digest of the id keeps both files."""
    name = id_.replace("/", "__").removesuffix(".svg") + ".svg"
    if name in taken:
        name = name[:-4] + "-" + hashlib.sha256(id_.encode()).hexdigest()[:10] + ".svg"
    taken.add(name)
    return name


# Failures listed on stderr per reason; the rest are only counted (the summary has them
# all), so a folder of a hundred thousand broken files does not bury the terminal.
MAX_LISTED_FAILURES = 10


def run_simplify(args: argparse.Namespace) -> int:
    from svgrl.progress import bar as progress_bar

    cfg = dataclass_from_args(SimplifyConfig, args)
    limits = dataclass_from_args(ItemLimits, args)
    out = Path(args.output)
    ok = failed = 0
    taken: set[str] = set()
    # A file named on the command line is written under its own name (its id, the path as
    # given, stays in messages); files found in folders and sources keep their relative ids.
    named = {str(Path(i).expanduser()) for i in args.inputs if Path(i).expanduser().is_file()}
    items = iter_inputs(args.inputs)
    if cfg.limit:
        items = itertools.islice(items, cfg.limit)
    ids: deque[str] = deque()  # results come back in input order
    jobs = ((ids.append(id_), (data, err, cfg.grid))[1] for id_, data, err in items)
    reasons: Counter[str] = Counter()
    dropped: Counter[str] = Counter()  # what was left out or recovered from, per file
    bar = progress_bar(total=cfg.limit or None, unit="file", desc="simplify", file=sys.stderr,
               disable=None if cfg.progress else True)  # None: only on a terminal
    with BoundedPool("svgrl.cli.svg:simplify_job", limits, cfg.workers) as pool, bar:
        for r in pool.imap(jobs, 8 * cfg.workers):
            id_ = ids.popleft()
            status, text = (r.reason, r.message) if isinstance(r, ItemFailure) else r
            if status == "ok":
                svg, drops = text
                write_text(out / output_name(Path(id_).name if id_ in named else id_, taken),
                           svg)
                dropped.update(drops)
                ok += 1
            else:
                failed += 1
                reasons[status] += 1
                if reasons[status] <= MAX_LISTED_FAILURES:
                    bar.write(f"svgrl simplify: {id_}: {status}: {text}", file=sys.stderr)
                elif reasons[status] == MAX_LISTED_FAILURES + 1:
                    bar.write(f"svgrl simplify: further {status!r} failures are counted in "
                              "the summary, not listed", file=sys.stderr)
            bar.update(1)
            bar.set_postfix(failed=failed, refresh=False)
    print(json.dumps({"written": ok, "failed": failed, "reasons": dict(reasons.most_common()),
                      "dropped": dict(dropped.most_common()), "out": str(out)}))
    return 1 if failed and not ok else 0  # a batch in which every file failed is a failure


def run_render(args: argparse.Namespace) -> int:
    if not 1 <= args.size <= 8192:
        raise ConfigError(f"--size {args.size} must be in 1..8192")
    d = load_drawing(Path(args.input), grid=args.grid)
    write_bytes(args.output, encode_png(render(d, args.size)))
    n = len(d.paths)
    print(f"wrote {args.output} ({args.size}×{args.size} px, {n} path{'s' * (n != 1)})")
    return 0


def run_fidelity(args: argparse.Namespace) -> int:
    cfg = dataclass_from_args(FidelityConfig, args)
    if cfg.through_tokens and not cfg.grid:
        raise ConfigError("--through-tokens needs a grid (tokens are grid points): "
                          "drop --grid 0")
    summary, _ = fidelity(iter_inputs(args.inputs), cfg, progress=args.progress,
                          limits=dataclass_from_args(ItemLimits, args))
    summary["through_tokens"] = cfg.through_tokens
    summary["gradients"] = cfg.gradients
    summary["effects"] = cfg.gradients and cfg.effects
    print(json.dumps(summary) if args.json else json.dumps(summary, indent=1))
    return 1 if summary.get("failed") and not summary.get("ok") else 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simplify", help="SVG files/folders/sources → normalised SVGs",
                       description="Parse, simplify (shapes, transforms, strokes, styles → "
                       "filled M/L/C/Z paths), normalise into 200×200 and quantise.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="SVG file, folder, or source name (pytablericons, openmoji, ...)")
    p.add_argument("-o", "--output", required=True, help="output folder")
    add_dataclass_args(p, SimplifyConfig)
    add_dataclass_args(p, ItemLimits)
    p.set_defaults(func=run_simplify)

    p = sub.add_parser("render", help="render an SVG through svgrl's pipeline to PNG",
                       description="Parse and simplify one SVG file into svgrl's Drawing "
                       "(quantised to --grid points; 0 keeps float coordinates), render it on "
                       "white with svgrl's renderer and write a PNG — what models and rewards "
                       "see of that file.")
    p.add_argument("input", help="SVG file")
    p.add_argument("-o", "--output", required=True, help="PNG file to write")
    p.add_argument("--size", type=int, default=256, help="width = height in pixels (default 256)")
    p.add_argument("--grid", type=int, default=200, help="quantisation grid (0 = floats)")
    p.set_defaults(func=run_render)

    p = sub.add_parser("fidelity", help="SSIM of our simplified drawing vs resvg's render",
                       description="For every file: render the original with resvg (white "
                       "background) and our simplified, quantised Drawing with our renderer "
                       "at the same size; report SSIM (grey, 7×7) and failures by reason. "
                       "files_per_s times parse + simplify + quantise only.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="SVG file, folder, or source name (pytablericons, openmoji, ...)")
    add_dataclass_args(p, FidelityConfig, skip=("keep",))
    add_dataclass_args(p, ItemLimits)
    p.add_argument("--json", action="store_true",
                   help="print one JSON line on stdout (the progress bar stays on stderr)")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar (a whole icon set takes minutes)")
    p.set_defaults(func=run_fidelity)
