"""`svgrl bench`: specs, scoring through svgrl's tokenizer and resvg, results.json and the
--json line, determinism, and failures that stay confined to their sample or system."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers.icons import tabler_file

from svgrl.bench.metrics import quality, to_scored
from svgrl.bench.run import BenchConfig, run_bench
from svgrl.bench.systems import parse_spec
from svgrl.errors import ConfigError, ModelLoadError
from svgrl.svg.load import load_drawing
from svgrl.tokens.codec import encode
from svgrl.tokens.layout import TokenLayout


def _cfg(data, out, systems, **kw):
    return BenchConfig(data=str(data), out=str(out), systems=systems, progress=False, **kw)


@pytest.mark.parametrize("bad", ["", "vtrace", "run", "refine", "oracle:x", "vtracer,x=1",
                                 "refine,budget=0.5", "refine:nope", "refine,budget=a:vtracer"])
def test_unknown_or_malformed_spec_is_a_config_error(bad):
    with pytest.raises(ConfigError):
        parse_spec(bad)


def test_spec_options_and_nesting():
    s = parse_spec("refine,budget=0.5,steps=20:vtracer,preset=coarse")
    assert s.kind == "refine" and s.option("budget", 1.0, float) == 0.5
    assert s.inner.kind == "vtracer" and s.inner.option("preset", "") == "coarse"


def test_run_folder_without_run_file_is_refused(tmp_path):
    with pytest.raises(ModelLoadError, match="not an svgrl run folder"):
        parse_spec(f"run:{tmp_path}")


def test_scoring_counts_svgrl_tokens_and_compares_pixels():
    src = tabler_svg = tabler_file("heart").read_text()
    s = to_scored(src, 100, TokenLayout())
    assert s.tokens == len(encode(load_drawing(tabler_svg), TokenLayout()))
    assert s.image.shape == (100, 100, 3)
    q = quality(s.image, s.image)
    assert q["ssim"] == pytest.approx(1.0) and q["mse"] == 0 and q["psnr"] == 100.0
    white = np.full_like(s.image, 255)
    q = quality(white, s.image)
    assert q["ssim"] < 0.9 and q["mse"] > 0 and q["edge_f1"] == 0.0


def test_bench_tracers_oracle_folder_and_json(icon_folder, tmp_path, capsys):
    from svgrl.cli import main

    pre = tmp_path / "pre"
    pre.mkdir()
    shutil.copy(icon_folder / "star.svg", pre / "star.svg")  # folder: only one of six
    out = tmp_path / "b"
    argv = ["bench", "--data", str(icon_folder), "--system", "oracle", "vtracer", "potrace",
            f"folder:{pre}", "-o", str(out), "--json", "--no-progress"]
    assert main(argv) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(line) >= {"systems", "report"} and line["report"].endswith("report.html")
    sysd = line["systems"]
    assert list(sysd) == ["oracle", "vtracer", "potrace", f"folder:{pre}"]
    for name, s in sysd.items():
        assert {"n", "valid", "ssim", "mse", "psnr", "tokens_mean",
                "seconds_per_sample"} <= set(s), name
        assert s["n"] == 6
    assert sysd["oracle"]["valid"] == 1.0 and sysd["oracle"]["ssim"] > 0.95
    assert sysd["vtracer"]["valid"] == 1.0 and 0.5 < sysd["vtracer"]["ssim"] < 1.0
    assert sysd["potrace"]["valid"] == 1.0 and 0.5 < sysd["potrace"]["ssim"] < 1.0
    # the folder system answered one target; five are failed rows scored as blank canvases
    f = sysd[f"folder:{pre}"]
    assert f["valid"] == pytest.approx(1 / 6) and f["ssim"] < sysd["oracle"]["ssim"]
    assert f["dino"] == "unavailable: pass --dino PATH"
    res = json.loads((out / "results.json").read_text())
    assert res["command"][:2] == ["svgrl", "bench"] and res["seed"] == 0
    rec = {r["id"]: r for r in res["samples"][f"folder:{pre}"]}
    star = next(k for k in rec if k.endswith("star"))
    assert rec[star]["valid"] and (out / rec[star]["png"]).is_file()
    assert all("FileNotFoundError" in r["error"] for k, r in rec.items() if k != star)
    # oracle tokens are the target's own token count
    o = {r["id"]: r for r in res["samples"]["oracle"]}
    assert o[star]["tokens"] == len(encode(load_drawing(icon_folder / "star.svg"),
                                           TokenLayout()))
    assert (out / "report.html").read_text().count("data:image/png;base64,") >= 6 * 5


def test_same_command_same_quality_numbers(icon_folder, tmp_path):
    a = run_bench(_cfg(icon_folder, tmp_path / "a", ["vtracer", "potrace"], limit=3))
    b = run_bench(_cfg(icon_folder, tmp_path / "b", ["vtracer", "potrace"], limit=3))
    keys = ("ssim", "mse", "psnr", "edge_f1", "tokens_mean", "valid")
    for name in a["systems"]:
        assert {k: a["systems"][name][k] for k in keys} == \
            {k: b["systems"][name][k] for k in keys}


def test_target_that_will_not_parse_is_listed_and_the_rest_completes(icon_folder, tmp_path):
    (icon_folder / "broken.svg").write_text("<svg><path d='M0 0 L")
    res = run_bench(_cfg(icon_folder, tmp_path / "o", ["oracle"]))
    bad = [t for t in res["targets"] if t["error"]]
    assert len(bad) == 1 and bad[0]["id"].endswith("broken") and "render" in bad[0]["error"]
    assert res["targets_failed"] == 1
    assert res["systems"]["oracle"]["n"] == 6 and res["systems"]["oracle"]["valid"] == 1.0
    assert "broken" in (tmp_path / "o" / "report.html").read_text()


def test_crashing_hanging_and_raising_samples_fail_alone(icon_folder, tmp_path):
    for name in ("hang", "crash", "raise", "bytes"):
        shutil.copy(icon_folder / "star.svg", icon_folder / f"{name}.svg")
    res = run_bench(_cfg(icon_folder, tmp_path / "o", ["oracle"], timeout=3),
                    factory="tests.bench.faulty_systems:faulty_factory")
    recs = {r["id"].rsplit("/", 1)[-1]: r for r in res["samples"]["oracle"]}
    assert len(recs) == 10
    assert recs["hang"]["error"].startswith("timeout")
    assert recs["crash"]["error"].startswith("crash") and "exit 3" in recs["crash"]["error"]
    assert "RuntimeError: this system cannot draw that" in recs["raise"]["error"]
    assert "bad output" in recs["bytes"]["error"]
    ok = [k for k in recs if k not in ("hang", "crash", "raise", "bytes")]
    assert all(recs[k]["valid"] for k in ok)  # including the targets after each fault
    s = res["systems"]["oracle"]
    assert s["valid"] == pytest.approx(0.6) and s["restarts"] == 2
    assert s["errors"] == {"timeout": 1, "crash": 1, "RuntimeError": 1, "bad output": 1}
    for k in ("hang", "crash"):  # failed samples score as a blank canvas, not skipped
        assert recs[k]["ssim"] < recs["star"]["ssim"]


def test_one_worker_process_answers_every_sample(icon_folder, tmp_path):
    """The worker (imports, model load) starts once per system, not once per sample."""
    res = run_bench(_cfg(icon_folder, tmp_path / "o", ["oracle"]),
                    factory="tests.bench.faulty_systems:pid_factory")
    recs = res["samples"]["oracle"]
    pids = {(tmp_path / "o" / "samples" / "oracle" / Path(r["svg"]).name).read_text()
            .split("pid ")[1].split("-")[0] for r in recs}
    assert len(recs) > 2 and len(pids) == 1 and res["systems"]["oracle"]["restarts"] == 0


def test_a_system_that_does_not_start_in_worker_start_s_fails_its_row(icon_folder, tmp_path):
    res = run_bench(_cfg(icon_folder, tmp_path / "o", ["oracle"], limit=2, worker_start_s=2),
                    factory="tests.bench.faulty_systems:slow_start_factory")
    s = res["systems"]["oracle"]
    assert s["valid"] == 0.0 and "did not start in 2 s" in s["setup_error"]
    assert all("did not start" in r["error"] for r in res["samples"]["oracle"])
    with pytest.raises(ConfigError, match="worker-start-s"):
        _cfg(icon_folder, tmp_path / "o", ["oracle"], worker_start_s=0)


@pytest.mark.slow  # trains a 1-step run and starts two model workers
def test_run_system_samples_and_a_run_without_weights_fails_its_row(tmp_path,
                                                                     tabler_data):
    from helpers.runs import TINY

    from svgrl.model.backbones import BackboneConfig
    from svgrl.train.sft import SFTConfig, train_sft

    run = tmp_path / "run"
    train_sft(SFTConfig(data=tabler_data, out=str(run), max_steps=1, batch_size=2, eval_every=0,
                        eval_examples=2, progress=False, threads=1, image_size=32,
                        patch_size=8), BackboneConfig(**TINY), log=lambda m: None)
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(run / "run.json", empty / "run.json")  # a run file, no checkpoint
    res = run_bench(_cfg(tabler_data, tmp_path / "o", [f"run:{run}", f"run:{empty}", "oracle"],
                         max_new_tokens=40, split="validation", limit=3))
    r = res["systems"][f"run:{run}"]
    # re-counted by svgrl's tokenizer after simplification (BOS included, arcs become
    # cubics), so close to but not exactly the ≤ 40 generated ids
    assert r["n"] == 3 and r["valid"] == 1.0 and 4 <= r["tokens_mean"] <= 50
    assert r["settings"]["step"] == 1
    e = res["systems"][f"run:{empty}"]
    assert e["valid"] == 0.0 and "no checkpoint" in e["setup_error"]
    assert res["systems"]["oracle"]["valid"] == 1.0
