"""The `mismartera` entry point: `--version` fast path, then one of three modes —

- no arguments, stdin and stdout terminals: the interactive shell (`mismartera.cli.repl`);
- no arguments, input piped: script mode over stdin (`mismartera.cli.script`);
- arguments: one command through the typer app generated from the registry.

Kept thin: it builds the process runtime, picks the mode and hands over. SIGTERM and SIGHUP become a
KeyboardInterrupt in the main thread, so a blocking command (`system start --wait`) ends the same
graceful way Ctrl-C does (exit 130), and the process ends within 15 s whatever happens
(`mismartera.cli.signals`). Nothing below `mismartera.cli` imports this module.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from mismartera.cli.runtime import Runtime

GLOBAL_FLAGS = ("--debug", "--no-cache")
# Flags of script mode over stdin (`mismartera -q < day.msh`): with no command, these are all there is.
SCRIPT_FLAGS = ("--quiet", "-q", "--no-check")
# Tables and records written to a pipe or a file are not cut to a terminal's width.
UNLIMITED_WIDTH = 100_000


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--version"], ["-V"]):
        from mismartera import __version__

        print(f"mismartera {__version__}")
        return 0
    if args[:1] in (["--install-completion"], ["--show-completion"]) or os.environ.get("_MISMARTERA_COMPLETE"):
        return _completion(args)
    from mismartera.cli import signals

    signals.install()

    from rich.console import Console

    from mismartera.cli import runtime
    from mismartera.cli.hosting import session_hooks
    from mismartera.cli.logs import setup_logging
    from mismartera.cli.progress import progress_factory
    from mismartera.cli.redact import Redactor
    from mismartera.commands.context import AppContext
    from mismartera.config.settings import load_settings
    from mismartera.errors import MismarteraError

    debug = "--debug" in args
    rest = [a for a in args if a not in GLOBAL_FLAGS]
    script_flags = set(rest) if rest and set(rest) <= set(SCRIPT_FLAGS) else set()
    if script_flags:
        rest, args = [], [a for a in args if a not in SCRIPT_FLAGS]
    out = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else UNLIMITED_WIDTH)
    err = Console(stderr=True, highlight=False)
    try:
        settings = load_settings()
        if "--no-cache" in args:
            settings = dataclasses.replace(settings, bar_cache=False)
        settings.ensure_dirs()
        secrets = [settings.alpaca.api_key or "", settings.alpaca.secret_key or ""]
        setup_logging(settings.log_file, settings.log_level, secrets=secrets, debug=debug)
    except MismarteraError as exc:
        lines = exc.message.splitlines()
        err.print(f"Error: {lines[0]}", markup=False, style="bold red", soft_wrap=True)
        for line in lines[1:]:
            err.print(f"  {line}", markup=False, style="red", soft_wrap=True)
        return int(exc.exit_code)
    interactive = not rest and sys.stdin.isatty() and sys.stdout.isatty()
    signals.set_interactive(interactive)
    # `mismartera run FILE` is a script: a session it starts lives in this process, as in a piped
    # script; only a one-shot `system start` hands its session to a detached host
    one_shot = bool(rest) and rest[0] != "run"
    kind = "shell" if interactive else ("one-shot" if one_shot else "script")
    ctx = AppContext(settings, interactive=sys.stdin.isatty(), progress=progress_factory(err),
                     confirm=runtime.ask_yes_no(err), **session_hooks(kind, err, os.environ, one_shot=one_shot))
    rt = runtime.install(runtime.Runtime(ctx=ctx, out=out, err=err, debug=debug, environ=dict(os.environ),
                                         redactor=Redactor(secrets), quiet=bool(script_flags & {"--quiet", "-q"})))
    try:
        if interactive:
            from mismartera.cli.repl import run_repl

            return run_repl(rt)
        code = _script(rt, check="--no-check" not in script_flags) if not rest else _one_shot(args, rest)
        return _finish(rt, code, one_shot=bool(rest), host=rest[:1] == ["serve"])
    except KeyboardInterrupt:
        reason = signals.terminating()
        _say(err, f"interrupted by {reason}" if reason else "interrupted")
        return _finish(rt, 130, one_shot=bool(rest))
    finally:
        ctx.close()
        signals.restore()


def _completion(args: list[str]) -> int:
    """Shell completion of one-shot commands: a completion request, or installing/showing the script."""
    from mismartera.cli.shell_completion import handle
    from mismartera.errors import MismarteraError, UsageError

    try:
        return handle(args, dict(os.environ)) or 0
    except MismarteraError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        if isinstance(exc, UsageError) and exc.usage:
            print(f"usage: mismartera {exc.usage}", file=sys.stderr)
        return int(exc.exit_code)


def _say(err: Console, text: str) -> None:
    """A line on stderr, unless the terminal is gone (SIGHUP)."""
    try:
        err.print(text, style="bold red")
    except (OSError, ValueError):
        pass


def _finish(rt: Runtime, code: int, *, one_shot: bool, host: bool = False) -> int:
    """At the end of a script or one-shot command, stop a session that is still running (its summary
    goes to stderr after a one-shot command, whose stdout may be JSON). A process ended by a signal
    never exits 0, except a `serve` host (`host`), for which SIGTERM is the normal way to leave."""
    from mismartera.cli import signals
    from mismartera.cli.shutdown import stop_running_session

    try:
        stopped = stop_running_session(rt, summary_to_stderr=one_shot or rt.quiet)
    except KeyboardInterrupt:
        return 130
    if signals.terminating() and not code and not host:
        code = 130   # ended by a signal: never 0
    return code or stopped


def _script(rt: Runtime, check: bool = True) -> int:
    """Script mode over stdin. Input read from a file (`mismartera < day.msh`) is checked whole before
    the first line runs; a pipe is read as it comes (its writer may still be deciding what to send)."""
    import stat

    from mismartera.cli.dispatch import describe_error, print_failure
    from mismartera.cli.script import run_lines
    from mismartera.errors import UsageError

    try:
        from_file = stat.S_ISREG(os.fstat(sys.stdin.fileno()).st_mode)
    except (OSError, ValueError):
        from_file = False
    try:
        return run_lines(rt, sys.stdin, check=check and from_file)
    except UnicodeDecodeError as exc:
        failure = describe_error(UsageError(f"standard input is not UTF-8 text ({exc.reason})"))
        print_failure(rt.err, failure)
        return int(failure.code)


def _one_shot(args: list[str], words: list[str]) -> int:
    from mismartera.cli.oneshot import one_shot

    code = one_shot(words)
    if code is not None:
        return code
    from mismartera.cli.typer_app import run_app

    return run_app(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
