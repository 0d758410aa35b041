"""On-disk layout of a built dataset, and the resumable work folder of a build.

    OUT/manifest.json     format, version, config, token layout, counts, content hash —
                          written last: its presence marks a finished build
    OUT/layout.json       the token layout (`TokenLayout.load`)
    OUT/dataset/          a `datasets.DatasetDict` (train / validation / test), read with
                          `datasets.load_from_disk(OUT/dataset)` or `load_built(OUT)`
    OUT/.build/           work folder while building, removed when the build finishes:
        progress.json     journal: fingerprint of the shard-affecting config + shards done
        shards/NNNNNN.json   curated records and failures of items [N·k, N·(k+1))

Every file is written atomically (temp file + os.replace); the dataset folder is saved
beside its target and renamed into place. Renders are not stored: `render_record` draws
one from its tokens on demand.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from svgrl.atomic import write_text
from svgrl.data.dedup import SPLITS
from svgrl.errors import DataError
from svgrl.jsonfile import read_json as _read_json
from svgrl.jsonfile import read_versioned

MANIFEST_FORMAT = "svgrl.dataset"
MANIFEST_VERSION = 1
SHARD_VERSION = 1
# Dataset columns, in order (shard-only fields such as the thumbnail are not stored).
COLUMNS = ("id", "source", "license", "name", "caption", "render_caption", "tags", "tokens",
           "n_tokens", "subset", "svg", "split", "content", "dhash")
MAX_JSON_BYTES = 1 << 30


def features():
    from datasets import Features, Sequence, Value

    s = Value("string")
    return Features({
        "id": s, "source": s, "license": s, "name": s, "caption": s, "render_caption": s,
        "tags": Sequence(s), "tokens": Sequence(Value("int32")), "n_tokens": Value("int32"),
        "subset": s, "svg": s, "split": s, "content": s, "dhash": s,
    })


def read_json(path: Path, what: str) -> object:
    return _read_json(path, what, DataError, MAX_JSON_BYTES)


# --- the work folder ----------------------------------------------------------------------

class WorkDir:
    """Shards and the progress journal of one build under ``OUT/.build``."""

    def __init__(self, out: Path):
        self.root = out / ".build"
        self.shards = self.root / "shards"
        self.journal = self.root / "progress.json"

    def shard_path(self, k: int) -> Path:
        return self.shards / f"{k:06d}.json"

    def open(self, fingerprint: dict, restart: bool) -> dict[int, str]:
        """Shards already done {index: items hash}; starts a fresh journal when there is
        none. Raises `DataError` when a partial build with another config is present, or
        when the output folder holds a `dataset/` that no svgrl build wrote."""
        out = self.root.parent
        if out.exists() and not out.is_dir():
            raise DataError(f"--out {str(out)!r} is a file; name a folder")
        if ((out / "dataset").exists() or (out / DATASET_DICT).exists()) \
                and not (out / "manifest.json").exists() and not self.root.exists():
            raise DataError(f"{str(out)!r} holds a dataset but no svgrl manifest or partial "
                            f"build; choose another --out")
        try:
            return self._open(fingerprint, restart)
        except OSError as e:
            raise DataError(f"cannot write the build folder {str(self.root)!r}: "
                            f"{e.strerror}") from e

    def _open(self, fingerprint: dict, restart: bool) -> dict[int, str]:
        if restart and self.root.exists():
            shutil.rmtree(self.root)
        if self.journal.is_file():
            j = read_json(self.journal, "build journal")
            if not isinstance(j, dict) or j.get("fingerprint") != fingerprint:
                old = j.get("fingerprint") if isinstance(j, dict) else None
                diff = sorted(k for k in set(fingerprint) | set(old or {})
                              if (old or {}).get(k) != fingerprint.get(k))
                raise DataError(
                    f"{self.root.parent} holds a partial build made with other settings "
                    f"({', '.join(diff) or 'unreadable journal'} differ); rerun with the same "
                    f"settings to resume, or add --restart to discard it")
            return {int(k): v for k, v in j.get("done", {}).items()}
        self.shards.mkdir(parents=True, exist_ok=True)
        self._write_journal(fingerprint, {})
        return {}

    def _write_journal(self, fingerprint: dict, done: dict[int, str]) -> None:
        write_text(self.journal, json.dumps(
            {"fingerprint": fingerprint, "done": {str(k): v for k, v in sorted(done.items())}},
            indent=0))

    def load_shard(self, k: int, items_hash: str) -> list[dict] | None:
        """The shard's results if its file is complete and was made from the same items."""
        p = self.shard_path(k)
        if not p.is_file():
            return None
        try:
            s = read_json(p, "shard")
        except DataError:
            return None
        if not isinstance(s, dict) or s.get("items") != items_hash or \
                s.get("version") != SHARD_VERSION:
            return None
        return s["results"]

    def save_shard(self, k: int, items_hash: str, results: list[dict], fingerprint: dict,
                   done: dict[int, str]) -> None:
        write_text(self.shard_path(k), json.dumps(
            {"version": SHARD_VERSION, "items": items_hash, "results": results},
            separators=(",", ":")))
        done[k] = items_hash
        self._write_journal(fingerprint, done)

    def caption_path(self, k: int) -> Path:
        return self.root / "captions" / f"{k:06d}.json"

    def load_captions(self, k: int, ids: list[str]) -> list[str] | None:
        """Captions of batch `k` if its file is complete and holds exactly these records."""
        p = self.caption_path(k)
        if not p.is_file():
            return None
        try:
            c = read_json(p, "caption batch")
        except DataError:
            return None
        if not isinstance(c, dict) or c.get("ids") != ids or \
                not isinstance(c.get("captions"), list) or len(c["captions"]) != len(ids):
            return None
        return [str(t) for t in c["captions"]]

    def save_captions(self, k: int, ids: list[str], captions: list[str]) -> None:
        self.caption_path(k).parent.mkdir(parents=True, exist_ok=True)
        write_text(self.caption_path(k), json.dumps({"ids": ids, "captions": captions},
                                                    ensure_ascii=False))

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


