"""The SVG-core commands, run in process through `svgrl.cli.main`."""

import json

from svgrl.cli import main
from svgrl.svg.image_io import read_png

GOOD = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><circle cx="12" cy="12" '
        'r="9" fill="none" stroke="#000" stroke-width="2"/></svg>')


def _folder(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "ring.svg").write_text(GOOD)
    (d / "sub").mkdir()
    (d / "sub" / "bad.svg").write_bytes(b"<svg")
    (d / "sub" / "text.svg").write_text(GOOD.replace("<circle", "<text>x</text><circle"))
    return d


def test_fidelity_json_counts_failures_and_exits_zero(tmp_path, capsys):
    assert main(["fidelity", str(_folder(tmp_path)), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["files"] == 3 and out["ok"] == 2 and out["failed"] == 1
    assert out["errors"] == {"xml": 1} and out["dropped"] == {"text": 1}
    assert out["ssim_mean"] > 0.97 and out["files_per_s"] > 0


def test_fidelity_through_tokens_matches_direct(tmp_path, capsys):
    folder = _folder(tmp_path)
    main(["fidelity", str(folder), "--json"])
    direct = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    main(["fidelity", str(folder), "--json", "--through-tokens"])
    through = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert through["ssim_mean"] == direct["ssim_mean"] and through["through_tokens"]


def test_simplify_writes_normalised_files(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["simplify", str(_folder(tmp_path)), "-o", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["failed"] == 1 and summary["dropped"] == {"text": 1}
    text = (out / next(p.name for p in out.iterdir() if "ring" in p.name)).read_text()
    assert 'viewBox="0 0 199 199"' in text and "stroke" not in text


def test_simplify_reports_what_it_recovered_from(tmp_path, capsys):
    src = tmp_path / "broken.svg"
    src.write_text(GOOD.replace('r="9"', 'r="9mmx"').replace(
        "</svg>", '<path d="M1 1 L 20 1 L 20 20 L 5#"/></svg>'))
    assert main(["simplify", str(src), "-o", str(tmp_path / "out")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["written"] == 1
    assert summary["dropped"] == {"invalid-length": 1, "path-data-error": 1}


def test_render_writes_png(tmp_path):
    src = tmp_path / "ring.svg"
    src.write_text(GOOD)
    png = tmp_path / "ring.png"
    assert main(["render", str(src), "-o", str(png), "--size", "64"]) == 0
    img = read_png(str(png))
    assert img.shape == (64, 64, 3)
    assert img[32, 32].tolist() == [255, 255, 255] and (img < 128).any()


def test_bad_input_is_an_error_message_not_a_traceback(tmp_path, capsys):
    src = tmp_path / "x.svg"
    src.write_bytes(b"")
    assert main(["render", str(src), "-o", str(tmp_path / "x.png")]) == 2
    assert "empty document" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_a_png_is_not_an_svg_and_an_all_failed_batch_fails(tmp_path, capsys):
    import numpy as np

    from svgrl.cli import main
    from svgrl.svg.image_io import encode_png

    png = tmp_path / "photo.png"
    png.write_bytes(encode_png(np.zeros((8, 8, 3), np.uint8)))
    assert main(["render", str(png), "-o", str(tmp_path / "o.png")]) == 2
    assert "not an SVG: this is a PNG image" in capsys.readouterr().err
    assert main(["simplify", str(png), "-o", str(tmp_path / "s")]) == 1
    assert "not an SVG" in capsys.readouterr().err
    assert main(["fidelity", str(png), "--json"]) == 1
    assert '"not-svg": 1' in capsys.readouterr().out
    assert main(["render", str(tmp_path / "gone.svg"), "-o", str(tmp_path / "o.png")]) == 2
    assert "No such file" in capsys.readouterr().err


def test_simplify_lists_some_failures_per_reason_and_counts_all(tmp_path, capsys):
    from svgrl.cli.svg import MAX_LISTED_FAILURES

    src = tmp_path / "many"
    src.mkdir()
    n_bad = MAX_LISTED_FAILURES + 3
    for i in range(n_bad):
        (src / f"bad{i:02d}.svg").write_bytes(b"<svg")
    (src / "ring.svg").write_text(GOOD)
    assert main(["simplify", str(src), "-o", str(tmp_path / "out")]) == 0
    cap = capsys.readouterr()
    summary = json.loads(cap.out)
    assert summary["written"] == 1 and summary["failed"] == n_bad
    assert summary["reasons"] == {"xml": n_bad}
    lines = cap.err.strip().splitlines()
    assert sum(": xml: " in line for line in lines) == MAX_LISTED_FAILURES
    assert sum("further 'xml' failures are counted" in line for line in lines) == 1


def test_simplify_shows_a_progress_bar_on_a_terminal(tmp_path, capsys, monkeypatch):
    import sys

    folder = _folder(tmp_path)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["simplify", str(folder), "-o", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "simplify:3file" in err.replace(" ", "") and "failed=1" in err
    assert main(["simplify", str(folder), "-o", str(tmp_path / "b"), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "simplify:" not in err.replace("svgrl simplify:", "")


def test_fidelity_json_keeps_its_progress_on_stderr(tmp_path, capsys):
    folder = _folder(tmp_path)
    main(["fidelity", str(folder), "--json"])
    out, err = capsys.readouterr()
    json.loads(out.strip().splitlines()[-1])  # stdout: the JSON line only
    assert "fidelity" in err
    main(["fidelity", str(folder), "--json", "--no-progress"])
    assert "fidelity" not in capsys.readouterr().err
