"""SVG tasks in the GRPO loop: the `SvgLM` as a policy, SFT-format prompts, grammar sampling.

- `SvgPolicy` wraps an `SvgLM` (LM + vision prefix) as one ``nn.Module`` so the generic
  trainer code (optimiser over ``parameters()``, ``state_dict`` checkpoints, the frozen start
  copy, ``save_pretrained``) covers the vision prefix too. Its ``forward`` takes the HF
  keyword arguments plus ``images`` (U, 3, S, S): when given, the prefix of each row's image
  replaces the placeholder embeddings (`SvgLM.embed`, shifted by the row's left padding), so
  the prompt forward pass of rollout *and* update goes through the prefix and the policy
  gradient reaches it.
- `SvgPrompter` builds each row's prompt exactly as SFT does (`svgrl.model.prompts
  .prompt_for`; image task: the target drawing rendered at the prefix's image size, or for
  Qwen2.5-VL at ``--image-size``, as `svgrl.train.sft_data.Examples.image`), cached per row.
  A Qwen2.5-VL policy reads images with its own tower: its prompts are `VLPrompt`s (pixel
  values, grid sizes), which the rollout and the update pass to the model.
- `SvgSetup` hands the rollout the prompt ids, images and the grammar, which the one sampler
  (`svgrl.model.sampler`) applies per row, so every completion is a complete drawing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor, nn

from svgrl.errors import ConfigError


class SvgPolicy(nn.Module):
    """An `SvgLM` seen as one module: submodules ``lm_model`` and (if any) ``vision``."""

    def __init__(self, lm: Any):
        super().__init__()
        self.lm = lm
        self.lm_model = lm.model
        self.vision = lm.vision

    @property
    def generation_config(self) -> Any:
        return self.lm_model.generation_config

    @property
    def config(self) -> Any:
        return self.lm_model.config

    def forward(self, input_ids: Tensor | None = None, attention_mask: Tensor | None = None,
                images: Tensor | None = None, **kwargs: Any) -> Any:
        if images is None:
            return self.lm_model(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        # Left-padded rows: the placeholders start after the padding.
        return self.lm_model(inputs_embeds=self.embed(input_ids, images, offsets=(
            (attention_mask == 0).sum(1) if attention_mask is not None else None)),
            attention_mask=attention_mask, **kwargs)

    def embed(self, input_ids: Tensor, images: Tensor, offsets: Tensor | None = None
              ) -> Tensor:
        """Prompt embeddings with the vision prefix spliced in (`SvgLM.embed`)."""
        if self.vision is None:
            raise ConfigError("image prompts need a model with a vision prefix: SFT it with "
                              "--image-weight > 0")
        return self.lm.embed(input_ids, images, offsets=offsets)

    def save_pretrained(self, folder: str | Path) -> None:
        """An `svgrl.model.folder` model folder (weights, vision prefix, tokenizer,
        layout): ``--init`` and `svgrl generate` load it."""
        from svgrl.model.folder import save_model_folder

        save_model_folder(self.lm, folder)


def load_svg_policy(cfg: Any, data_layout: Any, folder: str | None = None
                    ) -> tuple[SvgPolicy, Any]:
    """(policy, tokenizer) for an SVG task: the model folder `folder` (``--init`` an SFT or
    GRPO run), or a fresh ``--backbone`` with the SVG vocabulary (and a vision prefix for
    svg-image)."""
    from svgrl.model.backbones import prepare_backbone
    from svgrl.model.folder import load_model_folder

    if folder:
        lm = load_model_folder(folder)
    else:
        lm = prepare_backbone(cfg.model, vision=(cfg.image_size, cfg.patch_size)
                              if cfg.task == "svg-image" else None,
                              grid=data_layout.grid, n_rotation=data_layout.n_rotation,
                              gradients=data_layout.gradients)
    if cfg.task == "svg-image" and lm.vision is None and lm.image_processor is None:
        raise ConfigError(f"--init {cfg.init!r} has no vision prefix; SFT it with "
                          "--image-weight > 0 for --task svg-image")
    if lm.tokenizer.pad_token_id is None:
        lm.tokenizer.pad_token_id = lm.layout.pad
    return SvgPolicy(lm), lm.tokenizer


class SvgPrompter:
    """Rows → (prompt ids, image tensor or None) in the SFT format, cached by row id; for a
    Qwen2.5-VL model (prompt ids, `VLPrompt`). `image_size`: the render size of image prompts
    for Qwen2.5-VL (a vision prefix has its own)."""

    def __init__(self, lm: Any, task: str, data_layout: Any, max_prompt_length: int,
                 image_size: int = 64):
        self.lm, self.task, self.data_layout = lm, task, data_layout
        self.max_prompt_length = max_prompt_length
        self.image_size = image_size
        self._cache: dict[Any, tuple[list[int], Any]] = {}

    def __call__(self, row: dict) -> tuple[list[int], Any]:
        key = row.get("id")
        if key is not None and key in self._cache:
            return self._cache[key]
        from svgrl.model.prompts import prompt_for
        from svgrl.model.vision import image_tensor

        lm = self.lm
        vl = lm.image_processor is not None
        if self.task == "svg-text":
            p = prompt_for(lm, "text", text=row["caption"])
            img = p if vl else None
        else:
            from svgrl.svg.render import render
            from svgrl.tokens.codec import decode

            size = self.image_size if vl else lm.vision.cfg.image_size
            rgb = render(decode(row["data_tokens"], self.data_layout), size)
            p = prompt_for(lm, "image", image=rgb)
            img = p if vl else image_tensor(rgb, size)
        if len(p.ids) > self.max_prompt_length:
            raise ConfigError(f"the {self.task} prompt has {len(p.ids)} tokens, over "
                              f"--max-prompt-length {self.max_prompt_length}; raise it (SVG "
                              "prompts are never cut: the image placeholders lead)")
        out = (p.ids, img)
        if key is not None:
            self._cache[key] = out
        return out


def model_rows(rows: list[dict], data_layout: Any, layout: Any) -> list[dict]:
    """Dataset rows with ``target`` in the model's token layout (the reward decodes targets
    and completions with one layout) and the dataset ids kept as ``data_tokens``."""
    from svgrl.model.prompts import shift_tokens

    return [{**r, "data_tokens": r["target"],
             "target": shift_tokens(r["target"], data_layout, layout)} for r in rows]


class SvgSetup:
    """What the rollout of an SVG task needs besides the rows: prompt ids, images, grammar."""

    def __init__(self, policy: SvgPolicy, task: str, data_layout: Any, max_prompt_length: int,
                 image_size: int = 64):
        from svgrl.tokens.grammar import grammar_for

        lm = policy.lm
        self.layout = lm.layout
        self.prompter = SvgPrompter(lm, task, data_layout, max_prompt_length, image_size)
        self.grammar = grammar_for(lm.layout, lm.vocab_rows)

    def generate_kwargs(self, rows: list[dict]) -> dict[str, Any]:
        """Keyword arguments of `svgrl.rl.rollout.generate` for `rows`."""
        built = [self.prompter(r) for r in rows]
        images = [im for _, im in built]
        return {"prompt_ids": [ids for ids, _ in built],
                "images": images if any(im is not None for im in images) else None,
                "grammar": self.grammar, "eos": {self.layout.eos}}
