"""Run folders and checkpoints, shared by every trainer (SFT here, GRPO next to it).

A run folder rebuilds everything from itself alone (nanoGPT's habit: the checkpoint carries
the model arguments and the whole config)::

    RUN/run.json                     format, version, trainer kind, resolved config(s), notes
    RUN/latest.json                  {"step": N, "checkpoint": "checkpoints/step-0000000N"}
    RUN/checkpoints/step-0000000N/
        model/                       a Hugging Face model folder: config.json,
                                     model.safetensors, tokenizer files,
                                     svg_token_layout.json, and for text-only backbones
                                     vision_prefix.safetensors + vision_prefix.json
                                     (Qwen2.5-VL: preprocessor_config.json instead)
        trainer_state.pt             optimizer state, RNG states, step, data cursor
    RUN/tb/                          TensorBoard scalars

Atomicity: a checkpoint is written into a hidden temporary folder beside its final name,
renamed into place, and only then is ``latest.json`` replaced (temp file + os.replace). A
crash at any moment leaves ``latest.json`` pointing at a complete checkpoint; leftovers of an
interrupted write are removed by the next `RunDir.open`.

For the GRPO trainer: ``run = RunDir(path); meta = run.open(kind="grpo", config=...,
resume=...)``; ``run.save_checkpoint(step, lm, state)`` with `state` any dict of tensors /
numbers / lists (``rng_state()`` included); on resume ``step, ckpt = run.latest()``,
``lm = load_model_folder(ckpt / "model")``, ``state = run.load_state(ckpt)``.
To start GRPO from an SFT run, ``lm, meta = load_run(sft_run)``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from svgrl.atomic import write_text
from svgrl.errors import ConfigError, ModelLoadError
from svgrl.jsonfile import read_versioned
from svgrl.model.svglm import SvgLM

RUN_FORMAT = "svgrl.run"
RUN_VERSION = 1
RUN_FILE = "run.json"
LATEST_FILE = "latest.json"
STATE_FILE = "trainer_state.pt"
MODEL_DIR = "model"


def save_model_folder(lm: SvgLM, folder: str | os.PathLike) -> None:
    """HF weights + config, tokenizer + layout, and the vision prefix (if any) in `folder`."""
    from svgrl.model.vision import save_vision
    from svgrl.tokens.hf import save_tokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # "Writing model shards" on every checkpoint
    try:
        lm.model.save_pretrained(str(folder), safe_serialization=True)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    if lm.vision is not None:
        save_vision(lm.vision, folder)
    if lm.image_processor is not None:  # Qwen2.5-VL: its preprocessor_config.json
        lm.image_processor.save_pretrained(str(folder))
    save_tokenizer(lm.tokenizer, lm.layout, folder)  # writes the layout last


def load_model_folder(folder: str | os.PathLike, *, dtype: torch.dtype = torch.float32
                      ) -> SvgLM:
    """The `SvgLM` saved by `save_model_folder` (offline), in eval mode. A Qwen2-VL /
    Qwen2.5-VL folder comes back with its own vision tower and image processor."""
    from transformers import AutoModelForCausalLM

    from svgrl.errors import TokenError
    from svgrl.model.vision import is_qwen_vl, load_vision
    from svgrl.tokens.hf import load_tokenizer

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"{str(folder)!r} is not a saved svgrl model folder "
                             "(no config.json)")
    try:
        tokenizer, layout = load_tokenizer(folder)
    except TokenError as e:
        raise ModelLoadError(f"model folder {str(folder)!r}: {e}") from e
    if is_qwen_vl(folder):
        from svgrl.model.qwen_vl import check_vl_tokenizer, load_vl_model

        check_vl_tokenizer(tokenizer, folder)
        model, image_processor = load_vl_model(folder, dtype=dtype)
        lm = SvgLM(model, tokenizer, layout, None, image_processor=image_processor)
    else:
        try:
            model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True,
                                                         dtype=dtype)
        except Exception as e:  # corrupt weights surface as safetensors/json/torch errors
            raise ModelLoadError(f"could not load model folder {str(folder)!r}: "
                                 f"{type(e).__name__}: {e}") from e
        vision = load_vision(folder)
        if vision is not None:
            vision.to(dtype)
        lm = SvgLM(model, tokenizer, layout, vision)
    if lm.vocab_rows < layout.vocab_size:
        raise ModelLoadError(f"{folder}: the model has {lm.vocab_rows} embedding rows, the "
                             f"token layout needs {layout.vocab_size}")
    return lm.train(False)


def rng_state() -> dict:
    """Every RNG a training step may draw from (torch CPU, numpy, Python)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    # numpy's key array as a tensor: `torch.load(weights_only=True)` refuses numpy objects.
    return {"torch": torch.get_rng_state(),
            "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss),
                      float(cached)],
            "python": random.getstate()}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(state["python"])


