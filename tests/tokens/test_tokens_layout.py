import json

import pytest

from svgrl.errors import ConfigError, TokenError
from svgrl.tokens.layout import TokenLayout


def test_worked_example_ids():
    # Base 0, G = 200: the id of every kind, computed by hand from the documented order.
    lay = TokenLayout()
    assert (lay.pad, lay.bos, lay.eos) == (0, 1, 2)
    assert [lay.task(k) for k in ("text", "image", "reference")] == [3, 4, 5]
    assert [lay.command(op) for op in "MLCAZ"] == [6, 7, 8, 9, 10]
    assert lay.fill((0, 0, 0)) == 11
    assert lay.fill((255, 136, 0)) == 11 + (15 * 256 + 8 * 16 + 0)
    assert (lay.fill(None), lay.fill_current) == (11 + 4096, 11 + 4097)
    assert (lay.rule("nonzero"), lay.rule("evenodd")) == (4109, 4110)
    assert lay.rotation(0.0) == 4111 and lay.rotation(1.8 * 99) == 4210
    assert (lay.large_flag(0), lay.large_flag(1), lay.sweep_flag(0), lay.sweep_flag(1)) == (
        4211, 4212, 4213, 4214)
    assert lay.point(3, 4) == 4215 + 4 * 200 + 3
    assert lay.n_tokens == 4215 + 200 * 200 == lay.vocab_size


@pytest.mark.parametrize("base", [0, 1, 49152, 151_665])
def test_every_id_shifts_by_base(base):
    a, b = TokenLayout(), TokenLayout(base_vocab_size=base)
    assert b.vocab_size == base + a.n_tokens and b.n_tokens == a.n_tokens
    for k, (lo, hi) in a.ranges().items():
        assert b.ranges()[k] == (lo + base, hi + base)
    assert b.point(199, 199) - a.point(199, 199) == base
    assert b.fill((17, 34, 51)) - a.fill((17, 34, 51)) == base
    assert b.eos - a.eos == base


@pytest.mark.parametrize("grid,n_rot", [(200, 100), (7, 3), (256, 360)])
def test_ranges_tile_the_svg_vocabulary(grid, n_rot):
    lay = TokenLayout(grid=grid, base_vocab_size=10, n_rotation=n_rot)
    spans = sorted(lay.ranges().values())
    assert spans[0][0] == 10 and spans[-1][1] == lay.vocab_size
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    names = lay.token_strings()
    assert len(names) == lay.n_tokens == len(set(names))
    for tid in (lay.bos, lay.eos, lay.point(grid - 1, 0), lay.rotation(1.0), lay.fill(None)):
        assert lay.describe(tid) == names[tid - 10]
    assert lay.describe(3) == "text:3"
    assert lay.describe(lay.vocab_size).startswith("out-of-range")


def test_point_is_y_times_g_plus_x_and_clips():
    lay = TokenLayout(grid=50, base_vocab_size=7)
    assert lay.point(10, 3) - lay.point_start == 3 * 50 + 10
    assert lay.point(-5, 60) == lay.point(0, 49)
    assert lay.point(2.4, 2.6) == lay.point(2, 3)


def test_rotation_bins_modulo_180():
    lay = TokenLayout()
    assert lay.snap_rotation(1.8 * 37) == lay.rotation_value(37)
    assert lay.rotation_bin(180.0 + 9.0) == lay.rotation_bin(9.0) == 5
    assert lay.rotation_bin(-1.8) == 99
    assert lay.rotation_bin(179.5) == 0  # nearest bin wraps to 0°
    assert lay.snap_rotation(90.4) == pytest.approx(90.0)


def test_fill_rounds_to_12_bits():
    lay = TokenLayout()
    assert lay.fill((8, 9, 255)) == lay.fill((0, 17, 255))


@pytest.mark.parametrize("kwargs", [{"grid": 1}, {"grid": 200.0}, {"base_vocab_size": -1},
                                    {"n_rotation": 0}, {"grid": True}])
def test_bad_config(kwargs):
    with pytest.raises(ConfigError):
        TokenLayout(**kwargs)


def test_save_load(tmp_path):
    lay = TokenLayout(grid=64, base_vocab_size=1234, n_rotation=90)
    lay.save(tmp_path / "l.json")
    assert TokenLayout.load(tmp_path / "l.json") == lay
    assert [p.name for p in tmp_path.iterdir()] == ["l.json"]  # no temp file left


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(version=99),
    lambda d: d.update(format="other"),
    lambda d: d.pop("grid"),
    lambda d: d.update(grid="200"),
    lambda d: d["ranges"].update(point=[0, 1]),
])
def test_load_rejects_bad_layout(tmp_path, mutate):
    d = TokenLayout().to_json()
    mutate(d)
    (tmp_path / "l.json").write_text(json.dumps(d))
    with pytest.raises(TokenError) as e:
        TokenLayout.load(tmp_path / "l.json")
    assert e.value.reason == "layout"


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b"[]", b"x" * 1_000_001])
def test_load_rejects_garbage(tmp_path, content):
    (tmp_path / "l.json").write_bytes(content)
    with pytest.raises(TokenError):
        TokenLayout.load(tmp_path / "l.json")
    with pytest.raises(TokenError):
        TokenLayout.load(tmp_path / "missing.json")
