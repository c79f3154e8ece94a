"""Run one parsed command and turn whatever it raises into one line and an exit code.

REPL, script runner and one-shot mode all go through `execute`, so an error reads the same and
carries the same exit code everywhere. Tracebacks of unexpected errors go to the log file (and to
the screen only with `--debug`).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.text import Text

from mismartera.cli import runtime
from mismartera.cli.render import render
from mismartera.cli.watch import watch
from mismartera.commands.context import AppContext
from mismartera.commands.registry import Command
from mismartera.commands.results import (
    ClearScreen,
    ExitShell,
    OpenDashboard,
    RunScript,
    ServeSessions,
    ShowHistory,
    Watch,
)
from mismartera.errors import ExitCode, MismarteraError, UsageError

log = logging.getLogger("mismartera.cli")

ShellRequest = RunScript | ClearScreen | ExitShell | ShowHistory | ServeSessions | OpenDashboard
# Carries out a ShellRequest in the current mode and returns the exit code (`mismartera.cli.script.perform`);
# passed in by the caller, since running a script comes back here.
PerformRequest = Callable[[ShellRequest, bool], int]


@dataclass(frozen=True)
class Failure:
    code: ExitCode
    message: str
    usage: str | None = None


def describe_error(exc: BaseException, *, debug: bool = False, log_file: str | None = None) -> Failure:
    """The one-line message and exit code for an exception."""
    if isinstance(exc, KeyboardInterrupt):
        return Failure(ExitCode.INTERRUPTED, "interrupted")
    if isinstance(exc, MismarteraError):
        log.info("command failed: %s", exc.message)
        usage = exc.usage if isinstance(exc, UsageError) else None
        return Failure(exc.exit_code, exc.message, usage)
    log.error("internal error: %r\n%s", exc, "".join(traceback.format_exception(exc)), extra={"console": False})
    where = f" (details in {log_file})" if log_file else " (details in the log file)"
    return Failure(ExitCode.FAILED, f"internal error: {type(exc).__name__}: {exc}{where}")


def print_failure(err: Console, failure: Failure, *, prefix: str = "Error: ", exc: BaseException | None = None,
                  debug: bool = False, usage_prefix: str = "") -> None:
    """The error line (`prefix` + message), and the usage line (`usage_prefix` is "mismartera " one-shot)."""
    if debug and exc is not None and not isinstance(exc, (MismarteraError, KeyboardInterrupt)):
        err.print(Text("".join(traceback.format_exception(exc)), style="dim"))
    mask = runtime.current().redactor.mask if runtime.installed() else (lambda text: text)
    lines = mask(failure.message).splitlines() or [""]
    err.print(Text(prefix + lines[0], style="bold red"), soft_wrap=True)
    for line in lines[1:]:
        err.print(Text("  " + line, style="red"), soft_wrap=True)
    if failure.usage:
        err.print(Text("usage: " + usage_prefix + failure.usage, style="yellow"), soft_wrap=True)


def execute(ctx: AppContext, cmd: Command, kwargs: dict[str, Any], *, as_json: bool, out: Console,
            err: Console, perform: PerformRequest, debug: bool = False, prefix: str = "Error: ",
            usage_prefix: str = "") -> int:
    """Run a command's handler, show its result (or have `perform` carry out what it asks of the shell),
    report any error. Returns the exit code."""
    log.debug("run %s %s", cmd.path, {k: v for k, v in kwargs.items()})
    try:
        result = cmd.handler(ctx, **kwargs)
        if isinstance(result, ShellRequest):
            return perform(result, as_json)
        if isinstance(result, Watch) and not as_json:
            return watch(result)
        render(out, result, as_json=as_json)
        return int(ExitCode.OK)
    except (Exception, KeyboardInterrupt) as exc:
        failure = describe_error(exc, debug=debug, log_file=str(ctx.settings.log_file))
        print_failure(err, failure, prefix=prefix, exc=exc, debug=debug, usage_prefix=usage_prefix)
        return int(failure.code)
