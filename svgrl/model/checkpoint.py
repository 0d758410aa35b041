"""The one run format, shared by every trainer (SFT, GRPO, and the async engine next).

A run folder rebuilds everything from itself alone (nanoGPT's habit: the checkpoint carries
the model arguments and the whole config)::

    RUN/run.json                     format, version, kind ("sft", "grpo", ...), resolved
                                     config, where the start model came from
    RUN/latest.json                  {"step": N, "checkpoint": "checkpoints/step-0000000N"}
    RUN/checkpoints/step-0000000N/
        model/                       a model folder (svgrl.model.folder): loads with
                                     AutoModelForCausalLM.from_pretrained; SVG models add
                                     svg_token_layout.json and the vision prefix
        trainer_state.json           optimiser hyper-parameters, step, data cursor, RNG
        trainer_state.safetensors    every tensor of the trainer state (optimiser moments,
                                     torch / numpy RNG keys), referenced from the JSON
    RUN/start/                       the model folder a run started from (``--init``), kept
                                     so the run resumes without it (a run's checkpoint is
                                     hard-linked: no second copy of the weights)
    RUN/metrics.jsonl                one JSON object per logged step (optional)
    RUN/tb/                          TensorBoard scalars

No pickle anywhere: the trainer state is JSON plus safetensors (`save_state` /
`load_state`), model weights are safetensors. A run folder from someone else can be resumed
or sampled without running any of its bytes as code.

Atomicity: a checkpoint is written into a hidden temporary folder beside its final name,
renamed into place, and only then is ``latest.json`` replaced (temp file + os.replace). A
crash at any moment leaves ``latest.json`` pointing at a complete checkpoint; leftovers of an
interrupted write are removed by the next `RunDir.open`.

Version history: 1 — trainer state pickled in ``trainer_state.pt`` (and GRPO runs had their
own ``config.json`` layout); 2 — this format.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from svgrl.atomic import respect_umask, write_bytes, write_text
from svgrl.errors import ConfigError, ModelLoadError
from svgrl.jsonfile import read_json, read_versioned
from svgrl.model.folder import load_model_folder, save_model_folder
from svgrl.model.svglm import SvgLM

RUN_FORMAT = "svgrl.run"
RUN_VERSION = 2
RUN_FILE = "run.json"
LATEST_FILE = "latest.json"
START_DIR = "start"
STATE_JSON = "trainer_state.json"
STATE_TENSORS = "trainer_state.safetensors"
MODEL_DIR = "model"
METRICS_FILE = "metrics.jsonl"
MAX_STATE_JSON = 64 * 1024 * 1024


# ---- trainer state: JSON + safetensors -------------------------------------------------------

def _encode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON-ready form of `obj`; tensors move to `tensors` and leave ``{"$tensor": key}``."""
    if isinstance(obj, torch.Tensor):
        key = str(len(tensors))
        tensors[key] = obj.detach().cpu().contiguous().clone()
        return {"$tensor": key}
    if isinstance(obj, np.ndarray):
        return _encode(torch.from_numpy(np.ascontiguousarray(obj)), tensors)
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, tuple):
        return {"$tuple": [_encode(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in obj):
            return {k: _encode(v, tensors) for k, v in obj.items()}
        # Optimiser states key parameters by int: keep the key types.
        return {"$items": [[_encode(k, tensors), _encode(v, tensors)] for k, v in obj.items()]}
    raise TypeError(f"trainer state holds a {type(obj).__name__}; only tensors, numbers, "
                    "strings, None, lists, tuples and dicts are saved")


def _decode(obj: Any, tensors: dict[str, torch.Tensor], where: str) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors, where) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if set(obj) == {"$tensor"}:
        key = obj["$tensor"]
        if key not in tensors:
            raise ModelLoadError(f"{where}: tensor {key!r} is missing from {STATE_TENSORS}")
        return tensors[key]
    if set(obj) == {"$tuple"} and isinstance(obj["$tuple"], list):
        return tuple(_decode(v, tensors, where) for v in obj["$tuple"])
    if set(obj) == {"$items"} and isinstance(obj["$items"], list):
        out = {}
        for kv in obj["$items"]:
            if not (isinstance(kv, list) and len(kv) == 2):
                raise ModelLoadError(f"{where}: malformed item {kv!r}")
            k = _decode(kv[0], tensors, where)
            if not isinstance(k, (int, str, float, bool)):
                raise ModelLoadError(f"{where}: unusable key {k!r}")
            out[k] = _decode(kv[1], tensors, where)
        return out
    return {k: _decode(v, tensors, where) for k, v in obj.items()}


def save_state(state: dict, folder: str | os.PathLike) -> None:
    """Write `state` (tensors, numbers, strings, lists, tuples, dicts) as
    ``trainer_state.json`` + ``trainer_state.safetensors`` in `folder`."""
    from safetensors.torch import save

    folder = Path(folder)
    tensors: dict[str, torch.Tensor] = {}
    doc = {"format": "svgrl.trainer_state", "version": 1, "state": _encode(state, tensors)}
    write_bytes(folder / STATE_TENSORS, save(tensors))
    write_text(folder / STATE_JSON, json.dumps(doc))


def check_state(folder: str | os.PathLike) -> None:
    """Cheap completeness check: both files exist and the tensor file is a safetensors file
    (its header parses). Anything else — a pickle put in its place, a truncated file — is a
    `ModelLoadError`; nothing is deserialised beyond the header."""
    from safetensors import safe_open

    folder = Path(folder)
    for name in (STATE_JSON, STATE_TENSORS):
        if not (folder / name).is_file():
            raise ModelLoadError(f"checkpoint {str(folder)!r} is incomplete: no {name}"
                                 + (" (an svgrl run of format 1: trainer_state.pt is a "
                                    "pickle, which svgrl no longer loads)"
                                    if (folder / "trainer_state.pt").exists() else ""))
    try:
        with safe_open(str(folder / STATE_TENSORS), "pt"):
            pass
    except Exception as e:  # safetensors raises its own SafetensorError on a bad header
        raise ModelLoadError(f"{str(folder / STATE_TENSORS)!r} is not a safetensors file "
                             f"({type(e).__name__}: {e}); refusing to read it") from e


def verify_checkpoint(folder: str | os.PathLike) -> None:
    """`check_state`, the trainer-state JSON parsed, and the header of every safetensors
    file of the model folder read: a checkpoint that passes loads without a raw traceback
    from a damaged file. `ModelLoadError` otherwise."""
    from safetensors import safe_open

    folder = Path(folder)
    check_state(folder)
    read_versioned(folder / STATE_JSON, "svgrl.trainer_state", 1, "trainer state",
                   ModelLoadError, MAX_STATE_JSON)
    model = folder / MODEL_DIR
    weights = sorted(model.glob("*.safetensors"))
    if not (model / "config.json").is_file() or not weights:
        raise ModelLoadError(f"checkpoint {str(folder)!r} has no complete model folder")
    read_json(model / "config.json", "model config", ModelLoadError, 16 << 20)
    for w in weights:
        try:
            with safe_open(str(w), "pt") as f:
                f.keys()
        except Exception as e:  # safetensors raises its own SafetensorError
            raise ModelLoadError(f"{str(w)!r} is not a readable safetensors file "
                                 f"({type(e).__name__}: {e})") from e


def load_state(folder: str | os.PathLike) -> dict:
    """The state written by `save_state` (no pickle: JSON and safetensors only)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    check_state(folder)
    doc = read_versioned(folder / STATE_JSON, "svgrl.trainer_state", 1, "trainer state",
                         ModelLoadError, MAX_STATE_JSON)
    try:
        tensors = load_file(str(folder / STATE_TENSORS), device="cpu")
    except Exception as e:
        raise ModelLoadError(f"cannot read {str(folder / STATE_TENSORS)!r}: "
                             f"{type(e).__name__}: {e}") from e
    state = _decode(doc.get("state"), tensors, str(folder / STATE_JSON))
    if not isinstance(state, dict):
        raise ModelLoadError(f"{str(folder / STATE_JSON)!r} holds no state object")
    return state


def rng_state() -> dict:
    """Every RNG a training step may draw from (torch CPU, numpy, Python)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "numpy": [str(name), torch.from_numpy(keys.astype(np.int64)), int(pos),
                      int(has_gauss), float(cached)],
            "python": random.getstate()}


