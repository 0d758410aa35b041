"""SVG snippets and the comparison of our render against resvg's, for the SVG-core tests."""

import numpy as np

from svgrl.svg.load import simplify_svg
from svgrl.svg.metrics import ssim
from svgrl.svg.reference import reference_render
from svgrl.svg.render import render

SVG_OPEN = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'


def svg(body: str, attrs: str = 'viewBox="0 0 100 100"') -> str:
    return f"{SVG_OPEN} {attrs}>{body}</svg>"


def compare(text: str, size: int = 200) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(SSIM, mean |diff| in grey levels, ours, reference) of our float drawing vs resvg."""
    ours = render(simplify_svg(text).drawing, size)
    ref = reference_render(text, size)
    return ssim(ours, ref), float(np.abs(ours.astype(int) - ref.astype(int)).mean()), ours, ref
