import pytest
from helpers.svg import compare


@pytest.fixture
def assert_matches_resvg():
    def check(text: str, min_ssim: float = 0.99, max_mad: float = 1.5):
        s, mad, ours, ref = compare(text)
        # A blank pair would match trivially: make sure something was drawn.
        assert (ref < 250).any(), "reference render is blank; the test snippet draws nothing"
        assert s >= min_ssim and mad <= max_mad, f"SSIM {s:.4f}, mean abs diff {mad:.2f}"
    return check
