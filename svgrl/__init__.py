"""svgrl: train, reinforce and evaluate models that write SVG.

The main tasks at the top level (`svgrl.api`; imported on first use, so ``import svgrl``
stays light)::

    import svgrl
    icon = svgrl.load_drawing("icon.svg")
    ids = svgrl.tokenize(icon)
    model = svgrl.load_run("runs/img-grpo")
    samples = svgrl.generate(model, image=icon, n=4)
    svgrl.score(samples[0].drawing, icon)
"""

from __future__ import annotations

from typing import Any

from svgrl.errors import SvgrlError

__version__ = "0.1.0"

_API = ("load_drawing", "tokenize", "detokenize", "render", "to_svg", "load_run", "generate",
        "score")
__all__ = ["SvgrlError", "__version__", "Drawing", *_API]


def __getattr__(name: str) -> Any:  # PEP 562: torch and transformers load on first use
    if name in _API:
        from svgrl import api

        return getattr(api, name)
    if name == "Drawing":
        from svgrl.svg.drawing import Drawing

        return Drawing
    raise AttributeError(f"module 'svgrl' has no attribute {name!r}")
