"""`svgrl data build` / `svgrl data stats` on the PyPI icon sets and hand-made folders."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from datasets import load_from_disk

from svgrl.cli import main
from svgrl.data.build import BuildConfig, build
from svgrl.data.captions import short_text
from svgrl.data.dedup import assign_splits, split_of
from svgrl.data.sources import iter_source
from svgrl.data.store import dataset_hash, load_built, read_manifest, render_record
from svgrl.errors import ConfigError, DataError
from svgrl.svg.image_io import decode_png
from svgrl.svg.load import load_drawing, simplify_svg
from svgrl.svg.render import render
from svgrl.tokens.codec import decode
from svgrl.tokens.layout import TokenLayout

REQUIRED = {"id", "source", "license", "caption", "name", "tokens", "n_tokens", "subset",
            "svg", "split"}
SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">{}</svg>'
SQUARE = '<path d="M2 2 L14 2 L14 14 L2 14 Z"{}/>'


def _build(out: Path, *sources: str, **kw) -> dict:
    kw.setdefault("progress", False)
    return build(BuildConfig(source=tuple(sources), out=str(out), **kw), log=lambda m: None)


def _rows(out: Path) -> list[dict]:
    dd = load_from_disk(str(out))  # the build folder itself loads
    return [r for s in ("train", "validation", "test") for r in dd[s].to_list()]


@pytest.fixture(scope="module")
def icons(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("icons")
    _build(out, "fontawesomefree", "pytablericons", limit=40, shard_size=16)
    return out


def test_dataset_columns_counts_and_hash(icons: Path):
    dd, manifest, layout = load_built(icons)
    assert set(dd) == {"train", "validation", "test"}
    assert set(dd["train"].column_names) >= REQUIRED
    rows = {s: dd[s].to_list() for s in dd}
    c = manifest["counts"]
    assert c["items"] == 80 and c["failed"] == {}
    assert sum(len(v) for v in rows.values()) == c["kept"] == sum(c["splits"].values())
    assert c["kept"] + sum(c["exact_duplicates"].values()) + \
        sum(c["near_duplicates"].values()) == 80
    assert dataset_hash(rows) == manifest["content_hash"]
    assert layout == TokenLayout(grid=200)
    assert TokenLayout.load(icons / "layout.json") == layout
    assert not (icons / ".build").exists()
    contents = [r["content"] for rs in rows.values() for r in rs]
    expected = dict(zip(contents, assign_splits(contents, 0.05, 0.01, 10), strict=True))
    for split, rs in rows.items():
        for r in rs:
            assert r["split"] == split == expected[r["content"]]
            assert r["content"] == hashlib.sha256(np.asarray(r["tokens"], "<i4").tobytes()
                                                  ).hexdigest()
            assert r["n_tokens"] == len(r["tokens"]) <= 30_000
            assert r["subset"] == "icon"  # both sets are monochrome
            assert r["name"] and r["caption"] and r["render_caption"] == ""
            assert r["license"] == {"fontawesomefree": "CC-BY-4.0",
                                    "pytablericons": "MIT"}[r["source"]]
            decode(r["tokens"], layout, strict=True)


def test_records_render_like_their_source_files(icons: Path):
    items = {it.id: it for s in ("fontawesomefree", "pytablericons")
             for it in iter_source(s)}
    rows = _rows(icons)
    for r in rows[::7]:
        expected = render(load_drawing(items[r["id"]].path), 64)
        assert np.array_equal(render_record(r, 64), expected), r["id"]
        # The svg column draws the same picture (re-normalised as float, so allow AA noise).
        from_svg = render(simplify_svg(r["svg"]).drawing, 64).astype(int)
        assert np.abs(from_svg - expected).mean() < 2.0, r["id"]
        assert (expected < 128).any()


def test_workers_and_shard_size_do_not_change_the_dataset(icons: Path, tmp_path: Path):
    m = _build(tmp_path / "w2", "fontawesomefree", "pytablericons", limit=40, shard_size=7,
               workers=2)
    assert m["content_hash"] == json.loads((icons / "manifest.json").read_text())[
        "content_hash"]


def test_split_is_stable_when_sources_grow(tmp_path: Path):
    """With --min-split 0 a drawing's split is a function of its content alone. (A small
    build's minimum split size depends on the build's size, as other --val/--test would.)"""
    _build(tmp_path / "small", "fontawesomefree", limit=15, min_split=0)
    _build(tmp_path / "big", "fontawesomefree", limit=40, min_split=0)
    small = {r["id"]: r["split"] for r in _rows(tmp_path / "small")}
    big = {r["id"]: r["split"] for r in _rows(tmp_path / "big")}
    assert len(small) >= 14 and set(small) <= set(big)
    assert all(big[k] == v for k, v in small.items())


def test_a_small_build_still_has_validation_and_test(icons: Path):
    """80 icons at the default 5 % / 1 %: the test split would hold about one drawing; the
    minimum (a twentieth of the build, at most --min-split) gives it 4."""
    c = read_manifest(icons)["counts"]
    assert c["splits"]["test"] >= 4 and c["splits"]["validation"] >= 4
    assert c["split_minimum_moved"] > 0


def test_split_minimum_takes_the_next_drawings_by_hash():
    rng = np.random.default_rng(1)
    hashes = [hashlib.sha256(rng.bytes(8)).hexdigest() for _ in range(20_000)]
    # a large build is cut exactly by the fractions
    assert assign_splits(hashes, 0.05, 0.01, 10) == [split_of(h, 0.05, 0.01) for h in hashes]
    small = hashes[:200]
    plain = [split_of(h, 0.05, 0.01) for h in small]
    got = assign_splits(small, 0.05, 0.01, 10)
    assert plain.count("test") < 10 and got.count("test") == 10
    assert got.count("validation") == max(10, plain.count("validation"))
    # test holds the lowest positions, validation the next: the fractions, raised
    order = sorted(range(200), key=lambda i: small[i])
    assert [got[i] for i in order[:10]] == ["test"] * 10
    assert set(got[i] for i in order[10:20]) == {"validation"}
    # everything already in test or validation by its fraction stays there
    assert all(g == p for g, p in zip(got, plain, strict=True) if p == "test")
    # a zero fraction stays empty; --min-split 0 is the fractions alone; tiny builds keep
    # at most a twentieth in each
    assert "test" not in assign_splits(small, 0.05, 0.0, 10)
    assert assign_splits(small, 0.05, 0.01, 0) == plain
    assert assign_splits(small[:40], 0.05, 0.01, 10).count("test") == 2


def test_split_fractions_follow_the_config():
    rng = np.random.default_rng(0)
    hashes = [hashlib.sha256(rng.bytes(8)).hexdigest() for _ in range(20_000)]
    splits = [split_of(h, 0.05, 0.01) for h in hashes]
    assert abs(splits.count("test") / 20_000 - 0.01) < 0.003
    assert abs(splits.count("validation") / 20_000 - 0.05) < 0.006
    assert splits == [split_of(h, 0.05, 0.01) for h in hashes]


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """A folder with duplicates, a near duplicate, a recolour, a two-colour drawing and
    broken files of several kinds."""
    d = tmp_path / "messy"
    d.mkdir()
    files = {
        "a_square.svg": SVG.format(SQUARE.format("")),
        "b_copy.svg": SVG.format(SQUARE.format("")),  # exact duplicate of a
        # Same drawing written differently: still the same tokens.
        "c_rect.svg": SVG.format('<rect x="2" y="2" width="12" height="12"/>'),
        # One corner nudged by ~1.5 grid units: new tokens, same look at 32 px.
        "d_nudged.svg": SVG.format('<path d="M2 2 L14 2 L14.18 14 L2 14 Z"/>'),
        "e_red.svg": SVG.format(SQUARE.format(' fill="#e00"')),  # recolour: kept
        "f_two.svg": SVG.format(SQUARE.format(' fill="#e00"')
                                + '<circle cx="18" cy="18" r="4" fill="#00e"/>'),
        "g_text.svg": SVG.format('<circle cx="12" cy="12" r="9"/><text>hi</text>'),
        "x_syntax.svg": "<svg",
        "x_entity.svg": ('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "x">]>'
                         '<svg xmlns="http://www.w3.org/2000/svg">&a;</svg>'),
        "x_empty.svg": SVG.format(""),
        "x_text_only.svg": SVG.format("<text>only words</text>"),
        "x_long.svg": SVG.format('<path d="M1 1' + "".join(
            f" L{1 + (i % 20)} {1 + (i * 7 % 20)}" for i in range(300)) + ' Z"/>'),
    }
    for name, text in files.items():
        (d / name).write_text(text)
    (d / "captions.json").write_text(json.dumps({"a_square.svg": "a black  square\n"}))
    return d


def test_dedup_failures_and_subsets_on_a_messy_folder(messy: Path, tmp_path: Path):
    m = _build(tmp_path / "out", str(messy), max_tokens=200)
    c = m["counts"]
    assert c["items"] == 12
    assert c["failed"] == {"empty": 2, "entity": 1, "too-long": 1, "xml": 1}
    assert c["exact_duplicates"] == {"messy": 2}
    assert c["near_duplicates"] == {"messy": 1}
    kinds = {(e["kind"], e["id"], e["kept"]) for e in c["duplicate_examples"]}
    assert ("exact", "messy/b_copy", "messy/a_square") in kinds
    assert ("exact", "messy/c_rect", "messy/a_square") in kinds
    assert ("near", "messy/d_nudged", "messy/a_square") in kinds
    rows = {r["id"]: r for r in _rows(tmp_path / "out")}
    assert set(rows) == {"messy/a_square", "messy/e_red", "messy/f_two", "messy/g_text"}
    assert rows["messy/a_square"]["caption"] == "a black square"
    assert rows["messy/e_red"]["caption"] == "e red"  # no sidecar entry: the file name
    assert rows["messy/e_red"]["subset"] == "icon"
    assert rows["messy/f_two"]["subset"] == "illustration"
    assert c["dropped_content"] == {"text": 1}
    assert c["failure_examples"]["entity"].startswith("messy/x_entity")


def test_near_dedup_off_and_partial_drop(messy: Path, tmp_path: Path):
    c = _build(tmp_path / "out", str(messy), near_dup_bits=-1, partial=False)["counts"]
    assert c["near_duplicates"] == {}
    # g_text and x_text_only both lost their <text>; x_empty is still "empty".
    assert c["failed"] == {"empty": 1, "entity": 1, "partial": 2, "xml": 1}
    ids = {r["id"] for r in _rows(tmp_path / "out")}
    assert "messy/d_nudged" in ids and "messy/g_text" not in ids


class InkCaptioner:
    """A trivial captioner: says how much of the render is ink."""

    name = "ink-test"
    image_size = 32

    def __init__(self):
        self.calls = 0
        self.images = 0

    def __call__(self, images):
        self.calls += 1
        self.images += len(images)
        return [f"ink {float((im < 128).any(axis=2).mean()):.3f}" for im in images]


def test_captioning_runs_after_dedup_on_kept_drawings_only(messy: Path, tmp_path: Path):
    cap = InkCaptioner()
    m = build(BuildConfig(source=(str(messy),), out=str(tmp_path / "o"), max_tokens=200,
                          progress=False), captioner=cap, log=lambda m: None)
    c = m["counts"]
    assert sum(c["exact_duplicates"].values()) + sum(c["near_duplicates"].values()) == 3
    assert cap.images == c["kept"] == 4 < c["curated"]  # duplicates are never captioned
    assert all(r["render_caption"].startswith("ink ") for r in _rows(tmp_path / "o"))


def test_captioner_fills_render_caption(tmp_path: Path):
    cap = InkCaptioner()
    m = build(BuildConfig(source=("fontawesomefree",), out=str(tmp_path / "o"), limit=10,
                          progress=False), captioner=cap, log=lambda m: None)
    assert m["captioner"] == "ink-test" and cap.calls >= 1
    rows = _rows(tmp_path / "o")
    assert len(rows) == 10
    for r in rows:
        ink = float((render_record(r, 32) < 128).any(axis=2).mean())
        assert r["render_caption"] == f"ink {ink:.3f}"
        assert r["caption"] != r["render_caption"]


def test_captioner_with_wrong_output_is_a_typed_error(tmp_path: Path):
    with pytest.raises(DataError, match="one string per image"):
        build(BuildConfig(source=("fontawesomefree",), out=str(tmp_path / "o"), limit=3,
                          progress=False), captioner=lambda ims: ["x"], log=lambda m: None)


def test_resume_with_other_settings_is_refused_until_restart(tmp_path: Path):
    out = tmp_path / "o"

    def stop(images):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build(BuildConfig(source=("fontawesomefree",), out=str(out), limit=5,
                          progress=False), captioner=stop, log=lambda m: None)
    assert (out / ".build" / "progress.json").is_file()
    with pytest.raises(DataError, match="--restart"):
        _build(out, "fontawesomefree", limit=5, grid=100)
    m = _build(out, "fontawesomefree", limit=5, grid=100, restart=True)
    assert m["counts"]["kept"] == 5 and m["layout"]["grid"] == 100


@pytest.mark.parametrize("kw, match", [
    ({"source": ()}, "--source"),
    ({"out": ""}, "--out"),
    ({"val": 0.7, "test": 0.4}, "sum"),
    ({"workers": 0}, "--workers"),
    ({"near_dup_bits": -2}, "--near-dup-bits"),
    ({"source": ("a", "a")}, "twice"),
])
def test_bad_config_is_a_config_error(kw, match):
    base = {"source": ("fontawesomefree",), "out": "x"}
    with pytest.raises(ConfigError, match=match):
        BuildConfig(**{**base, **kw})


def test_unknown_source_is_a_typed_error(tmp_path: Path):
    with pytest.raises(DataError, match="unknown source"):
        _build(tmp_path / "o", "no-such-set")


def test_out_must_be_a_folder_and_not_someone_elses_dataset(tmp_path: Path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="is a file"):
        _build(tmp_path / "file", "fontawesomefree", limit=2)
    (tmp_path / "theirs" / "dataset").mkdir(parents=True)
    (tmp_path / "theirs" / "dataset" / "keep.txt").write_text("precious")
    with pytest.raises(DataError, match="choose another --out"):
        _build(tmp_path / "theirs", "fontawesomefree", limit=2)
    assert (tmp_path / "theirs" / "dataset" / "keep.txt").read_text() == "precious"


def test_rebuild_in_place_replaces_the_dataset(icons: Path, tmp_path: Path):
    import shutil

    out = tmp_path / "again"
    shutil.copytree(icons, out)
    with pytest.raises(DataError, match="--overwrite"):
        _build(out, "fontawesomefree", limit=5)
    m = _build(out, "fontawesomefree", limit=5, overwrite=True)
    assert m["counts"]["kept"] == len(_rows(out)) == 5


def test_short_text_normalises_captions():
    assert short_text("grinning face; smileys / face; grin, Grin,  happy\n\x07") == \
        "grinning face; smileys / face; grin, happy"
    assert short_text(" ".join(f"w{i}" for i in range(50)), 5) == "w0 w1 w2 w3 w4"
    assert short_text("ﬁle\u200b name") == "file name"


def test_cli_build_and_stats(messy: Path, tmp_path: Path, capsys):
    out = tmp_path / "cli"
    assert main(["data", "build", "--source", str(messy), "--out", str(out),
                 "--no-progress", "--max-tokens", "200"]) == 0
    assert "kept of 12 items" in capsys.readouterr().out
    png = tmp_path / "hist.png"
    assert main(["data", "stats", str(out), "--json", "--png", str(png)]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["hash_ok"] is True and s["rows"] == 4
    assert s["failed"] == {"empty": 2, "entity": 1, "too-long": 1, "xml": 1}
    assert s["licenses"] == {"unknown": 4}
    assert sum(s["subsets"]["illustration"].values()) == 1
    assert sum(s["subsets"]["icon"].values()) == 3
    assert sum(s["histogram"]["counts"]) == 4
    img = decode_png(png.read_bytes())
    assert img.shape == (400, 800, 3)
    bars = (img[..., 2] > 140) & (img[..., 0] < 90)  # the blue bars
    assert bars.sum() > 500
    assert main(["data", "stats", str(out)]) == 0
    text = capsys.readouterr().out
    assert "illustration" in text and "matches the rows" in text


def test_stats_detects_a_tampered_dataset_and_non_datasets(icons: Path, tmp_path: Path,
                                                            capsys):
    assert main(["data", "stats", str(tmp_path)]) == 2
    assert "not a built dataset" in capsys.readouterr().err
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "manifest.json").write_text("{not json")
    assert main(["data", "stats", str(fake)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(icons, copy)
    m = json.loads((copy / "manifest.json").read_text())
    m["content_hash"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(m))
    assert main(["data", "stats", str(copy), "--png", str(tmp_path / "h.png")]) == 1
    assert "DOES NOT match" in capsys.readouterr().out


def test_a_finished_build_with_other_settings_is_not_overwritten(tmp_path: Path):
    out = tmp_path / "d"
    first = _build(out, "fontawesomefree", limit=6, val=0.0, test=0.0)
    with pytest.raises(DataError, match=r"other settings \(limit: 6 → 4.*--overwrite"):
        _build(out, "fontawesomefree", limit=4, val=0.0, test=0.0)
    assert read_manifest(out)["content_hash"] == first["content_hash"]
    # Same settings rebuild in place; --overwrite replaces.
    assert _build(out, "fontawesomefree", limit=6, val=0.0, test=0.0)["content_hash"] == \
        first["content_hash"]
    assert len(_build(out, "fontawesomefree", limit=4, val=0.0, test=0.0,
                      overwrite=True)["content_hash"]) == 64
    assert len(_rows(out)) <= 4 and not (out / "dataset").exists()


def test_a_build_from_before_min_split_counts_as_min_split_0(tmp_path: Path):
    out = tmp_path / "d"
    first = _build(out, "fontawesomefree", limit=6, min_split=0)
    m = json.loads((out / "manifest.json").read_text())
    del m["config"]["min_split"]  # as an older svgrl wrote it
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(DataError, match=r"min_split: 0 → 10"):
        _build(out, "fontawesomefree", limit=6)
    assert _build(out, "fontawesomefree", limit=6, min_split=0)["content_hash"] == \
        first["content_hash"]


def test_an_empty_source_folder_is_an_error(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no SVG files"):
        _build(tmp_path / "d", str(tmp_path / "empty"))


def test_gradients_build_a_dataset_with_the_gradient_layout(tmp_path: Path):
    src = tmp_path / "grad"
    src.mkdir()
    for i, (a, b) in enumerate((("#f00", "#00f"), ("#0a0", "#ff0"))):
        (src / f"g{i}.svg").write_text(
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><defs>'
            f'<linearGradient id="a"><stop stop-color="{a}"/><stop offset="1" '
            f'stop-color="{b}"/></linearGradient></defs>'
            f'<circle cx="12" cy="12" r="{9 + i}" fill="url(#a)"/></svg>')
    _build(tmp_path / "out", str(src), gradients=True)
    dd, manifest, layout = load_built(tmp_path / "out")
    assert layout == TokenLayout(gradients=True) and manifest["layout"]["gradients"] is True
    rows = [r for s in dd for r in dd[s].to_list()]
    assert len(rows) == 2
    for r in rows:
        d = decode(r["tokens"], layout, strict=True)
        assert d.has_gradients and d == load_drawing(src / f"{r['id'].split('/')[-1]}.svg",
                                                     gradients=True)
