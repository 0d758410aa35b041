"""Config dataclasses ↔ argparse, so the CLI builds each entry point's config and nothing
else parses flags (TRL's habit: one dataclass per entry point, help text on every field).

A field declares its help with ``field(default=..., metadata={"help": "..."})``. Booleans
become ``--flag / --no-flag``; tuples and lists take several values. A field whose type is
itself a config dataclass (``backbone: BackboneConfig``) composes: its fields become flags
too (with the field's ``metadata["prefix"]``, e.g. ``svg-``; ``metadata["skip"]`` leaves
some out), so a config takes another instead of re-declaring its fields.

The parser remembers which flags were given on the command line (`given_args`): resuming a
run starts from the run's stored config and applies only those (`dataclass_from_args` with
`base`).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")
_GIVEN = "_svgrl_given_flags"


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


def _mark(namespace: argparse.Namespace, dest: str) -> None:
    given = set(getattr(namespace, _GIVEN, ()))
    given.add(dest)
    setattr(namespace, _GIVEN, given)


class _Store(argparse._StoreAction):
    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None
                 ) -> None:
        super().__call__(parser, namespace, values, option_string)
        _mark(namespace, self.dest)


class _Bool(argparse.BooleanOptionalAction):
    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None
                 ) -> None:
        super().__call__(parser, namespace, values, option_string)
        _mark(namespace, self.dest)


def given_args(ns: argparse.Namespace) -> set[str]:
    """Destinations of the flags given on the command line (nested ones dotted:
    ``backbone.tiny_layers``)."""
    return set(getattr(ns, _GIVEN, ()))


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _show(v: Any) -> str:
    if v is None or v == "" or v == ():
        return ""
    return f" (default: {' '.join(map(str, v)) if isinstance(v, tuple) else v})"


def add_dataclass_args(parser: argparse.ArgumentParser, cls: type, *, skip: tuple = (),
                       prefix: str = "", dest_prefix: str = "", defaults: Any = None) -> None:
    """Add one ``--option`` per field of dataclass `cls` (underscores become dashes);
    nested config dataclasses add theirs (see the module docstring)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        default = getattr(defaults, f.name) if defaults is not None else _default(f)
        if dataclasses.is_dataclass(hints[f.name]):
            add_dataclass_args(parser, hints[f.name], skip=tuple(f.metadata.get("skip", ())),
                               prefix=prefix + f.metadata.get("prefix", ""),
                               dest_prefix=f"{dest_prefix}{f.name}.", defaults=default)
            continue
        flag = "--" + prefix + f.name.replace("_", "-")
        dest = dest_prefix + f.name
        help_text = f.metadata.get("help", "")
        tp, is_seq = _base_type(hints[f.name])
        choices = f.metadata.get("choices")
        if typing.get_origin(hints[f.name]) is typing.Literal:
            choices = typing.get_args(hints[f.name])
        flags = (flag, *f.metadata.get("aliases", ()))  # e.g. --async for `asynchronous`
        if tp is bool:
            parser.add_argument(*flags, dest=dest, action=_Bool, default=default,
                                help=f"{help_text} (default: {default})")
            continue
        kwargs: dict[str, Any] = {"dest": dest, "type": tp, "default": default,
                                  "action": _Store}
        if is_seq:
            kwargs["nargs"] = "+"
        if choices:
            kwargs["choices"] = choices
        else:
            kwargs["metavar"] = f.name.upper()
        parser.add_argument(*flags, help=f"{help_text}{_show(default)}", **kwargs)


def dataclass_from_args(cls: type[T], ns: argparse.Namespace, *, base: dict | None = None,
                        dest_prefix: str = "", **overrides: Any) -> T:
    """Build `cls` from parsed args; `__post_init__` then validates across fields.

    With `base` (a stored config, as `to_dict` wrote it) the values come from `base` and only
    the flags given on the command line override them.
    """
    values: dict[str, Any] = {}
    hints = typing.get_type_hints(cls)
    given = given_args(ns)
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        tp = hints[f.name]
        sub = base.get(f.name) if isinstance(base, dict) else None
        if dataclasses.is_dataclass(tp):
            nested_prefix = f"{dest_prefix}{f.name}."
            if base is None and not any(d.startswith(nested_prefix) for d in vars(ns)):
                continue  # this parser did not add the nested flags: the field's default
            values[f.name] = dataclass_from_args(
                tp, ns, base=sub if isinstance(sub, dict) else ({} if base is not None
                                                                 else None),
                dest_prefix=nested_prefix)
            continue
        dest = dest_prefix + f.name
        if base is not None and dest not in given:
            if f.name not in base:
                continue
            v = base[f.name]
        elif hasattr(ns, dest):
            v = getattr(ns, dest)
        else:
            continue
        if isinstance(v, list) and typing.get_origin(_strip_optional(tp)) is tuple:
            v = tuple(v)
        values[f.name] = v
    values.update(overrides)
    return cls(**values)


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0]
    return tp


def from_dict(cls: type[T], d: dict, **overrides: Any) -> T:
    """Rebuild `cls` (nested configs included) from a dict written by `to_dict`."""
    return dataclass_from_args(cls, argparse.Namespace(), base=d, **overrides)


def to_dict(cfg: Any) -> dict:
    """A JSON-ready dict of a config dataclass (for run folders and checkpoints)."""
    return dataclasses.asdict(cfg)
