"""The SFT data order: task mix, length buckets, and collation into padded tensors.

Everything here is a pure function of (records, seed, epoch), so a resumed run rebuilds the
same epoch and continues from a saved cursor — the data order needs no saved state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from svgrl.model.prompts import TASKS

IGNORE = -100  # label of positions that carry no loss (prompt, padding)


@dataclass(frozen=True)
class Item:
    index: int  # record (target) index in the split
    task: str
    reference: int = -1  # record index of the reference image (reference task)


def epoch_items(indices: Sequence[int], has_text: Sequence[bool],
                pairs: Sequence[tuple[int, int]], weights: dict[str, float], seed: int,
                epoch: int) -> list[Item]:
    """One item per record of `indices` with a usable task; the task drawn with probability
    ∝ its weight among the tasks that record supports (text needs a caption, reference a
    pair (reference, target) whose target is the record)."""
    rng = np.random.default_rng([seed, epoch, 1])
    refs: dict[int, list[int]] = {}
    for r, t in pairs:
        refs.setdefault(t, []).append(r)
    items = []
    for i in indices:
        avail = [t for t in TASKS if weights.get(t, 0) > 0 and
                 (t != "text" or has_text[i]) and (t != "reference" or i in refs)]
        if not avail:
            continue
        w = np.array([weights[t] for t in avail], dtype=np.float64)
        task = avail[int(rng.choice(len(avail), p=w / w.sum()))] if len(avail) > 1 else avail[0]
        ref = int(refs[i][int(rng.integers(len(refs[i])))]) if task == "reference" else -1
        items.append(Item(i, task, ref))
    return items


def bucketed_batches(items: Sequence[Item], lengths: Sequence[int], batch_size: int,
                     seed: int, epoch: int, bucket_batches: int = 50) -> list[list[Item]]:
    """Shuffle, cut into windows of `bucket_batches` batches, sort each window by length and
    cut it into batches, then shuffle the batches: similar lengths share a batch (little
    padding) while the order stays random (the usual bucketing-sampler scheme)."""
    rng = np.random.default_rng([seed, epoch, 2])
    order = rng.permutation(len(items))
    window = batch_size * bucket_batches
    batches: list[list[Item]] = []
    for s in range(0, len(order), window):
        chunk = sorted(order[s:s + window].tolist(), key=lambda j: lengths[j])
        batches += [[items[j] for j in chunk[k:k + batch_size]]
                    for k in range(0, len(chunk), batch_size)]
    perm = rng.permutation(len(batches))
    return [batches[j] for j in perm]


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, T) right-padded
    attention_mask: torch.Tensor  # (B, T)
    labels: torch.Tensor  # (B, T) target ids at target positions, IGNORE elsewhere
    images: torch.Tensor | None  # (B, 3, S, S) or None when no row has an image
    has_image: torch.Tensor  # (B,) bool

    @property
    def n_targets(self) -> int:
        """Tokens the loss scores: labels shifted by one, as the loss reads them."""
        return int((self.labels[:, 1:] != IGNORE).sum())


@dataclass
class VLBatch:
    """Rows for a Qwen2.5-VL backbone: its prompts (image pads + pixel values) and targets;
    `svgrl.model.qwen_vl.vl_loss` pads and scores them."""

    prompts: list  # VLPrompt per row
    targets: list[list[int]]

    @property
    def n_targets(self) -> int:
        return sum(map(len, self.targets))


def collate(examples: Sequence[tuple[list[int], list[int], torch.Tensor | None]], pad_id: int,
            image_size: int) -> Batch:
    """(prompt ids, target ids, image (3, S, S) or None) per row → a right-padded `Batch`."""
    t = max(len(p) + len(y) for p, y, _ in examples)
    b = len(examples)
    ids = torch.full((b, t), pad_id, dtype=torch.long)
    labels = torch.full((b, t), IGNORE, dtype=torch.long)
    mask = torch.zeros((b, t), dtype=torch.long)
    has_image = torch.zeros(b, dtype=torch.bool)
    images = torch.zeros((b, 3, image_size, image_size)) if any(
        im is not None for _, _, im in examples) else None
    for i, (p, y, im) in enumerate(examples):
        n = len(p) + len(y)
        ids[i, :n] = torch.tensor(p + y)
        labels[i, len(p):n] = torch.tensor(y)
        mask[i, :n] = 1
        if im is not None:
            images[i] = im
            has_image[i] = True
    return Batch(ids, mask, labels, images, has_image)
