"""Learned bench metrics from local weights only (DINO score, CLIP score, LPIPS, FID,
FD-DINOv2). Without weights a metric's value is the text ``unavailable: pass --dino PATH``
(or the like), never a number."""

from __future__ import annotations

from typing import Any

UNAVAILABLE = {
    "dino": "unavailable: pass --dino PATH", "fd_dino": "unavailable: pass --dino PATH",
    "clip": "unavailable: pass --clip PATH", "fid_clip": "unavailable: pass --clip PATH",
    "lpips": "unavailable: pass --lpips PATH",
}


def learned_metrics(cfg: Any, targets: list, renders: dict, systems: dict,
                    samples: dict) -> None:
    for s in systems.values():
        s.update(UNAVAILABLE)
        for k in ("dino", "clip", "lpips"):
            if getattr(cfg, k, None):
                s[k] = f"unavailable: --{k} is not read by this version"
