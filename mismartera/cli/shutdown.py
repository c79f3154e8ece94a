"""Leaving with a session still running: stop it gracefully and say where it got to, in one line.

Used at the end of a script, after a one-shot command, and when the REPL is left (after asking).
"""

from __future__ import annotations

import logging
from typing import Any

from rich.text import Text

from mismartera.cli.dispatch import describe_error, print_failure
from mismartera.cli.runtime import Runtime
from mismartera.cli.toolbar import summary_line
from mismartera.errors import ExitCode, StateError

STOP_TIMEOUT = 30.0
log = logging.getLogger("mismartera.cli")


def running_status(rt: Runtime) -> Any | None:
    """The snapshot when a session is active (starting, running, paused, stopping), else None."""
    if not rt.ctx.has_system():
        return None
    try:
        status = rt.ctx.system.status()
    except Exception as exc:
        log.warning("cannot read the session status: %s", exc)
        return None
    return status if status.state.active else None


def stop_running_session(rt: Runtime, timeout: float = STOP_TIMEOUT, *, summary_to_stderr: bool = False) -> int:
    """Stop an active session (if any) and print a one-line summary — on stderr when stdout must stay
    pure (a one-shot command's JSON). Returns an exit code."""
    if running_status(rt) is None:
        return int(ExitCode.OK)
    _print(rt.err, Text("stopping the running session…", style="dim"))
    try:
        rt.ctx.system.stop(timeout)
    except (Exception, KeyboardInterrupt) as exc:
        if isinstance(exc, StateError) and running_status(rt) is None:
            # It ended between the look and the stop (a `system stop` finishing as the signal came).
            return int(ExitCode.OK)
        failure = describe_error(exc, debug=rt.debug, log_file=str(rt.ctx.settings.log_file))
        try:
            print_failure(rt.err, failure, exc=exc, debug=rt.debug)
        except (OSError, ValueError):
            pass
        return int(failure.code)
    console = rt.err if summary_to_stderr else rt.out
    _print(console, Text("session " + summary_line(rt.ctx.system.status())), soft_wrap=True)
    return int(ExitCode.OK)


def _print(console: Any, text: Text, **options: Any) -> None:
    """Print unless the terminal is gone (a closed terminal's SIGHUP): the stop itself must happen."""
    try:
        console.print(text, **options)
    except (OSError, ValueError):
        log.info("terminal gone: %s", text.plain)
