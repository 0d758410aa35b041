"""Config dataclasses ↔ argparse, so the CLI builds each entry point's config and nothing
else parses flags (TRL's habit: one dataclass per entry point, help text on every field).

A field declares its help with ``field(default=..., metadata={"help": "..."})``. Booleans
become ``--flag / --no-flag``; tuples and lists take several values.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def _base_type(tp: Any) -> tuple[Any, bool]:
    """(scalar type, is_sequence) for an annotation like ``int``, ``float | None``,
    ``tuple[float, ...]`` or ``list[str]``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _base_type(args[0])
    if origin in (list, tuple):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return (args[0] if args else str), True
    if origin is typing.Literal:
        return type(typing.get_args(tp)[0]), False
    return tp, False


def add_dataclass_args(parser: argparse.ArgumentParser, cls: type, *, skip: tuple = ()) -> None:
    """Add one ``--option`` per field of dataclass `cls` (underscores become dashes)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "")
        default = (
            f.default
            if f.default is not dataclasses.MISSING
            else (f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        )
        tp, is_seq = _base_type(hints[f.name])
        choices = f.metadata.get("choices")
        if typing.get_origin(hints[f.name]) is typing.Literal:
            choices = typing.get_args(hints[f.name])
        if tp is bool:
            parser.add_argument(
                flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default,
                help=f"{help_text} (default: {default})",
            )
            continue
        kwargs: dict[str, Any] = {"dest": f.name, "type": tp, "default": default}
        if is_seq:
            kwargs["nargs"] = "+"
        if choices:
            kwargs["choices"] = choices
        parser.add_argument(flag, help=f"{help_text} (default: {default})", **kwargs)


def dataclass_from_args(cls: type[T], ns: argparse.Namespace, **overrides: Any) -> T:
    """Build `cls` from parsed args; `__post_init__` then validates across fields."""
    values = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if not f.init or not hasattr(ns, f.name):
            continue
        v = getattr(ns, f.name)
        if isinstance(v, list) and typing.get_origin(_strip_optional(hints[f.name])) is tuple:
            v = tuple(v)
        values[f.name] = v
    values.update(overrides)
    return cls(**values)


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0]
    return tp


def to_dict(cfg: Any) -> dict:
    """A JSON-ready dict of a config dataclass (for run folders and checkpoints)."""
    return dataclasses.asdict(cfg)
