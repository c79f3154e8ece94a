"""The strategies a trader can use: the built-ins and the .py files of a `strategies/` folder (by
default the current directory's), each with a one-line description, its parameters with defaults
and help, and a config block to copy. `strategy list` and `strategy show` read this.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mismartera.errors import ConfigError, NotFound
from mismartera.strategies.base import Strategy
from mismartera.strategies.loader import BUILTINS, strategy_class
from mismartera.suggest import suffix

FOLDER = Path("strategies")


@dataclass(frozen=True)
class StrategyParam:
    name: str
    default: Any
    help: str


@dataclass(frozen=True)
class StrategyInfo:
    name: str                     # the built-in name, or the file's stem
    source: str                   # "built-in", or the .py file
    summary: str                  # one line
    description: str = ""         # the class docstring, whole
    params: tuple[StrategyParam, ...] = ()
    error: str | None = None      # a file that does not load: why
    config: dict[str, Any] = field(default_factory=dict)   # a session-config block that uses it


def _doc(cls: type) -> str:
    """The class docstring with its paragraphs' lines joined (the terminal wraps them)."""
    text = inspect.getdoc(cls) or ""
    return "\n\n".join(" ".join(line.strip() for line in block.splitlines()) for block in text.split("\n\n"))


def _summary(cls: type[Strategy], module_doc: str | None, name: str) -> str:
    """The module docstring's first line (`name`: what it does), else the class docstring's."""
    for text in (module_doc, _doc(cls)):
        first = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
        if first:
            name_, sep, rest = first.partition(": ")
            return rest.strip() if sep and name_.strip("` ") in (cls.name, cls.__name__, name) else first
    return "(no description)"


def describe(cls: type[Strategy], name: str, source: str, entry: dict[str, Any]) -> StrategyInfo:
    module = inspect.getmodule(cls)
    params = tuple(StrategyParam(key, value, cls.param_help.get(key, "")) for key, value in cls.defaults.items())
    config = {**entry, "params": dict(cls.defaults)} if cls.defaults else dict(entry)
    return StrategyInfo(name, source, _summary(cls, module.__doc__ if module else None, name), _doc(cls), params,
                        config=config)


def builtins() -> list[StrategyInfo]:
    return [describe(cls, name, "built-in", {"name": name}) for name, cls in BUILTINS.items()]


def from_folder(folder: Path = FOLDER) -> list[StrategyInfo]:
    """The strategy files of `folder` (none when it does not exist); a file that does not load is
    listed with its error, so one broken file hides nothing else."""
    if not folder.is_dir():
        return []
    found = []
    for file in sorted(folder.glob("*.py")):
        if file.name.startswith("_"):
            continue
        try:
            cls = strategy_class(path=str(file))
        except ConfigError as exc:
            found.append(StrategyInfo(file.stem, str(file), "does not load", error=exc.message))
            continue
        found.append(describe(cls, file.stem, str(file), {"path": str(file)}))
    return found


def catalog(folder: Path = FOLDER) -> list[StrategyInfo]:
    return builtins() + from_folder(folder)


def find(name: str, folder: Path = FOLDER) -> StrategyInfo:
    """A strategy by built-in name, file stem in `folder`, or path to a .py file."""
    if name.endswith(".py"):
        cls = strategy_class(path=name)
        return describe(cls, Path(name).stem, name, {"path": name})
    if "." in name:   # a dotted module (or module.Class) on the Python path
        return describe(strategy_class(name=name), name, "module", {"name": name})
    known = catalog(folder)
    for info in known:
        if info.name == name:
            if info.error:
                raise ConfigError(info.error)
            return info
    names = [info.name for info in known]
    raise NotFound(f"no strategy {name!r}{suffix(name, names)} (known: {', '.join(names)}; see strategy list)")
