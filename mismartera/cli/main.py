"""The `mismartera` entry point: `--version` fast path, then one of three modes —

- no arguments, stdin and stdout terminals: the interactive shell (`mismartera.cli.repl`);
- no arguments, input piped: script mode over stdin (`mismartera.cli.script`);
- arguments: one command through the typer app generated from the registry.

Kept thin: it builds the process runtime, picks the mode and hands over. SIGTERM becomes a
KeyboardInterrupt in the main thread, so a blocking command (`system start --wait`) ends the same
graceful way Ctrl-C does (exit 130). Nothing below `mismartera.cli` imports this module.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mismartera.cli.runtime import Runtime

GLOBAL_FLAGS = ("--debug", "--no-cache")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--version"], ["-V"]):
        from mismartera import __version__

        print(f"mismartera {__version__}")
        return 0
    _install_sigterm()

    from rich.console import Console

    from mismartera.cli import runtime
    from mismartera.cli.logs import setup_logging
    from mismartera.cli.progress import progress_factory
    from mismartera.cli.redact import Redactor
    from mismartera.commands.context import AppContext
    from mismartera.config.settings import load_settings
    from mismartera.errors import MismarteraError

    debug = "--debug" in args
    rest = [a for a in args if a not in GLOBAL_FLAGS]
    out = Console(highlight=False, soft_wrap=False)
    err = Console(stderr=True, highlight=False)
    try:
        settings = load_settings()
        if "--no-cache" in args:
            settings = dataclasses.replace(settings, bar_cache=False)
        settings.ensure_dirs()
    except MismarteraError as exc:
        err.print(f"Error: {exc.message}", markup=False, style="bold red")
        return int(exc.exit_code)
    secrets = [settings.alpaca.api_key or "", settings.alpaca.secret_key or ""]
    setup_logging(settings.log_file, settings.log_level, secrets=secrets, debug=debug)
    interactive = not rest and sys.stdin.isatty() and sys.stdout.isatty()
    ctx = AppContext(settings, interactive=sys.stdin.isatty(), progress=progress_factory(err),
                     confirm=runtime.ask_yes_no(err))
    rt = runtime.install(runtime.Runtime(ctx=ctx, out=out, err=err, debug=debug, environ=dict(os.environ),
                                         redactor=Redactor(secrets)))
    try:
        if interactive:
            from mismartera.cli.repl import run_repl

            return run_repl(rt)
        code = _script(rt) if not rest else _one_shot(args)
        return _finish(rt, code, one_shot=bool(rest))
    except KeyboardInterrupt:
        err.print("interrupted", style="bold red")
        return _finish(rt, 130, one_shot=bool(rest))
    finally:
        ctx.close()


def _install_sigterm() -> None:
    """SIGTERM raises KeyboardInterrupt in the main thread (once; a second SIGTERM kills at once)."""

    def terminate(signum: int, frame: object) -> None:
        from mismartera.cli import runtime

        runtime.mark_terminated()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)


def _finish(rt: Runtime, code: int, *, one_shot: bool) -> int:
    """At the end of a script or one-shot command, stop a session that is still running (its summary
    goes to stderr after a one-shot command, whose stdout may be JSON)."""
    from mismartera.cli.shutdown import stop_running_session

    try:
        stopped = stop_running_session(rt, summary_to_stderr=one_shot)
    except KeyboardInterrupt:
        return 130
    return code or stopped


def _script(rt: Runtime) -> int:
    from mismartera.cli.dispatch import describe_error, print_failure
    from mismartera.cli.script import run_lines
    from mismartera.errors import UsageError

    try:
        return run_lines(rt, sys.stdin)
    except UnicodeDecodeError as exc:
        failure = describe_error(UsageError(f"standard input is not UTF-8 text ({exc.reason})"))
        print_failure(rt.err, failure)
        return int(failure.code)


def _one_shot(args: list[str]) -> int:
    from mismartera.cli import runtime
    from mismartera.cli.dispatch import describe_error, print_failure
    from mismartera.cli.typer_app import build_app, check_command

    try:
        check_command(args)
    except Exception as exc:
        print_failure(runtime.err_console(), describe_error(exc))
        return int(describe_error(exc).code)
    app = build_app()
    try:
        app(args=args, prog_name="mismartera", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
