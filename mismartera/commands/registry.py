"""The one command registry. Each command is declared once, with `@command(...)`, in its group's
module under `mismartera/commands/`; the REPL, the script runner, the typer app, `help` and tab
completion are all derived from these entries.

A handler takes the `AppContext` and the parsed arguments as keywords, and returns a result
object from `mismartera.commands.results` (or None). It parses nothing and prints nothing. An
argument's default is written once, in the handler's signature; `@command` copies it into the `Arg`
(for the parser, `help` and completion) and refuses an `Arg` that names no parameter or repeats a default.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

ARG_TYPES = (str, int, float, bool, date, datetime)


@dataclass(frozen=True)
class Arg:
    """One argument of a command.

    Args:
        name: the keyword the handler receives (options are spelt `--name-with-dashes`).
        help: one line for `help` and `--help`.
        type: str, int, float, bool (options only: a flag), date or datetime.
        positional: a positional argument (else an option).
        required: must be given (positionals default to required; options default to optional).
        default: value when not given: filled in by `@command` from the handler's signature, never
            written here.
        choices: the allowed values, if a closed set.
        multiple: an option that may be repeated (the handler gets a list) / a positional taking the rest.
        complete: what tab completion offers: "symbol", "config", "date", "file", "interval", "run",
            "order", "group", "command", or None.
        short: a one-letter alias for an option (e.g. "o" for `-o`).
        metavar: the placeholder shown in usage lines.
    """

    name: str
    help: str = ""
    type: type = str
    positional: bool = True
    required: bool | None = None
    default: Any = None
    choices: tuple[str, ...] | None = None
    multiple: bool = False
    complete: str | None = None
    short: str | None = None
    metavar: str | None = None

    def __post_init__(self) -> None:
        if self.type not in ARG_TYPES:
            raise TypeError(f"{self.name}: unsupported argument type {self.type!r}")
        if self.type is bool and self.positional:
            raise TypeError(f"{self.name}: a bool argument must be an option (a flag)")

    @property
    def is_required(self) -> bool:
        if self.required is not None:
            return self.required
        return self.positional and self.default is None and not self.multiple

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def is_flag(self) -> bool:
        return self.type is bool and not self.positional

    @property
    def placeholder(self) -> str:
        if self.metavar:
            return self.metavar
        if self.type is date:
            return "DATE"
        if self.type is datetime:
            return "DATETIME"
        return self.name.upper()


def Option(name: str, help: str = "", **kwargs: Any) -> Arg:
    """An option argument (`--name VALUE`, or `--name` for a bool flag)."""
    return Arg(name, help, positional=False, **kwargs)


def with_handler_defaults(handler: Callable[..., Any], args: tuple[Arg, ...], where: str) -> tuple[Arg, ...]:
    """The arguments with their defaults taken from the handler's signature (the one place they are
    written). Raises TypeError for an argument that is not a parameter of the handler, or that writes
    its default a second time."""
    params = inspect.signature(handler).parameters
    filled = []
    for arg in args:
        param = params.get(arg.name)
        if param is None:
            raise TypeError(f"{where}: argument '{arg.name}' is not a parameter of {handler.__name__}()")
        if arg.default is not None:
            raise TypeError(f"{where}: write the default of '{arg.name}' in {handler.__name__}()'s signature only")
        if param.default is not inspect.Parameter.empty:
            arg = replace(arg, default=param.default)
        elif arg.is_flag:
            raise TypeError(f"{where}: flag '{arg.name}' needs a default (False) in {handler.__name__}()'s signature")
        filled.append(arg)
    return tuple(filled)


@dataclass(frozen=True)
class Command:
    group: str
    name: str
    help: str
    handler: Callable[..., Any]
    args: tuple[Arg, ...] = ()
    examples: tuple[str, ...] = ()
    json: bool = False
    aliases: tuple[str, ...] = ()
    interactive_only: bool = False
    description: str = ""

    @property
    def path(self) -> str:
        return f"{self.group} {self.name}" if self.group else self.name

    @property
    def summary(self) -> str:
        return self.help.splitlines()[0] if self.help else ""

    def usage(self) -> str:
        parts = [self.path]
        for arg in self.args:
            if arg.positional:
                text = arg.placeholder + ("..." if arg.multiple else "")
                parts.append(text if arg.is_required else f"[{text}]")
        for arg in self.args:
            if not arg.positional:
                text = arg.flag if arg.is_flag else f"{arg.flag} {arg.placeholder}"
                parts.append(text if arg.is_required else f"[{text}]")
        if self.json:
            parts.append("[--json]")
        return " ".join(parts)


@dataclass
class Registry:
    """Commands keyed by (group, name); groups keep their help text."""

    commands: dict[tuple[str, str], Command] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)

    def add_group(self, name: str, help: str) -> None:
        self.groups[name] = help

    def add(self, cmd: Command) -> Command:
        for alias in (cmd.name, *cmd.aliases):
            key = (cmd.group, alias)
            if key in self.commands:
                raise ValueError(f"command '{cmd.group} {alias}' is defined twice")
            self.commands[key] = cmd
        return cmd

    def get(self, group: str, name: str) -> Command | None:
        return self.commands.get((group, name))

    def unique(self) -> list[Command]:
        """Each command once (aliases folded), in declaration order."""
        seen: dict[int, Command] = {}
        for cmd in self.commands.values():
            seen.setdefault(id(cmd), cmd)
        return list(seen.values())

    def in_group(self, group: str) -> list[Command]:
        return [cmd for cmd in self.unique() if cmd.group == group]

    def names(self) -> list[str]:
        """Every command path, aliases included, for did-you-mean."""
        return [f"{g} {n}" if g else n for (g, n) in self.commands]


REGISTRY = Registry()


def group(name: str, help: str) -> str:
    REGISTRY.add_group(name, help)
    return name


def command(group: str, name: str, *, help: str, args: tuple[Arg, ...] | list[Arg] = (),
            examples: tuple[str, ...] | list[str] = (), json: bool = False, aliases: tuple[str, ...] = (),
            interactive_only: bool = False, description: str = "") -> Callable:
    """Declare a command; the decorated function is its handler."""

    def decorate(handler: Callable) -> Callable:
        where = f"{group} {name}".strip()
        REGISTRY.add(Command(group=group, name=name, help=help, handler=handler,
                             args=with_handler_defaults(handler, tuple(args), where),
                             examples=tuple(examples), json=json, aliases=aliases,
                             interactive_only=interactive_only, description=description))
        return handler

    return decorate
