"""Batch tools over awkward folders: symlink loops, links out of the folder, huge sparse
files and clashing output names are each counted or refused, and the batch goes on."""

from __future__ import annotations

import json
import os
import resource

from svgrl.cli import main
from svgrl.data.inputs import iter_inputs
from svgrl.data.sources import iter_folder

NS = 'xmlns="http://www.w3.org/2000/svg"'
SQUARE = f'<svg {NS} viewBox="0 0 10 10"><rect width="5" height="5"/></svg>'


def _folder(tmp_path):
    """src/ with one good file, a self-referencing link, a link to a file outside src/ and
    a link to a folder outside src/."""
    src, outside = tmp_path / "src", tmp_path / "outside"
    src.mkdir()
    outside.mkdir()
    (src / "good.svg").write_text(SQUARE)
    (outside / "secret.svg").write_text(SQUARE.replace("5", "9"))
    os.symlink("self.svg", src / "self.svg")
    os.symlink(outside / "secret.svg", src / "outside.svg")
    os.symlink(outside, src / "outdir")
    os.symlink("good.svg", src / "alias.svg")  # inside the folder: kept
    return src


def test_folder_walk_skips_links_out_and_reports_loops(tmp_path):
    src = _folder(tmp_path)
    ids = [it.id.split("/", 1)[1] for it in iter_folder(src)]
    assert ids == ["alias", "good", "self"]
    items = {i: (d, e) for i, d, e in iter_inputs([str(src)])}
    assert items["src/good"][0] is not None and items["src/alias"][0] is not None
    data, err = items["src/self"]
    assert data is None and "Too many levels of symbolic links" in err


def test_simplify_and_fidelity_count_a_symlink_loop_and_go_on(tmp_path, capsys):
    src = _folder(tmp_path)
    main(["simplify", str(src), "-o", str(tmp_path / "out")])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["written"] == 2 and out["reasons"] == {"io": 1}
    main(["simplify", str(src / "self.svg"), "-o", str(tmp_path / "out2")])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["written"] == 0 and out["reasons"] == {"io": 1}
    main(["fidelity", str(src), "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["files"] == 3 and out["ok"] == 2 and out["failed"] == 1


def test_data_build_counts_a_symlink_loop_and_ignores_links_out(tmp_path):
    from svgrl.data.build import BuildConfig, build

    src = _folder(tmp_path)
    m = build(BuildConfig(source=(str(src),), out=str(tmp_path / "ds"), progress=False,
                          near_dup_bits=-1), log=lambda s: None)
    c = m["counts"]
    assert c["items"] == 3 and c["failed"] == {"read": 1}  # alias, good; self fails
    assert c["exact_duplicates"] and c["kept"] == 1  # alias is good's exact duplicate


def test_single_file_is_read_only_up_to_the_limit(tmp_path):
    big = tmp_path / "big.svg"
    with open(big, "wb") as f:
        f.truncate(3 << 30)  # a 3 GB sparse file
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    [(id_, data, err)] = list(iter_inputs([str(big)]))
    assert data is None and err.startswith("io: larger than")
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024 < 64


def test_clashing_output_names_keep_both_files(tmp_path, capsys):
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a" / "b.svg").write_text(SQUARE)
    (src / "a__b.svg").write_text(SQUARE.replace('width="5"', 'width="8"'))
    main(["simplify", str(src), "-o", str(tmp_path / "out")])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["written"] == 2
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(written) == 2 and "src__a__b.svg" in written, written
    texts = {(tmp_path / "out" / n).read_text() for n in written}
    assert len(texts) == 2  # neither overwrote the other


def test_a_named_file_is_written_under_its_own_name(tmp_path, capsys):
    (tmp_path / "deep" / "er").mkdir(parents=True)
    for d in (tmp_path / "deep", tmp_path / "deep" / "er"):
        (d / "icon.svg").write_text(SQUARE)
    deep = tmp_path / "deep"
    main(["simplify", str(deep / "icon.svg"), str(deep / "er" / "icon.svg"),
          "-o", str(tmp_path / "out")])
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    # the first keeps its name; the second, same name, gets a digest instead of overwriting
    assert written[1] == "icon.svg" and written[0].startswith("icon-") and len(written) == 2
