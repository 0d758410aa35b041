"""A tiny random model and a run folder holding it (the live server: `helpers.serve`)."""

from __future__ import annotations

import pytest
import torch

TINY = dict(backbone="tiny", tiny_layers=1, tiny_d_model=32, tiny_heads=2)


@pytest.fixture(scope="session")
def tiny_lm():
    from svgrl.model.backbones import BackboneConfig, prepare_backbone

    torch.manual_seed(0)
    return prepare_backbone(BackboneConfig(**TINY, seed=1), vision=(32, 8),
                            point_init="default").train(False)


@pytest.fixture(scope="session")
def tiny_run(tiny_lm, tmp_path_factory) -> str:
    """A run folder (the format `svgrl train` writes) holding `tiny_lm` at step 0."""
    from svgrl.model.checkpoint import RunDir

    root = tmp_path_factory.mktemp("serve") / "run"
    run = RunDir(root)
    run.open(kind="sft", config={"note": "tiny random model for serve tests"}, resume=False)
    run.save_checkpoint(0, tiny_lm, {"step": 0})
    return str(root)
