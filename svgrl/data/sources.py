"""SVG sources: folders, the PyPI icon sets (the embedded default) and npm-packed sets.

Each source is a function returning an iterator of `SvgItem` in a fixed order. Calling it
checks the source exists (so a missing set fails at once, with the command that fixes it);
files are listed lazily and read only by `SvgItem.read()`. `SOURCES` maps every name to its
function; `iter_source` also takes a folder path or an ``@iconify-json/<set>`` name.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from svgrl.data import npm
from svgrl.data.item import SvgItem, compose_caption, unique, walk_svgs, words_from_name
from svgrl.errors import DataError, SourceNotFoundError

SIDECAR_NAMES = ("captions.json", "captions.csv")
MAX_SIDECAR_BYTES = 64 * 1024 * 1024


# --- a folder of SVGs ---------------------------------------------------------------------


def iter_folder(
    root: str | Path,
    *,
    source: str | None = None,
    captions: str | Path | None = None,
    license: str = "unknown",
) -> Iterator[SvgItem]:
    """Every ``*.svg`` under `root` (recursive, depth first in name order).

    Captions come from `captions` (a JSON object or a CSV file mapping a file to its caption)
    or, when not given, from ``captions.json`` / ``captions.csv`` in `root`; a file is looked
    up by its path relative to `root`, then its file name, then its stem. Files without a
    caption get their file name split into words. `source` defaults to the folder's name.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise SourceNotFoundError(f"{str(root)!r} is not a folder of SVG files")
    source = source or root.resolve().name or "folder"
    if captions is None:
        captions = next((root / n for n in SIDECAR_NAMES if (root / n).is_file()), None)
    table = read_sidecar(Path(captions)) if captions is not None else {}
    return _walk_folder(root, source, table, license)


def _walk_folder(
    root: Path, source: str, table: dict[str, tuple[str, tuple[str, ...]]], license: str
) -> Iterator[SvgItem]:
    for path in walk_svgs(root):
        rel = path.relative_to(root).as_posix()
        name = words_from_name(path.name)
        caption, tags = (
            table.get(rel) or table.get(path.name) or table.get(path.stem) or (name, ())
        )
        yield SvgItem(
            id=f"{source}/{rel[:-4]}", source=source, name=name, caption=caption,
            tags=tags, license=license, path=str(path),
        )


