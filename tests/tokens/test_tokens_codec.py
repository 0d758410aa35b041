import numpy as np
import pytest
import torch
from helpers.strategies import quantised_drawings
from hypothesis import given, settings
from hypothesis import strategies as st

from svgrl.errors import TokenError
from svgrl.svg.drawing import Drawing, Path
from svgrl.tokens.codec import decode, decode_report, drawing_through_tokens, encode
from svgrl.tokens.layout import TokenLayout

LAY = TokenLayout(base_vocab_size=49152)
SMALL = TokenLayout(grid=9, base_vocab_size=3, n_rotation=4)

SQUARE = Drawing(199, 199, (
    Path((("M", 10, 10), ("L", 100, 10), ("L", 100, 100), ("Z",)), (255, 0, 0)),
    Path((("M", 0, 0), ("C", 1, 2, 3, 4, 5, 6), ("A", 20, 10, 36.0, 1, 0, 50, 60), ("Z",)),
         None, "evenodd"),
))


def test_worked_example_ids():
    lay = TokenLayout()
    p = lay.point
    assert encode(SQUARE, lay) == [
        1, 11 + 0xF00, 6, p(10, 10), 7, p(100, 10), 7, p(100, 100), 10,
        11 + 4096, 4110, 6, p(0, 0), 8, p(1, 2), p(3, 4), p(5, 6),
        9, p(20, 10), 4111 + 20, 4212, 4213, p(50, 60), 10, 2]


@pytest.mark.parametrize("lay", [LAY, SMALL])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_round_trip_is_exact(lay, data):
    d = data.draw(quantised_drawings(lay))
    ids = encode(d, lay)
    assert decode(ids, lay) == d
    assert drawing_through_tokens(d, lay) == d
    assert all(lay.base_vocab_size <= t < lay.vocab_size for t in ids)


@settings(max_examples=100, deadline=None)
@given(d=quantised_drawings(LAY, need_segment=True, min_paths=1))
def test_strict_decode_of_valid_drawings(d):
    ids = encode(d, LAY)
    assert decode(ids, LAY, strict=True) == d
    _, rep = decode_report(ids, LAY)
    assert rep.ok and rep.complete and rep.n_paths == len(d.paths) and rep.n_dropped == 0


@settings(max_examples=60, deadline=None)
@given(d=quantised_drawings(LAY, need_segment=True, min_paths=1), data=st.data())
def test_prefixes_decode_to_prefix_drawings(d, data):
    ids = encode(d, LAY)
    cut = data.draw(st.integers(0, len(ids) - 1))
    got, rep = decode_report(ids[:cut], LAY)
    assert not rep.ok and not rep.complete
    with pytest.raises(TokenError):
        decode(ids[:cut], LAY, strict=True)
    # Every decoded path is a prefix of the corresponding original path.
    assert len(got.paths) <= len(d.paths)
    for a, b in zip(got.paths, d.paths, strict=False):
        assert (a.fill, a.fill_rule) == (b.fill, b.fill_rule)
        assert b.commands[: len(a.commands)] == a.commands
    # Only an incomplete trailing command can be dropped.
    assert rep.n_dropped <= 5


@settings(max_examples=200, deadline=None)
@given(ids=st.lists(st.one_of(st.integers(-5, SMALL.vocab_size + 5),
                              st.sampled_from([SMALL.bos, SMALL.eos, SMALL.fill(None),
                                               SMALL.command("L"), SMALL.point(1, 1)])),
                    max_size=60))
def test_garbage_never_crashes(ids):
    d, rep = decode_report(ids, SMALL)
    d.validate()
    assert rep.n_tokens == len(ids) and 0 <= rep.n_dropped <= len(ids)
    try:
        strict = decode(ids, SMALL, strict=True)
    except TokenError:
        assert not rep.ok
    else:
        assert rep.ok and strict == d


def _ids(*parts):
    lay = LAY
    out = []
    for p in parts:
        if isinstance(p, tuple):
            out.append(lay.point(*p))
        elif p in ("M", "L", "C", "A", "Z"):
            out.append(lay.command(p))
        else:
            out.append({"bos": lay.bos, "eos": lay.eos, "fill": lay.fill((0, 0, 0)),
                        "pad": lay.pad, "eo": lay.rule("evenodd"), "nz": lay.rule("nonzero"),
                        "cur": lay.fill_current, "text": 17, "task": lay.task("text")}[p])
    return out