def set_rng_state(state: dict) -> None:
    try:
        torch.set_rng_state(state["torch"])
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise ModelLoadError(f"the checkpoint's RNG state is malformed: {e}") from e


# ---- run folders -------------------------------------------------------------------------------

class RunDir:
    """One run folder (see the module docstring)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser()
        self.checkpoints = self.root / "checkpoints"
        self.tb = self.root / "tb"

    def open(self, *, kind: str, config: dict, resume: bool, ignore: tuple[str, ...] = (),
             extra: dict | None = None) -> dict:
        """Start a run (writes ``run.json`` with `config` and `extra`) or, with `resume`,
        check that `config` matches the stored one — fields in `ignore` may differ (they are
        updated in ``run.json``: steps to extend a run, threads) — and clean interrupted
        writes."""
        meta_path = self.root / RUN_FILE
        config = json.loads(json.dumps(config))  # tuples → lists, as the stored copy reads
        if resume:
            if not meta_path.is_file():
                raise ConfigError(f"--resume: {str(self.root)!r} holds no run (no {RUN_FILE})"
                                  "; drop --resume to start one")
            meta = self.read_meta()
            if meta.get("kind") != kind:
                raise ConfigError(f"--resume: {self.root} is a {meta.get('kind')!r} run, not "
                                  f"{kind!r}")
            diff = config_diff(meta.get("config", {}), config, ignore)
            if diff:
                raise ConfigError(
                    f"--resume: {self.root} was started with other settings ("
                    + "; ".join(f"{k}: run has {a!r}, now {b!r}" for k, a, b in diff)
                    + "); drop those flags to resume with the run's own settings, or "
                      "start a new --out")
            for p in [*self.checkpoints.glob(".tmp-*"), *self.root.glob(".tmp-start-*")]:
                shutil.rmtree(p, ignore_errors=True)
            if meta.get("config") != config:  # only ignorable fields changed
                meta = {**meta, "config": config}
                write_text(meta_path, json.dumps(meta, indent=1, ensure_ascii=False))
            return meta
        if meta_path.exists() or self.checkpoints.exists():
            raise ConfigError(f"{str(self.root)!r} already holds a run; add --resume to "
                              "continue it or choose a new --out")
        self.root.mkdir(parents=True, exist_ok=True)
        meta = {"format": RUN_FORMAT, "version": RUN_VERSION, "kind": kind, "config": config,
                **(extra or {})}
        write_text(meta_path, json.dumps(meta, indent=1, ensure_ascii=False))
        return meta

    def read_meta(self) -> dict:
        return read_run_meta(self.root)

    def latest(self) -> tuple[int, Path] | None:
        """(step, checkpoint folder) of the newest complete checkpoint, or None. When the
        checkpoint ``latest.json`` names is damaged (a truncated or corrupted file, a bad
        pointer), the newest earlier checkpoint that verifies is used, with a warning; only
        when none does is the first problem raised."""
        p = self.root / LATEST_FILE
        if not p.is_file():
            return None
        try:
            return self._pointed(p)
        except ModelLoadError as e:
            problem = e
        for ckpt in sorted(self.checkpoints.glob("step-*"), reverse=True):
            try:
                step = int(ckpt.name.removeprefix("step-"))
                verify_checkpoint(ckpt)
            except (ValueError, ModelLoadError):
                continue
            warnings.warn(f"{problem}; using the previous complete checkpoint {ckpt}",
                          stacklevel=2)
            return step, ckpt
        raise problem

    def _pointed(self, p: Path) -> tuple[int, Path]:
        d = read_json(p, "latest-checkpoint pointer", ModelLoadError, 4096)
        try:
            step, ckpt = int(d["step"]), self.root / str(d["checkpoint"])
        except (ValueError, KeyError, TypeError) as e:
            raise ModelLoadError(f"{p} is unreadable: {e}") from e
        if ckpt.resolve().parent != self.checkpoints.resolve() or not ckpt.is_dir():
            raise ModelLoadError(f"{p} points to {str(ckpt)!r}, which is not a complete "
                                 f"checkpoint of this run")
        verify_checkpoint(ckpt)
        return step, ckpt

    def save_checkpoint(self, step: int, model: SvgLM | Any, state: dict, *,
                        tokenizer: Any = None, keep_last: int = 2) -> Path:
        """Write checkpoint `step` (model folder + trainer state) atomically, point
        ``latest.json`` at it, prune old ones. `model`: an `SvgLM`, or an HF model saved with
        `tokenizer`."""
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        name = f"step-{step:08d}"
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=self.checkpoints))
        try:
            save_model_folder(model, tmp / MODEL_DIR, tokenizer)
            save_state(state, tmp)
            respect_umask(tmp)  # mkdtemp makes 0700
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
        return load_state(ckpt)

    def keep_start(self, folder: str | os.PathLike, *, link: bool = False) -> Path:
        """Keep the model folder `folder` the run starts from as ``RUN/start`` (atomically:
        a temporary folder renamed into place), copied — or with `link` hard-linked (copied
        where links are impossible, e.g. another file system). Link only a run's checkpoint:
        those are replaced whole (temporary folder + rename), never rewritten in place, so
        the link keeps the start weights even when the original is deleted; a plain model
        folder may be saved over in place, which a link would follow."""
        def link_or_copy(src: str, dst: str) -> None:
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)

        final = self.root / START_DIR
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-start-", dir=self.root))
        try:
            shutil.copytree(folder, tmp / "m", symlinks=False,
                            copy_function=link_or_copy if link else shutil.copy2)
            os.rename(tmp / "m", final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return final

    # ---- metrics.jsonl: one object per logged step ------------------------------------
    def append_metrics(self, record: dict) -> None:
        with open(self.root / METRICS_FILE, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")

    def read_metrics(self, upto_step: int | None = None) -> list[dict]:
        return read_metrics(self.root, upto_step)

    def truncate_metrics(self, upto_step: int) -> list[dict]:
        """Keep the records of steps ≤ `upto_step` (a resumed run re-logs the later ones)."""
        rows = self.read_metrics(upto_step)
        write_text(self.root / METRICS_FILE,
                   "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
        return rows


def read_metrics(root: str | os.PathLike, upto_step: int | None = None) -> list[dict]:
    p = Path(root) / METRICS_FILE
    if not p.is_file():
        return []
    out = []
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue  # a line cut by a kill mid-write
        if isinstance(r, dict) and (upto_step is None or r.get("step", 0) <= upto_step):
            out.append(r)
    return out


def read_run_meta(root: str | os.PathLike) -> dict:
    """``run.json`` of `root`; a run of an older svgrl gets a message saying what to do."""
    root = Path(root).expanduser()
    p = root / RUN_FILE
    if not p.is_file():
        old = root / "config.json"
        if old.is_file() and b"svgrl.grpo-run" in old.read_bytes()[:1_000_000]:
            raise ModelLoadError(
                f"{str(root)!r} is a GRPO run of an older svgrl (its own config.json layout, "
                f"pickled checkpoints); this svgrl reads run format {RUN_VERSION} only: train "
                "it again, or pass its exported model folder RUN/model as --backbone")
        raise ModelLoadError(f"{str(root)!r} is not an svgrl run folder (no {RUN_FILE})"
                             f"{_what_it_is(root)}")
    d = read_json(p, "run file", ModelLoadError, 10_000_000)
    if isinstance(d, dict) and d.get("format") == RUN_FORMAT and \
            isinstance(d.get("version"), int) and d["version"] < RUN_VERSION:
        raise ModelLoadError(
            f"{str(root)!r} was written by an older svgrl (run format {d['version']}, trainer "
            f"state pickled in trainer_state.pt); this svgrl reads format {RUN_VERSION} and "
            "never unpickles: train it again, or use a checkpoint's model folder "
            "(RUN/checkpoints/step-N/model) as --backbone or --init")
    return read_versioned(p, RUN_FORMAT, RUN_VERSION, "run file", ModelLoadError, 10_000_000)


def stored_config(out: str | os.PathLike, kind: str) -> dict:
    """The resolved config stored in the `kind` run `out` — what ``--resume --out RUN``
    starts from (a `ConfigError` saying what is wrong without one)."""
    if not str(out):
        raise ConfigError("--resume needs the run folder: --out RUN")
    try:
        meta = read_run_meta(out)
    except ModelLoadError as e:
        raise ConfigError(f"--resume: {e}") from e
    if meta.get("kind") != kind:
        raise ConfigError(f"--resume: {out} is a {meta.get('kind')!r} run; resume it with "
                          f"`svgrl train {meta.get('kind')} --resume --out {out}`")
    config = meta.get("config")
    if not isinstance(config, dict):
        raise ConfigError(f"--resume: {out}/{RUN_FILE} holds no config")
    return config


def model_folder(path: str | os.PathLike) -> tuple[Path, dict | None]:
    """(model folder, run metadata or None) for a run folder (its latest checkpoint) or a
    model folder itself — what ``--init`` and ``--run`` accept."""
    path = Path(path).expanduser()
    if (path / RUN_FILE).is_file() or (path / "config.json").is_file() and \
            b"svgrl.grpo-run" in (path / "config.json").read_bytes()[:1_000_000]:
        run = RunDir(path)
        meta = run.read_meta()
        latest = run.latest()
        if latest is None:
            raise ModelLoadError(f"run {str(path)!r} has no checkpoint yet (no {LATEST_FILE})")
        step, ckpt = latest
        return ckpt / MODEL_DIR, {**meta, "step": step, "checkpoint": str(ckpt)}
    if (path / "config.json").is_file():
        return path, None
    raise ModelLoadError(f"{str(path)!r} is not an svgrl run folder (no {RUN_FILE}) nor a "
                         f"model folder (no config.json){_what_it_is(path)}")


def _what_it_is(path: Path) -> str:
    """The end of a "not a run" message: what `path` is instead, for the usual mix-ups (a
    dataset passed as the run, a typo in the path)."""
    if not path.exists():
        return ": no such folder"
    if (path / "manifest.json").is_file():
        return (": it is a dataset from `svgrl data build`; pass a run folder written by "
                "`svgrl train sft` or `svgrl train grpo`")
    return ""


def load_run(root: str | os.PathLike, *, dtype: torch.dtype = torch.float32
             ) -> tuple[SvgLM, dict]:
    """(SVG model of the run's latest checkpoint, run metadata) — for generation or a next
    stage. Any kind of run (SFT, GRPO on an SVG task) or a model folder."""
    folder, meta = model_folder(root)
    meta = meta or {"kind": "model", "checkpoint": str(folder)}
    task = (meta.get("config") or {}).get("task")
    if meta.get("kind") == "grpo" and task not in ("svg-image", "svg-text"):
        raise ModelLoadError(f"{str(root)!r} is a GRPO run on task {task!r}: its model writes "
                             "text, not SVG, so it has no SVG token layout to sample from")
    return load_model_folder(folder, dtype=dtype), meta


def config_diff(a: dict, b: dict, ignore: tuple[str, ...] = (), prefix: str = ""
                ) -> list[tuple[str, Any, Any]]:
    """(dotted key, value in `a`, value in `b`) for every field that differs, recursing into
    nested dicts; a key in `ignore` (bare or dotted) is skipped."""
    out = []
    for k in sorted(set(a) | set(b)):
        if k in ignore or prefix + k in ignore:
            continue
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += config_diff(va, vb, ignore, f"{prefix}{k}.")
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
