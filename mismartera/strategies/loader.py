"""Find a strategy class from a config entry: a built-in name, a dotted module (or module.Class), or a .py file.

Every failure is one ConfigError line naming what was asked for and what is expected; the user's
own exception inside their module is summarised as `Type: message` with its file and line.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from mismartera.errors import ConfigError
from mismartera.strategies.base import Strategy
from mismartera.strategies.rsi_reversion import RsiReversion
from mismartera.strategies.sma_crossover import SmaCrossover
from mismartera.suggest import suffix

BUILTINS: dict[str, type[Strategy]] = {cls.name: cls for cls in (SmaCrossover, RsiReversion)}


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f" ({Path(last.filename).name}, line {last.lineno})"


def _strategy_in(module: ModuleType, source: str) -> type[Strategy]:
    found = [obj for obj in vars(module).values()
             if inspect.isclass(obj) and issubclass(obj, Strategy) and obj is not Strategy
             and obj.__module__ == module.__name__]
    if len(found) == 1:
        return found[0]
    if not found:
        raise ConfigError(f"strategy {source}: defines no Strategy subclass "
                          "(expected a class deriving from mismartera.strategies.Strategy)")
    names = ", ".join(sorted(cls.__name__ for cls in found))
    raise ConfigError(f"strategy {source}: defines several strategies ({names}); name one as module.ClassName")


def _import(name: str, source: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise
        raise ConfigError(f"strategy {source}: import failed: {type(exc).__name__}: {exc}{_where(exc)}") from None
    except Exception as exc:
        raise ConfigError(f"strategy {source}: import failed: {type(exc).__name__}: {exc}{_where(exc)}") from None


def _from_dotted(name: str) -> type[Strategy]:
    try:
        return _strategy_in(_import(name, name), name)
    except ModuleNotFoundError:
        pass
    module_name, _, class_name = name.rpartition(".")
    try:
        module = _import(module_name, name)
    except ModuleNotFoundError:
        raise ConfigError(f"strategy {name}: no module named {module_name!r} "
                          "(expected a built-in name, an importable module, or 'path' to a .py file)") from None
    cls = getattr(module, class_name, None)
    if not (inspect.isclass(cls) and issubclass(cls, Strategy)):
        raise ConfigError(f"strategy {name}: {module_name} has no Strategy class {class_name!r}")
    return cls


def _from_file(path: str) -> type[Strategy]:
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"strategy file not found: {file}")
    if file.suffix != ".py":
        raise ConfigError(f"strategy file {file} is not a .py file")
    module_name = f"mismartera_user_strategy_{file.stem}_{abs(hash(str(file.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise ConfigError(f"strategy file {file} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise ConfigError(f"strategy file {file}: {type(exc).__name__}: {exc}{_where(exc)}") from None
    return _strategy_in(module, str(file))


def strategy_class(name: str | None = None, path: str | None = None) -> type[Strategy]:
    """The class a config entry names."""
    if path:
        return _from_file(path)
    if not name:
        raise ConfigError("strategy: give 'name' (a built-in or dotted module) or 'path' (a .py file)")
    if name in BUILTINS:
        return BUILTINS[name]
    if "." not in name:
        raise ConfigError(f"unknown strategy {name!r}{suffix(name, BUILTINS)} "
                          f"(built-ins: {', '.join(BUILTINS)}; or a dotted module, or 'path' to a .py file)")
    return _from_dotted(name)


def load_strategy(name: str | None = None, path: str | None = None, params: dict[str, Any] | None = None,
                  symbols: list[str] | None = None, label: str | None = None) -> Strategy:
    """An instance of the strategy a config entry names, with its parameters checked."""
    cls = strategy_class(name, path)
    try:
        return cls(params=params, symbols=symbols, label=label)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"strategy {label or name or path}: constructor failed: "
                          f"{type(exc).__name__}: {exc}{_where(exc)}") from None
