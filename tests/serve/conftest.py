"""A tiny random model, a run folder holding it, and a live server on a loopback port."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

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


@contextlib.contextmanager
def live_server(app) -> Iterator[str]:
    """Run `app` with uvicorn on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
