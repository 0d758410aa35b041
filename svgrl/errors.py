"""The svgrl exception family.

Every error raised on purpose by svgrl derives from `SvgrlError`, so a caller can catch one
type. Messages quote the offending value and say where it was found (picosvg's habit).
"""

from __future__ import annotations


class SvgrlError(Exception):
    """Base class of every error svgrl raises on purpose."""


class ConfigError(SvgrlError, ValueError):
    """A configuration value is invalid; the message says how to fix it."""


class SvgError(SvgrlError):
    """An SVG document could not be turned into a `Drawing`.

    `reason` is a short stable name (e.g. ``"entity"``, ``"depth"``) used to count failures
    by kind in batch tools; `where` locates the problem (element, attribute, file).
    """

    reason: str = "svg"

    def __init__(self, message: str, *, reason: str | None = None, where: str | None = None):
        self.reason = reason or self.reason
        self.where = where
        super().__init__(f"{message} (at {where})" if where else message)


class SvgSyntaxError(SvgError):
    """The input is not well-formed XML, not UTF-8, empty, or not an SVG document."""

    reason = "syntax"


class SvgLimitError(SvgError):
    """The input exceeds a configured limit (size, elements, depth, path length, magnitude)."""

    reason = "limit"


class SvgUnsafeError(SvgError):
    """The input asks for something svgrl refuses on principle: entities, DTDs, scripts,
    external references."""

    reason = "unsafe"


class SvgUnsupportedError(SvgError):
    """The input uses a feature that cannot be represented as filled paths (text, images,
    filters, ...). Raised only in strict mode; otherwise reported as a drop."""

    reason = "unsupported"


class SvgValueError(SvgError):
    """An attribute value could not be parsed (bad number, colour, path data, transform)."""

    reason = "value"


class EmptyDrawingError(SvgError):
    """The document parsed but draws nothing."""

    reason = "empty"
