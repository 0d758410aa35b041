"""Sources unpacked from npm packages by `svgrl data fetch` into the cache.

Layout: ``<cache root>/npm/<package name>/`` holds the package's files (the tarball's
``package/`` folder), e.g. ``~/.cache/svgrl/npm/@twemoji/svg/1f600.svg``.
"""

from __future__ import annotations

import json
import math
import os
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from svgrl.data.item import SvgItem, compose_caption, unique, walk_svgs, words_from_name
from svgrl.errors import DataError, SourceNotFoundError

ICONIFY_PREFIX = "@iconify-json/"
_ICONIFY_SET = re.compile(r"^[a-z0-9][a-z0-9-]*$")
MAX_METADATA_BYTES = 256 * 1024 * 1024


def default_cache_root() -> Path:
    """``$SVGRL_CACHE``, else ``$XDG_CACHE_HOME/svgrl``, else ``~/.cache/svgrl``."""
    if os.environ.get("SVGRL_CACHE"):
        return Path(os.environ["SVGRL_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "svgrl"


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """The svgrl cache root: `cache_dir` when given, else `default_cache_root()`."""
    return Path(cache_dir).expanduser() if cache_dir else default_cache_root()


def package_dir(cache: Path, package: str) -> Path:
    """Where `package` is (or would be) unpacked under cache root `cache`."""
    return cache / "npm" / package


def fetch_command(package: str, cache: Path) -> str:
    """The command that fetches `package` into `cache` (the flag only when not default)."""
    flag = "" if cache == default_cache_root() else f" --cache {cache}"
    return f"svgrl data fetch {package}{flag}"


def require_package(cache: Path, package: str) -> Path:
    root = package_dir(cache, package)
    if not root.is_dir():
        raise SourceNotFoundError(
            f"npm source {package!r} is not fetched (no folder {str(root)!r}); "
            f"run: {fetch_command(package, cache)}"
        )
    return root


def load_json(path: Path, what: str) -> object:
    try:
        if path.stat().st_size > MAX_METADATA_BYTES:
            raise DataError(f"{what} {str(path)!r} is larger than {MAX_METADATA_BYTES} bytes")
        return json.loads(path.read_bytes())
    except OSError as e:
        raise DataError(f"cannot read {what} {str(path)!r}: {e.strerror}") from e
    except ValueError as e:
        raise DataError(f"{what} {str(path)!r} is not valid JSON: {e}") from e


# --- emoji: OpenMoji and Twemoji -----------------------------------------------------------

_SKIN = {0x1F3FB: "light", 0x1F3FC: "medium-light", 0x1F3FD: "medium",
         0x1F3FE: "medium-dark", 0x1F3FF: "dark"}


def emoji_key(hexcode: str) -> str:
    """Codepoints as OpenMoji writes them, minus variation selectors (Twemoji drops most
    U+FE0F) and zero-padded to 4 digits: ``"1f3f3-fe0f-200d-1f308"`` →
    ``"1F3F3-200D-1F308"``, ``"23-20e3"`` → ``"0023-20E3"``."""
    parts = [h.upper().zfill(4) for h in hexcode.split("-")]
    return "-".join(h for h in parts if h not in ("FE0F", "FE0E"))


def emoji_name(hexcode: str) -> str:
    """A name from Unicode character names, for emoji without OpenMoji annotations:
    ``"1f1fa-1f1f8"`` → ``"flag: US"``, ``"1f44d-1f3fd"`` → ``"thumbs up sign: medium skin
    tone"``; ``"emoji <hex>"`` when this Python's Unicode tables do not know a codepoint."""
    try:
        cps = [int(h, 16) for h in emoji_key(hexcode).split("-")]
    except ValueError:
        return words_from_name(hexcode)
    if cps and all(0x1F1E6 <= c <= 0x1F1FF for c in cps):
        return "flag: " + "".join(chr(ord("A") + c - 0x1F1E6) for c in cps)
    if len(cps) > 1 and cps[0] == 0x1F3F4 and all(0xE0020 <= c <= 0xE007F for c in cps[1:]):
        return "flag: " + "".join(chr(c - 0xE0000) for c in cps[1:-1]).upper()
    if 0x20E3 in cps:
        return "keycap: " + "".join(chr(c) for c in cps if c != 0x20E3)
    words, skins = [], []
    for c in cps:
        if c in _SKIN:
            skins.append(_SKIN[c] + " skin tone")
        elif c != 0x200D:
            name = unicodedata.name(chr(c), None)
            if name is None:
                return f"emoji {hexcode.lower()}"
            words.append(name.lower())
    return ", ".join(words) + (": " + ", ".join(skins) if skins else "")


def _openmoji_table(root: Path) -> dict[str, dict]:
    raw = load_json(root / "data" / "openmoji.json", "OpenMoji metadata")
    if not isinstance(raw, list):
        raise DataError("OpenMoji metadata data/openmoji.json must be a JSON list")
    return {str(e["hexcode"]).upper(): e for e in raw if isinstance(e, dict) and "hexcode" in e}


def _emoji_meta(
    entry: dict | None, hexcode: str, table: dict[str, dict]
) -> tuple[str, str, tuple[str, ...]]:
    """(name, caption, tags) from an OpenMoji entry: annotation; group / subgroup; tags.
    Skin-tone variants carry no tags of their own in openmoji.json: take the base emoji's."""
    if not entry:
        name = emoji_name(hexcode)
        return name, name, ()
    name = str(entry.get("annotation") or "").strip() or emoji_name(hexcode)
    group = " / ".join(
        words_from_name(str(entry.get(k) or "")) for k in ("group", "subgroups")
        if entry.get(k)
    )
    tagged = entry
    if not (entry.get("tags") or entry.get("openmoji_tags")):
        tagged = table.get(str(entry.get("skintone_base_hexcode") or "").upper()) or entry
    tags = unique(
        t for k in ("tags", "openmoji_tags") for t in str(tagged.get(k) or "").split(",")
    )
    return name, compose_caption(name, group, tags), tags


def iter_openmoji(cache: Path) -> Iterator[SvgItem]:
    """OpenMoji colour SVGs (CC BY-SA 4.0), captions from ``data/openmoji.json``."""
    root = require_package(cache, "openmoji")

    def items() -> Iterator[SvgItem]:
        table = _openmoji_table(root)
        for path in walk_svgs(root / "color" / "svg"):
            entry = table.get(path.stem.upper())
            name, caption, tags = _emoji_meta(entry, path.stem, table)
            yield SvgItem(
                id=f"openmoji/{path.stem.upper()}", source="openmoji", name=name,
                caption=caption, tags=tags, license="CC-BY-SA-4.0", path=str(path),
            )

    return items()


def iter_twemoji(cache: Path) -> Iterator[SvgItem]:
    """Twemoji SVGs from ``@twemoji/svg``. The npm package says MIT (its code); the
    graphics are CC BY 4.0 (jdecked/twemoji), which is what items carry. Captions come from
    OpenMoji's annotations matched by codepoints when ``openmoji`` is fetched too, else from
    Unicode character names."""
    root = require_package(cache, "@twemoji/svg")

    def items() -> Iterator[SvgItem]:
        om = package_dir(cache, "openmoji")
        table = _openmoji_table(om) if (om / "data" / "openmoji.json").is_file() else {}
        by_key = {emoji_key(k): v for k, v in table.items()}
        for path in walk_svgs(root):
            entry = by_key.get(emoji_key(path.stem))
            name, caption, tags = _emoji_meta(entry, path.stem, table)
            yield SvgItem(
                id=f"@twemoji/svg/{path.stem.lower()}", source="@twemoji/svg", name=name,
                caption=caption, tags=tags, license="CC-BY-4.0", path=str(path),
            )

    return items()


# --- icon sets with keyword files ----------------------------------------------------------


def iter_tabler_icons(cache: Path) -> Iterator[SvgItem]:
    """Tabler Icons from npm ``@tabler/icons`` (MIT): ``icons/{filled,outline}``, captions
    from ``icons.json`` (name; category; tags)."""
    root = require_package(cache, "@tabler/icons")

    def items() -> Iterator[SvgItem]:
        meta = load_json(root / "icons.json", "Tabler metadata") if (
            root / "icons.json").is_file() else {}
        meta = meta if isinstance(meta, dict) else {}
        for path in walk_svgs(root / "icons"):
            style = path.parent.name
            info = meta.get(path.stem) if isinstance(meta.get(path.stem), dict) else {}
            name = words_from_name(path.name)
            tags = unique(info.get("tags") or ())
            yield SvgItem(
                id=f"@tabler/icons/{style}/{path.stem}", source="@tabler/icons", name=name,
                caption=compose_caption(name, str(info.get("category") or ""), tags),
                tags=unique((style, *tags)), license="MIT", path=str(path),
            )

    return items()


def iter_lucide(cache: Path) -> Iterator[SvgItem]:
    """Lucide icons from npm ``lucide-static`` (ISC): ``icons/*.svg``, tags from
    ``tags.json``."""
    root = require_package(cache, "lucide-static")

    def items() -> Iterator[SvgItem]:
        meta = load_json(root / "tags.json", "Lucide tags") if (
            root / "tags.json").is_file() else {}
        meta = meta if isinstance(meta, dict) else {}
        for path in walk_svgs(root / "icons"):
            name = words_from_name(path.name)
            raw = meta.get(path.stem)
            tags = unique(raw) if isinstance(raw, list) else ()
            yield SvgItem(
                id=f"lucide-static/{path.stem}", source="lucide-static", name=name,
                caption=compose_caption(name, "", tags), tags=tags, license="ISC",
                path=str(path),
            )

    return items()


# --- Iconify collections: SVG bodies stored in JSON ---------------------------------------


def _num(value: object, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DataError(f"{where}: expected a finite number, got {value!r}")
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def iconify_svg(icon: dict, defaults: dict, where: str) -> bytes:
    """Wrap an Iconify icon ``body`` in an ``<svg>`` with its (or the collection's) box.

    Follows the IconifyJSON format: ``left``/``top``/``width``/``height`` default to 0/0/16/16
    at collection level; ``hFlip``/``vFlip`` mirror and ``rotate`` turns by quarter turns
    about the box centre (a quarter turn swaps the box's width and height).
    """
    body = icon.get("body")
    if not isinstance(body, str):
        raise DataError(f"{where}: 'body' must be a string of SVG elements, got {body!r}")
    box = {k: icon.get(k, defaults.get(k, d))
           for k, d in (("left", 0), ("top", 0), ("width", 16), ("height", 16))}
    for k, v in box.items():
        _num(v, f"{where}.{k}")
    x, y, w, h = box["left"], box["top"], box["width"], box["height"]
    cx, cy = x + w / 2, y + h / 2
    transforms = []
    if icon.get("hFlip"):
        transforms.append(f"translate({_num(2 * cx, where)} 0) scale(-1 1)")
    if icon.get("vFlip"):
        transforms.append(f"translate(0 {_num(2 * cy, where)}) scale(1 -1)")
    turns = icon.get("rotate", 0)
    if not isinstance(turns, int) or isinstance(turns, bool):
        raise DataError(f"{where}.rotate: expected 0-3 quarter turns, got {turns!r}")
    if turns % 4:
        transforms.insert(0, f"rotate({90 * (turns % 4)} {_num(cx, where)} {_num(cy, where)})")
        if turns % 2:
            x, y, w, h = cx - h / 2, cy - w / 2, h, w
    if transforms:
        body = f'<g transform="{" ".join(transforms)}">{body}</g>'
    vb = " ".join(_num(v, where) for v in (x, y, w, h))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(w, where)}" '
        f'height="{_num(h, where)}" viewBox="{vb}">{body}</svg>'
    ).encode()


def iter_iconify(cache: Path, collection: str) -> Iterator[SvgItem]:
    """An ``@iconify-json/<collection>`` set: visible icons in name order, each body wrapped
    in an ``<svg>``; captions are the icon name in words, tags the names of its aliases."""
    if not _ICONIFY_SET.match(collection):
        raise SourceNotFoundError(
            f"{ICONIFY_PREFIX}{collection!r} is not an Iconify collection name "
            f"(lowercase letters, digits and '-', e.g. {ICONIFY_PREFIX}mdi)"
        )
    source = ICONIFY_PREFIX + collection
    root = require_package(cache, source)

    def items() -> Iterator[SvgItem]:
        data = load_json(root / "icons.json", f"{source} icons.json")
        if not isinstance(data, dict) or not isinstance(data.get("icons"), dict):
            raise DataError(f"{source} icons.json has no 'icons' object")
        info = data.get("info")
        if not isinstance(info, dict) and (root / "info.json").is_file():
            info = load_json(root / "info.json", f"{source} info.json")
        lic = (info or {}).get("license") if isinstance(info, dict) else None
        license = str(lic.get("spdx") or lic.get("title") or "") if isinstance(lic, dict) else ""
        aliases: dict[str, list[str]] = {}
        raw_aliases = data.get("aliases") if isinstance(data.get("aliases"), dict) else {}
        for alias, spec in raw_aliases.items():
            # Only plain renames: an alias that flips or rotates draws a different picture.
            if isinstance(spec, dict) and set(spec) == {"parent"}:
                aliases.setdefault(str(spec["parent"]), []).append(words_from_name(alias))
        for name in sorted(data["icons"]):
            icon = data["icons"][name]
            if not isinstance(icon, dict):
                raise DataError(f"{source} icon {name!r} must be an object, got {icon!r}")
            if icon.get("hidden"):
                continue
            words = words_from_name(name)
            tags = unique(aliases.get(name, ()))
            yield SvgItem(
                id=f"{source}/{name}", source=source, name=words,
                caption=compose_caption(words, "", tags), tags=tags,
                license=license or "unknown",
                data=iconify_svg(icon, data, f"{source} icon {name!r}"),
            )

    return items()


def fetched_iconify(cache: Path) -> list[str]:
    """Names of the ``@iconify-json/*`` collections present in the cache."""
    base = cache / "npm" / ICONIFY_PREFIX.rstrip("/")
    if not base.is_dir():
        return []
    return sorted(ICONIFY_PREFIX + p.name for p in base.iterdir()
                  if p.is_dir() and not p.name.startswith("."))
