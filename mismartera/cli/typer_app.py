"""The one-shot CLI's help (`mismartera --help`, `mismartera system`), generated from the command
registry with typer.

Typer lays out the groups, lists their commands and prints the top-level help. A command named on the
command line runs without it (`mismartera.cli.oneshot`); should typer reach one, the words after the
command are handed over untouched to the same `run_command`, so a missing or bad argument reads the
same in every mode. A command's `--help` is the registry's own help (`help GROUP COMMAND` in the shell).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from mismartera import __version__
from mismartera.cli import runtime
from mismartera.cli.oneshot import PROG, run_command
from mismartera.commands import load_all
from mismartera.commands.registry import Command, Registry


class RegistryCommand(TyperCommand):
    """A typer command whose words click leaves alone: they reach the callback as `context.args`.
    (`ctx` is click's Context, which typer vendors in recent versions: not named here.)"""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.args = list(args)
        return []


def _callback(cmd: Command) -> Callable[[typer.Context], None]:
    def run(context: typer.Context) -> None:
        code = run_command(cmd, list(context.args))
        if code:
            raise typer.Exit(code)

    run.__name__ = cmd.name.replace("-", "_")
    run.__doc__ = cmd.help
    return run


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


def run_app(args: list[str]) -> int:
    """Run the typer app on the command line as typed; the exit code."""
    try:
        build_app()(args=args, prog_name=PROG, standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0
