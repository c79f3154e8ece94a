"""`Registry`: implementations chosen by a name from the session config, imported only when chosen.

Each entry maps a name (`api_config.data_api: "replay"`) to `"module:attribute"`, so a registry can
list providers whose packages are heavy or optional (alpaca-py) without importing them, and the
engine never names a provider: it asks the registry for the config's name.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from mismartera.errors import ConfigError
from mismartera.suggest import suffix


class Registry:
    """Named implementations of one seam.

    Args:
        setting: the config key that picks one ("api_config.data_api"), for error messages.
        entries: name -> "package.module:attribute".
    """

    def __init__(self, setting: str, entries: Mapping[str, str]) -> None:
        self.setting = setting
        self._entries = dict(entries)

    def names(self) -> list[str]:
        return list(self._entries)

    def register(self, name: str, target: str) -> None:
        """Add (or replace) the implementation called `name`: `target` is "module:attribute"."""
        if ":" not in target:
            raise ValueError(f"{target!r} is not 'module:attribute'")
        self._entries[name] = target

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> Any:
        """The implementation called `name`, imported now; ConfigError naming the choices if unknown."""
        target = self._entries.get(name)
        if target is None:
            raise ConfigError(f"{self.setting}: unknown '{name}' (expected one of {', '.join(self._entries)})"
                              f"{suffix(name, self._entries)}")
        module, _, attribute = target.partition(":")
        return getattr(importlib.import_module(module), attribute)
