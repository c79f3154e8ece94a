"""The one-shot CLI (`mismartera GROUP COMMAND …`), generated from the command registry with typer.

Typer lays out the groups, lists their commands and prints the top-level help; the words after a
command are handed over untouched and parsed by `mismartera.cli.parser.parse_args`, the parser the
shell and scripts use, so a missing or bad argument reads the same in every mode. A command's
`--help` is the registry's own help (`help GROUP COMMAND` in the shell).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from mismartera import __version__
from mismartera.cli import runtime
from mismartera.cli.dispatch import describe_error, execute, print_failure
from mismartera.cli.parser import find_command, parse_args, wants_help
from mismartera.cli.render import render
from mismartera.cli.script import perform
from mismartera.commands import load_all
from mismartera.commands.general import command_help
from mismartera.commands.registry import Command, Registry
from mismartera.errors import ExitCode, UsageError

PROG = "mismartera"


class RegistryCommand(TyperCommand):
    """A typer command whose words click leaves alone: they reach the callback as `context.args`.
    (`ctx` is click's Context, which typer vendors in recent versions: not named here.)"""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.args = list(args)
        return []


def _callback(cmd: Command) -> Callable[[typer.Context], None]:
    def run(context: typer.Context) -> None:
        words = list(context.args)
        out, err = runtime.out_console(), runtime.err_console()
        if wants_help(words):
            render(out, command_help(cmd, prog=PROG), as_json="--json" in words)
            raise typer.Exit(0)
        try:
            kwargs, as_json = parse_args(cmd, words)
        except UsageError as exc:
            print_failure(err, describe_error(exc), usage_prefix=f"{PROG} ")
            raise typer.Exit(int(ExitCode.USAGE)) from None
        code = execute(runtime.current().ctx, cmd, kwargs, as_json=as_json, out=out, err=err, perform=perform,
                       debug=runtime.current().debug, usage_prefix=f"{PROG} ")
        if code:
            raise typer.Exit(code)

    run.__name__ = cmd.name.replace("-", "_")
    run.__doc__ = cmd.help
    return run


def check_command(args: list[str], registry: Registry | None = None) -> None:
    """Reject an unknown command before typer sees it, with the same did-you-mean line as the shell
    (`unknown command 'sytem start' — did you mean 'system start'?`); the guess is never run."""
    registry = registry or load_all()
    words = []
    for word in args[:2]:
        if word.startswith("-"):
            break
        words.append(word)
    if not words:
        return
    if registry.get("", words[0]) is not None:
        words = words[:1]
    if words[0] in registry.groups and len(words) == 1:
        return  # `mismartera system` alone: typer shows the group's help
    cmd, _ = find_command(registry, words)
    if cmd.interactive_only:
        raise UsageError(f"'{cmd.path}' works only in the interactive shell (run 'mismartera' with no arguments)")


def build_app(registry: Registry | None = None) -> typer.Typer:
    registry = registry or load_all()
    app = typer.Typer(
        name="mismartera",
        help="mismartera: a trading shell for US equities. Run with no arguments for the interactive shell.",
        no_args_is_help=False,
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    subapps: dict[str, typer.Typer] = {}
    for name, help_text in registry.groups.items():
        if name:
            subapps[name] = typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)
            app.add_typer(subapps[name], name=name)
    for cmd in registry.unique():
        if cmd.interactive_only:
            continue
        target = subapps.get(cmd.group, app) if cmd.group else app
        func = _callback(cmd)
        for alias in (cmd.name, *cmd.aliases):
            target.command(name=alias, cls=RegistryCommand, help=cmd.help, short_help=cmd.summary,
                           add_help_option=False, hidden=alias != cmd.name)(func)

    @app.callback(invoke_without_command=True)
    def root(
        context: typer.Context,
        debug: Annotated[bool, typer.Option("--debug", help="show tracebacks and log at DEBUG level")] = False,
        version: Annotated[bool, typer.Option("--version", help="print the version and exit")] = False,
        no_cache: Annotated[bool, typer.Option("--no-cache", help="replay bars from the database, not the "
                                                                  "columnar bar cache")] = False,
    ) -> None:
        del no_cache   # a global flag: main() applies it to the settings before any command runs
        if version:
            typer.echo(f"mismartera {__version__}")
            raise typer.Exit(0)
        runtime.current().debug = runtime.current().debug or debug
        if context.invoked_subcommand is None:
            typer.echo(context.get_help())
            raise typer.Exit(0)

    return app
