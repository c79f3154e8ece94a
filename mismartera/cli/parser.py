"""Turn a command line (REPL or script) into a registry command and its keyword arguments.

The same value conversion (`convert`) is used by the typer app, so a bad date reads the same in
every mode.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from mismartera.commands.registry import Arg, Command, Registry
from mismartera.errors import UsageError
from mismartera.suggest import did_you_mean


@dataclass(frozen=True)
class ParsedLine:
    command: Command
    kwargs: dict[str, Any]
    json: bool


def split_line(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=False, posix=True)
    except ValueError as exc:
        raise UsageError(f"cannot parse the line: {exc} (check quotes)") from None


def find_command(registry: Registry, words: list[str]) -> tuple[Command, list[str]]:
    """The command named by the first one or two words, and the remaining words."""
    if not words:
        raise UsageError("empty command")
    head = words[0]
    if len(words) >= 2 and head in registry.groups:
        cmd = registry.get(head, words[1])
        if cmd is not None:
            return cmd, words[2:]
        names = [c.name for c in registry.in_group(head)] + [a for c in registry.in_group(head) for a in c.aliases]
        guess = did_you_mean(words[1], names)
        hint = f" — did you mean '{head} {guess}'?" if guess else f" (try 'help {head}')"
        raise UsageError(f"unknown command '{head} {words[1]}'{hint}")
    cmd = registry.get("", head)
    if cmd is not None:
        return cmd, words[1:]
    if head in registry.groups:
        raise UsageError(f"'{head}' needs a command (try 'help {head}')")
    typed = " ".join(words[:2])
    guess = did_you_mean(typed, registry.names()) or did_you_mean(head, registry.names())
    hint = f" — did you mean '{guess}'?" if guess else " (try 'help')"
    raise UsageError(f"unknown command '{typed}'{hint}")


def convert(arg: Arg, raw: str, cmd: Command | None = None) -> Any:
    """Convert one raw string to the argument's type, or raise a UsageError naming what is expected."""
    where = arg.flag if not arg.positional else arg.placeholder
    usage = cmd.usage() if cmd else None
    if arg.choices is not None:
        lowered = {c.lower(): c for c in arg.choices}
        if raw.lower() not in lowered:
            guess = did_you_mean(raw, arg.choices)
            hint = f" — did you mean '{guess}'?" if guess else ""
            raise UsageError(f"{where}: '{raw}' is not one of {', '.join(arg.choices)}{hint}", usage)
        raw = lowered[raw.lower()]
    try:
        if arg.type is int:
            return int(raw)
        if arg.type is float:
            value = float(raw)
            if not math.isfinite(value):  # "nan" and "inf" parse, but no quantity or price is either
                shown = raw if len(raw) <= 40 else raw[:40] + "…"
                raise UsageError(f"{where}: '{shown}' is not a finite number", usage)
            return value
        if arg.type is date:
            return date.fromisoformat(raw)
        if arg.type is datetime:
            return datetime.fromisoformat(raw)
    except ValueError:
        expected = {int: "a whole number", float: "a number", date: "a date YYYY-MM-DD",
                    datetime: "a date-time YYYY-MM-DDTHH:MM"}[arg.type]
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise UsageError(f"{where}: '{shown}' is not {expected}", usage) from None
    return raw


def parse_args(cmd: Command, words: list[str]) -> tuple[dict[str, Any], bool]:
    """Bind words to the command's arguments. Returns (kwargs, json flag)."""
    options = {arg.flag: arg for arg in cmd.args if not arg.positional}
    shorts = {f"-{arg.short}": arg for arg in cmd.args if not arg.positional and arg.short}
    positionals = [arg for arg in cmd.args if arg.positional]
    kwargs: dict[str, Any] = {}
    json_out = False
    given: list[str] = []
    index = 0
    only_positionals = False
    while index < len(words):
        word = words[index]
        index += 1
        if word == "--" and not only_positionals:
            only_positionals = True
            continue
        if not only_positionals and word.startswith("-") and len(word) > 1 and not _is_number(word):
            name, _, inline = word.partition("=")
            if name == "--json" and cmd.json:
                json_out = True
                continue
            arg = options.get(name) or shorts.get(name)
            if arg is None:
                known = [*options, *(["--json"] if cmd.json else [])]
                guess = did_you_mean(name, known)
                hint = f" — did you mean '{guess}'?" if guess else ""
                raise UsageError(f"unknown option '{name}' for '{cmd.path}'{hint}", cmd.usage())
            if arg.is_flag:
                if inline:
                    raise UsageError(f"{arg.flag} is a flag and takes no value", cmd.usage())
                kwargs[arg.name] = True
                continue
            if inline:
                value = inline
            elif index < len(words):
                value = words[index]
                index += 1
            else:
                raise UsageError(f"{arg.flag} needs a value ({arg.placeholder})", cmd.usage())
            converted = convert(arg, value, cmd)
            if arg.multiple:
                kwargs.setdefault(arg.name, []).append(converted)
            else:
                kwargs[arg.name] = converted
            continue
        given.append(word)
    for position, arg in enumerate(positionals):
        if arg.multiple:
            kwargs[arg.name] = [convert(arg, w, cmd) for w in given[position:]]
            given = given[:position]
            break
        if position < len(given):
            kwargs[arg.name] = convert(arg, given[position], cmd)
    extra = given[len([a for a in positionals if not a.multiple]):]
    if extra and not any(a.multiple for a in positionals):
        raise UsageError(f"unexpected argument '{extra[0]}' for '{cmd.path}'", cmd.usage())
    for arg in cmd.args:
        if arg.name not in kwargs:
            if arg.is_required:
                what = arg.placeholder if arg.positional else f"{arg.flag} {arg.placeholder}"
                raise UsageError(f"missing {what} ({arg.help})" if arg.help else f"missing {what}", cmd.usage())
            if arg.default is not None or arg.is_flag:
                kwargs[arg.name] = arg.default
            elif arg.multiple:
                kwargs[arg.name] = []
    return kwargs, json_out


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


MAX_LINE = 65_536


def check_line_length(line: str) -> None:
    """A command line over `MAX_LINE` characters is refused before anything else reads it."""
    if len(line) > MAX_LINE:
        raise UsageError(f"line too long: {len(line):,} characters (expected at most {MAX_LINE:,})")


HELP_WORDS = ("-h", "--help")


def wants_help(words: list[str]) -> bool:
    """`-h` or `--help` among a command's words (before any `--`): show its help instead of running it."""
    before = words[: words.index("--")] if "--" in words else words
    return any(word in HELP_WORDS for word in before)


def parse_line(registry: Registry, line: str) -> ParsedLine:
    """The command a line names and its arguments; `COMMAND --help` is `help COMMAND`, as in one-shot mode."""
    check_line_length(line)
    words = split_line(line)
    cmd, rest = find_command(registry, words)
    help_cmd = registry.get("", "help")
    if help_cmd is not None and cmd is not help_cmd and wants_help(rest):
        return ParsedLine(help_cmd, {"topic": cmd.path.split()}, "--json" in rest)
    kwargs, json_out = parse_args(cmd, rest)
    return ParsedLine(cmd, kwargs, json_out)