# --- the finished dataset ------------------------------------------------------------------

def row(record: dict) -> dict:
    return {c: record[c] for c in COLUMNS}


def dataset_hash(splits: dict[str, list[dict]]) -> str:
    """sha256 over every column of every row, splits in `SPLITS` order, rows in order —
    computed from values (not Arrow bytes), so it can be recomputed from a loaded dataset."""
    h = hashlib.sha256()
    for name in SPLITS:
        h.update(f"\x00split {name}\n".encode())
        for r in splits.get(name, ()):
            h.update(json.dumps(row(r), sort_keys=True, ensure_ascii=False,
                                separators=(",", ":")).encode())
            h.update(b"\n")
    return h.hexdigest()


DATASET_DICT = "dataset_dict.json"


def write_dataset(out: Path, splits: dict[str, list[dict]], manifest: dict, layout) -> None:
    """Save the DatasetDict, layout and manifest atomically (manifest last)."""
    from datasets import Dataset, DatasetDict
    from datasets.utils import logging as ds_logging

    feats = features()
    dd = DatasetDict({
        name: Dataset.from_dict({c: [r[c] for r in splits.get(name, [])] for c in COLUMNS},
                                features=feats)
        for name in SPLITS
    })
    out.mkdir(parents=True, exist_ok=True)
    # The manifest marks a finished build: remove the old one first, so a kill between the
    # two renames below leaves "unfinished" (the work folder still resumes), never an old
    # manifest describing a new dataset.
    (out / "manifest.json").unlink(missing_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".dataset-", dir=out))
    bars = ds_logging.is_progress_bar_enabled()
    ds_logging.disable_progress_bar()  # the build shows its own progress
    try:
        # An empty split saved with the default 0 shards cannot be loaded back (datasets
        # 5.2); one shard each for empty splits writes an empty Arrow file instead.
        shards = {k: 1 for k, d in dd.items() if len(d) == 0}
        dd.save_to_disk(str(tmp / "dataset"), num_shards=shards or None)
        # The splits and dataset_dict.json go into OUT itself, so that
        # `datasets.load_from_disk(OUT)` reads the build folder (manifest.json and
        # layout.json beside them are ignored by datasets).
        (tmp / "old").mkdir()
        for name in [*SPLITS, DATASET_DICT, "dataset"]:  # "dataset": the layout before
            if (out / name).exists():
                os.rename(out / name, tmp / "old" / name)
        for name in [*SPLITS, DATASET_DICT]:
            os.rename(tmp / "dataset" / name, out / name)
    finally:
        if bars:
            ds_logging.enable_progress_bar()
        shutil.rmtree(tmp, ignore_errors=True)
    layout.save(out / "layout.json")
    write_text(out / "manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False))


def read_manifest(out: str | os.PathLike) -> dict:
    p = Path(out) / "manifest.json"
    if not p.is_file():
        raise DataError(f"{str(out)!r} is not a built dataset (no manifest.json); build one "
                        f"with `svgrl data build --source ... --out {out}`")
    return read_versioned(p, MANIFEST_FORMAT, MANIFEST_VERSION, "dataset manifest", DataError,
                          MAX_JSON_BYTES)


def load_built(out: str | os.PathLike):
    """(DatasetDict, manifest, TokenLayout) of a finished build."""
    from datasets import load_from_disk

    from svgrl.tokens.layout import TokenLayout

    manifest = read_manifest(out)
    layout = TokenLayout.from_json(manifest["layout"])
    folder = Path(out) if (Path(out) / DATASET_DICT).is_file() else Path(out) / "dataset"
    try:
        dd = load_from_disk(str(folder))
    except (OSError, ValueError) as e:
        raise DataError(f"cannot load the dataset in {str(out)!r}: {e}") from e
    return dd, manifest, layout


def render_record(record: dict, size: int = 200, layout=None) -> np.ndarray:
    """(size, size, 3) uint8 render of a record (a dataset row) from its tokens."""
    from svgrl.svg.render import render
    from svgrl.tokens.codec import decode
    from svgrl.tokens.layout import TokenLayout

    return render(decode(record["tokens"], layout or TokenLayout()), size)
