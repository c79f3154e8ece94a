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

# Where a group's commands are declared, when not (only) in the module named after it. Used by
# `load_for` to spare a one-shot command the import of every other group; a group missing here is
# still found (through `load_all`), only more slowly (tests/unit/test_command_registry.py checks it).
GROUP_MODULES = {"config": ("general",), "data": ("data", "market")}

__all__ = ["GROUP_MODULES", "REGISTRY", "Arg", "Command", "Option", "Registry", "command", "group", "group_modules",
           "load_all", "load_for", "loaded_all"]
_all_loaded = False


def group_modules() -> list[str]:
    found = [m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
             if m.name not in INFRASTRUCTURE and not m.name.startswith("_")]
    rank = {name: index for index, name in enumerate(PREFERRED_ORDER)}
    return sorted(found, key=lambda name: (rank.get(name, len(rank)), name))


def load_all() -> Registry:
    """Import every command module (once) and return the filled registry."""
    global _all_loaded
    for name in group_modules():
        importlib.import_module(f"mismartera.commands.{name}")
    _all_loaded = True
    return REGISTRY


def loaded_all() -> bool:
    return _all_loaded


def load_for(word: str) -> Registry:
    """The registry with the commands of the group (or the top-level command) `word` names, when a
    module declares them (`GROUP_MODULES`, else the module of that name); every command otherwise."""
    modules = [name for name in GROUP_MODULES.get(word, (word,)) if name in group_modules()]
    if not modules:
        return load_all()
    for name in modules:
        importlib.import_module(f"mismartera.commands.{name}")
    return REGISTRY
