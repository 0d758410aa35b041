"""`svgrl data ...` commands: `fetch` (npm sets into the cache) and `sources` (what is
available). Each subcommand is one ``add_*`` function listed in `DATA_COMMANDS`; later
commands (`data build`, `data stats`) add their own function to that list.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field

from svgrl.config import add_dataclass_args, dataclass_from_args
from svgrl.errors import ConfigError, SvgrlError

CACHE_HELP = ("svgrl cache root; npm sets live in ROOT/npm "
              "(default: $SVGRL_CACHE, else ~/.cache/svgrl)")


@dataclass
class FetchConfig:
    packages: tuple[str, ...] = field(default=(), metadata={"help": "npm packages to fetch"})
    cache: str | None = field(default=None, metadata={"help": CACHE_HELP})
    force: bool = field(default=False, metadata={"help": "fetch again even if present"})
    npm: str = field(default="npm", metadata={"help": "npm executable"})
    timeout: float = field(default=900.0, metadata={"help": "seconds allowed per `npm pack`"})

    def __post_init__(self) -> None:
        if not self.packages:
            raise ConfigError("name at least one package, e.g. `svgrl data fetch openmoji`")
        if self.timeout <= 0:
            raise ConfigError(f"--timeout must be > 0 seconds, got {self.timeout}")


@dataclass
class SourcesConfig:
    cache: str | None = field(default=None, metadata={"help": CACHE_HELP})
    count: bool = field(default=False, metadata={
        "help": "count the files of each available source (lists them; reads none)"})
    json: bool = field(default=False, metadata={"help": "print one JSON object"})


def run_fetch(args: argparse.Namespace) -> int:
    from svgrl.data.fetch import fetch

    cfg = dataclass_from_args(FetchConfig, args, packages=tuple(args.names))
    failed = 0
    for name in cfg.packages:
        try:
            fetch(name, cfg.cache, force=cfg.force, npm_exe=cfg.npm, timeout=cfg.timeout,
                  log=lambda m: print(m, flush=True))
        except SvgrlError as e:
            # Go on with the other packages; the exit code says something failed.
            print(f"svgrl: error: {e}", file=sys.stderr, flush=True)
            failed += 1
    return 2 if failed else 0


def source_status(cache_dir: str | None = None, count: bool = False) -> list[dict]:
    """One row per known source: name, kind, licence, available, files, seconds."""
    from svgrl.data import npm
    from svgrl.data.sources import DEFAULT_SOURCES, SOURCES, iter_source

    cache = npm.cache_root(cache_dir)
    rows = []
    for name in [*SOURCES, *npm.fetched_iconify(cache)]:
        row: dict = {"name": name, "kind": "pypi" if name in DEFAULT_SOURCES else "npm"}
        start = time.perf_counter()
        try:
            items = iter_source(name, cache)
            row["available"] = True
            first = next(items, None)
            row["license"] = first.license if first else ""
            if count:
                row["files"] = (first is not None) + sum(1 for _ in items)
                row["seconds"] = round(time.perf_counter() - start, 3)
        except SvgrlError as e:
            row.update(available=False, error=str(e))
        rows.append(row)
    return rows


def run_sources(args: argparse.Namespace) -> int:
    cfg = dataclass_from_args(SourcesConfig, args)
    rows = source_status(cfg.cache, cfg.count)
    if cfg.json:
        print(json.dumps({"sources": rows}, indent=1))
        return 0
    for r in rows:
        if r["available"]:
            extra = f"{r['files']:>6} files  {r['seconds']:.2f} s" if cfg.count else ""
            print(f"{r['name']:<24} {r['kind']:<5} {r['license']:<14} {extra}")
        else:
            print(f"{r['name']:<24} {r['kind']:<5} missing: {r['error']}")
    return 0


def add_fetch(data_sub: argparse._SubParsersAction) -> None:
    p = data_sub.add_parser(
        "fetch", help="npm pack icon sets into the cache (needs npm and the network)",
        description="Fetch npm-packed SVG sets: openmoji, @twemoji/svg, @tabler/icons, "
                    "lucide-static, @iconify-json/<set>.",
    )
    p.add_argument("names", nargs="+", metavar="NAME", help="npm package, e.g. openmoji")
    add_dataclass_args(p, FetchConfig, skip=("packages",))
    p.set_defaults(func=run_fetch)


def add_sources(data_sub: argparse._SubParsersAction) -> None:
    p = data_sub.add_parser("sources", help="list SVG sources and whether they are available",
                            description="The icon sets svgrl knows (PyPI packages installed "
                            "with svgrl, npm sets fetched by `svgrl data fetch`): for each, "
                            "whether it is available here, where, its licence and file count.")
    add_dataclass_args(p, SourcesConfig)
    p.set_defaults(func=run_sources)


def run_build(args: argparse.Namespace) -> int:
    from svgrl.data.build import BuildConfig, build

    cfg = dataclass_from_args(BuildConfig, args)
    build(cfg, log=lambda m: print(m, flush=True))
    return 0


def add_build(data_sub: argparse._SubParsersAction) -> None:
    from svgrl.data.build import BuildConfig

    p = data_sub.add_parser(
        "build", help="curate SVG sources into a tokenized Arrow dataset",
        description="Parse, simplify, normalise, quantise and encode every SVG of the "
                    "sources; drop failures (counted by reason), exact and near duplicates "
                    "and over-long drawings; split by content hash; write a DatasetDict, "
                    "layout and manifest to --out. A killed build resumes when rerun.",
    )
    add_dataclass_args(p, BuildConfig)
    p.set_defaults(func=run_build)


def run_stats(args: argparse.Namespace) -> int:
    from svgrl.data.stats import StatsConfig, dataset_stats, format_stats

    cfg = dataclass_from_args(StatsConfig, args)
    s = dataset_stats(cfg)
    print(json.dumps(s, indent=1) if cfg.json else format_stats(s))
    return 0 if s.get("hash_ok", True) else 1


def add_stats(data_sub: argparse._SubParsersAction) -> None:
    from svgrl.data.stats import StatsConfig

    p = data_sub.add_parser("stats", help="counts, failures, licences and token lengths of "
                                          "a built dataset (histogram PNG)",
                            description="Summarise a `svgrl data build` folder: records per "
                            "split and source, failures by reason, licences, token-length "
                            "percentiles; writes a token-length histogram PNG.")
    p.add_argument("dir", metavar="DIR", help="folder written by `svgrl data build`")
    add_dataclass_args(p, StatsConfig, skip=("dir",))
    p.set_defaults(func=run_stats)


# `svgrl data <subcommand>`: one function per subcommand, each given the data subparsers.
DATA_COMMANDS = [add_fetch, add_sources, add_build, add_stats]


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="SVG sources and datasets")
    data_sub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    for add in DATA_COMMANDS:
        add(data_sub)
