"""The import-linter contracts of pyproject.toml: layers import only downward
(svg → tokens → data, rewards → model → train → rl → bench, serve → demo → cli) and no two
modules or packages of one package import each other."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    # Runs on this checkout's sources (PYTHONPATH), whatever svgrl the venv installed.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = ("import sys; from importlinter.cli import lint_imports_command; "
            "sys.exit(lint_imports_command())")
    res = subprocess.run([sys.executable, "-c", code, "--no-cache"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout
