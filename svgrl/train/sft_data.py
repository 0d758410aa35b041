"""A built dataset seen as SFT examples: records of every split, reference pairs, prompt
lengths, and `example(item)` → (prompt ids, target ids, image) for one `Item`."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from svgrl.errors import ConfigError, DataError
from svgrl.model.prompts import chat_ids, prompt_for, reference_pairs, shift_tokens
from svgrl.tokens.layout import TokenLayout
from svgrl.train.batching import Batch, Item, VLBatch, collate, epoch_items


@dataclass
class SftData:
    ids: list[str]
    captions: list[str]
    tokens: list[list[int]]  # dataset ids (the dataset's own layout, base 0)
    split_of: list[str]
    data_layout: TokenLayout
    content_hash: str
    pairs: list[tuple[int, int]] = field(default_factory=list)

    @classmethod
    def load(cls, folder: str) -> SftData:
        from svgrl.data.store import load_built

        dd, manifest, layout = load_built(folder)
        ids, caps, toks, split = [], [], [], []
        for name, ds in dd.items():
            cols = ds.select_columns(["id", "caption", "name", "tokens"]).to_dict()
            for rid, cap, nm, tk in zip(cols["id"], cols["caption"], cols["name"],
                                        cols["tokens"], strict=True):
                ids.append(rid)
                caps.append((cap or nm or "").strip())
                toks.append(tk)
                split.append(name)
        if not any(s == "train" for s in split):
            raise DataError(f"dataset {folder!r} has no training records")
        data = cls(ids, caps, toks, split, layout, str(manifest.get("content_hash", "")))
        data.pairs = reference_pairs(ids)
        return data

    def indices(self, split: str) -> list[int]:
        return [i for i, s in enumerate(self.split_of) if s == split]

    def split_pairs(self, split: str) -> list[tuple[int, int]]:
        return [(r, t) for r, t in self.pairs if self.split_of[t] == split]

    def items(self, split: str, weights: dict[str, float], seed: int, epoch: int) -> list[Item]:
        return epoch_items(self.indices(split), [bool(c) for c in self.captions],
                           self.split_pairs(split), weights, seed, epoch)


class Examples:
    """Turns `Item`s into model inputs for one `SvgLM` (prompt lengths cached). Images are
    rendered at the vision prefix's size, or for Qwen2.5-VL at `image_size` (its processor
    resizes them further)."""

    def __init__(self, data: SftData, lm: Any, image_size: int = 64):
        self.data, self.lm = data, lm
        self.vl = lm.image_processor is not None
        self.size = lm.vision.cfg.image_size if lm.vision is not None else image_size
        self._text_len: dict[int, int] = {}
        self._img_len: dict[str, int] = {}

    def length(self, item: Item) -> int:
        """Prompt + target tokens (image prompts: a close upper bound, exact for Qwen2.5-VL
        whose image tokens depend only on the image size)."""
        n = len(self.data.tokens[item.index])
        if item.task == "text":
            if item.index not in self._text_len:
                self._text_len[item.index] = len(self.prompt(item).ids)
            return self._text_len[item.index] + n
        if item.task not in self._img_len:
            lm = self.lm
            self._img_len[item.task] = len(prompt_for(
                lm, item.task, image=np.full((self.size, self.size, 3), 255, np.uint8)).ids) \
                if self.vl else lm.n_image_tokens + len(chat_ids(lm.tokenizer, "x")) + 80
        return self._img_len[item.task] + n

    def image(self, index: int) -> np.ndarray:
        from svgrl.svg.render import render
        from svgrl.tokens.codec import decode

        return render(decode(self.data.tokens[index], self.data.data_layout), self.size)

    def prompt(self, item: Item) -> Any:
        if item.task == "text":
            return prompt_for(self.lm, "text", text=self.data.captions[item.index])
        src = item.index if item.task == "image" else item.reference
        return prompt_for(self.lm, item.task, image=self.image(src))

    def target(self, item: Item) -> list[int]:
        return shift_tokens(self.data.tokens[item.index], self.data.data_layout,
                            self.lm.layout)

    def example(self, item: Item) -> tuple[list[int], list[int], torch.Tensor | None]:
        from svgrl.model.vision import image_tensor

        p = self.prompt(item)
        img = image_tensor(p.image, self.size) if p.image is not None else None
        return p.ids, self.target(item), img

    def batch(self, items: list[Item]) -> Batch | VLBatch:
        """The model input of `items`: a padded `Batch`, or a `VLBatch` of prompts and targets
        that `svgrl.model.qwen_vl.vl_loss` pads itself."""
        if self.vl:
            return VLBatch([self.prompt(it) for it in items], [self.target(it) for it in items])
        return collate([self.example(it) for it in items], self.lm.layout.pad, self.size)


def unigram_baseline(data: SftData, train: list[int], val: list[int]) -> float:
    """Cross-entropy (nats/token) of the validation targets under the add-one-smoothed unigram
    distribution of the training targets — the loss of a model that ignores all context."""
    counts: Counter = Counter()
    for i in train:
        counts.update(data.tokens[i])
    total, v = sum(counts.values()), data.data_layout.n_tokens
    if not val:
        raise ConfigError("the dataset has no validation records to evaluate on")
    nll, n = 0.0, 0
    for i in val:
        for t in data.tokens[i]:
            nll -= math.log((counts.get(t, 0) + 1) / (total + v))
            n += 1
    return nll / max(n, 1)