class RunDir:
    """One run folder (see the module docstring)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser()
        self.checkpoints = self.root / "checkpoints"
        self.tb = self.root / "tb"

    def open(self, *, kind: str, config: dict, resume: bool,
             ignore: tuple[str, ...] = ()) -> dict:
        """Start a run (writes ``run.json``) or, with `resume`, check that `config` matches
        the stored one (fields in `ignore` may differ) and clean interrupted writes."""
        meta_path = self.root / RUN_FILE
        config = json.loads(json.dumps(config))  # tuples → lists, as the stored copy reads
        if resume:
            if not meta_path.is_file():
                raise ConfigError(f"--resume: {str(self.root)!r} holds no run (no {RUN_FILE});"
                                  " drop --resume to start one")
            meta = self.read_meta()
            if meta.get("kind") != kind:
                raise ConfigError(f"--resume: {self.root} is a {meta.get('kind')!r} run, not "
                                  f"{kind!r}")
            diff = _diff(meta.get("config", {}), config, ignore)
            if diff:
                raise ConfigError(
                    f"--resume: {self.root} was started with other settings ("
                    + "; ".join(f"{k}: run has {a!r}, now {b!r}" for k, a, b in diff)
                    + "); pass the same flags to resume, or start a new --out")
            for p in self.checkpoints.glob(".tmp-*"):
                shutil.rmtree(p, ignore_errors=True)
            return meta
        if meta_path.exists() or self.checkpoints.exists():
            raise ConfigError(f"{str(self.root)!r} already holds a run; add --resume to "
                              "continue it or choose a new --out")
        self.root.mkdir(parents=True, exist_ok=True)
        meta = {"format": RUN_FORMAT, "version": RUN_VERSION, "kind": kind, "config": config}
        write_text(meta_path, json.dumps(meta, indent=1, ensure_ascii=False))
        return meta

    def read_meta(self) -> dict:
        return read_run_meta(self.root)

    def latest(self) -> tuple[int, Path] | None:
        p = self.root / LATEST_FILE
        if not p.is_file():
            return None
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
            step, ckpt = int(d["step"]), self.root / str(d["checkpoint"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelLoadError(f"{p} is unreadable: {e}") from e
        if not (ckpt / STATE_FILE).is_file() or ckpt.resolve().parent != \
                self.checkpoints.resolve():
            raise ModelLoadError(f"{p} points to {str(ckpt)!r}, which is not a complete "
                                 f"checkpoint of this run")
        return step, ckpt

    def save_checkpoint(self, step: int, lm: SvgLM, state: dict, *, keep_last: int = 2
                        ) -> Path:
        """Write checkpoint `step` atomically, point ``latest.json`` at it, prune old ones."""
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        name = f"step-{step:08d}"
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=self.checkpoints))
        try:
            save_model_folder(lm, tmp / MODEL_DIR)
            torch.save(state, tmp / STATE_FILE)
            _fsync_tree(tmp)
            final = self.checkpoints / name
            if final.exists():  # re-reached after a crash between rename and latest.json
                shutil.rmtree(final)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        write_text(self.root / LATEST_FILE, json.dumps(
            {"step": step, "checkpoint": f"checkpoints/{name}"}))
        if keep_last > 0:
            done = sorted(p for p in self.checkpoints.glob("step-*") if p.is_dir())
            for old in done[:-keep_last]:
                if old.name != name:
                    shutil.rmtree(old, ignore_errors=True)
        return final

    def load_state(self, ckpt: Path) -> dict:
        try:
            # weights_only: a trainer state is tensors, numbers, strings, lists and dicts;
            # refusing pickled code keeps a hostile run folder from executing anything.
            return torch.load(ckpt / STATE_FILE, map_location="cpu", weights_only=True)
        except Exception as e:
            raise ModelLoadError(f"cannot read {ckpt / STATE_FILE}: {type(e).__name__}: "
                                 f"{e}") from e


def read_run_meta(root: str | os.PathLike) -> dict:
    p = Path(root).expanduser() / RUN_FILE
    if not p.is_file():
        raise ModelLoadError(f"{str(root)!r} is not an svgrl run folder (no {RUN_FILE})")
    return read_versioned(p, RUN_FORMAT, RUN_VERSION, "run file", ModelLoadError, 10_000_000)


def load_run(root: str | os.PathLike, *, dtype: torch.dtype = torch.float32
             ) -> tuple[SvgLM, dict]:
    """(model of the latest checkpoint, run metadata) — for generation or a next stage."""
    run = RunDir(root)
    meta = run.read_meta()
    latest = run.latest()
    if latest is None:
        raise ModelLoadError(f"run {str(root)!r} has no checkpoint yet (no {LATEST_FILE})")
    step, ckpt = latest
    meta = {**meta, "step": step, "checkpoint": str(ckpt)}
    return load_model_folder(ckpt / MODEL_DIR, dtype=dtype), meta


def _diff(a: dict, b: dict, ignore: tuple[str, ...], prefix: str = "") -> list[tuple]:
    out = []
    for k in sorted(set(a) | set(b)):
        if k in ignore:
            continue
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _diff(va, vb, ignore, f"{prefix}{k}.")
        elif va != vb:
            out.append((prefix + k, va, vb))
    return out


def _fsync_tree(root: Path) -> None:
    for dirpath, _, files in os.walk(root):
        for f in files:
            fd = os.open(os.path.join(dirpath, f), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
