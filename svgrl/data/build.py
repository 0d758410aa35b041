"""`svgrl data build`: SVG sources → a curated, tokenized, split Arrow dataset (MMSVG-2M's
pipeline, OmniSVG arXiv 2504.06263 §3.1: collect, deduplicate, normalise to a 200×200
viewBox, caption, split).

Stages, in order:
1. list items of every source (sources in the order given, each in its fixed order;
   `limit` keeps the first N of each);
2. curate shards of `shard_size` items, in worker processes (`svgrl.data.curate`): parse,
   simplify, normalise, quantise, encode, signature; failures counted by reason; each
   finished shard is written atomically and recorded in the journal, so a killed build
   resumes at the first missing shard and produces the same dataset;
3. deduplicate (exact, then near) and split by content hash (`svgrl.data.dedup`);
   an optional `Captioner` then captions the renders of the *kept* drawings only (a
   captioning model is the costliest step; duplicates never reach it), in batches each
   written atomically, so a build killed while captioning resumes with the batches left;
4. write the DatasetDict, layout and manifest (`svgrl.data.store`) and drop the work folder.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import itertools
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from svgrl.bounded import BoundedPool, ItemLimits
from svgrl.config import to_dict
from svgrl.data.captions import Captioner, caption_records, captioner_name
from svgrl.data.curate import CurateOptions, curate_shard
from svgrl.data.dedup import SPLITS, assign_splits, deduplicate, split_of
from svgrl.data.item import SvgItem
from svgrl.data.store import (
    COLUMNS,
    MANIFEST_FORMAT,
    MANIFEST_VERSION,
    WorkDir,
    dataset_hash,
    write_dataset,
)
from svgrl.errors import ConfigError, DataError

BUILD_VERSION = 1  # bump when curation changes what a shard holds


@dataclass
class BuildConfig:
    """Options of ``svgrl data build``."""

    source: tuple[str, ...] = field(default=(), metadata={
        "help": "sources in priority order (earlier wins a duplicate): pytablericons, "
                "fontawesomefree, openmoji, @twemoji/svg, @tabler/icons, lucide-static, "
                "@iconify-json/<set>, or a folder of SVGs"})
    out: str = field(default="", metadata={"help": "output folder"})
    grid: int = field(default=200, metadata={
        "help": "grid G of the quantised drawing and point tokens (OmniSVG: 200)"})
    gradients: bool = field(default=False, metadata={
        "help": "keep linear/radial gradients as gradient tokens (a layout beyond OmniSVG's; "
                "off: each gradient becomes its mean colour)"})
    max_tokens: int = field(default=30_000, metadata={
        "help": "drop drawings longer than this many tokens, 0 = keep all (OmniSVG handles "
                "up to 30k)"})
    val: float = field(default=0.05, metadata={"help": "fraction of drawings in validation"})
    test: float = field(default=0.01, metadata={"help": "fraction of drawings in test"})
    min_split: int = field(default=10, metadata={
        "help": "small builds: validation and test hold at least this many drawings each "
                "(at most a twentieth of the build each; the next ones by content hash), so "
                "a --limit 200 build has a test split to bench on (a drawing's split then "
                "depends on the build's size too); 0 = the fractions alone"})
    workers: int = field(default=1, metadata={"help": "curation processes"})
    limit: int = field(default=0, metadata={
        "help": "use the first N items of each source, 0 = all"})
    shard_size: int = field(default=256, metadata={
        "help": "items per shard (the unit written atomically and resumed from)"})
    near_dup_bits: int = field(default=2, metadata={
        "help": "near duplicates: max differing bits of the 240-bit dHash of a 32 px render; "
                "-1 turns near-duplicate removal off"})
    near_dup_colour: int = field(default=24, metadata={
        "help": "near duplicates: max difference (0-255) of any 8x8 thumbnail channel"})
    partial: bool = field(default=True, metadata={
        "help": "keep drawings that lost undrawable content (text, images, ...); "
                "--no-partial drops them (reason 'partial')"})
    caption_words: int = field(default=24, metadata={
        "help": "metadata captions are cut to this many words"})
    restart: bool = field(default=False, metadata={
        "help": "discard a partial build in --out instead of resuming it"})
    overwrite: bool = field(default=False, metadata={
        "help": "replace a finished dataset in --out that was built with other settings "
                "(without it such a build is refused)"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})
    item_cpu_s: float = field(default=ItemLimits.item_cpu_s, metadata={
        "help": "CPU seconds one file may take to curate (over it: failure 'timeout')"})
    item_memory_mb: int = field(default=ItemLimits.item_memory_mb, metadata={
        "help": "address space of a curation worker, MB (over it: failure 'memory')"})
    cache: str | None = field(default=None, metadata={
        "help": "svgrl cache root holding npm sets (default: $SVGRL_CACHE or ~/.cache/svgrl)"})
    ray: bool = field(default=False, metadata={
        "help": "curate on a local Ray of --workers CPUs (its files in the build's work "
                "folder, removed afterwards); the dataset is the same as a build without Ray"})
    ray_address: str = field(default="", metadata={
        "help": "curate on the Ray cluster at this address (host:port, ray://host:port or "
                "'auto'), one curation actor per cluster CPU; this svgrl goes with the job, "
                "the nodes need its dependencies. The dataset is the same as a local build's"})

    def __post_init__(self) -> None:
        if not self.source:
            raise ConfigError("name at least one --source, e.g. --source pytablericons")
        if not self.out:
            raise ConfigError("give an output folder with --out DIR")
        if not (0 <= self.val < 1 and 0 <= self.test < 1 and self.val + self.test < 1):
            raise ConfigError(f"--val {self.val} / --test {self.test}: use fractions >= 0 "
                              f"whose sum is below 1 (defaults 0.05 / 0.01)")
        checks = (("grid", 2, 4096), ("max_tokens", 0, 10**8), ("workers", 1, 256),
                  ("limit", 0, 10**9), ("shard_size", 1, 100_000), ("near_dup_bits", -1, 64),
                  ("near_dup_colour", 0, 255), ("caption_words", 1, 1000),
                  ("min_split", 0, 10**9))
        for name, lo, hi in checks:
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise ConfigError(f"--{name.replace('_', '-')} {v!r}: use an integer in "
                                  f"[{lo}, {hi}]")
        if len(set(self.source)) != len(self.source):
            raise ConfigError(f"--source lists a source twice: {list(self.source)}")

    def item_limits(self) -> ItemLimits:
        return ItemLimits(item_cpu_s=self.item_cpu_s, item_memory_mb=self.item_memory_mb)

    def curate_options(self) -> CurateOptions:
        return CurateOptions(self.grid, self.max_tokens, self.partial, self.caption_words,
                             self.gradients)


def list_items(cfg: BuildConfig) -> list[SvgItem]:
    """Every item of the sources, in order; a source with no SVG at all is an error (an empty
    or mistyped folder would otherwise build an empty dataset)."""
    from svgrl.data.sources import iter_source

    items: list[SvgItem] = []
    for s in cfg.source:
        it = iter_source(s, cfg.cache)
        got = list(itertools.islice(it, cfg.limit) if cfg.limit else it)
        if not got:
            raise DataError(f"--source {s!r} holds no SVG files")
        items.extend(got)
    return items


# Settings that change how a build runs, not what it produces.
_RUN_ONLY = ("out", "workers", "progress", "restart", "overwrite", "cache", "item_cpu_s",
             "item_memory_mb", "ray", "ray_address")
# Settings added after datasets were built without them: what such a build did instead.
_BEFORE_THE_SETTING = {"min_split": 0}


def check_existing(out: Path, cfg: BuildConfig) -> None:
    """Refuse to replace a finished dataset built with other settings unless
    ``cfg.overwrite`` (as training refuses an existing run without --resume)."""
    from svgrl.data.store import read_manifest

    if cfg.overwrite or not (out / "manifest.json").is_file():
        return
    try:
        old = read_manifest(out).get("config") or {}
    except DataError:
        old = {}
    new = json.loads(json.dumps(to_dict(cfg)))
    old = {**_BEFORE_THE_SETTING, **old} if old else old
    diff = [f"{k}: {old.get(k)!r} → {new.get(k)!r}" for k in sorted(set(old) | set(new))
            if k not in _RUN_ONLY and old.get(k) != new.get(k)]
    if diff:
        raise DataError(f"{str(out)!r} holds a finished dataset built with other settings ("
                        + "; ".join(diff) + "); add --overwrite to replace it, or choose "
                        "another --out")


def items_hash(items: list[SvgItem]) -> str:
    """Identity of a shard's inputs: metadata and file size/mtime (or inline bytes), so a
    resumed build redoes a shard whose files changed since it was written."""
    h = hashlib.sha256()
    for it in items:
        meta = [it.id, it.source, it.name, it.caption, list(it.tags), it.license, it.path]
        if it.path is not None:
            try:
                st = os.stat(it.path)
                meta += [st.st_size, st.st_mtime_ns]
            except OSError:
                meta.append(None)
        else:
            meta.append(hashlib.sha256(it.data or b"").hexdigest())
        h.update(json.dumps(meta, ensure_ascii=False).encode())
    return h.hexdigest()


def _fingerprint(cfg: BuildConfig, captioner: Captioner | None) -> dict:
    """Everything that changes what a shard holds (dedup/split settings do not)."""
    return {"build_version": BUILD_VERSION, "source": list(cfg.source), "limit": cfg.limit,
            "shard_size": cfg.shard_size, **to_dict(cfg.curate_options()),
            "captioner": captioner_name(captioner)}


def _curate_all(shards: Iterator[tuple[int, list[SvgItem], str]], cfg: BuildConfig,
                folder: Path) -> Iterator[tuple[int, str, list[dict]]]:
    """(index, items hash, results) per shard, in order; every item runs in one of
    `cfg.workers` bounded worker processes (`svgrl.bounded`: CPU, memory and wall time per
    item), so one hostile file fails alone and the shard is still written. With Ray the
    shards go to curation actors (`_curate_on_ray`); the results are the same."""
    if cfg.ray or cfg.ray_address:
        yield from _curate_on_ray(shards, cfg, folder)
        return
    opt = cfg.curate_options()
    with BoundedPool("svgrl.data.curate:curate_job", cfg.item_limits(), cfg.workers) as pool:
        for k, items, ih in shards:
            yield k, ih, curate_shard(items, opt, pool)


class ShardCurator:
    """A Ray actor (one CPU) curating whole shards: each item still runs in a bounded worker
    process of its own pool, so the per-item CPU / memory / wall bounds hold under Ray."""

    def __init__(self, opt: CurateOptions, limits: ItemLimits):
        self.opt = opt
        self.pool = BoundedPool("svgrl.data.curate:curate_job", limits, 1)

    def curate(self, items: list[SvgItem]) -> list[dict]:
        return curate_shard(items, self.opt, self.pool)


def _portable(items: list[SvgItem]) -> list[SvgItem]:
    """The items with their bytes inside (a cluster node does not see this machine's files).
    A file that cannot be read here stays a path: its worker fails it with a ``read``
    failure, as a local build would."""
    out = []
    for it in items:
        if it.path is None:
            out.append(it)
            continue
        try:
            out.append(dataclasses.replace(it, path=None, data=it.read()))
        except DataError:
            out.append(it)
    return out


def _curate_on_ray(shards: Iterator[tuple[int, list[SvgItem], str]], cfg: BuildConfig,
                   folder: Path) -> Iterator[tuple[int, str, list[dict]]]:
    """`_curate_all` on Ray: one `ShardCurator` actor per CPU (local Ray: ``--workers``;
    a cluster: its CPU count), at most two shards in flight per actor, results in shard
    order (`ray.util.ActorPool.get_next`) so the journal and the dataset are a local
    build's. A local Ray keeps its files in `folder` (the build's work folder, removed with
    it)."""
    import ray
    from ray.util import ActorPool

    from svgrl.cluster import start_ray, stop_ray

    started = start_ray(cfg.ray_address, folder, num_cpus=cfg.workers)
    actors: list = []
    try:
        local = started and not cfg.ray_address  # a Ray this build started: --workers CPUs
        n = cfg.workers if local else max(1, int(ray.cluster_resources().get("CPU", 1)))
        cls = ray.remote(num_cpus=1)(ShardCurator)
        actors = [cls.remote(cfg.curate_options(), cfg.item_limits()) for _ in range(n)]
        pool = ActorPool(actors)
        meta: collections.deque[tuple[int, str]] = collections.deque()

        def submit() -> bool:
            nxt = next(shards, None)
            if nxt is None:
                return False
            k, items, ih = nxt
            pool.submit(lambda a, v: a.curate.remote(v), _portable(items))
            meta.append((k, ih))
            return True

        while len(meta) < 2 * n and submit():
            pass
        while meta:
            results = pool.get_next()
            k, ih = meta.popleft()
            submit()
            yield k, ih, results
    finally:
        for a in actors:
            ray.kill(a)
        stop_ray(started, folder)


def build(cfg: BuildConfig, captioner: Captioner | None = None,
          log: Callable[[str], None] = print) -> dict:
    """Run the build described by `cfg`; returns the manifest it wrote.

    With ``cfg.workers > 1`` curation runs in spawned processes, which import the caller's
    main module: call `build` from a script under ``if __name__ == "__main__":``."""
    from svgrl.tokens.layout import TokenLayout

    start = time.perf_counter()
    out = Path(cfg.out).expanduser()
    layout = TokenLayout(grid=cfg.grid, gradients=cfg.gradients)
    check_existing(out, cfg)
    items = list_items(cfg)
    fingerprint = _fingerprint(cfg, captioner)
    work = WorkDir(out)
    done = work.open(fingerprint, cfg.restart)

    n = cfg.shard_size
    chunks = [items[i:i + n] for i in range(0, len(items), n)]
    hashes = [items_hash(c) for c in chunks]
    todo = [k for k, ih in enumerate(hashes)
            if done.get(k) != ih or work.load_shard(k, ih) is None]
    resumed = len(chunks) - len(todo)
    if resumed:
        log(f"resuming: {resumed} of {len(chunks)} shards already done in {work.root}")
    bar = _progress(cfg.progress, len(items), sum(len(chunks[k]) for k in set(
        range(len(chunks))) - set(todo)))
    failed = 0
    t_curate = time.perf_counter()
    try:
        for k, ih, results in _curate_all(((k, chunks[k], hashes[k]) for k in todo), cfg,
                                           work.root):
            records = [r["record"] for r in results if "record" in r]
            for r in records:
                r["render_caption"] = ""
            work.save_shard(k, ih, results, fingerprint, done)
            failed += len(results) - len(records)
            if bar is not None:
                bar.set_postfix(failed=failed, shards=f"{len(done)}/{len(chunks)}",
                                refresh=False)
                bar.update(len(results))
    finally:
        if bar is not None:
            bar.close()
    curate_seconds = time.perf_counter() - t_curate

    manifest = _finish(cfg, captioner, layout, work, chunks, hashes)
    manifest["timing"] = {"seconds": round(time.perf_counter() - start, 3),
                          "curate_seconds": round(curate_seconds, 3),
                          "items_curated_now": sum(len(chunks[k]) for k in todo),
                          "resumed_shards": resumed}
    write_dataset(out, manifest.pop("_splits"), manifest, layout)
    work.remove()
    c = manifest["counts"]
    log(f"built {out}: {c['kept']} kept of {c['items']} items "
        f"(failed {sum(c['failed'].values())}, exact dups {sum(c['exact_duplicates'].values())}, "
        f"near dups {sum(c['near_duplicates'].values())}); splits {c['splits']}; "
        f"hash {manifest['content_hash'][:16]} in {manifest['timing']['seconds']:.1f} s")
    if c.get("split_minimum_moved"):
        log(f"note: a small build: {c['split_minimum_moved']} drawing(s) moved into "
            f"validation/test so each holds at least {min(cfg.min_split, c['kept'] // 20)} "
            "(--min-split; --val/--test set the fractions of larger builds)")
    return manifest


def _progress(enabled: bool, total: int, initial: int):
    if not enabled:
        return None
    from svgrl.progress import bar as progress_bar

    return progress_bar(total=total, initial=initial, unit="svg", desc="curate", smoothing=0.1,
                dynamic_ncols=True)


def _finish(cfg: BuildConfig, captioner: Captioner | None, layout, work: WorkDir,
            chunks: list[list[SvgItem]], hashes: list[str]) -> dict:
    """Read every shard back in order, deduplicate, split; the manifest (splits inside)."""
    records: list[dict] = []
    failures: list[dict] = []
    for k, ih in enumerate(hashes):
        results = work.load_shard(k, ih)
        if results is None:  # written moments ago; only a concurrent writer could do this
            raise DataError(f"shard {k} of the build in {work.root} vanished; is another "
                              f"build writing to the same --out?")
        for r in results:
            (records if "record" in r else failures).append(r.get("record") or r["failure"])
    kept, exact, near, dup_examples = deduplicate(records, cfg.near_dup_bits,
                                                  cfg.near_dup_colour)
    if captioner is not None:
        _caption(kept, captioner, layout, work)
    splits: dict[str, list[dict]] = {s: [] for s in SPLITS}
    moved = 0  # drawings a small build's minimum split size took from a later split
    for r, split in zip(kept, assign_splits([r["content"] for r in kept], cfg.val, cfg.test,
                                            cfg.min_split), strict=True):
        r["split"] = split
        splits[split].append(r)
        moved += split != split_of(r["content"], cfg.val, cfg.test)
    lengths = np.array([r["n_tokens"] for r in kept] or [0])
    examples: dict[str, str] = {}
    for f in failures:
        examples.setdefault(f["reason"], f"{f['id']}: {f['message']}")
    counts = {
        "items": sum(len(c) for c in chunks),
        "curated": len(records),
        "failed": dict(sorted(Counter(f["reason"] for f in failures).items())),
        "failed_by_source": _nested(failures, "source", "reason"),
        "failure_examples": examples,
        "dropped_content": dict(sorted(Counter(
            d for r in kept for d in r["dropped"]).items())),
        "exact_duplicates": dict(sorted(exact.items())),
        "near_duplicates": dict(sorted(near.items())),
        "duplicate_examples": dup_examples,
        "kept": len(kept),
        "splits": {s: len(v) for s, v in splits.items()},
        "split_minimum_moved": moved,
        "sources": _nested(kept, "source", "split"),
        "subsets": _nested(kept, "subset", "split"),
        "licenses": dict(sorted(Counter(r["license"] for r in kept).items())),
        "tokens": {"mean": round(float(lengths.mean()), 1),
                   "p50": int(np.percentile(lengths, 50)),
                   "p95": int(np.percentile(lengths, 95)), "max": int(lengths.max())},
    }
    return {
        "format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "build_version": BUILD_VERSION,
        "config": to_dict(cfg), "captioner": captioner_name(captioner),
        "layout": layout.to_json(), "columns": list(COLUMNS), "counts": counts,
        "content_hash": dataset_hash(splits), "_splits": splits,
    }


CAPTION_BATCH = 16  # kept drawings per captioner call and per caption journal file


def _caption(kept: list[dict], captioner: Captioner, layout, work: WorkDir) -> None:
    """Set ``render_caption`` on the kept records, batch by batch; a batch already in the
    work folder (same record ids, from a killed run) is read back instead of recaptioned."""
    for k in range(0, len(kept), CAPTION_BATCH):
        batch = kept[k:k + CAPTION_BATCH]
        ids = [r["id"] for r in batch]
        texts = work.load_captions(k // CAPTION_BATCH, ids)
        if texts is None:
            caption_records(batch, captioner, layout, batch_size=CAPTION_BATCH)
            work.save_captions(k // CAPTION_BATCH, ids, [r["render_caption"] for r in batch])
        else:
            for r, t in zip(batch, texts, strict=True):
                r["render_caption"] = t


def _nested(rows: list[dict], outer: str, inner: str) -> dict[str, dict[str, int]]:
    out: dict[str, Counter] = {}
    for r in rows:
        out.setdefault(r[outer], Counter())[r[inner]] += 1
    return {k: dict(sorted(v.items())) for k, v in sorted(out.items())}
