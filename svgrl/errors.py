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


class DataError(SvgrlError):
    """A data source or dataset could not be read or written (bad sidecar, oversized file,
    malformed metadata)."""


class SourceNotFoundError(DataError, LookupError):
    """A source name is unknown, or an npm source has not been fetched into the cache; the
    message gives the exact command that fixes it (e.g. ``svgrl data fetch openmoji``)."""


class FetchError(DataError):
    """`svgrl data fetch` failed: npm missing or failing, or an unsafe/oversized tarball."""


class TokenError(SvgrlError, ValueError):
    """A token sequence or token layout is invalid: a strict decode met a token the grammar
    forbids, a sequence ended mid-command, or a layout file does not match this version.

    `reason` is a short stable name (``"syntax"``, ``"truncated"``, ``"degenerate"``,
    ``"range"``, ``"layout"``, ``"input"``); `position` is the index of the offending token.
    """

    reason: str = "syntax"

    def __init__(self, message: str, *, reason: str | None = None, position: int | None = None):
        self.reason = reason or self.reason
        self.position = position
        super().__init__(f"{message} (at token {position})" if position is not None else message)


class TensorError(SvgrlError, ValueError):
    """Tensors given to a pure function (RL math, collation) disagree in shape or hold invalid
    values (NaN rewards, negative lengths); the message quotes the shapes or values."""


class ModelLoadError(SvgrlError):
    """A backbone could not be built or loaded (missing folder, missing GGUF, unreadable
    weights); the message says what to install or provide."""


class WorkerStartError(SvgrlError, OSError):
    """A bounded worker process died or hung while starting (imports, init); the message
    names its target and the start bound."""


class RoleDiedError(SvgrlError, RuntimeError):
    """A role of the asynchronous RL system that is not replaced in flight (the trainer, the
    completion queue) died or stopped answering; the message names it and how to resume."""


class GenerationError(SvgrlError):
    """Generation could not return what was asked (e.g. too many blank samples within the
    redraw budget); the message gives the counts and what to change."""
