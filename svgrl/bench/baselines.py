"""Tracer baselines: vtracer and potrace, each tracing the bench's input image.

- **vtracer** (PyPI ``vtracer``, visioncortex) traces colour images into stacked spline
  paths. Settings: vtracer's own defaults (its CLI's), listed in `VTRACER_DEFAULTS`, so the
  row reads as "vtracer out of the box".
- **potrace** — the Debian ``potrace`` binary (Peter Selinger's C reference implementation),
  run as a subprocess on a PBM bitmap. Chosen over the ``potracer`` pure-Python port because
  it is the implementation the papers cite (same curves, same defaults), it is ~100× faster
  than the port on an icon, and a separate program keeps its GPL code out of this MIT
  package's process (``potracer`` is GPL too and would be imported). Potrace traces one
  colour: pixels darker than `threshold` (potrace's ``-k`` black level, 0.5) become ink; the
  traced shapes are filled with the mean colour of those pixels, so a colour icon's
  silhouette is at least in its own main colour. Settings: potrace's defaults (turdsize 2,
  alphamax 1.0, opttolerance 0.2).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np

from svgrl.bench.systems import Spec, SystemInput
from svgrl.errors import ConfigError, ModelLoadError

# vtracer 0.6's defaults (its Python signature takes None for each and applies these).
VTRACER_DEFAULTS = {
    "colormode": "color", "hierarchical": "stacked", "mode": "spline", "filter_speckle": 4,
    "color_precision": 6, "layer_difference": 16, "corner_threshold": 60,
    "length_threshold": 4.0, "max_iterations": 10, "splice_threshold": 45,
    "path_precision": 8,
}
# A coarser preset (fewer, longer curves; less colour detail) for token-budget comparisons.
VTRACER_PRESETS = {
    "default": VTRACER_DEFAULTS,
    "coarse": {**VTRACER_DEFAULTS, "filter_speckle": 8, "color_precision": 4,
               "layer_difference": 32, "corner_threshold": 90, "length_threshold": 8.0,
               "splice_threshold": 60},
}


def _need_image(inp: SystemInput, who: str) -> np.ndarray:
    if inp.image is None:
        raise ConfigError(f"{who} traces an image; the {inp.task} task gives none "
                          "(use --task image or reference)")
    return inp.image


class VTracer:
    def __init__(self, spec: Spec):
        import vtracer

        preset = spec.option("preset", "default")
        if preset not in VTRACER_PRESETS:
            raise ConfigError(f"vtracer preset {preset!r}: choose from {sorted(VTRACER_PRESETS)}")
        self._vtracer = vtracer
        self.kwargs = dict(VTRACER_PRESETS[preset])
        self.settings = {"vtracer": getattr(vtracer, "__version__", _version("vtracer")),
                         "preset": preset, **self.kwargs}

    def __call__(self, inp: SystemInput) -> str:
        img = _need_image(inp, "vtracer")
        h, w = img.shape[:2]
        rgba = np.concatenate([img, np.full((h, w, 1), 255, np.uint8)], axis=2)
        pixels = [tuple(p) for p in rgba.reshape(-1, 4).tolist()]
        return self._vtracer.convert_pixels_to_svg(pixels, size=(w, h), **self.kwargs)


class Potrace:
    def __init__(self, spec: Spec):
        self.exe = shutil.which("potrace")
        if self.exe is None:
            raise ModelLoadError("the potrace baseline needs the `potrace` program "
                                 "(Debian/Ubuntu: apt-get install potrace)")
        self.threshold = spec.option("threshold", 0.5, float)
        self.turdsize = spec.option("turdsize", 2, int)
        self.alphamax = spec.option("alphamax", 1.0, float)
        if not 0 < self.threshold < 1:
            raise ConfigError(f"potrace threshold {self.threshold}: use 0 < threshold < 1")
        out = subprocess.run([self.exe, "--version"], capture_output=True, text=True,
                             timeout=10).stdout
        self.settings = {"potrace": out.split("\n", 1)[0].strip(), "threshold": self.threshold,
                         "turdsize": self.turdsize, "alphamax": self.alphamax,
                         "opttolerance": 0.2, "fill": "mean colour of the ink pixels"}

    def __call__(self, inp: SystemInput) -> str:
        img = _need_image(inp, "potrace")
        h, w = img.shape[:2]
        grey = img.astype(np.float64) @ np.array([0.2125, 0.7154, 0.0721])
        ink = grey < 255.0 * self.threshold
        # PBM P4: 1 = black, rows padded to whole bytes.
        pbm = f"P4\n{w} {h}\n".encode() + np.packbits(ink, axis=1).tobytes()
        res = subprocess.run(
            [self.exe, "--svg", "--output", "-", "--turdsize", str(self.turdsize),
             "--alphamax", str(self.alphamax), "--resolution", "72", "-"],
            input=pbm, capture_output=True, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"potrace exited {res.returncode}: "
                               f"{res.stderr.decode(errors='replace')[:200]}")
        # potrace writes an SVG 1.0 DOCTYPE, which svgrl's hardened parser refuses (no DTDs).
        svg = re.sub(r"<!DOCTYPE[^>]*>", "", res.stdout.decode("utf-8", "replace"), count=1)
        colour = img[ink].mean(axis=0) if ink.any() else np.zeros(3)
        fill = "#{:02x}{:02x}{:02x}".format(*np.round(colour).astype(int))
        return re.sub(r'fill="#000000"', f'fill="{fill}"', svg, count=1)


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"
