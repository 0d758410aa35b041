"""The SVG reward: format gate reasons and floor, exact totals, efficiency numbers, target
forms, consensus, pool vs in-process, bench entry."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from svgrl.errors import ConfigError
from svgrl.rewards.base import combine
from svgrl.rewards.svg import SvgReward, SvgRewardConfig, efficiency
from svgrl.rewards.svg_bench import svg_bench_set
from svgrl.svg.drawing import Drawing
from svgrl.svg.drawing import Path as DPath
from svgrl.svg.load import load_drawing
from svgrl.svg.render import render
from svgrl.svg.write import to_svg
from svgrl.tokens.codec import encode
from svgrl.tokens.layout import TokenLayout

L = TokenLayout()


def _icons(k: int) -> list[Drawing]:
    spec = importlib.util.find_spec("pytablericons")
    root = Path(next(iter(spec.submodule_search_locations))) / "icons"
    return [load_drawing(f) for f in sorted(root.rglob("*.svg"))[::251][:k]]


@pytest.fixture(scope="module")
def drawings() -> list[Drawing]:
    return _icons(4)


@pytest.fixture(scope="module")
def reward() -> SvgReward:
    return SvgReward(SvgRewardConfig(workers=0))


def _call(reward, comps, target, **cols):
    n = len(comps)
    ids = [c if isinstance(c, list) or c is None else None for c in comps]
    texts = [c if isinstance(c, str) or c is None else "" for c in comps]
    return reward(["p"] * n, texts, completion_ids=ids, target=[target] * n, **cols)


def _jitter(ids: list[int], r: int, seed: int = 0) -> list[int]:
    rng = np.random.default_rng(seed)
    g, p0 = L.grid, L.point_start
    out = []
    for t in ids:
        if p0 <= t < p0 + g * g:
            x = int(np.clip((t - p0) % g + rng.integers(-r, r + 1), 0, g - 1))
            y = int(np.clip((t - p0) // g + rng.integers(-r, r + 1), 0, g - 1))
            t = p0 + y * g + x
        out.append(t)
    return out


# --- efficiency: RLRF's length term, hand-computed --------------------------------------------

@pytest.mark.parametrize(("n", "target", "fraction", "expected"), [
    (40, 100, 0.5, 1.0),     # under the free budget
    (50, 100, 0.5, 1.0),     # exactly at f·L_t
    (100, 100, 0.5, 0.75),   # 1 − 0.5²
    (150, 100, 0.5, 0.0),    # 1 − 1²
    (200, 100, 0.5, -1.0),   # 1 − 1.5² = −1.25, clipped
    (100, 100, 1.0, 1.0),
    (130, 100, 1.0, 1 - 0.3 ** 2),
])
def test_efficiency_numbers(n, target, fraction, expected):
    assert efficiency(n, target, fraction) == pytest.approx(expected)


def test_efficiency_needs_a_positive_target():
    with pytest.raises(ConfigError):
        efficiency(10, 0)


# --- the format gate -------------------------------------------------------------------------

def _ids_of(d: Drawing) -> list[int]:
    return encode(d, L)


def test_gate_reasons_and_floor(drawings):
    tgt = _ids_of(drawings[0])
    white = Drawing(199, 199, (DPath((("M", 10, 10), ("L", 190, 10), ("L", 100, 190), ("Z",)),
                                     (255, 255, 255)),))
    no_segment = [L.bos, L.fill((0, 0, 0)), L.command("M"), L.point(5, 5), L.eos]
    cases = {
        "ok": tgt,
        "incomplete": tgt[:-1],
        "empty": no_segment,
        "blank": _ids_of(white),
        "missing": None,
        "decode: input": [L.bos, "x", L.eos],
        "no_svg": "I cannot draw that.",
        "parse: entity": '<!DOCTYPE svg [<!ENTITY a "b">]><svg>&a;</svg>',
        "empty ": [L.bos, L.eos],
    }
    out = _call(SvgReward(SvgRewardConfig(workers=0, floor=-0.5, format_reward=0.6)),
                list(cases.values()), tgt)
    for (want, _), value, reason, valid in zip(cases.items(), out, out.parts["reason"],
                                               out.parts["valid"], strict=True):
        if want == "ok":
            assert valid and reason is None and value > 0.9
        else:
            assert value == -0.5 and valid is False, (want, reason)
            assert reason.startswith(want.strip()), (want, reason)


def test_strict_gate_rejects_what_lenient_decoding_repairs(drawings):
    tgt = _ids_of(drawings[0])
    repaired = tgt[:3] + [L.command("Z")] + tgt[3:]  # a stray Z before the first M is dropped
    lenient = _call(SvgReward(SvgRewardConfig(workers=0)), [repaired], tgt)
    strict = _call(SvgReward(SvgRewardConfig(workers=0, strict=True)), [repaired], tgt)
    assert lenient.parts["valid"] == [True]
    assert strict.parts["reason"] == ["invalid"] and strict[0] == 0.0


def test_hostile_inputs_never_raise(reward):
    hostile = [[10 ** 30, -5, L.eos], [L.bos] * 300 + [L.eos], list(range(0, 50000, 7)),
               "<svg" + "<g>" * 5000, "<svg>" + "A" * 200_000, b"\x00\xff".decode("latin1")]
    out = _call(reward, hostile, _ids_of(_icons(1)[0]))
    assert all(v == 0.0 for v in out)
    assert all(r is not None for r in out.parts["reason"])


# --- totals on real icons ----------------------------------------------------------------------

def test_target_itself_scores_exactly_the_maximum_minus_length(reward, drawings):
    tgt = _ids_of(drawings[1])
    out = _call(reward, [tgt], tgt)
    assert out.parts["pixel"][0] == pytest.approx(1.0, abs=1e-6)
    assert out.parts["ssim"][0] == pytest.approx(1.0, abs=1e-6)
    assert out.parts["edge"][0] == pytest.approx(1.0, abs=1e-6)
    # L = L_t: r_len = 1 − 0.5² = 0.75 → 0.1 + 0.9·1 + 0.1·0.75
    assert out[0] == pytest.approx(0.1 + 0.9 + 0.075, abs=1e-6)
    assert out.parts["tokens"][0] == out.parts["target_tokens"][0] == len(tgt)


def test_similarity_orders_degradations(reward, drawings):
    tgt = _ids_of(drawings[2])
    other = _ids_of(drawings[3])
    comps = [tgt, _jitter(tgt, 1), _jitter(tgt, 4), _jitter(tgt, 10), other]
    sims = _call(reward, comps, tgt).parts["similarity"]
    assert sims[0] > sims[1] > sims[2] > sims[3] > sims[4], sims


def test_longer_completion_pays_efficiency(reward, drawings):
    tgt = _ids_of(drawings[0])
    doubled = tgt[:-1] + tgt[1:]  # the same drawing twice: ~same pixels, 2·L_t − 1 tokens
    out = _call(reward, [tgt, doubled], tgt)
    # anti-aliased edges darken a little where coverage is painted twice
    assert out.parts["pixel"][1] == pytest.approx(1.0, abs=0.01)
    over = (len(doubled) - 0.5 * len(tgt)) / len(tgt)
    assert out.parts["efficiency"] == [pytest.approx(0.75), pytest.approx(max(-1, 1 - over**2))]
    assert out.parts["efficiency"][1] == -1.0  # over ≈ 1.5: clipped


@pytest.mark.parametrize("form", ["ids", "svg", "drawing", "image"])
def test_target_forms_agree(reward, drawings, form):
    d = drawings[1]
    tgt = {"ids": _ids_of(d), "svg": to_svg(d), "drawing": d, "image": render(d)}[form]
    comps = [_ids_of(d), _jitter(_ids_of(d), 3)]
    out = _call(reward, comps, tgt)
    ref = _call(reward, comps, _ids_of(d))
    for k in ("pixel", "ssim", "edge"):
        assert out.parts[k] == pytest.approx(ref.parts[k], abs=1e-6)
    if form == "image":  # no token count from pixels: no efficiency unless given
        assert out.parts["efficiency"] == [None, None]
        given = _call(reward, comps, tgt, target_length=[len(_ids_of(d))] * 2)
        assert given.parts["efficiency"] == ref.parts["efficiency"]


def test_svg_text_completion_scores_like_its_tokens(reward, drawings):
    d = drawings[2]
    out = _call(reward, [to_svg(d), _ids_of(d)], _ids_of(d))
    assert out.parts["valid"] == [True, True]
    assert out.parts["pixel"][0] == pytest.approx(out.parts["pixel"][1], abs=1e-3)


def test_unreadable_target_does_not_apply(reward, drawings):
    out = _call(reward, [_ids_of(drawings[0])], "<svg><broken")
    assert out[0] is None and out.parts["reason"] == ["target"]
    assert "Svg" in out.parts["error"][0] or "syntax" in out.parts["error"][0]


def test_prefixed_text_tokens_are_tolerated(drawings):
    lay = TokenLayout(base_vocab_size=1000)
    r = SvgReward(SvgRewardConfig(workers=0, base_vocab_size=1000))
    ids = encode(drawings[0], lay)
    out = r(["p"], [""], completion_ids=[[5, 17, 999] + ids], target=[ids])
    assert out.parts["valid"] == [True] and out.parts["pixel"][0] == pytest.approx(1.0)


def test_composes_with_other_rewards(reward, drawings):
    tgt = _ids_of(drawings[0])
    out = combine({"svg": (reward, 1.0), "const": (lambda p, c, **k: [1.0] * len(c), 0.5)},
                  ["p"], [""], completion_ids=[tgt], target=[tgt])
    assert out[0] == pytest.approx(1.075 + 0.5)
    assert out.parts["svg/pixel"][0] == pytest.approx(1.0)


# --- text-to-SVG: no target --------------------------------------------------------------------

def test_without_target_only_the_gate_applies(reward, drawings):
    ids = _ids_of(drawings[0])
    out = reward(["a", "a"], ["", ""], completion_ids=[ids, ids[:-1]])
    assert out[0] == pytest.approx(0.1) and out[1] == 0.0
    assert out.parts["similarity"] == [None, None]


def test_consensus_rewards_agreement_within_groups(drawings):
    r = SvgReward(SvgRewardConfig(workers=0, consensus=True))
    a, b = _ids_of(drawings[0]), _ids_of(drawings[3])
    comps = [a, _jitter(a, 1), _jitter(a, 2, seed=1), b, a[:-1], b]
    groups = ["g1"] * 5 + ["g2"]
    out = r(["x"] * 6, [""] * 6, completion_ids=comps, group=groups)
    sims = out.parts["similarity"]
    assert sims[0] > sims[3] and sims[1] > sims[3] and sims[2] > sims[3]
    assert out.parts["reason"][4] == "incomplete" and out[4] == 0.0
    assert sims[5] is None and out[5] == pytest.approx(0.1)  # alone in its group
    # without a group column, rows group by prompt
    by_prompt = r(["x", "x", "y"], [""] * 3, completion_ids=[a, a, b])
    assert by_prompt.parts["similarity"][:2] == [pytest.approx(1.0)] * 2
    assert by_prompt.parts["similarity"][2] is None


# --- config, pool -------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "match"), [
    ({"floor": 0.5}, "below a broken one"),
    ({"pixel_weight": -1.0}, "≥ 0"),
    ({"pixel_weight": 0.0, "ssim_weight": 0.0, "edge_weight": 0.0}, "at least one"),
    ({"size": 4}, "size"),
    ({"edge_cell": 0}, "edge_cell"),
    ({"workers": -1}, "workers"),
    ({"efficiency_fraction": 0.0}, "efficiency_fraction"),
])
def test_config_errors_say_how_to_fix(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        SvgRewardConfig(**kwargs)


def test_pool_matches_in_process():
    prompts, ids, targets = svg_bench_set(48)
    local = SvgReward(SvgRewardConfig(workers=0))(prompts, [""] * 48, completion_ids=ids,
                                                   target=targets)
    pooled = SvgReward(SvgRewardConfig(workers=2, chunk=5))
    try:
        out = pooled(prompts, [""] * 48, completion_ids=ids, target=targets)
    finally:
        pooled.close()
    assert list(out) == pytest.approx(list(local))
    assert out.parts["reason"] == local.parts["reason"]
    # the fixed set mixes exact, degraded and broken completions
    assert 0.2 < np.mean(out) < 0.9 and set(out.parts["reason"]) >= {None, "incomplete"}


def test_bench_cli_prints_top_level_svg_throughput(capsys):
    import argparse

    from svgrl.cli.rewards import add_commands

    parser = argparse.ArgumentParser(prog="svgrl")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["rewards", "bench", "--json", "--only", "svg", "--svg-n", "64",
                              "--workers", "1"])
    assert args.func(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rewards_per_s"] == report["svg_rewards_per_s"] > 0
    assert report["svg"]["n"] == 64 and report["svg"]["render_only_per_s"] > 0
    assert 0.2 < report["svg"]["mean_reward"] < 0.9


def test_identical_completions_in_a_group_get_identical_rows(reward, drawings):
    tgt = _ids_of(drawings[0])
    j = _jitter(tgt, 3)
    out = _call(reward, [j, list(j), tgt, j[:-1], j[:-1]], tgt)
    assert out[0] == out[1] and out.parts["ssim"][0] == out.parts["ssim"][1] < 1.0
    assert out.parts["reason"][3:] == ["incomplete", "incomplete"]


def test_text_forms_bytes_and_conversational(reward, drawings):
    d = drawings[1]
    svg = to_svg(d)
    out = reward(["p"] * 3, [svg.encode(), [{"role": "assistant", "content": svg}], [{"x": 1}]],
                 target=[_ids_of(d)] * 3)
    assert out.parts["valid"] == [True, True, False]
    assert out.parts["reason"][2] == "no_svg"


def test_config_builds_a_cli():
    import argparse

    from svgrl.config import add_dataclass_args, dataclass_from_args

    parser = argparse.ArgumentParser()
    add_dataclass_args(parser, SvgRewardConfig)
    args = parser.parse_args(["--edge-weight", "0", "--consensus", "--learned-preset", "clip"])
    cfg = dataclass_from_args(SvgRewardConfig, args)
    assert cfg.edge_weight == 0 and cfg.consensus and cfg.learned_preset == "clip"
    with pytest.raises(SystemExit):
        parser.parse_args(["--learned-preset", "vgg"])


def test_malformed_columns_score_the_floor_instead_of_raising(reward, drawings):
    tgt = _ids_of(drawings[0])
    out = reward(["p", "p"], ["", ""], completion_ids=[tgt], target=[tgt, tgt])
    assert list(out) == [0.0, 0.0] and "completion_ids" in out.parts["error"][0]
    out = reward(["p"], [""], completion_ids=[tgt], target=[[{"x": 1}]])
    assert out[0] is None and out.parts["reason"] == ["target"]


def test_a_task_over_its_bound_scores_the_floor_and_the_pool_recovers():
    from svgrl.bounded import BoundedPool

    prompts, ids, targets = svg_bench_set(16)
    r = SvgReward(SvgRewardConfig(workers=1, timeout_s=1e-3, chunk=4))
    try:
        assert isinstance(r._get_pool(), BoundedPool)
        out = r(prompts, [""] * 16, completion_ids=ids, target=targets)
        assert set(out.parts["reason"]) == {"timeout"} and set(out) == {0.0}
        assert "CPU" in out.parts["error"][0]
        assert len(r._pool._workers) == 1 and r._pool._workers[0].proc.poll() is None
    finally:
        r.close()
    ok = SvgReward(SvgRewardConfig(workers=1, chunk=4))
    try:
        again = ok(prompts[:8], [""] * 8, completion_ids=ids[:8], target=targets[:8])
        assert again.parts["reason"][0] is None and again[0] > 0.5
    finally:
        ok.close()


def test_equal_targets_share_one_task(drawings):
    r = SvgReward(SvgRewardConfig(workers=0))
    tgt = _ids_of(drawings[0])
    comps = [_jitter(tgt, k) for k in range(6)]
    out = r(["p"] * 6, [""] * 6, completion_ids=comps, target=[list(tgt) for _ in range(6)])
    assert r.last_stats["tasks"] == 1 and all(v is not None for v in out)
    r(["p"] * 2, [""] * 2, completion_ids=comps[:2], target=[render(drawings[0])] * 2)
    assert r.last_stats["tasks"] == 1  # one image object: grouped by identity


def _reference_parts(img: np.ndarray, tgt: np.ndarray) -> tuple[float, float, float]:
    """pixel, SSIM and edge parts by the plain float64/int64 definitions (no fast path)."""
    from svgrl.svg.metrics import ssim

    def zl2(a: np.ndarray, b: np.ndarray) -> float:
        za, zb = (a - a.mean()) / a.std(), (b - b.mean()) / b.std()
        return float(np.clip(1 - np.mean((za - zb) ** 2), -1, 1))

    def cells(x: np.ndarray) -> np.ndarray:
        g = x.astype(np.int64) @ np.array([2125, 7154, 721])  # 10⁴ · BT.709 grey, exact
        e = (np.abs(g[:-1, 1:] - g[:-1, :-1]) + np.abs(g[1:, :-1] - g[:-1, :-1])) > 32 * 10 ** 4
        h, w = e.shape[0] // 4 * 4, e.shape[1] // 4 * 4
        return e[:h, :w].reshape(h // 4, 4, w // 4, 4).sum(axis=(1, 3)).astype(np.float64)

    return (zl2(img.astype(np.float64), tgt.astype(np.float64)), ssim(img, tgt),
            zl2(cells(img), cells(tgt)))


def test_rewards_equal_the_reference_path_on_the_bench_set():
    """Totals through the fast path (compiled kernels, row band, shortcuts) equal the reward
    formula applied to the reference metrics, on the bench set's mix of exact, jittered,
    partial, doubled and broken completions."""
    from svgrl.tokens.codec import decode

    prompts, ids, targets = svg_bench_set(24)
    out = SvgReward(SvgRewardConfig(workers=0))(prompts, [""] * 24, completion_ids=ids,
                                                target=targets)
    scored = 0
    for i, (c, t) in enumerate(zip(ids, targets, strict=True)):
        if out.parts["reason"][i] is not None:
            assert out[i] == 0.0
            continue
        parts = _reference_parts(render(decode(c, L)), render(decode(t, L)))
        for k, ref in zip(("pixel", "ssim", "edge"), parts, strict=True):
            assert out.parts[k][i] == pytest.approx(ref, abs=1e-9), (i, k)
        r_len = efficiency(out.parts["tokens"][i], len(t))
        total = 0.1 + 0.9 * (1 + float(np.clip(np.mean(parts), -1, 1))) / 2 + 0.1 * r_len
        assert out[i] == pytest.approx(total, abs=1e-9)
        scored += 1
    assert scored >= 15


def test_gradient_layout_rewards_the_gradient_over_its_flat_stand_in():
    text = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><defs>'
            '<linearGradient id="a"><stop stop-color="#f00"/><stop offset="1" '
            'stop-color="#00f"/></linearGradient></defs>'
            '<rect x="2" y="2" width="20" height="20" fill="url(#a)"/></svg>')
    lay = TokenLayout(gradients=True)
    reward = SvgReward(SvgRewardConfig(workers=0, gradients=True))
    assert reward.layout == lay
    grad = load_drawing(text, gradients=True)
    flat = Drawing(grad.width, grad.height, tuple(
        type(p)(p.commands, p.fill, p.fill_rule) for p in grad.paths))
    target = encode(grad, lay)
    out = _call(reward, [target, encode(flat, lay)], text)  # SVG text target, read with gradients
    assert out.parts["ssim"][0] == pytest.approx(1.0, abs=1e-6)
    assert out.parts["ssim"][1] < 0.99 and out[0] > out[1] + 0.01