def read_sidecar(path: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    """File key → (caption, tags) from a sidecar.

    JSON: ``{"cat.svg": "a cat"}`` or ``{"cat.svg": {"caption": "a cat", "tags": [...]}}``.
    CSV: a header row naming a file column (``file``, ``filename``, ``path`` or ``name``) and
    a ``caption`` column, optionally ``tags`` (separated by ``,`` or ``;``).
    """
    try:
        size = path.stat().st_size
        if size > MAX_SIDECAR_BYTES:
            raise DataError(f"caption sidecar {str(path)!r} is {size} bytes (limit "
                            f"{MAX_SIDECAR_BYTES})")
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise DataError(f"cannot read caption sidecar {str(path)!r}: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise DataError(f"caption sidecar {str(path)!r} is not UTF-8 ({e.reason})") from e
    if path.suffix.lower() == ".json":
        return _sidecar_json(text, path)
    if path.suffix.lower() == ".csv":
        return _sidecar_csv(text, path)
    raise DataError(f"caption sidecar {str(path)!r} must end in .json or .csv")


def _entry(caption: object, tags: object, where: str) -> tuple[str, tuple[str, ...]]:
    if not isinstance(caption, str) or not caption.strip():
        raise DataError(f"{where}: caption must be a non-empty string, got {caption!r}")
    if isinstance(tags, str):
        tags = tags.replace(";", ",").split(",")
    if not isinstance(tags, list | tuple):
        raise DataError(f"{where}: tags must be a list or a string, got {tags!r}")
    return caption.strip(), unique(tags)


def _sidecar_json(text: str, path: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"caption sidecar {str(path)!r} is not valid JSON: {e}") from e
    if not isinstance(raw, dict):
        raise DataError(f"caption sidecar {str(path)!r} must hold a JSON object "
                        f"(file name → caption), got {type(raw).__name__}")
    out = {}
    for key, value in raw.items():
        where = f"{path.name}[{key!r}]"
        if isinstance(value, dict):
            out[key] = _entry(value.get("caption"), value.get("tags", []), where)
        else:
            out[key] = _entry(value, [], where)
    return out


def _sidecar_csv(text: str, path: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    try:
        rows = list(csv.DictReader(io.StringIO(text)))
    except csv.Error as e:
        raise DataError(f"caption sidecar {str(path)!r} is not valid CSV: {e}") from e
    header = [h.strip().lower() for h in (rows[0].keys() if rows else [])]
    key_col = next((h for h in ("file", "filename", "path", "name") if h in header), None)
    if key_col is None or "caption" not in header:
        raise DataError(f"caption sidecar {str(path)!r} needs a header with a 'file' and a "
                        f"'caption' column, found {header!r}")
    out = {}
    for i, row in enumerate(rows, start=2):
        row = {(k or "").strip().lower(): v or "" for k, v in row.items()}
        out[row[key_col].strip()] = _entry(row["caption"], row.get("tags", ""),
                                           f"{path.name} line {i}")
    return out


# --- PyPI sets (installed with svgrl: the embedded default) --------------------------------


def _package_dir(package: str) -> Path:
    # find_spec locates the package without importing it (pytablericons imports Pillow).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SourceNotFoundError(
            f"PyPI package {package!r} is not installed; install it with: pip install {package}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def tabler_header(path: Path) -> tuple[str, tuple[str, ...]]:
    """(category, tags) from the comment Tabler puts before ``<svg>``::

        <!--
        tags: [back, swipe, return]
        category: Arrows
        -->

    Only the file's first 2 KiB are read; icons without the comment give ``("", ())``.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(2048).decode("utf-8", "replace")
    except OSError:
        return "", ()
    if not head.lstrip().startswith("<!--"):
        return "", ()
    category, tags = "", ()
    for line in head.split("-->", 1)[0].splitlines():
        key, _, value = line.partition(":")
        value = value.strip()
        if key.strip() == "category":
            category = value.strip("\"'")
        elif key.strip() == "tags" and value.startswith("["):
            tags = unique(t.strip().strip("\"'") for t in value.strip("[]").split(","))
    return category, tags


def iter_pytablericons() -> Iterator[SvgItem]:
    """Tabler Icons from PyPI `pytablericons` (MIT): 5,237 SVGs, ``filled/`` then
    ``outline/``. Captions: name; category; tags from the comment heading each file (read
    during iteration, 2 KiB per file); item tags are the style then those tags."""
    root = _package_dir("pytablericons") / "icons"

    def items() -> Iterator[SvgItem]:
        for path in walk_svgs(root):
            style = path.parent.name
            name = words_from_name(path.name)
            category, tags = tabler_header(path)
            yield SvgItem(
                id=f"pytablericons/{style}/{path.stem}", source="pytablericons", name=name,
                caption=compose_caption(name, category, tags), tags=unique((style, *tags)),
                license="MIT", path=str(path),
            )

    return items()


def iter_fontawesomefree() -> Iterator[SvgItem]:
    """Font Awesome Free from PyPI `fontawesomefree` (icons CC BY 4.0): ``brands/``,
    ``regular/``, ``solid/``; captions are the icon label plus its search terms from
    ``metadata/icons.json``, tags the style and the search terms."""
    base = _package_dir("fontawesomefree") / "static" / "fontawesomefree"

    def items() -> Iterator[SvgItem]:
        try:
            meta = json.loads((base / "metadata" / "icons.json").read_bytes())
        except (OSError, ValueError):
            meta = {}
        for path in walk_svgs(base / "svgs"):
            style = path.parent.name
            info = meta.get(path.stem) or {}
            name = words_from_name(path.name)
            label = str(info.get("label") or name)
            terms = unique((info.get("search") or {}).get("terms") or ())
            yield SvgItem(
                id=f"fontawesomefree/{style}/{path.stem}", source="fontawesomefree",
                name=name, caption=compose_caption(label, style, terms),
                tags=unique((style, *terms)), license="CC-BY-4.0", path=str(path),
            )

    return items()


# --- the plain table of sources -------------------------------------------------------------

# name → function(cache_dir) → iterator. PyPI sets ignore the cache. npm names are the npm
# package names, so `svgrl data fetch NAME` and `--source NAME` use the same word.
SOURCES: dict[str, Callable[[Path], Iterator[SvgItem]]] = {
    "pytablericons": lambda cache: iter_pytablericons(),
    "fontawesomefree": lambda cache: iter_fontawesomefree(),
    "openmoji": npm.iter_openmoji,
    "@twemoji/svg": npm.iter_twemoji,
    "@tabler/icons": npm.iter_tabler_icons,
    "lucide-static": npm.iter_lucide,
}

# The embedded default: sets that install with svgrl from PyPI.
DEFAULT_SOURCES = ("pytablericons", "fontawesomefree")


def iter_source(name_or_path: str | Path, cache_dir: str | Path | None = None) -> Iterator[SvgItem]:
    """Items of a source named in `SOURCES`, an ``@iconify-json/<set>`` collection, or a
    folder path. `cache_dir` is the svgrl cache root (default: `npm.cache_root()`)."""
    cache = npm.cache_root(cache_dir)
    key = str(name_or_path)
    if key in SOURCES:
        return SOURCES[key](cache)
    if key.startswith(npm.ICONIFY_PREFIX):
        return npm.iter_iconify(cache, key[len(npm.ICONIFY_PREFIX):])
    path = Path(key).expanduser()
    if path.is_dir():
        return iter_folder(path)
    if "/" in key.lstrip("@") or path.suffix or key.startswith((".", "~")):
        # spelled like a path, not a source name
        raise SourceNotFoundError(f"no such file or folder: {key!r}")
    raise SourceNotFoundError(
        f"unknown source {key!r}: not a folder, and not one of {', '.join(SOURCES)} or "
        f"{npm.ICONIFY_PREFIX}<set> (e.g. {npm.ICONIFY_PREFIX}mdi)"
    )
