"""Folder and PyPI sources, `SvgItem`, `iter_source` errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from svgrl.data import npm
from svgrl.data.item import SvgItem, compose_caption, unique, words_from_name
from svgrl.data.sources import (
    DEFAULT_SOURCES,
    SOURCES,
    iter_folder,
    iter_fontawesomefree,
    iter_pytablericons,
    iter_source,
)
from svgrl.errors import DataError, SourceNotFoundError, SvgrlError

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
       '<rect width="5" height="5"/></svg>')


def write(path: Path, text: str | bytes = SVG) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "name, words",
    [
        ("arrow-left.svg", "arrow left"),
        ("arrow_left_2.SVG", "arrow left 2"),
        ("arrowLeft", "arrow left"),
        ("sub/dir/circle-number-4.svg", "circle number 4"),
        ("  a--b__c.d  ", "a b c d"),
        ("HTTPServer", "httpserver"),
    ],
)
def test_words_from_name(name, words):
    assert words_from_name(name) == words


def test_compose_caption_drops_empty_parts_and_title_repeated_as_tag():
    assert compose_caption("cat", "", ("Cat", "pet", "animal")) == "cat; pet, animal"
    assert compose_caption("cat", "animals / pets", ()) == "cat; animals / pets"
    assert unique([" a", "b", "a", "", "b "]) == ("a", "b")


# --- SvgItem --------------------------------------------------------------------------------


def test_item_needs_exactly_one_of_path_or_data(tmp_path):
    with pytest.raises(DataError, match="exactly one"):
        SvgItem(id="x", source="s", name="x", caption="x")
    with pytest.raises(DataError, match="exactly one"):
        SvgItem(id="x", source="s", name="x", caption="x", path="a.svg", data=b"<svg/>")


def test_item_read_is_lazy_bounded_and_typed(tmp_path):
    f = write(tmp_path / "a.svg")
    item = SvgItem(id="s/a", source="s", name="a", caption="a", path=str(f))
    assert item.read() == SVG.encode()
    with pytest.raises(DataError, match="larger than 10 bytes"):
        item.read(max_bytes=10)
    f.unlink()
    with pytest.raises(DataError, match="cannot read"):
        item.read()
    mem = SvgItem(id="s/b", source="s", name="b", caption="b", data=b"<svg/>")
    assert mem.read() == b"<svg/>"
    with pytest.raises(DataError):
        mem.read(max_bytes=3)


def test_item_pickles_for_worker_processes(tmp_path):
    item = SvgItem(id="s/a", source="s", name="a", caption="a", tags=("t",),
                   path=str(write(tmp_path / "a.svg")))
    back = pickle.loads(pickle.dumps(item))
    assert back == item and back.read() == item.read()


# --- folders --------------------------------------------------------------------------------


def test_folder_recursive_ordered_with_words_as_captions(tmp_path):
    root = tmp_path / "my-icons"
    for rel in ["b/zeta-one.svg", "a.svg", "b/alpha_two.svg", "c/d/deep.svg", ".hidden/x.svg",
                ".x.svg", "notes.txt", "b/UPPER.SVG"]:
        write(root / rel)
    items = list(iter_folder(root))
    assert [i.id for i in items] == [
        "my-icons/a", "my-icons/b/UPPER", "my-icons/b/alpha_two", "my-icons/b/zeta-one",
        "my-icons/c/d/deep",
    ]
    assert [i.caption for i in items] == ["a", "upper", "alpha two", "zeta one", "deep"]
    assert all(i.source == "my-icons" and i.license == "unknown" for i in items)
    assert [i.id for i in iter_folder(root)] == [i.id for i in items]  # deterministic
    assert items[0].read() == SVG.encode()


def test_folder_listing_is_deferred_until_iteration(tmp_path):
    root = tmp_path / "f"
    write(root / "a.svg")
    it = iter_folder(root)
    write(root / "b.svg")  # added after the call: a lazy walk still sees it
    assert [i.name for i in it] == ["a", "b"]


def test_folder_json_sidecar_matches_relpath_name_and_stem(tmp_path):
    root = tmp_path / "f"
    for rel in ["x/cat.svg", "dog.svg", "bird.svg", "fish.svg"]:
        write(root / rel)
    write(root / "captions.json",
          '{"x/cat.svg": "a sleeping cat", "dog.svg": {"caption": "a dog", "tags": ["pet", '
          '"animal"]}, "bird": "a small bird"}')
    by_id = {i.id: i for i in iter_folder(root, source="zoo", license="CC0-1.0")}
    assert by_id["zoo/x/cat"].caption == "a sleeping cat"
    assert by_id["zoo/dog"].caption == "a dog" and by_id["zoo/dog"].tags == ("pet", "animal")
    assert by_id["zoo/bird"].caption == "a small bird"
    assert by_id["zoo/fish"].caption == "fish" and by_id["zoo/fish"].tags == ()
    assert by_id["zoo/dog"].license == "CC0-1.0"


def test_folder_csv_sidecar_given_explicitly(tmp_path):
    root = tmp_path / "f"
    write(root / "cat.svg")
    write(root / "dog.svg")
    side = write(tmp_path / "caps.csv",
                 "File,Caption,Tags\ncat.svg,\"a cat, sitting\",pet;animal\ndog,a dog,\n")
    items = {i.name: i for i in iter_folder(root, captions=side)}
    assert items["cat"].caption == "a cat, sitting" and items["cat"].tags == ("pet", "animal")
    assert items["dog"].caption == "a dog" and items["dog"].tags == ()


@pytest.mark.parametrize(
    "filename, content, match",
    [
        ("captions.json", "{not json", "not valid JSON"),
        ("captions.json", '["a", "b"]', "JSON object"),
        ("captions.json", '{"a.svg": 3}', "non-empty string"),
        ("captions.json", '{"a.svg": {"caption": "x", "tags": 5}}', "tags must be"),
        ("captions.csv", "name,text\na.svg,x\n", "'caption' column"),
        ("captions.csv", b"file,caption\na.svg,\xff\xfe\n", "not UTF-8"),
        ("captions.txt", "a.svg x", ".json or .csv"),
    ],
)
def test_folder_bad_sidecar_is_a_typed_error(tmp_path, filename, content, match):
    root = tmp_path / "f"
    write(root / "a.svg")
    side = write(tmp_path / filename, content)
    with pytest.raises(DataError, match=match):
        iter_folder(root, captions=side)


def test_folder_missing_is_source_not_found(tmp_path):
    with pytest.raises(SourceNotFoundError, match="not a folder"):
        iter_folder(tmp_path / "nope")


# --- PyPI sets (installed with svgrl) --------------------------------------------------------


def _pkg_svgs(package: str, sub: str) -> list[Path]:
    import importlib.util

    base = Path(next(iter(importlib.util.find_spec(package).submodule_search_locations)))
    return sorted((base / sub).rglob("*.svg"))


def test_pytablericons_yields_every_installed_svg():
    items = list(iter_pytablericons())
    files = _pkg_svgs("pytablericons", "icons")
    assert len(items) == len(files) > 5000
    assert sorted(i.path for i in items) == sorted(str(f) for f in files)
    assert len({i.id for i in items}) == len(items)
    assert {i.tags[0] for i in items} == {"outline", "filled"}
    arrow = next(i for i in items if i.id == "pytablericons/outline/arrow-left")
    # From the file's own comment header: tags: [back, swipe, return], category: Arrows.
    assert arrow.caption == "arrow left; Arrows; back, swipe, return"
    assert arrow.tags == ("outline", "back", "swipe", "return") and arrow.license == "MIT"
    assert b"<svg" in arrow.read()
    # Most Tabler files carry tags; icons without a header fall back to the name.
    assert sum(len(i.tags) > 1 for i in items) > len(items) // 2


@pytest.mark.parametrize(
    "head, expected",
    [
        ('<!--\ntags: [a, "b c"]\ncategory: Cat\n-->\n<svg/>', ("Cat", ("a", "b c"))),
        ('<!--\nunicode: "fe48"\n-->\n<svg/>', ("", ())),
        ("<svg><!--\ntags: [x]\n--></svg>", ("", ())),
        ("<!--\ntags: no-list\n-->", ("", ())),
    ],
)
def test_tabler_header(tmp_path, head, expected):
    from svgrl.data.sources import tabler_header

    assert tabler_header(write(tmp_path / "i.svg", head)) == expected


def test_fontawesomefree_captions_from_metadata():
    items = list(iter_fontawesomefree())
    files = _pkg_svgs("fontawesomefree", "static/fontawesomefree/svgs")
    assert len(items) == len(files) > 1500
    by_id = {i.id: i for i in items}
    arrow = by_id["fontawesomefree/solid/arrow-left"]
    assert arrow.caption.startswith("Arrow Left; solid;") and "back" in arrow.tags
    assert {i.tags[0] for i in items} == {"brands", "regular", "solid"}
    assert all(i.license == "CC-BY-4.0" for i in items)


def test_sources_are_deterministic_and_lazy():
    a = [i.id for i in iter_source("fontawesomefree")]
    b = [i.id for i in iter_source("fontawesomefree")]
    assert a == b
    assert set(DEFAULT_SOURCES) <= set(SOURCES)


# --- iter_source ------------------------------------------------------------------------------


def test_iter_source_accepts_folder_path(tmp_path):
    write(tmp_path / "set" / "a-b.svg")
    assert [i.caption for i in iter_source(str(tmp_path / "set"))] == ["a b"]


def test_unknown_source_is_typed(cache):
    with pytest.raises(SourceNotFoundError, match="unknown source 'nope'"):
        iter_source("nope")
    with pytest.raises(SvgrlError, match="not an Iconify collection"):
        iter_source("@iconify-json/../etc")


def test_unfetched_npm_source_says_the_exact_command(cache, tmp_path):
    with pytest.raises(SourceNotFoundError) as e:
        iter_source("openmoji")
    assert str(e.value).endswith("run: svgrl data fetch openmoji")
    other = tmp_path / "elsewhere"
    with pytest.raises(SourceNotFoundError) as e:
        iter_source("@twemoji/svg", cache_dir=other)
    assert str(e.value).endswith(f"run: svgrl data fetch @twemoji/svg --cache {other}")
    with pytest.raises(SourceNotFoundError, match="svgrl data fetch @iconify-json/mdi"):
        iter_source("@iconify-json/mdi")


def test_cache_root_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("SVGRL_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert npm.cache_root() == tmp_path / "xdg" / "svgrl"
    monkeypatch.setenv("SVGRL_CACHE", str(tmp_path / "env"))
    assert npm.cache_root() == tmp_path / "env"
    assert npm.cache_root(tmp_path / "flag") == tmp_path / "flag"
