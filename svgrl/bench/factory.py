"""`make_system`: the callable of a `Spec` — the one place that knows every system kind
(above `systems`, `baselines` and `refine`, which it builds)."""

from __future__ import annotations

from typing import Any

from svgrl.bench.systems import Folder, Oracle, Run, SamplingFlags, Spec
from svgrl.errors import ModelLoadError


def make_system(spec: Spec, flags: SamplingFlags | None = None, threads: int = 1) -> Any:
    """Build the callable of `spec` (may load a model: run it where the system will run)."""
    flags = flags or SamplingFlags()
    if spec.kind == "oracle":
        return Oracle()
    if spec.kind == "folder":
        return Folder(spec.arg)
    if spec.kind == "run":
        return Run(spec.arg, spec, flags, threads)
    if spec.kind in ("vtracer", "potrace"):
        from svgrl.bench.baselines import Potrace, VTracer

        return VTracer(spec) if spec.kind == "vtracer" else Potrace(spec)
    if spec.kind == "refine":
        from svgrl.bench.refine import Refine

        return Refine(spec, make_system(spec.inner, flags, threads), threads)
    raise ModelLoadError(f"no system of kind {spec.kind!r}")
