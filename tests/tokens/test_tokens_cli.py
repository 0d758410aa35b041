import json

import pytest

from svgrl.cli import main
from svgrl.errors import ConfigError
from svgrl.tokens.stats import TokenizeConfig, collect_files

SQUARE = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">'
          '<path d="M2 2h20v20H2z" fill="#f00"/><circle cx="12" cy="12" r="5"/></svg>')


@pytest.fixture
def icons(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.svg").write_text(SQUARE)
    (tmp_path / "sub" / "b.svg").write_text(SQUARE.replace("#f00", "#00f"))
    (tmp_path / "broken.svg").write_text("<svg><path d='M")
    (tmp_path / "notes.txt").write_text("not an svg")
    return tmp_path


def test_tokenize_json(icons, capsys):
    assert main(["tokenize", str(icons), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["files"] == 3 and out["ok"] == 2 and sum(out["failed"].values()) == 1
    assert out["round_trip_exact"] == 2 and out["grammar_accepted"] == 2
    assert out["tokens_mean"] > 10 and out["tokens_p95"] >= out["tokens_mean"]
    assert out["bpe_tokens_mean"] > out["tokens_mean"]
    assert out["ratio"] == pytest.approx(out["tokens_mean"] / out["bpe_tokens_mean"])


def test_tokenize_text_output_and_limit(icons, capsys):
    assert main(["tokenize", str(icons / "a.svg"), str(icons / "sub"), "--no-bpe",
                 "--grid", "64"]) == 0
    text = capsys.readouterr().out
    assert "tokens_mean" in text and "ratio: None" in text
    assert len(collect_files((str(icons),), limit=2)) == 2


def test_tokenize_bad_input(tmp_path, capsys):
    assert main(["tokenize", str(tmp_path / "missing"), "--no-bpe"]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["tokenize", str(tmp_path), "--no-bpe", "--limit", "-1"]) == 2
    with pytest.raises(ConfigError):
        TokenizeConfig()


def test_tokenize_takes_source_names_like_every_svg_command(capsys):
    assert main(["tokenize", "pytablericons", "--limit", "3", "--no-bpe", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["files"] == 3 and out["ok"] == 3 and out["round_trip_exact"] == 3


def test_a_missing_file_says_no_such_file(tmp_path, capsys):
    assert main(["tokenize", str(tmp_path / "gone.svg"), "--no-bpe"]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["tokenize", "nosuchset", "--no-bpe"]) == 2
    assert "unknown source 'nosuchset'" in capsys.readouterr().err
