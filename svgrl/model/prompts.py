"""Prompt formats of the three OmniSVG tasks (arXiv 2504.06263, §4: text-to-SVG, image-to-SVG,
character-reference SVG generation) and the reference pairs.

A prompt is ``[image placeholders] chat(user: instruction) <task marker>``; the target that
follows it is the SVG token sequence ``<svg> … </svg>``. The chat template is the backbone's
own (ChatML for tiny and SmolLM2-Instruct); the task marker is the layout's
``<svg:task_text|image|reference>`` token, so the model sees the task explicitly even when the
instruction wording changes. For an image or reference prompt the first `n_image_tokens`
positions hold placeholders that `SvgLM.embed` replaces with the vision prefix.

Character reference (OmniSVG §4, "character-reference SVG generation"): prompt = an image of a
character in one style + an instruction; target = the same character drawn in another style.
svgrl pairs emoji across sets by codepoint — OpenMoji colour ↔ Twemoji — in both directions.
A pair belongs to the split of its *target*; the reference may come from any split (it is an
input, not an answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from svgrl.errors import ConfigError, ModelLoadError
from svgrl.model.qwen_vl import IMAGE_PAD, VLPrompt
from svgrl.tokens.layout import TokenLayout

TASKS = ("text", "image", "reference")
INSTRUCTIONS = {
    "text": "Generate an SVG icon: {text}",
    "image": "Convert this image into an SVG.",
    "reference": "Draw the character in this image again as an SVG, in another style.",
}
MAX_TEXT_CHARS = 2000
# Sources whose ids end in an emoji codepoint sequence, and how to read it.
EMOJI_SOURCES = ("openmoji", "@twemoji/svg")


@dataclass
class Prompt:
    task: str
    ids: list[int]  # placeholders (if any), chat prompt, task marker
    image: np.ndarray | None = None  # (H, W, 3) uint8 for image / reference prompts
    text: str = ""


def chat_ids(tokenizer: Any, instruction: str) -> list[int]:
    """Ids of a one-turn user message plus the assistant header, by the tokenizer's own chat
    template (plain ``User: … Assistant:`` when it has none)."""
    messages = [{"role": "user", "content": instruction}]
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                             tokenize=False)
    else:
        text = f"User: {instruction}\nAssistant: "
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def build_prompt(tokenizer: Any, layout: TokenLayout, task: str, *, text: str = "",
                 image: np.ndarray | None = None, n_image_tokens: int = 0) -> Prompt:
    """The prompt of one task. `text` is the caption (text task); `image` the (H, W, 3) uint8
    input (image / reference task)."""
    check_prompt_inputs(task, text, image)
    if task == "text":
        placeholders: list[int] = []
    else:
        if n_image_tokens <= 0:
            raise ConfigError(f"the {task} task needs a model with a vision prefix; this "
                              "model was trained without image input")
        placeholders = [layout.pad] * n_image_tokens
    ids = placeholders + chat_ids(tokenizer, instruction(task, text))
    return Prompt(task, ids + [layout.task(task)], image, text)


def instruction(task: str, text: str = "") -> str:
    return INSTRUCTIONS[task].format(text=text.strip())


def prompt_for(lm: Any, task: str, *, text: str = "", image: np.ndarray | None = None) -> Any:
    """The prompt of one task for the `SvgLM` `lm`, in the form its backbone reads images:
    a `Prompt` (vision-prefix placeholders) or, for Qwen2.5-VL, a `VLPrompt` (its processor's
    image pads + pixel values)."""
    if lm.image_processor is None:
        return build_prompt(lm.tokenizer, lm.layout, task, text=text, image=image,
                            n_image_tokens=lm.n_image_tokens)
    check_prompt_inputs(task, text, image)
    return vl_prompt(lm, instruction(task, text), image, task)


def check_prompt_inputs(task: str, text: str, image: np.ndarray | None) -> None:
    if task not in TASKS:
        raise ConfigError(f"task {task!r} is not one of {', '.join(TASKS)}")
    if not isinstance(text, str) or len(text) > MAX_TEXT_CHARS:
        raise ConfigError(f"prompt text must be a string of at most {MAX_TEXT_CHARS} "
                          f"characters, got {len(text) if isinstance(text, str) else text!r}")
    if task == "text":
        if not text.strip():
            raise ConfigError("the text task needs a non-empty description (--text)")
        if image is not None:
            raise ConfigError("the text task takes no image; use --image or --reference")
    elif image is None:
        raise ConfigError(f"the {task} task needs an input image")


def shift_tokens(tokens: Sequence[int], data_layout: TokenLayout,
                 layout: TokenLayout) -> list[int]:
    """Dataset token ids (an SVG-only layout, base 0) → ids of a model's extended layout."""
    if (data_layout.grid, data_layout.n_rotation, data_layout.gradients) != (
            layout.grid, layout.n_rotation, layout.gradients):
        raise ConfigError(f"dataset layout (grid {data_layout.grid}, {data_layout.n_rotation} "
                          f"rotations, gradients {data_layout.gradients}) differs from the "
                          f"model's (grid {layout.grid}, {layout.n_rotation}, gradients "
                          f"{layout.gradients}); build the data with --grid {layout.grid}"
                          f"{' --gradients' if layout.gradients else ''}")
    d = layout.base_vocab_size - data_layout.base_vocab_size
    return [int(t) + d for t in tokens]


