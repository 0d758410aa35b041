"""`svgrl serve`: the HTTP API and web page for one run."""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile

from svgrl.config import add_dataclass_args, dataclass_from_args
from svgrl.errors import ConfigError
from svgrl.serve.config import ServeConfig


def _listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound before the model loads: a port in use fails at once, not
    after the load and a line announcing the server, and ``--port 0`` reports the port it
    got."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                      flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as e:
        raise ConfigError(f"--host {host!r}: {e.strerror}") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror}; pass another "
                          "--port (0: any free port)") from None
    return sock


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

    sock = _listen(cfg.host, cfg.port)
    try:
        torch.set_num_threads(cfg.threads)
        lm, meta = load_run(cfg.run)
        lm.train(False)
        meta = {**meta, "name": cfg.run}
        if not cfg.loopback:
            print(f"svgrl serve: warning: binding {cfg.host}, reachable from other machines; "
                  "the API has no authentication", file=sys.stderr)
        # Requests never name files; anything a library spools (none does for JSON bodies)
        # lands in this private folder, removed at exit.
        with tempfile.TemporaryDirectory(prefix="svgrl-serve-") as tmp:
            tempfile.tempdir = tmp
            app = create_app(lm, cfg, meta)
            print(f"svgrl serve: {cfg.run} (step {meta.get('step')}) on "
                  f"http://{cfg.host}:{sock.getsockname()[1]}/  (API docs: /docs)",
                  file=sys.stderr)
            server = uvicorn.Server(uvicorn.Config(app, log_level="warning",
                                                   timeout_graceful_shutdown=5))
            server.run(sockets=[sock])
    finally:
        sock.close()
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
