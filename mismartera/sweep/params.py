"""Swept parameters: `NAME=VALUES` from the command line, resolved against a session config.

    fast=5,10,20                        a list
    slow=30:90:10                       a range, both ends included when the step lands on them
    trading_config.slippage_bps=0:2:0.5 any leaf of the config, by its dotted path
    strategies.0.params.fast=5,10       a strategy parameter by its full path

A bare name (`fast`) is a shortcut for the one strategy parameter of that name; it is an error
when no strategy or several have it. Values are checked against the type of the value they
replace (a whole number for an int, a number for a float, true/false for a bool), so a typo fails
before anything runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from mismartera.config.session import SessionConfig
from mismartera.errors import ConfigError, UsageError
from mismartera.strategies.loader import load_strategy
from mismartera.suggest import did_you_mean

Value = int | float | bool | str


@dataclass(frozen=True)
class SweptParam:
    """One swept parameter: what the user typed, the config path it sets, and its values in order."""

    name: str
    path: str
    values: tuple[Value, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "values": list(self.values)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SweptParam:
        return cls(str(data["name"]), str(data["path"]), tuple(data["values"]))


def config_leaves(cfg: SessionConfig) -> dict[str, Any]:
    """Every settable leaf of the config by dotted path, strategy parameters with their defaults."""
    leaves: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for index, inner in enumerate(value):
                walk(f"{prefix}.{index}", inner)
        else:
            leaves[prefix] = value

    dumped = cfg.model_dump(mode="json")
    strategies = dumped.pop("strategies", [])
    walk("", dumped)
    for index, entry in enumerate(cfg.strategies):
        params = dict(strategies[index].get("params") or {})
        try:
            loaded = load_strategy(entry.name, entry.path, entry.params, list(entry.symbols or cfg.symbols),
                                   entry.label)
            params = {**loaded.params, **params}
        except ConfigError:
            pass   # the config's own problem; `system start` reports it the same way
        for key, value in params.items():
            leaves[f"strategies.{index}.params.{key}"] = value
    return leaves


def resolve_path(name: str, leaves: dict[str, Any]) -> str:
    """The config path a parameter name stands for (a full path, or a strategy parameter's name)."""
    if name in leaves:
        return name
    owners = [path for path in leaves if path.startswith("strategies.") and path.rsplit(".", 1)[1] == name]
    if len(owners) == 1:
        return owners[0]
    if len(owners) > 1:
        raise UsageError(f"--param {name}: several strategies have '{name}' ({', '.join(owners)}); "
                         "give the full path")
    short = sorted({path.rsplit(".", 1)[1] for path in leaves if path.startswith("strategies.")})
    guess = did_you_mean(name, [*short, *leaves])
    hint = f" — did you mean '{guess}'?" if guess else " (expected a strategy parameter or a config path " \
        "such as trading_config.slippage_bps)"
    raise UsageError(f"--param {name}: unknown parameter{hint}")


def _number(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(text) from None
    if not value.is_finite():
        raise ValueError(text)
    return value


def _range(name: str, text: str) -> list[Decimal]:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise UsageError(f"--param {name}={text}: a range is START:END or START:END:STEP")
    try:
        start, end = _number(parts[0]), _number(parts[1])
        step = _number(parts[2]) if len(parts) == 3 else Decimal(1)
    except ValueError as exc:
        raise UsageError(f"--param {name}={text}: '{exc}' is not a number (expected START:END:STEP)") from None
    if step <= 0:
        raise UsageError(f"--param {name}={text}: the step must be above 0")
    if end < start:
        raise UsageError(f"--param {name}={text}: empty range (END {parts[1]} is below START {parts[0]})")
    count = int((end - start) / step) + 1
    return [start + step * i for i in range(count)]


def _typed(name: str, path: str, raw: Any, current: Any) -> Value:
    """`raw` (text, or a Decimal from a range) as the type of the value it replaces."""
    text = str(raw).strip()
    if isinstance(current, bool):
        if text.lower() in ("true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        raise UsageError(f"--param {name}: '{text}' is not true or false ({path} is a flag)")
    if isinstance(current, int):
        try:
            number = _number(text)
        except ValueError:
            number = None
        if number is None or number != number.to_integral_value():
            raise UsageError(f"--param {name}: '{text}' is not a whole number ({path} is {current})")
        return int(number)
    if isinstance(current, float) or current is None:
        try:
            number = _number(text)
        except ValueError:
            if isinstance(current, float):
                raise UsageError(f"--param {name}: '{text}' is not a number ({path} is {current:g})") from None
            return text
        return int(number) if current is None and number == number.to_integral_value() and "." not in text \
            else float(number)
    return text


def parse_param(spec: str, leaves: dict[str, Any]) -> SweptParam:
    """`NAME=VALUES` → a SweptParam with typed values (UsageError naming what is wrong)."""
    name, sep, values = spec.partition("=")
    name, values = name.strip(), values.strip()
    if not sep or not name:
        raise UsageError(f"--param {spec}: expected NAME=VALUES (e.g. fast=5,10,20 or slow=30:90:10)")
    if not values:
        raise UsageError(f"--param {name}: no values (expected a list like 5,10,20 or a range like 30:90:10)")
    path = resolve_path(name, leaves)
    current = leaves[path]
    if isinstance(current, (list, dict)):
        raise UsageError(f"--param {name}: {path} is a list or an object, not a single value")
    raw: list[Any] = []
    for item in values.split(","):
        item = item.strip()
        if not item:
            raise UsageError(f"--param {name}={values}: an empty value in the list")
        if ":" in item and not isinstance(current, str):
            raw.extend(_range(name, item))
        else:
            raw.append(item)
    typed = list(dict.fromkeys(_typed(name, path, value, current) for value in raw))
    return SweptParam(name, path, tuple(typed))


def parse_params(specs: list[str], cfg: SessionConfig) -> list[SweptParam]:
    """Every `--param`; a path swept twice is a usage error."""
    if not specs:
        raise UsageError("no --param given (expected e.g. --param fast=5,10,20)")
    leaves = config_leaves(cfg)
    params = [parse_param(spec, leaves) for spec in specs]
    seen: dict[str, str] = {}
    for param in params:
        if param.path in seen:
            raise UsageError(f"--param {param.name}: {param.path} is swept twice (also by --param {seen[param.path]})")
        seen[param.path] = param.name
    return params


def _set(tree: Any, parts: list[str], value: Value) -> None:
    for part in parts[:-1]:
        tree = tree[int(part)] if isinstance(tree, list) else tree.setdefault(part, {})
    last = parts[-1]
    if isinstance(tree, list):
        tree[int(last)] = value
    else:
        tree[last] = value


def point_config(base: dict[str, Any], params: list[SweptParam], point: dict[str, Value]) -> dict[str, Any]:
    """The base config (as JSON) with one point's values set."""
    tree = json.loads(json.dumps(base))
    for param in params:
        _set(tree, param.path.split("."), point[param.name])
    return tree


def labels(point: dict[str, Value]) -> Iterator[str]:
    for name, value in point.items():
        yield f"{name}={value}"