def emoji_key_of(record_id: str) -> tuple[str, str] | None:
    """(source, normalised codepoint key) of an OpenMoji / Twemoji record id, else None:
    ``"openmoji/1F600"`` → ``("openmoji", "1F600")``,
    ``"@twemoji/svg/1f3f3-fe0f-200d-1f308"`` → ``("@twemoji/svg", "1F3F3-200D-1F308")``."""
    from svgrl.data.npm import emoji_key

    for src in EMOJI_SOURCES:
        if record_id.startswith(src + "/"):
            tail = record_id[len(src) + 1:].rsplit("/", 1)[-1]
            try:
                [int(h, 16) for h in tail.split("-")]
            except ValueError:
                return None
            return src, emoji_key(tail)
    return None


def reference_pairs(ids: Sequence[str]) -> list[tuple[int, int]]:
    """(reference index, target index) for every emoji drawn by both OpenMoji and Twemoji,
    both directions, in a fixed order."""
    by_key: dict[str, dict[str, int]] = {}
    for i, rid in enumerate(ids):
        k = emoji_key_of(rid)
        if k is not None:
            by_key.setdefault(k[1], {}).setdefault(k[0], i)
    pairs = []
    for key in sorted(by_key):
        d = by_key[key]
        if len(d) == 2:
            a, b = d[EMOJI_SOURCES[0]], d[EMOJI_SOURCES[1]]
            pairs += [(a, b), (b, a)]
    return pairs


def vl_prompt(lm: Any, instruction: str, image: np.ndarray | None, task: str = "image"
              ) -> VLPrompt:
    """The chat prompt ``[image] instruction`` + the layout's task marker, built the way
    Qwen2.5-VL's processor builds it (see the module docstring); ``image=None`` with
    ``task="text"`` gives a text-to-SVG prompt."""
    if lm.image_processor is None:
        raise ConfigError("this model has no image processor (not a Qwen2.5-VL backbone)")
    if task not in TASKS or (task == "text") != (image is None):
        raise ConfigError(f"task {task!r} with image={'None' if image is None else 'set'}: "
                          "the text task takes no image, image/reference tasks need one")
    if not isinstance(instruction, str) or not 0 < len(instruction) <= MAX_TEXT_CHARS:
        raise ConfigError(f"instruction must be a non-empty string of at most "
                          f"{MAX_TEXT_CHARS} characters")
    tok = lm.tokenizer
    pad_id = tok.convert_tokens_to_ids(IMAGE_PAD)
    if image is None:
        return VLPrompt(chat_ids(tok, instruction) + [lm.layout.task(task)], None, None, pad_id)
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or \
            image.dtype != np.uint8 or min(image.shape[:2]) < 1 or image.size > 4096 * 4096 * 3:
        raise ConfigError(f"image must be an (H, W, 3) uint8 array of at most 4096², got "
                          f"{getattr(image, 'shape', type(image).__name__)}")
    messages = [{"role": "user", "content": [{"type": "image"},
                                             {"type": "text", "text": instruction}]}]
    text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    if text.count(IMAGE_PAD) != 1:
        raise ModelLoadError(f"the chat template of this model wrote {text.count(IMAGE_PAD)} "
                             f"{IMAGE_PAD} tokens for one image; expected 1")
    vis = lm.image_processor(images=[image], return_tensors="pt")
    grid_thw = vis["image_grid_thw"]
    merge = int(getattr(lm.image_processor, "merge_size", 2))
    n_pads = int(grid_thw.prod()) // (merge * merge)
    ids: list[int] = []
    for t in tok(text, add_special_tokens=False)["input_ids"]:
        ids += [pad_id] * n_pads if t == pad_id else [t]
    ids.append(lm.layout.task(task))
    return VLPrompt(ids, vis["pixel_values"], grid_thw, pad_id)
