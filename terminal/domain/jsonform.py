"""Dataclass <-> JSON-ready dict, for the few value types the domain puts into event payloads.

Dates become ISO strings, tuples become lists, nested dataclasses become dicts; `from_json`
reverses it using the type hints, so a payload read back equals the value written. The
per-class converters are built once and cached: this runs for every guest of every check-in
and every event folded, so it is on the path of the commit latency and of `verify`. Fields
whose value is a JSON scalar (most of them) are copied inline, without a call per field.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from datetime import date
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")
Convert = Callable[[Any], Any]


_SCALARS = frozenset({str, int, float, bool, type(None)})


def to_json(value: Any) -> Any:
    cls = type(value)
    if cls in _SCALARS:
        return value
    names = _names(cls)
    if names is not None:
        out = {}
        for name in names:
            item = getattr(value, name)
            out[name] = item if type(item) in _SCALARS else to_json(item)
        return out
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def from_json(cls: type[T], data: dict[str, Any]) -> T:
    plain, converted = _readers(cls)
    kwargs = {name: data[name] for name in plain if name in data}
    for name, convert in converted:
        if name in data:
            kwargs[name] = convert(data[name])
    return cls(**kwargs)


@cache
def _names(cls: type) -> tuple[str, ...] | None:
    """Field names of a dataclass type, None for any other type."""
    if not dataclasses.is_dataclass(cls):
        return None
    return tuple(f.name for f in dataclasses.fields(cls))


@cache
def _readers(cls: type) -> tuple[tuple[str, ...], tuple[tuple[str, Convert], ...]]:
    """(fields taken as they are, (field, converter) for the others) of a dataclass type."""
    hints = typing.get_type_hints(cls)
    plain, converted = [], []
    for f in dataclasses.fields(cls):
        convert = _converter(hints[f.name])
        if convert is _identity:
            plain.append(f.name)
        else:
            converted.append((f.name, convert))
    return tuple(plain), tuple(converted)


def _identity(value: Any) -> Any:
    return value


def _converter(hint: Any) -> Convert:
    """A function turning the JSON form of `hint` back into its Python value (None passes)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _converter(inner[0]) if len(inner) == 1 else _identity
    if origin is tuple:
        item = _converter(typing.get_args(hint)[0])
        if item is _identity:
            return lambda v: None if v is None else tuple(v)
        return lambda v: None if v is None else tuple(item(x) for x in v)
    if hint is date:
        return lambda v: None if v is None else date.fromisoformat(v)
    if dataclasses.is_dataclass(hint):
        return lambda v: None if v is None else from_json(hint, v)  # type: ignore[arg-type]
    return _identity
