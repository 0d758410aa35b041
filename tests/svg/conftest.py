import numpy as np
import pytest

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


@pytest.fixture
def assert_matches_resvg():
    def check(text: str, min_ssim: float = 0.99, max_mad: float = 1.5):
        s, mad, ours, ref = compare(text)
        # A blank pair would match trivially: make sure something was drawn.
        assert (ref < 250).any(), "reference render is blank; the test snippet draws nothing"
        assert s >= min_ssim and mad <= max_mad, f"SSIM {s:.4f}, mean abs diff {mad:.2f}"
    return check
