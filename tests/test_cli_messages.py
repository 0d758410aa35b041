"""What a newcomer sees on the usual mistakes: the message says what the path is and what to
do, and settings that quietly waste a run are warned about before it starts."""

from __future__ import annotations

import re
import shutil

import pytest

from svgrl.cli import main
from svgrl.errors import ConfigError
from tests.helpers.icons import tabler_file


def test_generate_on_a_dataset_says_it_is_a_dataset(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.json").write_text("{}")
    assert main(["generate", "--run", str(data), "--text", "arrow", "-o",
                 str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "is a dataset from `svgrl data build`" in err and "svgrl train sft" in err


def test_generate_on_a_missing_run_says_no_such_folder(tmp_path, capsys):
    assert main(["generate", "--run", str(tmp_path / "runs" / "nope"), "--text", "arrow",
                 "-o", str(tmp_path / "s")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_sft_warns_when_the_whole_run_is_warm_up(tmp_path, capsys):
    # the missing dataset stops it right after the settings are checked
    args = ["train", "sft", "--data", str(tmp_path / "nope"), "--backbone", "tiny", "--out",
            str(tmp_path / "run")]
    assert main([*args, "--max-steps", "40", "--warmup-steps", "100"]) == 2
    err = capsys.readouterr().err
    assert "--warmup-steps 100 ≥ --max-steps 40" in err and "--warmup-steps 4" in err
    assert main([*args, "--max-steps", "40", "--warmup-steps", "4"]) == 2
    assert "warning" not in capsys.readouterr().err
    # the default warm-up is a tenth of the run: no warning for a short run either
    assert main([*args, "--max-steps", "40"]) == 2
    assert "warning" not in capsys.readouterr().err


def test_svg_grpo_without_init_warns(tmp_path, capsys):
    args = ["train", "grpo", "--task", "svg-image", "--backbone", "tiny", "--data",
            str(tmp_path / "nope"), "--out", str(tmp_path / "run"), "--steps", "1"]
    assert main(args) == 2
    assert "without --init" in capsys.readouterr().err
    assert main([*args, "--init", str(tmp_path / "sft")]) == 2
    assert "without --init" not in capsys.readouterr().err


def test_bench_says_when_limit_exceeds_the_targets(tmp_path, capsys):
    src = tmp_path / "svgs"
    src.mkdir()
    for name in ("arrow-left", "circle"):
        shutil.copy(tabler_file(name), src / f"{name}.svg")
    assert main(["bench", "--data", str(src), "--system", "oracle", "--limit", "5",
                 "--no-progress", "-o", str(tmp_path / "bench")]) == 0
    err = capsys.readouterr().err
    assert f"--limit 5, but {src} holds 2 target(s)" in err


def test_render_names_what_it_wrote(tmp_path, capsys):
    png = tmp_path / "icon.png"
    assert main(["render", str(tabler_file("circle")), "-o", str(png), "--size", "32"]) == 0
    assert png.is_file()
    assert f"wrote {png} (32×32 px, 1 path)" in capsys.readouterr().out


def test_generate_names_the_missing_flag(capsys):
    assert main(["generate", "--run", "runs/sft", "--text", "arrow"]) == 2
    err = capsys.readouterr().err
    assert "missing -o OUTDIR" in err and "--run RUN" not in err.split("(")[0]


@pytest.mark.parametrize("spec,needle", [
    ("vtracer,presset=coarse", "unknown option 'presset'; vtracer takes preset=..."),
    ("vtracer,coarse", "option 'coarse' is not key=value; vtracer takes preset=..."),
    ("oracle,x=1", "oracle takes no options"),
])
def test_a_misspelt_system_option_names_the_known_ones(spec, needle):
    from svgrl.bench.systems import parse_spec

    with pytest.raises(ConfigError, match=re.escape(needle)):
        parse_spec(spec)


def test_a_budget_too_small_for_a_drawing_names_the_flag():
    from svgrl.tokens.grammar import GrammarState, grammar_for
    from svgrl.tokens.layout import TokenLayout

    with pytest.raises(ConfigError, match=r"budget of 3 tokens .*\(--max-new-tokens"):
        GrammarState(grammar_for(TokenLayout(grid=16)), 3)
