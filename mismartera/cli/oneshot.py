"""One-shot mode (`mismartera GROUP COMMAND WORDS…`): a command named on the command line runs
straight from the registry, parsed by `mismartera.cli.parser` as in the shell and scripts, so a
one-shot `system status` costs the interpreter, rich and the registry, no more. The typer app
(`mismartera.cli.typer_app`) is built only for what it lays out — the top-level help and a group's
help (`mismartera --help`, `mismartera system`) — when `one_shot` answers None.
"""

from __future__ import annotations

from mismartera.cli import runtime
from mismartera.cli.dispatch import describe_error, execute, print_failure
from mismartera.cli.parser import find_command, parse_args, wants_help
from mismartera.cli.render import render
from mismartera.commands import load_all, load_for, loaded_all
from mismartera.commands.registry import Command, Registry
from mismartera.errors import ExitCode, UsageError

PROG = "mismartera"


def check_command(words: list[str], registry: Registry | None = None) -> tuple[Command, list[str]] | None:
    """The command the words name and the words after its name; None when they name none (a group
    alone, or only options: typer shows the help). An unknown command is refused with the shell's
    did-you-mean line (`unknown command 'sytem start' — did you mean 'system start'?`); the guess is
    never run. Only the named group's modules are imported, unless the command is not among them."""
    if registry is None and words and not words[0].startswith("-"):
        registry = load_for(words[0])   # the group's own modules; every module when that is not enough
    registry = registry or load_all()
    names = []
    for word in words[:2]:
        if word.startswith("-"):
            break
        names.append(word)
    if not names:
        return None
    if registry.get("", names[0]) is not None:
        names = names[:1]
    if names[0] in registry.groups and len(names) == 1:
        return None   # `mismartera system` alone, or `mismartera system --help`
    try:
        cmd, rest = find_command(registry, words)
    except UsageError:
        if loaded_all():
            raise
        cmd, rest = find_command(load_all(), words)   # a command declared elsewhere, or the did-you-mean
    if cmd.interactive_only:
        raise UsageError(f"'{cmd.path}' works only in the interactive shell (run 'mismartera' with no arguments)")
    return cmd, rest


def run_command(cmd: Command, words: list[str]) -> int:
    """Run `cmd` with the words after its name (its `--help` shows the registry's help); the exit code."""
    out, err = runtime.out_console(), runtime.err_console()
    if wants_help(words):
        from mismartera.commands.general import command_help

        render(out, command_help(cmd, prog=PROG), as_json="--json" in words)
        return int(ExitCode.OK)
    try:
        kwargs, as_json = parse_args(cmd, words)
    except UsageError as exc:
        print_failure(err, describe_error(exc), usage_prefix=f"{PROG} ")
        return int(ExitCode.USAGE)
    from mismartera.cli.script import perform

    rt = runtime.current()
    return execute(rt.ctx, cmd, kwargs, as_json=as_json, out=out, err=err, perform=perform, debug=rt.debug,
                   usage_prefix=f"{PROG} ")


def one_shot(words: list[str]) -> int | None:
    """Run the command `words` name (without the global flags `--debug` and `--no-cache`, which `main`
    has applied already); the exit code, or None when the words name no command and typer's help
    is the answer (`mismartera --help`, `mismartera system`)."""
    try:
        found = check_command(words)
    except Exception as exc:
        failure = describe_error(exc)
        print_failure(runtime.err_console(), failure)
        return int(failure.code)
    return None if found is None else run_command(*found)
