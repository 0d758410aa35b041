"""`svgrl serve`: the HTTP API and web page for one run."""

from __future__ import annotations

import argparse
import sys
import tempfile

from svgrl.config import add_dataclass_args, dataclass_from_args
from svgrl.errors import ConfigError
from svgrl.serve.config import ServeConfig


def run_serve(args: argparse.Namespace) -> int:
    import torch

    cfg = dataclass_from_args(ServeConfig, args)
    if not cfg.run:
        raise ConfigError("give --run RUN (a run folder written by `svgrl train`)")
    try:
        import uvicorn

        from svgrl.serve.app import create_app
    except ImportError as e:
        raise ConfigError(f"`svgrl serve` needs the serve extra: pip install "
                          f"'svgrl[serve]' ({e})") from None
    from svgrl.model.checkpoint import load_run

    torch.set_num_threads(cfg.threads)
    lm, meta = load_run(cfg.run)
    lm.train(False)
    meta = {**meta, "name": cfg.run}
    if not cfg.loopback:
        print(f"svgrl serve: warning: binding {cfg.host}, reachable from other machines; the "
              "API has no authentication", file=sys.stderr)
    # Requests never name files; anything a library spools (none does for JSON bodies)
    # lands in this private folder, removed at exit.
    with tempfile.TemporaryDirectory(prefix="svgrl-serve-") as tmp:
        tempfile.tempdir = tmp
        app = create_app(lm, cfg, meta)
        print(f"svgrl serve: {cfg.run} (step {meta.get('step')}) on "
              f"http://{cfg.host}:{cfg.port}/  (API docs: /docs)", file=sys.stderr)
        uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="warning",
                    timeout_graceful_shutdown=5)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="web page and HTTP API for generating SVGs from a run",
        description="Serve RUN over HTTP: a page at /, the API at /v1/generate (JSON) and "
                    "/v1/generate/stream (server-sent events), /health, OpenAPI docs at "
                    "/docs. Requests from all clients are decoded together (continuous "
                    "batching); the limits below bound every request. Binds to loopback "
                    "unless --host says otherwise.")
    add_dataclass_args(p, ServeConfig)
    p.set_defaults(func=run_serve)
