"""Command groups. `load_all()` imports every command module here, which registers its commands
in `REGISTRY`.

Each group module declares its commands with `@command`; handlers parse nothing and print
nothing: they call one manager method and return a result object. A new group is a new module in
this folder; nothing else needs to change.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from mismartera.commands.registry import REGISTRY, Arg, Command, Option, Registry, command, group

# Modules here that declare no commands.
INFRASTRUCTURE = {"registry", "results", "context"}
# The order groups appear in `help` and `--help`; groups not listed follow alphabetically.
PREFERRED_ORDER = ("system", "data", "account", "order", "strategy", "time", "alpaca", "db", "config", "general")

__all__ = ["REGISTRY", "Arg", "Command", "Option", "Registry", "command", "group", "group_modules", "load_all"]


def group_modules() -> list[str]:
    found = [m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
             if m.name not in INFRASTRUCTURE and not m.name.startswith("_")]
    rank = {name: index for index, name in enumerate(PREFERRED_ORDER)}
    return sorted(found, key=lambda name: (rank.get(name, len(rank)), name))


def load_all() -> Registry:
    """Import every command module (once) and return the filled registry."""
    for name in group_modules():
        importlib.import_module(f"mismartera.commands.{name}")
    return REGISTRY
