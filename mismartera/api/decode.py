"""JSON back into the status contract's frozen dataclasses (`SystemStatus`, `OrderView`, …), by their
type hints: the inverse of `to_jsonable` for the types the control API returns."""

from __future__ import annotations

import types
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from enum import Enum
from functools import cache
from typing import Any, Union, get_args, get_origin, get_type_hints


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def decode(kind: Any, value: Any) -> Any:
    """`value` (parsed JSON) as an instance of `kind`."""
    if value is None or kind is Any:
        return value
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(kind) if a is not type(None)]
        return decode(options[0], value) if len(options) == 1 else value
    if origin in (tuple, list):
        item = get_args(kind)[0] if get_args(kind) else Any
        items = [decode(item, v) for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        return dict(value)
    if is_dataclass(kind) and isinstance(kind, type):
        hints = _hints(kind)
        return kind(**{f.name: decode(hints[f.name], value[f.name]) for f in fields(kind) if f.name in value})
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(value)
    if kind is float:
        return float(value)
    return value
