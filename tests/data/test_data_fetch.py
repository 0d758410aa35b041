"""`svgrl data fetch`: safe unpacking and the npm round trip, with a fake `npm` on PATH."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from svgrl.cli.data import add_commands
from svgrl.data import fetch as fetch_mod
from svgrl.data import npm
from svgrl.data.fetch import MARKER, fetch, safe_unpack
from svgrl.data.sources import iter_source
from svgrl.errors import FetchError, SourceNotFoundError

SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8">'
       b'<rect width="4" height="4"/></svg>')


def make_tarball(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)


def test_safe_unpack_extracts_a_normal_tarball(tmp_path):
    tgz = tmp_path / "p.tgz"
    make_tarball(tgz, {"package/a.svg": SVG, "package/sub/b.svg": SVG})
    dest = tmp_path / "out"
    dest.mkdir()
    assert safe_unpack(tgz, dest) == (2, 2 * len(SVG))
    assert (dest / "package" / "sub" / "b.svg").read_bytes() == SVG


@pytest.mark.parametrize(
    "members, links",
    [
        ({"package/ok.svg": SVG, "package/../../evil.txt": b"pwned"}, {}),
        ({"../evil.txt": b"pwned"}, {}),
        ({"package/ok.svg": SVG}, {"package/link": "../../evil.txt"}),
        ({"package/ok.svg": SVG}, {"package/abs": "/etc/passwd"}),
    ],
)
def test_safe_unpack_refuses_members_leaving_the_folder(tmp_path, members, links):
    tgz = tmp_path / "evil.tgz"
    make_tarball(tgz, members, links)
    dest = tmp_path / "a" / "b"
    dest.mkdir(parents=True)
    with pytest.raises(FetchError, match="unsafe member"):
        safe_unpack(tgz, dest)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "a" / "evil.txt").exists()


def test_safe_unpack_refuses_bombs_and_garbage(tmp_path, monkeypatch):
    tgz = tmp_path / "p.tgz"
    make_tarball(tgz, {"package/a.svg": b"x" * 1000})
    monkeypatch.setattr(fetch_mod, "MAX_UNPACKED_BYTES", 999)
    with pytest.raises(FetchError, match="exceeds the limit"):
        safe_unpack(tgz, tmp_path)
    junk = tmp_path / "junk.tgz"
    junk.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(FetchError, match="not a readable tarball"):
        safe_unpack(junk, tmp_path)


# --- a fake npm first on PATH -----------------------------------------------------------------

FAKE_NPM = textwrap.dedent(
    """\
    #!{python}
    # Fake `npm pack NAME --json --pack-destination DIR` for tests: no network.
    import io, json, os, sys, tarfile
    args = sys.argv[1:]
    with open(os.environ["FAKE_NPM_LOG"], "a") as log:
        log.write(" ".join(args) + "\\n")
    mode = os.environ.get("FAKE_NPM_MODE", "ok")
    if mode == "fail":
        sys.stderr.write("npm error 404 Not Found - GET https://registry/nope\\n")
        sys.exit(1)
    name = args[1]
    dest = args[args.index("--pack-destination") + 1]
    version = os.environ.get("FAKE_NPM_VERSION", "1.0.0")
    fname = name.lstrip("@").replace("/", "-") + "-" + version + ".tgz"
    members = {{
        "package/package.json": json.dumps({{"name": name, "version": version}}).encode(),
        "package/icons/activity.svg": {svg!r},
        "package/icons/zap-" + version + ".svg": {svg!r},
        "package/tags.json": b'{{"activity": ["pulse"]}}',
    }}
    if mode == "evil":
        members["package/../../../evil.txt"] = b"pwned"
    with tarfile.open(os.path.join(dest, fname), "w:gz") as tar:
        for m, data in members.items():
            info = tarfile.TarInfo(m)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    print(json.dumps([{{"name": name, "version": version, "filename": fname}}]))
    """
)


@pytest.fixture
def fake_npm(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "npm"
    exe.write_text(FAKE_NPM.format(python=sys.executable, svg=SVG))
    exe.chmod(0o755)
    log = tmp_path / "npm.log"
    log.touch()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_NPM_LOG", str(log))
    return log


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines()


def leftovers(cache: Path) -> list[Path]:
    return list((cache / "npm").rglob(".fetch-*")) if (cache / "npm").exists() else []


def test_fetch_unpacks_marks_and_is_idempotent(cache, fake_npm):
    lines = []
    r = fetch("lucide-static", log=lines.append)
    dest = npm.package_dir(cache, "lucide-static")
    assert r.path == dest and not r.skipped and r.version == "1.0.0" and r.files == 4
    assert (dest / "icons" / "activity.svg").read_bytes() == SVG
    assert json.loads((dest / MARKER).read_text())["version"] == "1.0.0"
    assert calls(fake_npm)[0].startswith("pack lucide-static --json --pack-destination ")
    assert any("tarball" in m for m in lines) and "unpacked" in lines[-1]
    assert leftovers(cache) == []
    # The fetched tree is a working source.
    items = list(iter_source("lucide-static"))
    assert [i.id for i in items] == ["lucide-static/activity", "lucide-static/zap-1.0.0"]
    assert items[0].tags == ("pulse",)
    # Second fetch: no npm call.
    again = fetch("lucide-static", log=lines.append)
    assert again.skipped and len(calls(fake_npm)) == 1 and "already fetched" in lines[-1]


def test_force_replaces_and_failed_refetch_keeps_the_old_copy(cache, fake_npm, monkeypatch):
    fetch("@tabler/icons", log=lambda m: None)
    dest = npm.package_dir(cache, "@tabler/icons")
    monkeypatch.setenv("FAKE_NPM_VERSION", "2.0.0")
    r = fetch("@tabler/icons", force=True, log=lambda m: None)
    assert r.version == "2.0.0" and len(calls(fake_npm)) == 2
    assert sorted(p.name for p in (dest / "icons").iterdir()) == ["activity.svg", "zap-2.0.0.svg"]
    monkeypatch.setenv("FAKE_NPM_MODE", "fail")
    with pytest.raises(FetchError, match="404 Not Found"):
        fetch("@tabler/icons", force=True, log=lambda m: None)
    assert (dest / "icons" / "zap-2.0.0.svg").is_file()  # untouched
    assert leftovers(cache) == []


def test_corrupt_marker_means_fetch_again(cache, fake_npm):
    fetch("lucide-static", log=lambda m: None)
    (npm.package_dir(cache, "lucide-static") / MARKER).write_text("{half")
    assert not fetch("lucide-static", log=lambda m: None).skipped
    assert len(calls(fake_npm)) == 2


def test_unwritable_cache_is_a_typed_error(tmp_path, fake_npm):
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "npm").write_text("a file where the npm folder should be")
    with pytest.raises(FetchError, match="cannot write to the cache folder"):
        fetch("openmoji", blocked, log=lambda m: None)


def test_fetch_refuses_a_path_traversal_tarball(cache, fake_npm, monkeypatch):
    monkeypatch.setenv("FAKE_NPM_MODE", "evil")
    with pytest.raises(FetchError, match="unsafe member"):
        fetch("@iconify-json/mdi", log=lambda m: None)
    assert not npm.package_dir(cache, "@iconify-json/mdi").exists()
    assert list(cache.parent.rglob("evil.txt")) == [] and leftovers(cache) == []


def test_fetch_without_npm_says_what_to_install(cache, tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(FetchError) as e:
        fetch("openmoji", log=lambda m: None)
    assert "apt-get install npm" in str(e.value)
    assert str(e.value).endswith("then run again: svgrl data fetch openmoji")


@pytest.mark.parametrize("name", ["left-pad", "@iconify-json/../x", "pytablericons", ""])
def test_fetch_refuses_unknown_names(cache, name):
    with pytest.raises(SourceNotFoundError, match="cannot fetch"):
        fetch(name, log=lambda m: None)


# --- the CLI ------------------------------------------------------------------------------------


def run_cli(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="svgrl")
    add_commands(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(argv)
    return args.func(args)


def test_cli_fetch_and_sources(tmp_path, fake_npm, capsys):
    root = tmp_path / "elsewhere"
    assert run_cli(["data", "fetch", "lucide-static", "nope", "--cache", str(root)]) == 2
    out, err = capsys.readouterr()
    assert "lucide-static: 2 files" not in out and "lucide-static: 4 files" in out
    assert "cannot fetch 'nope'" in err
    assert run_cli(["data", "sources", "--cache", str(root), "--count", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["sources"]}
    assert rows["lucide-static"]["available"] and rows["lucide-static"]["files"] == 2
    assert rows["pytablericons"]["files"] > 5000 and rows["pytablericons"]["kind"] == "pypi"
    assert not rows["openmoji"]["available"]
    assert rows["openmoji"]["error"].endswith(f"svgrl data fetch openmoji --cache {root}")


def test_cli_fetch_needs_a_name():
    with pytest.raises(SystemExit):
        run_cli(["data", "fetch"])
