"""npm-packed sources read from tiny npm-like trees built in tmp folders (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import resvg_py
import skia

from svgrl.data import npm
from svgrl.data.sources import iter_source
from svgrl.errors import DataError

SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><rect width="4" height="4"/></svg>'


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def make_openmoji(cache: Path) -> Path:
    root = npm.package_dir(cache, "openmoji")
    entries = [
        {"hexcode": "1F600", "annotation": "grinning face", "group": "smileys-emotion",
         "subgroups": "face-smiling", "tags": "face, grin", "openmoji_tags": "smile, grin"},
        {"hexcode": "1F44D", "annotation": "thumbs up", "group": "people-body",
         "subgroups": "hand-fingers-closed", "tags": "hand, up", "openmoji_tags": ""},
        {"hexcode": "1F44D-1F3FD", "annotation": "thumbs up: medium skin tone",
         "group": "people-body", "subgroups": "hand-fingers-closed", "tags": "",
         "openmoji_tags": "", "skintone_base_hexcode": "1F44D"},
        {"hexcode": "0023-FE0F-20E3", "annotation": "keycap: #", "group": "symbols",
         "subgroups": "keycap", "tags": "keycap", "openmoji_tags": ""},
        {"hexcode": "E000", "annotation": "", "group": "extras-openmoji", "subgroups": "",
         "tags": "", "openmoji_tags": ""},
    ]
    write(root / "data" / "openmoji.json", json.dumps(entries))
    for e in entries:
        write(root / "color" / "svg" / f"{e['hexcode']}.svg", SVG)
    write(root / "color" / "svg" / "1F642.svg", SVG)  # no metadata entry
    write(root / "black" / "svg" / "1F600.svg", SVG)  # the monochrome set is not read
    return root


def test_openmoji_captions_from_metadata(cache):
    make_openmoji(cache)
    items = {i.id: i for i in iter_source("openmoji")}
    assert list(items) == sorted(items, key=lambda k: k + ".svg")  # file name order
    assert len(items) == 6
    face = items["openmoji/1F600"]
    assert face.name == "grinning face"
    assert face.caption == "grinning face; smileys emotion / face smiling; face, grin, smile"
    assert face.tags == ("face", "grin", "smile") and face.license == "CC-BY-SA-4.0"
    # Skin-tone variants borrow their base emoji's tags.
    assert items["openmoji/1F44D-1F3FD"].tags == ("hand", "up")
    # Without an entry (or annotation): the Unicode character name.
    assert items["openmoji/1F642"].name == "slightly smiling face"
    assert items["openmoji/E000"].name == "emoji e000"
    assert face.read() == SVG.encode()


def make_twemoji(cache: Path) -> Path:
    root = npm.package_dir(cache, "@twemoji/svg")
    for stem in ["1f600", "1f44d-1f3fd", "23-20e3", "1f1fa-1f1f8"]:
        write(root / f"{stem}.svg", SVG)
    write(root / "package.json", "{}")
    return root


def test_twemoji_matches_openmoji_codepoints(cache):
    make_twemoji(cache)
    alone = {i.id: i for i in iter_source("@twemoji/svg")}
    assert alone["@twemoji/svg/1f600"].caption == "grinning face"  # Unicode name only
    assert alone["@twemoji/svg/1f1fa-1f1f8"].name == "flag: US"
    make_openmoji(cache)
    items = {i.id: i for i in iter_source("@twemoji/svg")}
    assert items["@twemoji/svg/1f600"].caption.startswith("grinning face; smileys emotion")
    assert items["@twemoji/svg/1f44d-1f3fd"].name == "thumbs up: medium skin tone"
    # Twemoji drops U+FE0F and zero padding; OpenMoji keeps both.
    assert items["@twemoji/svg/23-20e3"].tags == ("keycap",)
    assert all(i.license == "CC-BY-4.0" for i in items.values())


@pytest.mark.parametrize(
    "hexcode, name",
    [
        ("1f600", "grinning face"),
        ("1f1ef-1f1f5", "flag: JP"),
        ("1f3f4-e0067-e0062-e0073-e0063-e0074-e007f", "flag: GBSCT"),
        ("31-20e3", "keycap: 1"),
        ("1f468-200d-1f469-200d-1f467", "man, woman, girl"),
        ("1f44b-1f3ff", "waving hand sign: dark skin tone"),
        ("zz", "zz"),
    ],
)
def test_emoji_name(hexcode, name):
    assert npm.emoji_name(hexcode) == name


def test_emoji_key():
    assert npm.emoji_key("1f3f3-fe0f-200d-1f308") == "1F3F3-200D-1F308"
    assert npm.emoji_key("23-20e3") == npm.emoji_key("0023-FE0F-20E3") == "0023-20E3"


def test_tabler_icons_npm(cache):
    root = npm.package_dir(cache, "@tabler/icons")
    write(root / "icons" / "outline" / "a-b.svg", SVG)
    write(root / "icons" / "filled" / "a-b.svg", SVG)
    write(root / "icons" / "outline" / "zzz.svg", SVG)
    write(root / "icons.json", json.dumps(
        {"a-b": {"name": "a-b", "category": "Text", "tags": ["ab-test", "split"]}}))
    items = list(iter_source("@tabler/icons"))
    assert [i.id for i in items] == ["@tabler/icons/filled/a-b", "@tabler/icons/outline/a-b",
                                     "@tabler/icons/outline/zzz"]
    assert items[1].caption == "a b; Text; ab-test, split"
    assert items[1].tags == ("outline", "ab-test", "split")
    assert items[2].caption == "zzz" and items[2].license == "MIT"


def test_lucide_tags(cache):
    root = npm.package_dir(cache, "lucide-static")
    write(root / "icons" / "activity.svg", SVG)
    write(root / "icons" / "zap.svg", SVG)
    write(root / "tags.json", json.dumps({"activity": ["pulse", "motion"], "zap": "bad"}))
    a, z = iter_source("lucide-static")
    assert (a.id, a.caption, a.tags, a.license) == (
        "lucide-static/activity", "activity; pulse, motion", ("pulse", "motion"), "ISC")
    assert z.caption == "zap" and z.tags == ()


def test_npm_metadata_not_json_is_typed(cache):
    make_openmoji(cache)
    write(npm.package_dir(cache, "openmoji") / "data" / "openmoji.json", "{oops")
    it = iter_source("openmoji")
    with pytest.raises(DataError, match="not valid JSON"):
        next(it)


# --- Iconify ---------------------------------------------------------------------------------

# An L-shaped mark in the top-left corner of a 16×12 box: flips and turns are visible.
L_BODY = '<path fill="#000" d="M1 1h4v8h6v2H1z"/>'


def make_iconify(cache: Path, icons: dict, **extra) -> Path:
    root = npm.package_dir(cache, "@iconify-json/test")
    data = {"prefix": "test", "icons": icons, "width": 16, "height": 12, **extra}
    write(root / "icons.json", json.dumps(data))
    write(root / "info.json", json.dumps({"license": {"title": "MIT", "spdx": "MIT"}}))
    return root


def render(svg: bytes) -> np.ndarray:
    png = resvg_py.svg_to_bytes(svg_string=svg.decode(), background="#ffffff")
    arr = skia.Image.MakeFromEncoded(png).toarray()
    return arr[..., :3].mean(axis=2) < 128


def test_iconify_wraps_bodies_and_skips_hidden(cache):
    make_iconify(cache, {
        "zeta": {"body": L_BODY},
        "alpha-one": {"body": L_BODY, "width": 24, "left": -2},
        "old": {"body": L_BODY, "hidden": True},
    }, aliases={"first": {"parent": "alpha-one"}, "flipped": {"parent": "zeta", "hFlip": True}})
    items = list(iter_source("@iconify-json/test"))
    assert [i.id for i in items] == ["@iconify-json/test/alpha-one", "@iconify-json/test/zeta"]
    a, z = items
    assert a.caption == "alpha one; first" and a.tags == ("first",) and a.license == "MIT"
    assert z.tags == ()  # an alias that flips draws something else: not a synonym
    assert a.read().startswith(b'<svg xmlns="http://www.w3.org/2000/svg" width="24" '
                               b'height="12" viewBox="-2 0 24 12">')
    assert z.read().endswith(L_BODY.encode() + b"</svg>")
    assert render(z.read()).shape == (12, 16)


@pytest.mark.parametrize(
    "transform, expect",
    [
        ({"hFlip": True}, lambda m: m[:, ::-1]),
        ({"vFlip": True}, lambda m: m[::-1, :]),
        ({"rotate": 1}, lambda m: np.rot90(m, k=-1)),  # a quarter turn clockwise
        ({"rotate": 2}, lambda m: np.rot90(m, k=2)),
        ({"rotate": 3}, lambda m: np.rot90(m, k=1)),
    ],
)
def test_iconify_flips_and_turns_match_pixels(cache, transform, expect):
    make_iconify(cache, {"plain": {"body": L_BODY}, "moved": {"body": L_BODY, **transform}})
    moved, plain = iter_source("@iconify-json/test")
    want = expect(render(plain.read()))
    got = render(moved.read())
    assert got.shape == want.shape
    assert (got != want).mean() < 0.01, f"{(got != want).sum()} pixels differ"


@pytest.mark.parametrize(
    "icons, match",
    [
        ({"a": {"body": 5}}, "'body' must be a string"),
        ({"a": "<path/>"}, "must be an object"),
        ({"a": {"body": "", "width": "wide"}}, "finite number"),
        ({"a": {"body": "", "rotate": 1.5}}, "quarter turns"),
    ],
)
def test_iconify_malformed_icons_are_typed(cache, icons, match):
    make_iconify(cache, icons)
    with pytest.raises(DataError, match=match):
        list(iter_source("@iconify-json/test"))


def test_iconify_nan_width_is_typed(cache):
    root = npm.package_dir(cache, "@iconify-json/test")
    write(root / "icons.json", '{"icons": {"a": {"body": "", "width": NaN}}}')
    with pytest.raises(DataError, match="finite number"):
        list(iter_source("@iconify-json/test"))


def test_iconify_without_icons_object_is_typed(cache):
    root = npm.package_dir(cache, "@iconify-json/test")
    write(root / "icons.json", '{"prefix": "test"}')
    with pytest.raises(DataError, match="no 'icons' object"):
        next(iter_source("@iconify-json/test"))


def test_fetched_iconify_lists_collections(cache):
    assert npm.fetched_iconify(cache) == []
    make_iconify(cache, {"a": {"body": L_BODY}})
    assert npm.fetched_iconify(cache) == ["@iconify-json/test"]


# --- the real sets, when `svgrl data fetch` has put them in the default cache -----------------

REAL = npm.default_cache_root()


@pytest.mark.npm
@pytest.mark.parametrize(
    "source, folder",
    [("openmoji", "color/svg"), ("@twemoji/svg", "."), ("@tabler/icons", "icons"),
     ("lucide-static", "icons")],
)
def test_real_npm_sets_yield_every_svg(source, folder):
    root = npm.package_dir(REAL, source)
    if not root.is_dir():
        pytest.skip(f"{source} not fetched; run: svgrl data fetch {source}")
    items = list(iter_source(source, REAL))
    files = [p for p in (root / folder).rglob("*.svg")]
    assert len(items) == len(files) > 1000
    assert len({i.id for i in items}) == len(items)
    # Metadata reached most items (keywords beyond the name). Lucide ships ~12% of its files
    # as renamed-icon aliases (home.svg = house.svg) that tags.json does not list.
    assert sum(bool(set(i.tags) - {"outline", "filled"}) for i in items) > 0.85 * len(items)
