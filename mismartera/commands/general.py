"""General commands that belong to no group: help, history, scripts, the screen, leaving, settings
and logging.

`help` reads the command registry, so it can never disagree with what the shell runs. Commands that
act on the shell itself (`run`, `clear`, `exit`, `history`) return a marker from
`mismartera.commands.results` and the user interface carries it out in whatever mode it is in.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from mismartera.commands.context import AppContext
from mismartera.commands.registry import REGISTRY, Arg, Command, Option, Registry, command, group
from mismartera.commands.results import (
    ClearScreen,
    Column,
    ExitShell,
    Group,
    Message,
    Record,
    RunScript,
    ShowHistory,
    Table,
)
from mismartera.config.samples import copy_samples
from mismartera.errors import NotFound, UsageError
from mismartera.suggest import did_you_mean

GROUP = group("config", "Effective settings (secrets masked) and the sample session configs")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# ---------------------------------------------------------------- help


@command("", "help", help="List the command groups, a group's commands, or one command's usage and examples",
         args=(Arg("topic", "a group, or a group and a command (e.g. 'system start')", multiple=True,
                   complete="command", metavar="GROUP [COMMAND]"),),
         json=True, examples=("help", "help system", "help system start", "help log-level"))
def help_(ctx: AppContext, topic: list[str]) -> Group | Table:
    return describe_help(REGISTRY, topic)


def describe_help(registry: Registry, topic: list[str]) -> Group | Table:
    """The help result for `help [GROUP [COMMAND]]`, built from the registry."""
    if not topic:
        return _overview(registry)
    if len(topic) > 2:
        raise UsageError(f"help takes a group and a command, got {len(topic)} words", "help [GROUP [COMMAND]]")
    head = topic[0]
    if len(topic) == 1:
        if head in registry.groups and head:
            return _group_help(registry, head)
        root = registry.get("", head)
        if root is not None:
            return command_help(root)
        names = [g for g in registry.groups if g] + [c.name for c in registry.in_group("")]
        raise NotFound(f"no command or group '{head}'" + _suggestion(head, names, "help {}"))
    if head not in registry.groups or not head:
        names = [g for g in registry.groups if g]
        raise NotFound(f"no group '{head}'" + _suggestion(head, names, "help {}"))
    cmd = registry.get(head, topic[1])
    if cmd is None:
        names = [c.name for c in registry.in_group(head)]
        raise NotFound(f"no command '{head} {topic[1]}'" + _suggestion(topic[1], names, f"help {head} {{}}"))
    return command_help(cmd)


def _suggestion(word: str, names: list[str], template: str) -> str:
    guess = did_you_mean(word, names)
    return f" — did you mean '{template.format(guess)}'?" if guess else " (try 'help')"


def _overview(registry: Registry) -> Group:
    groups = Table("Command groups", (Column("Group", "group"), Column("What it is for", "help"),
                                      Column("Commands", "commands")),
                   [(name, text, ", ".join(c.name for c in registry.in_group(name)))
                    for name, text in registry.groups.items() if name and registry.in_group(name)])
    general = Table("General commands", (Column("Command", "command"), Column("What it does", "help")),
                    [(cmd.name + "".join(f" | {a}" for a in cmd.aliases), cmd.summary)
                     for cmd in registry.in_group("")])
    hint = Message("'help GROUP' lists a group's commands; 'help GROUP COMMAND' shows usage and examples. "
                   "Tab completes; Ctrl-R searches history; Ctrl-D leaves.", "dim")
    return Group([groups, general, hint], data={
        "groups": [{"name": name, "help": text, "commands": [c.name for c in registry.in_group(name)]}
                   for name, text in registry.groups.items() if name and registry.in_group(name)],
        "general": [{"name": cmd.name, "aliases": list(cmd.aliases), "help": cmd.summary}
                    for cmd in registry.in_group("")],
    })


def _group_help(registry: Registry, name: str) -> Table:
    commands = registry.in_group(name)
    return Table(f"{name} — {registry.groups[name]}", (Column("Command", "command"), Column("What it does", "help")),
                 [(f"{name} {cmd.name}", cmd.summary) for cmd in commands],
                 data={"group": name, "help": registry.groups[name],
                       "commands": [{"name": c.name, "usage": c.usage(), "help": c.summary} for c in commands]},
                 caption=f"'help {name} COMMAND' shows usage and examples")


def command_help(cmd: Command, prog: str = "") -> Group:
    """Usage line, description, arguments and examples of one command; `prog` ("mismartera" for
    one-shot `--help`) starts the usage line and each example."""
    lead = f"{prog} " if prog else ""
    parts: list = [Message("usage: " + lead + cmd.usage(), "ok"), Message(cmd.help)]
    if cmd.description:
        parts.append(Message(cmd.description))
    if cmd.aliases:
        parts.append(Message("also: " + ", ".join(f"{cmd.group} {a}".strip() for a in cmd.aliases), "dim"))
    rows = []
    for arg in cmd.args:
        name = arg.placeholder if arg.positional else (arg.flag + (f", -{arg.short}" if arg.short else ""))
        notes = []
        if arg.choices:
            notes.append("one of " + ", ".join(arg.choices))
        if arg.default is not None and not arg.is_flag:
            notes.append(f"default {arg.default}")
        if arg.multiple:
            notes.append("repeatable" if not arg.positional else "one or more")
        rows.append((name, arg.help, "required" if arg.is_required else "optional", "; ".join(notes)))
    if cmd.json:
        rows.append(("--json", "print JSON instead of tables", "optional", ""))
    if rows:
        parts.append(Table("Arguments", (Column("Argument", "argument"), Column("Meaning", "help"),
                                         Column("", "required"), Column("Notes", "notes")), rows))
    if cmd.examples:
        parts.append(Message("Examples:\n" + "\n".join(f"  {lead}{e}" for e in cmd.examples)))
    return Group(parts, data={"command": cmd.path, "usage": cmd.usage(), "help": cmd.help,
                              "aliases": list(cmd.aliases),
                              "arguments": [{"name": r[0], "help": r[1], "required": r[2] == "required",
                                             "notes": r[3]} for r in rows],
                              "examples": list(cmd.examples)})


# ---------------------------------------------------------------- the shell itself


@command("", "history", help="The last N lines typed at the shell (secrets masked)",
         args=(Arg("n", "how many lines", type=int),), examples=("history", "history 50"))
def history(ctx: AppContext, n: int = 20) -> ShowHistory:
    if n < 1:
        raise UsageError(f"history: N must be at least 1, got {n}", "history [N]")
    return ShowHistory(n)


@command("", "run", help="Run the commands in a script file, one per line",
         args=(Arg("file", "the script (one command per line; '#' starts a comment)", complete="file"),
               Option("var", "set $NAME in the script (NAME=VALUE, repeatable)", multiple=True,
                      metavar="NAME=VALUE"),
               Option("keep_going", "run the remaining lines after a failure (exit code of the first)",
                      type=bool),
               Option("quiet", "do not echo the commands: stdout holds only their output (one JSON "
                      "document per --json command)", type=bool, short="q"),
               Option("no_check", "skip checking every line before running the first", type=bool)),
         examples=("run morning.msh", "run morning.msh --var SYMBOL=AAPL --var DAY=2024-11-29",
                   "run checks.msh --keep-going", "run report.msh -q > report.json"),
         description="Every line is checked first (unknown commands, bad arguments: reported with their line "
                     "numbers, nothing runs) unless --no-check. Blank lines and comments are skipped; $NAME "
                     "and ${NAME} come from --var, then the environment. The first failing line stops the "
                     "script unless --keep-going.")
def run(ctx: AppContext, file: str, var: list[str], keep_going: bool = False, quiet: bool = False,
        no_check: bool = False) -> RunScript:
    variables = parse_variables(var)
    path = Path(file).expanduser()
    if not path.is_file():
        raise NotFound(f"script file not found: {file}" + ("" if path.suffix else " (scripts usually end in .msh)"))
    return RunScript(str(path), variables, keep_going, quiet, not no_check)


def parse_variables(pairs: list[str]) -> dict[str, str]:
    """`["NAME=VALUE", …]` as a dict, or a UsageError naming the bad pair."""
    variables: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not VARIABLE_NAME.fullmatch(name):
            raise UsageError(f"--var '{pair}': expected NAME=VALUE with NAME made of letters, digits and _",
                             "run FILE [--var NAME=VALUE ...] [--keep-going]")
        variables[name] = value
    return variables


@command("", "clear", help="Clear the screen", interactive_only=True, examples=("clear",))
def clear(ctx: AppContext) -> ClearScreen:
    return ClearScreen()


@command("", "exit", help="Leave the shell (a running session is stopped first, after asking)",
         aliases=("quit",), interactive_only=True, examples=("exit", "quit"))
def exit_(ctx: AppContext) -> ExitShell:
    return ExitShell()


# ---------------------------------------------------------------- settings and logging


@command(GROUP, "show", help="Effective settings: folders, database URL, log file, Alpaca endpoints (keys masked)",
         json=True, examples=("config show", "config show --json"))
def show(ctx: AppContext) -> Record:
    return Record("Settings", ctx.settings.describe())


@command(GROUP, "samples", help="Copy the sample session configs into a folder, to edit them",
         args=(Arg("dir", "the folder (default: ./config); files already there are kept", required=False,
                   complete="file", metavar="DIR"),), json=True,
         examples=("config samples", "config samples ~/trading/configs"))
def samples(ctx: AppContext, dir: str | None = None) -> Message:
    target = dir or "config"
    copied, kept = copy_samples(target)
    parts = []
    if copied:
        parts.append(f"copied {len(copied)} sample config(s) to {target}: {', '.join(p.name for p in copied)}")
    if kept:
        parts.append(f"kept {len(kept)} already there: {', '.join(p.name for p in kept)}")
    everything = copied + kept
    first = next((p for p in everything if p.name == "example_session.json"), everything[0])
    parts.append(f"edit one, then: system start {first}")
    return Message("; ".join(parts), "ok", data={"folder": target, "copied": [str(p) for p in copied],
                                                 "kept": [str(p) for p in kept]})


@command("", "log-level", help="Set the level of the log file for this process",
         args=(Arg("level", "one of DEBUG, INFO, WARNING, ERROR", choices=LOG_LEVELS),),
         examples=("log-level DEBUG",))
def log_level(ctx: AppContext, level: str) -> Message:
    logging.getLogger("mismartera").setLevel(level.upper())
    return Message(f"log level set to {level.upper()} (log file: {ctx.settings.log_file})", "ok")
