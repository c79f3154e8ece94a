"""Command groups. Importing `load_all()` registers every command in `REGISTRY`.

Each module here declares one group's commands with `@command`; handlers parse nothing and print
nothing: they call one manager method and return a result object.
"""

from __future__ import annotations

import importlib

from mismartera.commands.registry import REGISTRY, Arg, Command, Option, Registry, command, group

GROUP_MODULES = ("general", "time", "db")

__all__ = ["GROUP_MODULES", "REGISTRY", "Arg", "Command", "Option", "Registry", "command", "group", "load_all"]


def load_all() -> Registry:
    """Import every command module (once) and return the filled registry."""
    for name in GROUP_MODULES:
        importlib.import_module(f"mismartera.commands.{name}")
    return REGISTRY
