"""The one-shot CLI (`mismartera GROUP COMMAND …`), generated from the command registry with typer.

Every argument reaches typer as text and is converted by `mismartera.cli.parser.convert`, so bad
values produce the same message as in the REPL and scripts.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import typer

from mismartera import __version__
from mismartera.cli import runtime
from mismartera.cli.dispatch import execute
from mismartera.cli.parser import convert, find_command
from mismartera.cli.script import perform
from mismartera.commands import load_all
from mismartera.commands.registry import Arg, Command, Registry
from mismartera.errors import ExitCode, UsageError


def _parameter(arg: Arg) -> inspect.Parameter:
    if arg.positional:
        kind: Any = list[str] if arg.multiple else str
        info = typer.Argument(help=arg.help, metavar=arg.placeholder, show_default=False)
        default = ... if arg.is_required else ([] if arg.multiple else None)
        annotation = Annotated[kind if arg.is_required else (kind | None), info]
    elif arg.is_flag:
        names = [arg.flag] + ([f"-{arg.short}"] if arg.short else [])
        info = typer.Option(*names, help=arg.help)
        default = bool(arg.default)
        annotation = Annotated[bool, info]
    else:
        names = [arg.flag] + ([f"-{arg.short}"] if arg.short else [])
        kind = list[str] if arg.multiple else str
        help_text = arg.help + (f" [choices: {', '.join(arg.choices)}]" if arg.choices else "")
        if arg.default is not None:
            help_text += f" [default: {arg.default}]"
        info = typer.Option(*names, help=help_text, metavar=arg.placeholder, show_default=False)
        default = ... if arg.is_required else ([] if arg.multiple else None)
        annotation = Annotated[kind if arg.is_required else (kind | None), info]
    return inspect.Parameter(arg.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def _callback(cmd: Command) -> Any:
    def run(**raw: Any) -> None:
        as_json = bool(raw.pop("json", False))
        state = runtime.current()
        kwargs: dict[str, Any] = {}
        try:
            for arg in cmd.args:
                value = raw.get(arg.name)
                if value is None or (arg.multiple and value == []):
                    if arg.is_required:
                        raise UsageError(f"missing {arg.placeholder}", cmd.usage())
                    if arg.default is not None or arg.is_flag:
                        kwargs[arg.name] = arg.default
                    elif arg.multiple:
                        kwargs[arg.name] = []
                    continue
                if arg.is_flag:
                    kwargs[arg.name] = bool(value)
                elif arg.multiple:
                    kwargs[arg.name] = [convert(arg, v, cmd) for v in value]
                else:
                    kwargs[arg.name] = convert(arg, value, cmd)
        except UsageError as exc:
            runtime.err_console().print(f"Error: {exc.message}", markup=False, style="bold red")
            runtime.err_console().print(f"usage: mismartera {cmd.usage()}", markup=False, style="yellow")
            raise typer.Exit(int(ExitCode.USAGE)) from None
        code = execute(state.ctx, cmd, kwargs, as_json=as_json, out=runtime.out_console(),
                       err=runtime.err_console(), perform=perform, debug=state.debug)
        if code:
            raise typer.Exit(code)

    params = [_parameter(arg) for arg in cmd.args]
    if cmd.json:
        params.append(inspect.Parameter("json", inspect.Parameter.KEYWORD_ONLY, default=False,
                                        annotation=Annotated[bool, typer.Option("--json", help="print JSON")]))
    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    run.__name__ = cmd.name.replace("-", "_")
    epilog = ""
    if cmd.examples:
        epilog = "Examples:\n\n\b\n" + "\n".join(f"  mismartera {e}" for e in cmd.examples)
    run.__doc__ = cmd.help + ("\n\n" + cmd.description if cmd.description else "")
    return run, epilog


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
        func, epilog = _callback(cmd)
        for alias in (cmd.name, *cmd.aliases):
            target.command(name=alias, help=func.__doc__, short_help=cmd.summary, epilog=epilog or None,
                           hidden=alias != cmd.name)(func)

    @app.callback(invoke_without_command=True)
    def root(
        context: typer.Context,
        debug: Annotated[bool, typer.Option("--debug", help="show tracebacks and log at DEBUG level")] = False,
        version: Annotated[bool, typer.Option("--version", help="print the version and exit")] = False,
    ) -> None:
        if version:
            typer.echo(f"mismartera {__version__}")
            raise typer.Exit(0)
        runtime.current().debug = runtime.current().debug or debug
        if context.invoked_subcommand is None:
            typer.echo(context.get_help())
            raise typer.Exit(0)

    return app
