"""The one run format end to end, as the README's SFT → GRPO recipe drives it (tiny model, a
few steps): `svgrl generate` samples the GRPO run, ``--resume --out RUN`` alone continues a
GRPO run started from ``--init`` after kill -9 and ends with the weights of an uninterrupted
run, ``--steps N`` extends a finished run, meaning-changing flags are refused with the list
of differences; and a run folder holding a pickle is refused without running it."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sys
from pathlib import Path

import pytest
import torch
from helpers.runs import kill_at
from safetensors.torch import load_file

from svgrl.cli import main

SVGRL = [sys.executable, "-m", "svgrl.cli"]


def _sft(data: str, out: Path) -> list[str]:
    return SVGRL + ["train", "sft", "--data", data, "--out", str(out), "--backbone", "tiny",
                    "--tiny-layers", "1", "--tiny-d-model", "32", "--tiny-heads", "2",
                    "--max-steps", "3", "--lr", "2e-3", "--warmup-steps", "1",
                    "--text-weight", "0", "--reference-weight", "0", "--image-size", "16",
                    "--patch-size", "8", "--batch-size", "4", "--eval-every", "0",
                    "--eval-examples", "2", "--threads", "1", "--no-progress"]


def _grpo(data: str, init: Path, out: Path, steps: int = 3) -> list[str]:
    return SVGRL + ["train", "grpo", "--task", "svg-image", "--init", str(init), "--data", data,
                    "--out", str(out), "--steps", str(steps), "--prompts-per-step", "2",
                    "--group-size", "2", "--learning-rate", "1e-3", "--eval-size", "2",
                    "--eval-samples", "1", "--max-completion-length", "16",
                    "--minibatches", "1", "--token-budget", "1024", "--save-every", "1",
                    "--threads", "1"]


def _final_model(run: Path) -> Path:
    return run / json.loads((run / "latest.json").read_text())["checkpoint"] / "model"


def _final(run: Path) -> tuple[int, dict]:
    latest = json.loads((run / "latest.json").read_text())
    m = run / latest["checkpoint"] / "model"
    return latest["step"], {**load_file(m / "model.safetensors"),
                            **{f"vision.{k}": v for k, v in
                               load_file(m / "vision_prefix.safetensors").items()}}


@pytest.mark.slow
def test_sft_then_grpo_then_generate_and_resume_after_kill_9(tabler_data, tmp_path):
    sft, ref, run = tmp_path / "sft", tmp_path / "grpo-ref", tmp_path / "grpo"
    assert main(_sft(tabler_data, sft)[3:]) == 0
    assert main(_grpo(tabler_data, sft, ref)[3:]) == 0
    killed_at = kill_at(_grpo(tabler_data, sft, run), run, 1)
    assert 1 <= killed_at < 3
    # The run keeps its start model (hard links to the SFT checkpoint's files): the SFT run
    # may go, and the resume needs nothing but the GRPO run.
    kept = run / "start" / "model.safetensors"
    assert kept.stat().st_ino == (_final_model(sft) / "model.safetensors").stat().st_ino
    shutil.rmtree(sft)
    assert main(["train", "grpo", "--resume", "--out", str(run)]) == 0  # only --out
    (step_a, wa), (step_b, wb) = _final(ref), _final(run)
    assert step_a == step_b == 3
    assert wa.keys() == wb.keys() and any(k.startswith("vision.") for k in wa)
    assert [k for k in wa if not torch.equal(wa[k], wb[k])] == []
    meta = json.loads((run / "run.json").read_text())
    assert meta["kind"] == "grpo" and meta["version"] == 2 and meta["init_model"]
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3

    # The GRPO run samples like any run.
    out = tmp_path / "samples"
    assert main(["generate", "--run", str(run), "--image", str(_icon(tmp_path)), "-n", "3",
                 "-o", str(out), "--max-new-tokens", "32", "--threads", "1",
                 "--no-progress"]) == 0
    summary = json.loads((out / "samples.json").read_text())
    assert summary["step"] == 3 and len(summary["samples"]) == 3
    assert all((out / r["file"]).read_text().startswith("<svg") for r in summary["samples"])

    # A finished run extends with --steps.
    assert main(["train", "grpo", "--resume", "--out", str(run), "--steps", "4"]) == 0
    assert _final(run)[0] == 4
    assert json.loads((run / "run.json").read_text())["config"]["steps"] == 4


def _icon(tmp_path: Path) -> Path:
    p = tmp_path / "icon.svg"
    p.write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">'
                 '<path d="M4 4h16v16H4z"/></svg>')
    return p


@pytest.fixture(scope="module")
def sft_run(tabler_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runfmt") / "sft"
    assert main(_sft(tabler_data, out)[3:] + ["--max-steps", "1"]) == 0
    return out


def test_resume_needs_only_out_and_refuses_changed_meaning(sft_run, capsys):
    # Finished at step 1: a plain --resume says so; --max-steps extends it.
    assert main(["train", "sft", "--resume", "--out", str(sft_run)]) == 0
    assert "already at step 1" in capsys.readouterr().out
    bad = main(["train", "sft", "--resume", "--out", str(sft_run), "--lr", "0.5",
                "--batch-size", "2"])
    err = capsys.readouterr().err
    assert bad == 2
    assert "lr: run has 0.002, now 0.5" in err and "batch_size: run has 4, now 2" in err
    assert main(["train", "sft", "--resume"]) == 2
    assert "--out RUN" in capsys.readouterr().err
    assert main(["train", "grpo", "--resume", "--out", str(sft_run)]) == 2
    assert "`svgrl train sft --resume" in capsys.readouterr().err
    assert main(["train", "sft", "--resume", "--out", str(sft_run), "--max-steps", "2"]) == 0
    assert json.loads((sft_run / "latest.json").read_text())["step"] == 2


class Boom:
    """Unpickling this runs `touch MARKER` — what a hostile run folder would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_in_a_run_folder_is_refused_and_never_run(sft_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "hostile"
    shutil.copytree(sft_run, run)
    marker = tmp_path / "pwned"
    ckpt = run / json.loads((run / "latest.json").read_text())["checkpoint"]
    payload = pickle.dumps(Boom(marker))
    for c in (run / "checkpoints").glob("step-*"):  # every one: no complete one to fall back to
        (c / "trainer_state.safetensors").write_bytes(payload)
        (c / "trainer_state.pt").write_bytes(payload)
    assert main(["train", "sft", "--resume", "--out", str(run), "--max-steps", "3"]) == 2
    assert "not a safetensors file" in capsys.readouterr().err
    assert main(["generate", "--run", str(run), "--text", "x", "-o", str(tmp_path / "s"),
                 "--no-progress"]) == 2
    assert "not a safetensors file" in capsys.readouterr().err
    # Weights as a pickle instead of safetensors: refused too.
    model = ckpt / "model"
    (ckpt / "trainer_state.safetensors").unlink()
    shutil.copy(sft_run / json.loads((sft_run / "latest.json").read_text())["checkpoint"]
                / "trainer_state.safetensors", ckpt)
    (model / "model.safetensors").unlink()
    (model / "pytorch_model.bin").write_bytes(payload)
    assert main(["generate", "--run", str(run), "--text", "x", "-o", str(tmp_path / "s"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "pickles, which svgrl does not load" in err or "no complete model folder" in err
    assert not marker.exists()
    # Control: the payload is live — unpickling it does create the marker.
    pickle.loads(payload)
    assert marker.exists()
