"""svgrl: train, reinforce and evaluate models that write SVG."""

from svgrl.errors import SvgrlError

__version__ = "0.1.0"
__all__ = ["SvgrlError", "__version__"]
