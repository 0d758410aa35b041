"""A build killed with SIGKILL halfway resumes and yields the same dataset as a clean build.

The build runs in a subprocess whose captioner (a legitimate hook, called once per batch of
kept drawings after curation and deduplication) blocks after K batches and says so through
a file; the test then SIGKILLs the process group, so every shard and exactly K caption
batches are on disk — deterministic, no timing race.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    from svgrl.data.build import BuildConfig, build

    out, mode, flag, block_after, workers = sys.argv[1:6]

    class Ink:
        name = "ink-kill-test"
        image_size = 16

        def __init__(self):
            self.calls = 0

        def __call__(self, images):
            self.calls += 1
            if mode == "block" and self.calls > int(block_after):
                Path(flag).write_text("blocked")
                time.sleep(600)
            return [f"ink {float((im < 128).mean()):.3f}" for im in images]

    if __name__ == "__main__":  # workers are spawned and import this file
        build(BuildConfig(source=("fontawesomefree",), out=out, limit=64, shard_size=8,
                          workers=int(workers), progress=False), captioner=Ink())
''')


def _run(script: Path, out: Path, mode: str, flag: Path, workers: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(script), str(out), mode, str(flag), "2", str(workers)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_halfway_then_resume_gives_the_clean_hash(tmp_path: Path, workers: int):
    script = tmp_path / "build_script.py"
    script.write_text(SCRIPT)
    flag = tmp_path / "blocked.flag"
    killed = tmp_path / "killed"

    proc = _run(script, killed, "block", flag, workers)
    try:
        deadline = time.monotonic() + 120
        while not flag.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the build never reached caption batch 3"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the build and any pool workers it started
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    journal = json.loads((killed / ".build" / "progress.json").read_text())
    assert sorted(journal["done"]) == [str(k) for k in range(8)]
    assert len(list((killed / ".build" / "shards").glob("*.json"))) == 8
    assert len(list((killed / ".build" / "captions").glob("*.json"))) == 2
    assert not (killed / "manifest.json").exists() and not (killed / "dataset").exists()

    resumed = _run(script, killed, "free", flag, workers)
    clean = _run(script, tmp_path / "clean", "free", flag, 1)
    out_r, err_r = resumed.communicate(timeout=180)
    out_c, err_c = clean.communicate(timeout=180)
    assert resumed.returncode == 0, err_r
    assert clean.returncode == 0, err_c
    assert "resuming: 8 of 8 shards" in out_r

    m_r = json.loads((killed / "manifest.json").read_text())
    m_c = json.loads((tmp_path / "clean" / "manifest.json").read_text())
    assert m_r["timing"]["items_curated_now"] == 0 and m_c["timing"]["items_curated_now"] == 64
    assert m_r["counts"]["kept"] == m_c["counts"]["kept"] > 50
    assert m_r["content_hash"] == m_c["content_hash"]
    assert not (killed / ".build").exists()