@pytest.mark.parametrize("parts,reason,dropped,paths", [
    (("bos", "fill", "M", (1, 1), "L", "eos"), "syntax", 1, 1),
    (("bos", "fill", "M", (1, 1), "L", (2, 2), "C", (1, 1)), "truncated", 2, 1),
    (("bos", "fill", "L", (2, 2), "M", (1, 1), "L", (3, 3), "eos"), "syntax", 2, 1),
    (("bos", "M", (1, 1), "L", (3, 3), "fill", "M", (1, 1), "L", (3, 3), "eos"), "syntax", 4, 1),
    (("bos", "fill", "M", (1, 1), "Z", "eos"), "degenerate", 0, 1),
    (("bos", "fill", "fill", "M", (1, 1), "L", (3, 3), "eos"), "degenerate", 0, 1),
    (("bos", "eos"), "degenerate", 0, 0),
    (("fill", "M", (1, 1), "L", (3, 3), "eos"), "syntax", 0, 1),
    (("bos", "fill", "M", (1, 1), "L", (3, 3), "eos", "text", "pad"), "syntax", 1, 1),
    (("bos", "fill", "M", (1, 1), "A", (3, 3), "eo", "eos"), "syntax", 3, 1),
    (("bos", "fill", "M", (1, 1), "task", "L", (3, 3), "eos"), "syntax", 1, 1),
    (("bos", "fill", "M", (1, 1), "pad", "L", (3, 3), "eos"), "syntax", 1, 1),
])
def test_broken_sequences_are_reported(parts, reason, dropped, paths):
    ids = _ids(*parts)
    d, rep = decode_report(ids, LAY)
    assert not rep.ok and rep.n_dropped == dropped and len(d.paths) == paths, rep
    assert rep.issues and all(":" in s for s in rep.issues)
    with pytest.raises(TokenError) as e:
        decode(ids, LAY, strict=True)
    if parts[0] == "bos":
        assert e.value.reason == reason and e.value.position is not None


def test_non_canonical_tokens_decode():
    ids = _ids("bos", "cur", "nz", "M", (1, 1), "L", (3, 4), "eos", "pad", "pad")
    d = decode(ids, LAY, strict=True)
    assert d.paths == (Path((("M", 1, 1), ("L", 3, 4)), (0, 0, 0), "nonzero"),)


@pytest.mark.parametrize("conv", [list, tuple, np.array, torch.tensor,
                                  lambda x: list(np.array(x))])
def test_id_containers(conv):
    ids = encode(SQUARE, LAY)
    assert decode(conv(ids), LAY, strict=True) == SQUARE


@pytest.mark.parametrize("ids", [[1.0, 2.0], ["a"], [None], 5, [1, 2.5, 3], [1, "x"]])
def test_bad_id_types(ids):
    with pytest.raises(TokenError, match="ints"):
        decode(ids, LAY)
    with pytest.raises(TokenError):
        decode(encode(SQUARE, LAY)[:-1] + [2.0], LAY)


def test_huge_input_is_refused():
    with pytest.raises(TokenError):
        decode(np.zeros(1 << 23, dtype=np.int64), LAY)


@pytest.mark.parametrize("d", [
    Drawing(200, 200, ()),
    Drawing(199, 199, (Path((("L", 1, 1),)),)),
    Drawing(199, 199, (Path(()),)),
    Drawing(199, 199, (Path((("M", float("nan"), 1),)),)),
    Drawing(199, 199, (Path((("M", 1, 1), ("Q", 1, 1))),)),
    Drawing(199, 199, (Path((("M", 1, 1), ("L", 1))),)),
    Drawing(199, 199, (Path((("M", 1, 1),), (300, 0, 0)),)),
    Drawing(199, 199, (Path((("M", 1, 1),), (-1, 0, 0)),)),
    Drawing(199, 199, (Path((("M", 1, 1),), (0, 0, 0), "winding"),)),
])
def test_encode_rejects_bad_drawings(d):
    with pytest.raises(TokenError):
        encode(d, LAY)


def test_encode_rounds_and_clips_unquantised_values():
    d = Drawing(199, 199, (Path((("M", -3.2, 10.6), ("L", 250, 4.4)), (250, 9, 8)),))
    assert decode(encode(d, LAY), LAY) == Drawing(199, 199, (
        Path((("M", 0, 11), ("L", 199, 4)), (255, 17, 0)),))


def test_ids_of_the_other_kind_of_layout_are_an_error_not_an_empty_drawing():
    from svgrl.errors import TokenError
    from svgrl.svg.load import load_drawing
    from svgrl.tokens.codec import decode, encode
    from svgrl.tokens.layout import TokenLayout

    d = load_drawing('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">'
                     '<path d="M2 2h20v20H2z"/></svg>')
    data, model = TokenLayout(), TokenLayout(base_vocab_size=259)
    data_ids, model_ids = encode(d, data), encode(d, model)
    assert decode(data_ids, data) == decode(model_ids, model)
    for ids, layout, needle in ((data_ids, model, "dataset's layout"),
                                (model_ids, data, "model's layout")):
        with pytest.raises(TokenError, match=needle):
            decode(ids, layout)
        with pytest.raises(TokenError, match=needle):
            decode(ids, layout, strict=True)
    assert decode([], model).paths == ()  # nothing to decode is still no error
